package localcluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// The API server's certificates, written into its envtest CertDir before it
// starts (envtest then keeps them): its serving certificate names what
// in-cluster clients dial (KubernetesServiceIP, kubernetes.default.svc) as
// well as 127.0.0.1, so that a pod verifies it with kube-root-ca.crt.
const (
	apiserverCAFile   = "ca.crt"
	apiserverCertFile = "apiserver.crt" // the names envtest and --cert-dir use
	apiserverKeyFile  = "apiserver.key"
	saCertFile        = "sa-signer.crt" // envtest's --service-account-key-file
	saKeyFile         = "sa-signer.key" // envtest's --service-account-signing-key-file
)

// apiserverNames are the serving certificate's names.
var apiserverNames = []string{
	"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
}

// apiserverIPs are the serving certificate's addresses.
var apiserverIPs = []string{"127.0.0.1", KubernetesServiceIP}

// writeAPIServerCerts writes a CA, the serving certificate and key, and the
// service account signing key pair into dir, and returns the CA in PEM.
func writeAPIServerCerts(dir string) ([]byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "seccomp-guard-node-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:     apiserverNames,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, ip := range apiserverIPs {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	files := map[string][]byte{apiserverCAFile: caPEM, apiserverCertFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	for name, k := range map[string]*ecdsa.PrivateKey{apiserverKeyFile: key, saKeyFile: saKey} {
		b, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, err
		}
		files[name] = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: b})
	}
	files[saCertFile] = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub})
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	return caPEM, nil
}

// apiserverFlags are what the cluster's kube-apiserver runs with on top of
// envtest's (set), and the envtest defaults it drops (unset):
//   - --enable-aggregator-routing: the API server calls webhook (and
//     aggregated API) Services at an endpoint's pod IP, taken from the
//     Service's EndpointSlices, instead of the ClusterIP, which nothing
//     routes here (no kube-proxy);
//   - envtest disables the ServiceAccount admission plugin; a cluster that
//     runs a chart needs it, so that pods get their ServiceAccount's token
//     volume (and kube-controller-manager's serviceaccount controller
//     creates each namespace's default ServiceAccount).
var (
	apiserverFlags      = map[string]string{"enable-aggregator-routing": "true"}
	apiserverUnsetFlags = []string{"disable-admission-plugins"}
)

// configureAPIServer is the framework.StartControlPlane hook: the
// certificates above in CertDir (under Dir) and the flags.
func (c *Cluster) configureAPIServer(env *envtest.Environment) error {
	api := env.ControlPlane.GetAPIServer()
	api.CertDir = filepath.Join(c.Dir, "apiserver")
	ca, err := writeAPIServerCerts(api.CertDir)
	if err != nil {
		return err
	}
	api.CA = ca
	c.CAFile = filepath.Join(api.CertDir, apiserverCAFile)
	args := api.Configure()
	for k, v := range apiserverFlags {
		args.Set(k, v)
	}
	for _, k := range apiserverUnsetFlags {
		args.Disable(k)
	}
	return nil
}

// StopAPIServer stops kube-apiserver and leaves etcd and every other
// component running: an API server outage, for fault tests. It sends
// SIGTERM and waits up to grace for the process to end; then SIGKILL (a
// kube-apiserver with open HTTP/2 watch streams can take its whole
// request timeout, 60 s, to shut down). killed says whether it took
// SIGKILL. StartAPIServer brings it back.
func (c *Cluster) StopAPIServer(grace time.Duration) (killed bool, err error) {
	api := c.ControlPlane.Env.ControlPlane.APIServer
	pid, err := apiserverPID(api.CertDir)
	if err != nil {
		return false, err
	}
	gone := func(d time.Duration) bool {
		for deadline := time.Now().Add(d); ; time.Sleep(100 * time.Millisecond) {
			// envtest waits for its child, so it leaves no zombie behind.
			if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err != nil {
				return true
			}
			if time.Now().After(deadline) {
				return false
			}
		}
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return false, fmt.Errorf("stopping kube-apiserver (pid %d): %w", pid, err)
	}
	if !gone(grace) {
		killed = true
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return true, fmt.Errorf("killing kube-apiserver (pid %d): %w", pid, err)
		}
		if !gone(30 * time.Second) {
			return true, fmt.Errorf("kube-apiserver (pid %d) still runs 30s after SIGKILL", pid)
		}
	}
	// envtest's own Stop finds the process ended and forgets it, so that
	// Start starts a new one (after its Wait has returned).
	time.Sleep(200 * time.Millisecond)
	if err := api.Stop(); err != nil {
		return killed, fmt.Errorf("stopping kube-apiserver: %w", err)
	}
	return killed, nil
}

// apiserverPID finds the cluster's kube-apiserver: the process whose
// command line names its certificate directory.
func apiserverPID(certDir string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(raw), "\x00")
		if filepath.Base(args[0]) == "kube-apiserver" && slices.Contains(args, "--cert-dir="+certDir) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no kube-apiserver process with --cert-dir=%s", certDir)
}

// StartAPIServer starts kube-apiserver again after StopAPIServer, in place:
// the same etcd (so the same objects and resource versions), the same
// address and port, flags, certificates (CertDir is the cluster's, which
// envtest neither regenerates nor removes) and client CA, so that every
// client of the cluster, in pods or not, reconnects with the credentials
// it has. It returns once /healthz answers ok.
func (c *Cluster) StartAPIServer() error {
	if err := c.ControlPlane.Env.ControlPlane.APIServer.Start(); err != nil {
		return fmt.Errorf("starting kube-apiserver again: %w", err)
	}
	return nil
}
