package localcluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The node's pod network (docs/testing.md): containerd's CRI plugin runs the
// bridge, host-local and loopback plugins of Debian's
// containernetworking-plugins. Pods get an address in PodCIDR on a bridge
// whose gateway address is the host's, so that the host (the API server, the
// kubelet's probes) reaches every pod directly. There is no kube-proxy:
// ClusterIPs are not routed, except the kubernetes Service's, which one
// nftables rule sends to the API server on loopback, so that pods reach the
// API server the way in-cluster clients do. The API server reaches webhook
// Services through their endpoints (--enable-aggregator-routing).
const (
	// BridgeName is the pod network's bridge interface.
	BridgeName = "sgnode0"
	// cniNetworkName names the network in the conflist and in libcni's cache.
	cniNetworkName = "seccomp-guard-node"
	// nftTable holds the cluster's one rule (family ip).
	nftTable = "seccomp_guard_node"
	// KubernetesServiceIP is the ClusterIP the API server gives the
	// kubernetes Service: the first address of envtest's
	// --service-cluster-ip-range, 10.0.0.0/24.
	KubernetesServiceIP = "10.0.0.1"
	// serviceCIDR is envtest's --service-cluster-ip-range.
	serviceCIDR = "10.0.0.0/24"
	// CNIBinDir is where Debian's containernetworking-plugins installs the plugins.
	CNIBinDir = "/usr/lib/cni"
	// libcniCacheDir is where libcni (in containerd) caches each
	// attachment's result, whatever containerd's configuration.
	libcniCacheDir = "/var/lib/cni"
	// networkFile in Dir records the pod network, for CleanStale.
	networkFile = "network"
)

// cniPlugins are the plugins the conflist and containerd use.
var cniPlugins = []string{"bridge", "host-local", "loopback"}

// podCIDRCandidates are the pod networks Start chooses from: the first one
// that overlaps none of the machine's addresses and routes.
var podCIDRCandidates = []string{"10.88.0.0/16", "10.89.0.0/16", "172.30.0.0/16", "192.168.224.0/20"}

// choosePodCIDR returns the first candidate that overlaps neither the
// machine's networks nor the service range.
func choosePodCIDR(candidates []string, inUse []*net.IPNet) (*net.IPNet, error) {
	_, services, _ := net.ParseCIDR(serviceCIDR)
	inUse = append([]*net.IPNet{services}, inUse...)
	var clashes []string
	for _, c := range candidates {
		_, cidr, err := net.ParseCIDR(c)
		if err != nil {
			return nil, err
		}
		clash := ""
		for _, n := range inUse {
			if n.Contains(cidr.IP) || cidr.Contains(n.IP) {
				clash = n.String()
				break
			}
		}
		if clash == "" {
			return cidr, nil
		}
		clashes = append(clashes, c+" overlaps "+clash)
	}
	return nil, fmt.Errorf("no free pod network for the local cluster: %s; free one of them (ip addr, ip route)", strings.Join(clashes, ", "))
}

// machineNetworks lists the IPv4 networks of the machine's addresses and
// routes (not the default route).
func machineNetworks() ([]*net.IPNet, error) {
	var out []*net.IPNet
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			out = append(out, &net.IPNet{IP: n.IP.Mask(n.Mask), Mask: n.Mask})
		}
	}
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return out, nil
	}
	defer f.Close()
	routes, err := parseRoutes(f)
	return append(out, routes...), err
}

// parseRoutes reads /proc/net/route: destinations and masks in
// little-endian hex; the default route is left out.
func parseRoutes(f io.Reader) ([]*net.IPNet, error) {
	var out []*net.IPNet
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 8 || fields[0] == "Iface" {
			continue
		}
		dst, err1 := hexIPv4(fields[1])
		mask, err2 := hexIPv4(fields[7])
		if err1 != nil || err2 != nil {
			continue
		}
		if ones, _ := net.IPMask(mask).Size(); ones == 0 {
			continue
		}
		out = append(out, &net.IPNet{IP: dst, Mask: net.IPMask(mask)})
	}
	return out, s.Err()
}

func hexIPv4(s string) (net.IP, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 4 {
		return nil, fmt.Errorf("not an IPv4 address in /proc/net/route: %q", s)
	}
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, binary.LittleEndian.Uint32(b))
	return ip, nil
}

// gatewayOf is the first address of a network: the bridge's.
func gatewayOf(cidr *net.IPNet) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, binary.BigEndian.Uint32(cidr.IP.To4())+1)
	return ip
}

// cniConflist is the network configuration in containerd's CNI conf_dir:
// a bridge with the gateway address (so the host reaches pods), no IP
// masquerading and no port mapping (the plugins then add no iptables rules),
// host-local addresses with their state in ipamDir.
func cniConflist(cidr *net.IPNet, ipamDir string) string {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       cniNetworkName,
		"plugins": []any{map[string]any{
			"type":        "bridge",
			"bridge":      BridgeName,
			"isGateway":   true,
			"ipMasq":      false,
			"hairpinMode": true,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": cidr.String(), "gateway": gatewayOf(cidr).String()}}},
				"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
				"dataDir": ipamDir,
			},
		}},
	}
	b, _ := json.MarshalIndent(conf, "", "  ")
	return string(b) + "\n"
}

// nftRules send what pods on the bridge address to the kubernetes Service
// (KubernetesServiceIP:443) to the API server on loopback; the bridge's
// route_localnet lets such packets be delivered to 127.0.0.1. Pods in the
// host's network (hostNetwork: the agent reading the audit netlink group)
// send from the host itself: the output chain does the same for them, as
// kube-proxy does on a real node. Anything else
// from the bridge to 127.0.0.0/8 is dropped: with route_localnet a pod could
// otherwise reach every loopback service of the host, etcd included (the
// rule the kubelet's KUBE-FIREWALL chain has for kube-proxy's NodePorts,
// https://issue.k8s.io/90259).
func nftRules(apiHost string, apiPort int) string {
	return fmt.Sprintf(`table ip %[1]s {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname %[2]q ip daddr %[3]s tcp dport 443 dnat to %[4]s:%[5]d
	}
	chain output {
		type nat hook output priority -100; policy accept;
		ip daddr %[3]s tcp dport 443 dnat to %[4]s:%[5]d
	}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname %[2]q ip daddr 127.0.0.0/8 ct status dnat accept
		iifname %[2]q ip daddr 127.0.0.0/8 drop
	}
}
`, nftTable, BridgeName, KubernetesServiceIP, apiHost, apiPort)
}

// runCmd runs a command, returning its combined output in the error.
func runCmd(ctx context.Context, stdin string, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// setupNetwork creates the bridge with the gateway address, lets it
// deliver to loopback, adds the nftables rule for the kubernetes Service and
// writes the conflist into containerd's CNI conf_dir. It records the pod
// network in Dir first, so that CleanStale can undo it.
func (c *Cluster) setupNetwork(ctx context.Context, apiHost string, apiPort int) error {
	if err := os.WriteFile(filepath.Join(c.Dir, networkFile), []byte(c.PodCIDR.String()), 0o600); err != nil {
		return err
	}
	ones, _ := c.PodCIDR.Mask.Size()
	steps := [][]string{
		{"ip", "link", "add", BridgeName, "type", "bridge"},
		{"ip", "addr", "add", gatewayOf(c.PodCIDR).String() + "/" + strconv.Itoa(ones), "dev", BridgeName},
		{"ip", "link", "set", BridgeName, "up"},
	}
	for _, s := range steps {
		if err := runCmd(ctx, "", s[0], s[1:]...); err != nil {
			return fmt.Errorf("creating the pod network's bridge: %w", err)
		}
	}
	c.networkUp = true
	if err := os.WriteFile(filepath.Join("/proc/sys/net/ipv4/conf", BridgeName, "route_localnet"), []byte("1"), 0o644); err != nil {
		return fmt.Errorf("letting %s deliver to the API server on loopback: %w", BridgeName, err)
	}
	if err := runCmd(ctx, nftRules(apiHost, apiPort), "nft", "-f", "-"); err != nil {
		return fmt.Errorf("routing the kubernetes Service to the API server: %w", err)
	}
	confDir := filepath.Join(filepath.Dir(c.Socket), "cni", "net.d")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(confDir, "10-"+cniNetworkName+".conflist"),
		[]byte(cniConflist(c.PodCIDR, filepath.Join(c.Dir, "cni", "ipam"))), 0o644)
}

// teardownNetwork removes the nftables table, the bridge and libcni's cache
// entries of the network and of the sandboxes ids (containerd's loopback
// attachments). Pods' network namespaces are mounted under containerd's
// state dir (netns_mounts_under_state_dir) and go with it; the host-local
// state is under Dir.
func teardownNetwork(ids []string) error {
	var errs []error
	if nftTableExists() {
		if err := runCmd(context.Background(), "", "nft", "delete", "table", "ip", nftTable); err != nil {
			errs = append(errs, err)
		}
	}
	if bridgeExists() {
		if err := runCmd(context.Background(), "", "ip", "link", "del", BridgeName); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range libcniCacheFiles(ids) {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func bridgeExists() bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", BridgeName))
	return err == nil
}

func nftTableExists() bool {
	if _, err := exec.LookPath("nft"); err != nil {
		return false
	}
	return runCmd(context.Background(), "", "nft", "list", "table", "ip", nftTable) == nil
}

// libcniCacheFiles lists libcni's cached results
// (results/<network>-<sandbox>-<ifname>) for the cluster's network and for
// the loopback attachments ("cni-loopback", containerd's) of the sandboxes
// ids, which a sandbox removed without a CNI DEL leaves behind.
func libcniCacheFiles(ids []string) []string {
	files, _ := filepath.Glob(filepath.Join(libcniCacheDir, "results", cniNetworkName+"-*"))
	for _, id := range ids {
		more, _ := filepath.Glob(filepath.Join(libcniCacheDir, "results", "cni-loopback-"+id+"-*"))
		files = append(files, more...)
	}
	return files
}

// networkLeftovers lists what of the pod network is still on the machine.
func networkLeftovers(ids []string) []string {
	var out []string
	if bridgeExists() {
		out = append(out, "network interface "+BridgeName)
	}
	if nftTableExists() {
		out = append(out, "nftables table ip "+nftTable)
	}
	for _, f := range libcniCacheFiles(ids) {
		out = append(out, "CNI cache file "+f)
	}
	return out
}
