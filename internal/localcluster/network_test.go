package localcluster

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func cidrs(t *testing.T, ss ...string) []*net.IPNet {
	t.Helper()
	var out []*net.IPNet
	for _, s := range ss {
		_, n, err := net.ParseCIDR(s)
		require.NoError(t, err)
		out = append(out, n)
	}
	return out
}

func TestChoosePodCIDR(t *testing.T) {
	for _, tc := range []struct {
		name       string
		candidates []string
		inUse      []string
		want       string
		wantErr    string
	}{
		{name: "first candidate free", candidates: podCIDRCandidates, inUse: []string{"192.0.2.0/24", "127.0.0.0/8"}, want: "10.88.0.0/16"},
		{name: "a machine network inside the first", candidates: podCIDRCandidates, inUse: []string{"10.88.3.0/24"}, want: "10.89.0.0/16"},
		{name: "a machine network containing the first two", candidates: podCIDRCandidates, inUse: []string{"10.0.0.0/8"}, want: "172.30.0.0/16"},
		{name: "the service range is never chosen", candidates: []string{"10.0.0.0/16", "10.88.0.0/16"}, want: "10.88.0.0/16"},
		{
			name: "none free", candidates: []string{"10.88.0.0/16", "10.89.0.0/16"}, inUse: []string{"10.88.0.0/15"},
			wantErr: "no free pod network for the local cluster: 10.88.0.0/16 overlaps 10.88.0.0/15, 10.89.0.0/16 overlaps 10.88.0.0/15; free one of them (ip addr, ip route)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := choosePodCIDR(tc.candidates, cidrs(t, tc.inUse...))
			if tc.wantErr != "" {
				assert.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.String())
		})
	}
}

func TestParseRoutes(t *testing.T) {
	const table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
		"eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
		"eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n" +
		"docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n" +
		"bad\tnothex\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
	got, err := parseRoutes(strings.NewReader(table))
	require.NoError(t, err)
	var s []string
	for _, n := range got {
		s = append(s, n.String())
	}
	assert.Equal(t, []string{"192.0.2.0/24", "172.17.0.0/16"}, s, "the default route and unreadable lines are left out")
}

func TestGatewayOf(t *testing.T) {
	assert.Equal(t, "10.88.0.1", gatewayOf(cidrs(t, "10.88.0.0/16")[0]).String())
	assert.Equal(t, "192.168.224.1", gatewayOf(cidrs(t, "192.168.224.0/20")[0]).String())
}

func TestCNIConflist(t *testing.T) {
	var conf struct {
		CNIVersion string `json:"cniVersion"`
		Name       string `json:"name"`
		Plugins    []struct {
			Type        string `json:"type"`
			Bridge      string `json:"bridge"`
			IsGateway   bool   `json:"isGateway"`
			IPMasq      bool   `json:"ipMasq"`
			HairpinMode bool   `json:"hairpinMode"`
			IPAM        struct {
				Type    string                `json:"type"`
				Ranges  [][]map[string]string `json:"ranges"`
				DataDir string                `json:"dataDir"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	require.NoError(t, json.Unmarshal([]byte(cniConflist(cidrs(t, "10.88.0.0/16")[0], "/tmp/n/cni/ipam")), &conf))
	assert.Equal(t, "1.0.0", conf.CNIVersion)
	assert.Equal(t, "seccomp-guard-node", conf.Name)
	require.Len(t, conf.Plugins, 1)
	p := conf.Plugins[0]
	assert.Equal(t, "bridge", p.Type)
	assert.Equal(t, BridgeName, p.Bridge)
	assert.True(t, p.IsGateway, "the host reaches pods through the bridge's gateway address")
	assert.False(t, p.IPMasq, "no masquerading: the plugin would add iptables rules")
	assert.True(t, p.HairpinMode)
	assert.Equal(t, "host-local", p.IPAM.Type)
	assert.Equal(t, [][]map[string]string{{{"subnet": "10.88.0.0/16", "gateway": "10.88.0.1"}}}, p.IPAM.Ranges)
	assert.Equal(t, "/tmp/n/cni/ipam", p.IPAM.DataDir, "host-local's state stays under Dir")
	assert.Equal(t, []string{"bridge", "host-local", "loopback"}, cniPlugins, "no portmap or firewall: they add iptables rules")
}

func TestNFTRules(t *testing.T) {
	assert.Equal(t, `table ip seccomp_guard_node {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "sgnode0" ip daddr 10.0.0.1 tcp dport 443 dnat to 127.0.0.1:43475
	}
	chain output {
		type nat hook output priority -100; policy accept;
		ip daddr 10.0.0.1 tcp dport 443 dnat to 127.0.0.1:43475
	}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "sgnode0" ip daddr 127.0.0.0/8 ct status dnat accept
		iifname "sgnode0" ip daddr 127.0.0.0/8 drop
	}
}
`, nftRules("127.0.0.1", 43475))
}

// The API server's certificate verifies, with the CA that kube-root-ca.crt
// publishes, for what in-cluster clients dial and for the host's clients.
func TestWriteAPIServerCerts(t *testing.T) {
	dir := t.TempDir()
	caPEM, err := writeAPIServerCerts(dir)
	require.NoError(t, err)
	for _, f := range []string{apiserverCAFile, apiserverCertFile, apiserverKeyFile, saCertFile, saKeyFile} {
		_, err := os.Stat(filepath.Join(dir, f))
		assert.NoError(t, err, f)
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, apiserverCAFile))
	require.NoError(t, err)
	assert.Equal(t, caPEM, onDisk)

	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM))
	b, err := os.ReadFile(filepath.Join(dir, apiserverCertFile))
	require.NoError(t, err)
	block, _ := pem.Decode(b)
	require.NotNil(t, block)
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	for _, name := range []string{"10.0.0.1", "127.0.0.1", "localhost", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "kubernetes"} {
		t.Run(name, func(t *testing.T) {
			_, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			assert.NoError(t, err)
		})
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "10.0.0.2"})
	assert.Error(t, err, "only the kubernetes Service's IP")
}

func TestAPIServerFlags(t *testing.T) {
	assert.Equal(t, map[string]string{"enable-aggregator-routing": "true"}, apiserverFlags)
	assert.Equal(t, []string{"disable-admission-plugins"}, apiserverUnsetFlags, "envtest's ServiceAccount admission switch-off is dropped")
}

func TestDefaultControllers(t *testing.T) {
	for _, want := range []string{
		"deployment-controller", "replicaset-controller", "daemonset-controller", "endpointslice-controller",
		"garbage-collector-controller", "serviceaccount-controller", "root-ca-certificate-publisher-controller",
	} {
		assert.Contains(t, DefaultControllers, want)
	}
	assert.NotContains(t, DefaultControllers, "node-lifecycle-controller")
}
