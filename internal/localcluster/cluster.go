// Package localcluster runs a real single-node Kubernetes cluster on this machine
// for e2e tests and `make demo`: kube-apiserver and etcd (through
// e2e/framework and envtest), kube-scheduler, kube-controller-manager,
// containerd with its own configuration and state, and a kubelet, all built
// into bin/k8s by hack/build-controlplane.sh (containerd comes from Debian's
// packages). containerd runs containers with bin/runc, a runc of 1.2 or later
// built by `make runc`, which logs the SCMP_ACT_ERRNO refusals of profiles
// with SECCOMP_FILTER_FLAG_LOG; without it, with Debian's runc 1.1.5, which
// does not (Cluster.Runc says which ran; FindRunc).
//
// Everything the cluster writes lives under two temp directories: Dir (the
// kubelet's --root-dir, so its seccomp root is <Dir>/kubelet/seccomp,
// containerd's root and state, configuration) which Stop removes, and LogDir
// (one log file per component) which Stop keeps, so that a failed test can
// print the paths. What the kubelet and containerd change outside them
// (kernel settings, a few fixed host paths) Stop puts back; Leftovers checks.
// One cluster per machine at a time. Pods get an address on the node's pod
// network (network.go: a bridge with Debian's CNI plugins, no kube-proxy;
// the API server reaches Services through their endpoints) or use
// hostNetwork: true; they use imagePullPolicy: Never with PauseImage,
// BusyboxImage or an image imported with ImportImage (there is no registry).
//
// Facts this package relies on were checked on the development machine:
// docs/testing.md, which also explains how to read a failed run.
package localcluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/internal/images"
)

// Images every pod of the cluster can use, with imagePullPolicy: Never.
const (
	PauseImage   = images.PauseImage
	BusyboxImage = images.BusyboxImage
)

// DefaultNodeName is the node's name unless Options.NodeName says otherwise.
const DefaultNodeName = "seccomp-guard-node"

// DefaultControllers are the kube-controller-manager controllers the cluster
// runs: what a chart needs (Deployments, DaemonSets, Jobs for Helm hooks,
// EndpointSlices for Services, ServiceAccounts and kube-root-ca.crt for
// their tokens, garbage collection of owned objects, namespace deletion).
// Not the node-lifecycle controller: Start waits for the node to be Ready
// and removes the not-ready taint itself, and on a loaded machine a late
// kubelet heartbeat would make that controller taint the node
// (docs/testing.md).
var DefaultControllers = []string{
	"deployment-controller", "replicaset-controller", "daemonset-controller", "job-controller",
	"endpointslice-controller", "serviceaccount-controller", "root-ca-certificate-publisher-controller",
	"garbage-collector-controller", "namespace-controller",
}

// dirPrefix names the cluster's temp directories, so that a later run can
// find what a killed run left behind.
const dirPrefix = "seccomp-guard-node-"

// Options configure Start.
type Options struct {
	// NodeName is the kubelet's --hostname-override; DefaultNodeName if empty.
	NodeName string
	// LogDir receives one log file per component; a new temp directory if
	// empty. Stop keeps it; RemoveLogs removes it.
	LogDir string
	// Controllers for kube-controller-manager; DefaultControllers if empty.
	Controllers []string
	// Progress, if set, receives one line per start-up step.
	Progress io.Writer
}

// Cluster is a running single-node cluster.
type Cluster struct {
	ControlPlane *framework.ControlPlane
	Config       *rest.Config  // admin
	Client       client.Client // admin
	Kubeconfig   string        // admin kubeconfig file
	Kubectl      string        // bin/k8s/kubectl

	NodeName       string
	Dir            string     // removed by Stop
	LogDir         string     // kept by Stop
	KubeletRootDir string     // the kubelet's --root-dir
	SeccompRoot    string     // <KubeletRootDir>/seccomp: where Localhost profiles live
	PodLogsDir     string     // the kubelet's podLogsDir
	Socket         string     // containerd's gRPC socket
	PodCIDR        *net.IPNet // the pod network, on BridgeName
	CAFile         string     // the API server's CA (kube-root-ca.crt in every namespace)
	// Runc is the runc containerd runs containers with: bin/runc, or
	// Debian's with Runc.Fallback saying why. Runc.SeccompFlags() says
	// whether errno refusals of a profile with SECCOMP_FILTER_FLAG_LOG are
	// logged.
	Runc Runc

	progress    io.Writer
	assets      string
	ctr         string
	kubelet     *component
	containerd  *component
	scheduler   *component
	controllers *component
	networkUp   bool

	// Paths that processes of this cluster name on their command line.
	ownedPaths []string
	// Host state the kubelet changes, restored by Stop.
	sysctls          map[string]string
	createdHostPaths []string
	// IDs of the containers and sandboxes containerd ran, taken by Stop
	// before they are deleted, so that Leftovers finds their processes.
	containerIDs []string

	stopOnce sync.Once
	stopErr  error
}

// containerLogsDir is where the kubelet links every container's log,
// whatever its podLogsDir (hard-coded in the kubelet).
const containerLogsDir = "/var/log/containers"

// hostSysctls are the kernel settings the kubelet sets at start
// (setupKernelTunables) and the one the bridge CNI plugin sets (a gateway
// bridge turns on IPv4 forwarding); Stop puts back the values found before.
var hostSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
	"net/ipv4/ip_forward",
}

// Check says why the cluster cannot run on this machine, or nil. A missing
// bin/runc is not a reason (the cluster runs Debian's runc then; FindRunc).
func Check() error {
	var problems []string
	if os.Geteuid() != 0 {
		problems = append(problems, "not running as root (containerd, runc and the kubelet need root; run the tests as root, where `make test` also installs the Debian packages they need)")
	}
	for _, bin := range []string{"containerd", "containerd-shim-runc-v2", "ctr"} {
		if _, err := exec.LookPath(bin); err != nil {
			problems = append(problems, bin+" not found in $PATH (apt-get install containerd)")
		}
	}
	if _, err := FindRunc(context.Background()); err != nil {
		problems = append(problems, err.Error())
	}
	for _, bin := range []string{"nft", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			problems = append(problems, bin+" not found in $PATH (apt-get install nftables iproute2)")
		}
	}
	for _, p := range cniPlugins {
		if _, err := os.Stat(filepath.Join(CNIBinDir, p)); err != nil {
			problems = append(problems, "CNI plugin "+filepath.Join(CNIBinDir, p)+" missing (apt-get install containernetworking-plugins)")
		}
	}
	if _, err := images.FindBusybox(); err != nil {
		problems = append(problems, err.Error())
	}
	if _, err := os.Stat("/sys/fs/cgroup"); err != nil {
		problems = append(problems, "no cgroup filesystem at /sys/fs/cgroup")
	}
	if assets, err := framework.AssetsDir(); err != nil {
		problems = append(problems, err.Error())
	} else {
		for _, b := range []string{"kube-apiserver", "etcd", "kubelet", "kube-scheduler", "kube-controller-manager", "kubectl"} {
			if _, err := os.Stat(filepath.Join(assets, b)); err != nil {
				problems = append(problems, filepath.Join(assets, b)+" missing (run `make controlplane`)")
			}
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// Start starts the cluster and waits until the node is registered. On error
// (including ctx being cancelled, e.g. by the caller's SIGINT handler)
// everything started so far is stopped; the logs stay in the LogDir the
// error names. The caller must call Stop, also on Ctrl-C.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	if err := Check(); err != nil {
		return nil, fmt.Errorf("the local cluster cannot run here: %w", err)
	}
	// A run that was killed (SIGKILL, a crashed test binary) could not clean up.
	if stale := CleanStale(); len(stale) > 0 && opts.Progress != nil {
		fmt.Fprintf(opts.Progress, "cleaned up after an earlier run: %s\n", strings.Join(stale, ", "))
	}
	c = &Cluster{NodeName: opts.NodeName, LogDir: opts.LogDir, progress: opts.Progress}
	if c.NodeName == "" {
		c.NodeName = DefaultNodeName
	}
	if c.Dir, err = os.MkdirTemp("", dirPrefix); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(c.Dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return nil, err
	}
	if c.LogDir == "" {
		if c.LogDir, err = os.MkdirTemp("", dirPrefix+"logs-"); err != nil {
			_ = os.RemoveAll(c.Dir)
			return nil, err
		}
	} else if err := os.MkdirAll(c.LogDir, 0o755); err != nil {
		_ = os.RemoveAll(c.Dir)
		return nil, err
	}
	c.ownedPaths = []string{c.Dir}
	defer func() {
		if err != nil {
			stopErr := c.Stop()
			err = fmt.Errorf("%w\n(component logs kept in %s)", err, c.LogDir)
			if stopErr != nil {
				err = fmt.Errorf("%w\nand stopping the partial cluster: %w", err, stopErr)
			}
			c = nil
		}
	}()
	c.KubeletRootDir = filepath.Join(c.Dir, "kubelet")
	c.SeccompRoot = filepath.Join(c.KubeletRootDir, "seccomp")
	c.PodLogsDir = filepath.Join(c.Dir, "pod-logs")
	c.Socket = filepath.Join(c.Dir, "containerd", "containerd.sock")
	if c.assets, err = framework.AssetsDir(); err != nil {
		return c, err
	}
	c.Kubectl = filepath.Join(c.assets, "kubectl")
	if c.ctr, err = exec.LookPath("ctr"); err != nil {
		return c, err
	}

	if c.Runc, err = FindRunc(ctx); err != nil {
		return c, err
	}
	c.step("containerd's runc: " + c.Runc.String())

	c.step("building the pause and busybox images")
	archives, err := buildImages(c.Dir)
	if err != nil {
		return c, err
	}

	// What the kubelet and the bridge plugin change outside Dir, to put back in Stop.
	c.snapshotSysctls()
	if err := c.saveSysctls(); err != nil {
		return c, err
	}
	networks, err := machineNetworks()
	if err != nil {
		return c, err
	}
	if c.PodCIDR, err = choosePodCIDR(podCIDRCandidates, networks); err != nil {
		return c, err
	}

	c.step("starting kube-apiserver and etcd")
	cp, err := framework.StartControlPlane(c.configureAPIServer)
	if err != nil {
		return c, err
	}
	c.ControlPlane, c.Config, c.Client, c.Kubeconfig = cp, cp.Config, cp.Client, cp.Kubeconfig
	c.ownedPaths = append(c.ownedPaths, cp.Dir)
	if api := cp.Env.ControlPlane.APIServer; api != nil && api.CertDir != "" {
		c.ownedPaths = append(c.ownedPaths, api.CertDir)
	}
	if etcd := cp.Env.ControlPlane.Etcd; etcd != nil && etcd.DataDir != "" {
		c.ownedPaths = append(c.ownedPaths, etcd.DataDir)
	}
	if err := c.saveOwnedPaths(); err != nil {
		return c, err
	}

	c.step("setting up the pod network " + c.PodCIDR.String() + " on bridge " + BridgeName)
	if err := c.recordHostPaths(); err != nil {
		return c, err
	}
	apiPort, err := strconv.Atoi(cp.Env.ControlPlane.APIServer.Port)
	if err != nil {
		return c, fmt.Errorf("the API server's secure port: %w", err)
	}
	if err := c.setupNetwork(ctx, cp.Env.ControlPlane.APIServer.Address, apiPort); err != nil {
		return c, err
	}

	c.step("starting containerd")
	if err := c.startContainerd(ctx); err != nil {
		return c, err
	}
	for _, a := range archives {
		if err := c.importImage(ctx, a); err != nil {
			return c, err
		}
	}

	c.step("starting kube-scheduler and kube-controller-manager")
	if err := c.startScheduler(ctx); err != nil {
		return c, err
	}
	controllers := opts.Controllers
	if len(controllers) == 0 {
		controllers = DefaultControllers
	}
	if err := c.startControllerManager(ctx, controllers); err != nil {
		return c, err
	}

	c.step("starting the kubelet (node " + c.NodeName + ")")
	if err := c.startKubelet(ctx); err != nil {
		return c, err
	}
	return c, nil
}

func (c *Cluster) step(msg string) {
	if c.progress != nil {
		fmt.Fprintf(c.progress, "==> %s\n", msg)
	}
}

// kubeconfigFor writes a kubeconfig for an API server user.
func (c *Cluster) kubeconfigFor(name string, groups ...string) (string, error) {
	user, err := c.ControlPlane.Env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return "", fmt.Errorf("adding API server user %s: %w", name, err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(c.Dir, "kubeconfigs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	file := filepath.Join(dir, strings.NewReplacer(":", "-").Replace(name)+".kubeconfig")
	return file, os.WriteFile(file, kc, 0o600)
}

// waitHealthy polls https://127.0.0.1:port/healthz of a component.
func waitHealthy(ctx context.Context, p *component, port int, timeout time.Duration) error {
	httpClient := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // a self-signed serving certificate on loopback
	}
	defer httpClient.CloseIdleConnections()
	url := fmt.Sprintf("https://127.0.0.1:%d/healthz", port)
	return poll(ctx, timeout, func() (bool, error) {
		if exited, err := p.Exited(); exited {
			return false, fmt.Errorf("%s exited (%s); log %s", p.Name, exitStatus(err), p.LogPath)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := httpClient.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	}, p.Name+" /healthz")
}

// poll calls f at once and then every 200 ms until it is done, fails, the
// timeout passes or ctx ends.
func poll(ctx context.Context, timeout time.Duration, f func() (bool, error), what string) error {
	var failed error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		done, err := f()
		failed = err
		return done, err
	})
	switch {
	case err == nil:
		return nil
	case failed != nil:
		return failed
	case ctx.Err() != nil:
		return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
	}
	return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
}

func (c *Cluster) startScheduler(ctx context.Context) error {
	kc, err := c.kubeconfigFor("system:kube-scheduler", "system:masters")
	if err != nil {
		return err
	}
	port, err := framework.FreePort()
	if err != nil {
		return err
	}
	c.scheduler, err = c.startProcess("kube-scheduler", filepath.Join(c.assets, "kube-scheduler"),
		"--kubeconfig="+kc, "--authentication-kubeconfig="+kc, "--authorization-kubeconfig="+kc,
		"--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(port),
	)
	if err != nil {
		return err
	}
	return waitHealthy(ctx, c.scheduler, port, 60*time.Second)
}

func (c *Cluster) startControllerManager(ctx context.Context, controllers []string) error {
	kc, err := c.kubeconfigFor("system:kube-controller-manager", "system:masters")
	if err != nil {
		return err
	}
	port, err := framework.FreePort()
	if err != nil {
		return err
	}
	certDir := filepath.Join(c.Dir, "kube-controller-manager")
	c.controllers, err = c.startProcess("kube-controller-manager", filepath.Join(c.assets, "kube-controller-manager"),
		"--kubeconfig="+kc, "--authentication-kubeconfig="+kc, "--authorization-kubeconfig="+kc,
		"--controllers="+strings.Join(controllers, ","),
		"--root-ca-file="+c.CAFile,
		"--use-service-account-credentials=false",
		"--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(port),
		"--cert-dir="+certDir,
	)
	if err != nil {
		return err
	}
	return waitHealthy(ctx, c.controllers, port, 60*time.Second)
}

// Node returns the cluster's Node object.
func (c *Cluster) Node(ctx context.Context) (*corev1.Node, error) {
	node := &corev1.Node{}
	return node, c.Client.Get(ctx, client.ObjectKey{Name: c.NodeName}, node)
}

// LogFiles lists the component logs.
func (c *Cluster) LogFiles() []string {
	files, _ := filepath.Glob(filepath.Join(c.LogDir, "*.log"))
	more, _ := filepath.Glob(filepath.Join(c.LogDir, "*", "*.log"))
	return append(files, more...)
}

// RemoveLogs removes LogDir; call it after a successful run.
func (c *Cluster) RemoveLogs() error {
	return os.RemoveAll(c.LogDir)
}

// Stop tears the cluster down: the kubelet, every container, sandbox and
// shim, containerd, kube-scheduler, kube-controller-manager, the control
// plane, every mount under Dir; it restores the kernel settings the kubelet
// changed and removes Dir. LogDir is kept (with the control plane's audit
// and webhook logs copied into LogDir/controlplane). Stop is idempotent,
// safe after a partial Start, and safe to call from a signal handler's
// goroutine while another Stop runs (the second waits for the first).
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Cluster) stop() error {
	var errs []error
	note := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	if c.Dir != "" {
		c.containerIDs = containerIDs([]string{c.Dir})
	}
	if c.kubelet != nil {
		note("stopping the kubelet", c.kubelet.StopWithin(30*time.Second))
	}
	if c.containerd != nil {
		if exited, _ := c.containerd.Exited(); !exited {
			note("removing containers", c.removeContainers())
		}
		note("stopping containerd", c.containerd.StopWithin(30*time.Second))
	}
	for _, p := range []*component{c.scheduler, c.controllers} {
		if p != nil {
			note("stopping "+p.Name, p.StopWithin(20*time.Second))
		}
	}
	if c.Dir != "" {
		// Whatever is left of the node: shims, container processes.
		note("killing leftover processes", killOwned([]string{c.Dir}, c.containerIDs...))
		note("unmounting", unmountUnder(c.Dir))
		note("removing shim sockets", removeShimSockets(c.Dir))
	}
	if c.networkUp {
		note("removing the pod network", teardownNetwork(c.containerIDs))
	}
	note("restoring sysctls", c.restoreSysctls())
	note("removing container log links", c.removeLogLinks())
	note("removing host paths", c.removeHostPaths())
	if c.ControlPlane != nil {
		c.keepControlPlaneLogs()
		c.ControlPlane.Stop()
	}
	// Processes the caller started against the cluster and did not stop
	// (a webhook or agent naming the control plane's kubeconfig), and
	// anything of the control plane that outlived envtest.
	note("killing leftover processes", killOwned(c.ownedPaths, c.containerIDs...))
	if c.Dir != "" {
		note("removing "+c.Dir, os.RemoveAll(c.Dir))
	}
	return errors.Join(errs...)
}

// keepControlPlaneLogs copies the logs of the control plane's directory
// (audit.log, and webhook.log and friends that the caller started there)
// into LogDir/controlplane before the control plane removes it.
func (c *Cluster) keepControlPlaneLogs() {
	files, _ := filepath.Glob(filepath.Join(c.ControlPlane.Dir, "*.log"))
	if len(files) == 0 {
		return
	}
	dst := filepath.Join(c.LogDir, "controlplane")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return
	}
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			_ = os.WriteFile(filepath.Join(dst, filepath.Base(f)), b, 0o644)
		}
	}
}

// snapshotSysctls records the kernel settings the kubelet changes.
func (c *Cluster) snapshotSysctls() {
	c.sysctls = map[string]string{}
	for _, s := range hostSysctls {
		if b, err := os.ReadFile(filepath.Join("/proc/sys", s)); err == nil {
			c.sysctls[s] = strings.TrimSpace(string(b))
		}
	}
}

func (c *Cluster) restoreSysctls() error {
	var errs []error
	for s, v := range c.sysctls {
		p := filepath.Join("/proc/sys", s)
		if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == v {
			continue
		}
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sysctlDrift lists the kernel settings that differ from before Start.
func (c *Cluster) sysctlDrift() []string {
	var out []string
	for s, v := range c.sysctls {
		b, err := os.ReadFile(filepath.Join("/proc/sys", s))
		if err == nil && strings.TrimSpace(string(b)) != v {
			out = append(out, fmt.Sprintf("sysctl %s is %s, was %s", strings.ReplaceAll(s, "/", "."), strings.TrimSpace(string(b)), v))
		}
	}
	return out
}

// Leftovers reports anything of this cluster still on the machine after
// Stop: processes whose command line or root names one of its directories,
// mounts under them, the directories themselves (except LogDir), container
// log links and changed kernel settings. Empty means the machine is as
// Start found it.
func (c *Cluster) Leftovers() []string {
	var out []string
	for _, p := range ownedProcesses(c.ownedPaths, c.containerIDs...) {
		out = append(out, "process "+p.String())
	}
	for _, dir := range c.ownedPaths {
		for _, m := range mountsUnder(dir) {
			out = append(out, "mount "+m)
		}
		if _, err := os.Stat(dir); err == nil {
			out = append(out, "directory "+dir)
		}
	}
	out = append(out, c.logLinks()...)
	out = append(out, c.hostLeftovers()...)
	if c.networkUp {
		out = append(out, networkLeftovers(c.containerIDs)...)
	}
	out = append(out, c.sysctlDrift()...)
	return out
}
