// Command scale measures the webhook at cluster scale (make bench-scale):
// on a local kube-apiserver and etcd it creates N realistic Nodes (a tenth
// tainted NoSchedule), one NodeSeccompInventory of P profiles per node,
// written as the agent writes it (server-side apply by the agent's field
// manager), and the agents' heartbeat Leases, kept fresh by a renewer for
// the whole run; then it starts the real `seccomp-guard webhook` binary and
// reports its cache sync time, its resident memory after sync and after the
// requests, and the latency of one /validate call over HTTPS, one
// connection at a time, for a Localhost pod whose nodeSelector matches a
// third of the nodes, with the profile present on all of them and missing
// everywhere. With -heap-profile it saves the webhook's heap profile
// (--pprof-bind-address) after the requests.
//
//	go run ./hack/scale -nodes 500,5000
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	coordinationv1ac "k8s.io/client-go/applyconfigurations/coordination/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
	"github.com/seccomp-guard/seccomp-guard/inventory"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

const (
	leaseNamespace = v1alpha1.DefaultReleaseNamespace
	podNamespace   = "scale"
	leaseSeconds   = 40
	// presentProfile is on every node; missingProfile on none.
	missingProfile = "operator/team-00/not-installed.json"
)

type config struct {
	sizes       []int
	profiles    int
	requests    int
	warmup      int
	workers     int
	renewEvery  time.Duration
	heapProfile string
	bins        []binary
	agentIdle   time.Duration
	agentFiles  int
}

// binary is a seccomp-guard binary to measure, and its label in the table.
type binary struct{ label, path string }

func main() {
	var cfg config
	sizes := flag.String("nodes", "500,5000", "comma-separated cluster sizes; each gets a fresh control plane")
	flag.IntVar(&cfg.profiles, "profiles", 50, "profiles in each node's inventory")
	flag.IntVar(&cfg.requests, "requests", 1000, "timed /validate calls per case (two cases: present, missing)")
	flag.IntVar(&cfg.warmup, "warmup", 200, "untimed /validate calls before each case")
	flag.IntVar(&cfg.workers, "workers", 16, "parallel clients that create the objects")
	flag.DurationVar(&cfg.renewEvery, "renew-every", 10*time.Second, "how often each agent Lease is renewed (the agent's default: a quarter of its 40s Lease)")
	flag.StringVar(&cfg.heapProfile, "heap-profile", "", "directory to save the webhook's heap profile in (heap-<nodes>.pb.gz), via --pprof-bind-address")
	flag.DurationVar(&cfg.agentIdle, "agent-idle", time.Minute, "how long to measure the CPU of one agent on an idle node (0: not measured)")
	flag.IntVar(&cfg.agentFiles, "agent-profiles", 1000, "profiles under the idle agent's seccomp root")
	bins := flag.String("bin", "", "the seccomp-guard binaries to measure on the same cluster, one after the other: PATH or LABEL=PATH, comma-separated; empty builds ./cmd/seccomp-guard")
	flag.Parse()
	for b := range strings.SplitSeq(*bins, ",") {
		if b = strings.TrimSpace(b); b == "" {
			continue
		}
		label, path, ok := strings.Cut(b, "=")
		if !ok {
			label, path = filepath.Base(b), b
		}
		cfg.bins = append(cfg.bins, binary{label: label, path: path})
	}
	for s := range strings.SplitSeq(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 3 {
			fmt.Fprintf(os.Stderr, "error: -nodes %q: %q is not a cluster size of at least 3 nodes\n", *sizes, s)
			os.Exit(2)
		}
		cfg.sizes = append(cfg.sizes, n)
	}
	if missing := framework.MissingAssets(); len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "error: control plane not built (missing %s): run `make controlplane`\n", strings.Join(missing, ", "))
		os.Exit(1)
	}
	// Ctrl-C or SIGTERM cancels the run, which then stops the control plane
	// and the processes it started (killed, they would be left running).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var results []result
	for i, n := range cfg.sizes {
		cfg := cfg
		if i < len(cfg.sizes)-1 {
			cfg.agentIdle = 0 // once is enough: the last cluster
		}
		rs, err := run(ctx, cfg, n)
		results = append(results, rs...)
		if err != nil {
			printTable(os.Stdout, results)
			fmt.Fprintf(os.Stderr, "error at %d nodes: %v\n", n, err)
			stop()
			os.Exit(1) //nolint:gocritic // run's deferred stops have run; only stop is left, called above
		}
	}
	printTable(os.Stdout, results)
}

type result struct {
	binary                   string
	nodes, candidates        int
	create                   time.Duration
	sync                     time.Duration
	rssSync, rssAfter, hwm   int64 // KiB
	heapSync, heapAfter      float64
	present, missing         latencies
	presentNote, missingNote string
}

type latencies []time.Duration

func (l latencies) q(p float64) time.Duration {
	s := slices.Clone(l)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// run creates a cluster of n nodes and measures each binary against it.
func run(ctx context.Context, cfg config, n int) ([]result, error) {
	cp, err := framework.StartControlPlane(func(env *envtest.Environment) error {
		// Room for the parallel writers and the renewer.
		env.ControlPlane.GetAPIServer().Configure().Set("max-requests-inflight", "1000").Set("max-mutating-requests-inflight", "500")
		// Loading 4 writes per node is bound by etcd's fsyncs otherwise; the
		// webhook's measures do not depend on etcd's durability.
		if env.ControlPlane.Etcd == nil {
			env.ControlPlane.Etcd = &envtest.Etcd{}
		}
		env.ControlPlane.Etcd.Configure().Set("unsafe-no-fsync", "true")
		return nil
	})
	if err != nil {
		return nil, err
	}
	defer cp.Stop()
	bins := cfg.bins
	if len(bins) == 0 {
		fmt.Fprintln(os.Stderr, "building seccomp-guard")
		path, err := framework.BuildBinary(cp.Dir)
		if err != nil {
			return nil, err
		}
		bins = []binary{{label: "this tree", path: path}}
	}
	rc := rest.CopyConfig(cp.Config)
	rc.QPS, rc.Burst = 5000, 10000
	c, err := client.New(rc, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		return nil, err
	}
	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: leaseNamespace}},
		{ObjectMeta: metav1.ObjectMeta{Name: podNamespace, Labels: map[string]string{policy.ModeLabel: "enforce"}}},
	} {
		if err := c.Create(ctx, ns); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	fmt.Fprintf(os.Stderr, "creating %d Nodes, inventories of %d profiles and Leases with %d clients\n", n, cfg.profiles, cfg.workers)
	uids := make([]types.UID, n)
	if err := parallel(n, cfg.workers, func(i int) error {
		node := clusterNode(i)
		if err := c.Create(ctx, node); err != nil {
			return fmt.Errorf("creating Node %s: %w", node.Name, err)
		}
		uids[i] = node.UID
		if err := applyInventory(ctx, c, node.Name, node.UID, cfg.profiles); err != nil {
			return err
		}
		return renewLease(ctx, c, node.Name, node.UID)
	}); err != nil {
		return nil, err
	}
	created := time.Since(start)
	fmt.Fprintf(os.Stderr, "created in %s\n", created.Round(time.Millisecond))

	// The renewer: every Lease renewed once per cfg.renewEvery, spread evenly.
	renewCtx, stopRenewing := context.WithCancel(ctx)
	var renewed, renewErrors atomic.Int64
	var renewWG sync.WaitGroup
	renewWG.Go(func() {
		tick := time.NewTicker(cfg.renewEvery / time.Duration(n))
		defer tick.Stop()
		for i := 0; ; i = (i + 1) % n {
			select {
			case <-renewCtx.Done():
				return
			case <-tick.C:
			}
			if err := renewLease(renewCtx, c, nodeName(i), uids[i]); err != nil && renewCtx.Err() == nil {
				renewErrors.Add(1)
			} else {
				renewed.Add(1)
			}
		}
	})
	defer func() { stopRenewing(); renewWG.Wait() }()

	var results []result
	for _, bin := range bins {
		fmt.Fprintf(os.Stderr, "measuring %s (%s)\n", bin.label, bin.path)
		res, err := measure(ctx, cfg, cp, bin, n)
		res.create = created
		if err != nil {
			return results, err
		}
		results = append(results, res)
	}
	if cfg.agentIdle > 0 {
		cpu, err := agentIdle(ctx, cfg, cp, c, bins[len(bins)-1])
		if err != nil {
			return results, err
		}
		fmt.Fprintf(os.Stdout, "agent on an idle node with %d profiles (%s, %d nodes in the cluster): %s CPU in %s (utime+stime), %.3f%% of one core\n",
			cfg.agentFiles, bins[len(bins)-1].label, n, cpu, cfg.agentIdle, 100*cpu.Seconds()/cfg.agentIdle.Seconds())
	}
	stopRenewing()
	renewWG.Wait()
	fmt.Fprintf(os.Stderr, "renewer: %d Lease renewals, %d failed\n", renewed.Load(), renewErrors.Load())
	if renewErrors.Load() > 0 {
		return results, fmt.Errorf("%d Lease renewals failed: the known-node path is not what was measured", renewErrors.Load())
	}
	return results, nil
}

// measure starts one webhook binary against the cluster and measures it.
func measure(ctx context.Context, cfg config, cp *framework.ControlPlane, bin binary, n int) (result, error) {
	res := result{binary: bin.label, nodes: n, candidates: candidates(n)}
	var err error
	args := []string{"--zap-log-level", "error"}
	pprofPort := 0
	if cfg.heapProfile != "" {
		if pprofPort, err = framework.FreePort(); err != nil {
			return res, err
		}
		args = append(args, "--pprof-bind-address", fmt.Sprintf("127.0.0.1:%d", pprofPort))
	}
	start := time.Now()
	wh, err := startWebhook(ctx, cp, bin, args...)
	if err != nil {
		return res, err
	}
	res.sync = time.Since(start)
	defer func() { _ = wh.Stop() }()
	pid := wh.Cmd.Process.Pid
	time.Sleep(2 * time.Second) // let the event handlers drain into the index
	if res.rssSync, _, err = rss(pid); err != nil {
		return res, err
	}
	res.heapSync = heapInUse(wh.MetricsPort)

	httpClient, err := oneConnection(wh)
	if err != nil {
		return res, err
	}
	sel := map[string]string{"topology.kubernetes.io/zone": "eu-west-1a"}
	for _, tc := range []struct {
		profile string
		lat     *latencies
		note    *string
	}{
		{presentProfile(0), &res.present, &res.presentNote},
		{missingProfile, &res.missing, &res.missingNote},
	} {
		body, err := review(tc.profile, sel)
		if err != nil {
			return res, err
		}
		for range cfg.warmup {
			if _, err := post(ctx, httpClient, wh.Port, body); err != nil {
				return res, err
			}
		}
		*tc.lat = make(latencies, 0, cfg.requests)
		var last *admissionv1.AdmissionResponse
		for range cfg.requests {
			t0 := time.Now()
			resp, err := post(ctx, httpClient, wh.Port, body)
			if err != nil {
				return res, err
			}
			*tc.lat = append(*tc.lat, time.Since(t0))
			last = resp
		}
		*tc.note = describe(last)
	}
	if res.rssAfter, res.hwm, err = rss(pid); err != nil {
		return res, err
	}
	res.heapAfter = heapInUse(wh.MetricsPort)
	if cfg.heapProfile != "" {
		if err := saveHeap(pprofPort, filepath.Join(cfg.heapProfile, fmt.Sprintf("heap-%s-%d.pb.gz", bin.label, n))); err != nil {
			return res, err
		}
	}
	return res, nil
}

// agentIdle runs `seccomp-guard agent` for one more Node over a seccomp
// root of cfg.agentFiles profiles, waits until it is ready (its first scan
// written), then returns the CPU time (utime+stime from /proc/<pid>/stat)
// it spends over cfg.agentIdle while nothing changes.
func agentIdle(ctx context.Context, cfg config, cp *framework.ControlPlane, c client.Client, bin binary) (time.Duration, error) {
	const name = "idle-agent-node"
	if err := c.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		return 0, err
	}
	root := filepath.Join(cp.Dir, "idle-agent-seccomp")
	for i := range cfg.agentFiles {
		dir := filepath.Join(root, "operator", fmt.Sprintf("ns-%02d", i/10))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return 0, err
		}
		profile := fmt.Sprintf(`{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["read","write","exit_group","futex","epoll_wait","syscall_%d"],"action":"SCMP_ACT_ALLOW"}]}`, i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("profile-%d.json", i)), []byte(profile), 0o644); err != nil {
			return 0, err
		}
	}
	port, err := framework.FreePort()
	if err != nil {
		return 0, err
	}
	p, err := framework.StartProcess(cp.Dir, "idle-agent", bin.path, "agent", "--node-name", name, "--seccomp-root", root,
		"--kubeconfig", cp.Kubeconfig, "--namespace", leaseNamespace, "--health-probe-bind-address", "127.0.0.1:"+strconv.Itoa(port),
		"--violations-source", "none")
	if err != nil {
		return 0, err
	}
	defer func() { _ = p.Stop() }()
	if err := p.WaitReadyz(ctx, port, 2*time.Minute); err != nil {
		return 0, err
	}
	time.Sleep(2 * time.Second) // past the first scan's writes
	before, err := cpuTime(p.Cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	time.Sleep(cfg.agentIdle)
	after, err := cpuTime(p.Cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	return after - before, nil
}

// cpuTime is utime+stime of a process, from /proc/<pid>/stat.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command, which is in parentheses and may hold spaces.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat has %d fields after the command, want at least 13", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, nil
}

// startWebhook starts the webhook as framework.StartWebhook does, but
// waits up to 5 minutes for /readyz: a loaded machine syncs 5,000 nodes
// slower than StartWebhook's 60 s.
func startWebhook(ctx context.Context, cp *framework.ControlPlane, bin binary, extraArgs ...string) (*framework.Webhook, error) {
	ca, err := framework.NewCA()
	if err != nil {
		return nil, err
	}
	name := "webhook-" + strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' {
			return '-'
		}
		return r
	}, bin.label)
	w := &framework.Webhook{CA: ca, CertDir: filepath.Join(cp.Dir, name+"-certs")}
	if _, err := ca.WriteServingCert(w.CertDir); err != nil {
		return nil, err
	}
	for _, p := range []*int{&w.Port, &w.ProbePort, &w.MetricsPort} {
		if *p, err = framework.FreePort(); err != nil {
			return nil, err
		}
	}
	args := append([]string{"webhook",
		"--kubeconfig", cp.Kubeconfig,
		"--port", strconv.Itoa(w.Port),
		"--cert-dir", w.CertDir,
		"--health-probe-bind-address", "127.0.0.1:" + strconv.Itoa(w.ProbePort),
		"--metrics-bind-address", "127.0.0.1:" + strconv.Itoa(w.MetricsPort),
		"--inventory-namespace", leaseNamespace,
	}, extraArgs...)
	if w.Process, err = framework.StartProcess(cp.Dir, name, bin.path, args...); err != nil {
		return nil, err
	}
	if err := w.WaitReadyz(ctx, w.ProbePort, 5*time.Minute); err != nil {
		_ = w.Stop()
		return nil, fmt.Errorf("%w\nwebhook log:\n%s", err, w.Log())
	}
	return w, nil
}

// parallel runs f(0..n-1) on workers goroutines and returns the first error.
func parallel(n, workers int, f func(i int) error) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { firstErr = err })
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

func nodeName(i int) string {
	return fmt.Sprintf("ip-10-%d-%d-%d.eu-west-1.compute.internal", 100+i/65536, i/256%256, i%256)
}

var zones = []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}

// candidates is how many nodes the selector (zone a) leaves after taints.
func candidates(n int) int {
	c := 0
	for i := range n {
		if i%3 == 0 && !tainted(i) {
			c++
		}
	}
	return c
}

func tainted(i int) bool { return i%10 == 9 }

// clusterNode is a Node as a cloud provider and a kubelet register it.
func clusterNode(i int) *corev1.Node {
	name, zone := nodeName(i), zones[i%3]
	itype := []string{"m6i.2xlarge", "m6i.4xlarge", "c6i.2xlarge", "r6i.2xlarge"}[i%4]
	pool := fmt.Sprintf("pool-%d", i%8)
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux",
				"kubernetes.io/hostname": name, "node.kubernetes.io/instance-type": itype, "beta.kubernetes.io/instance-type": itype,
				"topology.kubernetes.io/region": "eu-west-1", "topology.kubernetes.io/zone": zone,
				"failure-domain.beta.kubernetes.io/region": "eu-west-1", "failure-domain.beta.kubernetes.io/zone": zone,
				"node-pool": pool, "eks.amazonaws.com/capacityType": "ON_DEMAND", "eks.amazonaws.com/nodegroup": pool,
				"eks.amazonaws.com/nodegroup-image": "ami-0123456789abcdef0", "topology.ebs.csi.aws.com/zone": zone,
				"k8s.io/cloud-provider-aws": "0123456789abcdef0123456789abcdef",
			},
			Annotations: map[string]string{
				"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true",
				"alpha.kubernetes.io/provided-node-ip": fmt.Sprintf("10.%d.%d.%d", 100+i/65536, i/256%256, i%256),
			},
		},
		Spec: corev1.NodeSpec{
			PodCIDR: fmt.Sprintf("10.%d.%d.0/24", 200+i/65536, i/256%256), PodCIDRs: []string{fmt.Sprintf("10.%d.%d.0/24", 200+i/65536, i/256%256)},
			ProviderID: fmt.Sprintf("aws:///%s/i-0%016x", zone, i),
		},
		Status: corev1.NodeStatus{
			Capacity: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32386512Ki"),
				corev1.ResourcePods: resource.MustParse("58"), corev1.ResourceEphemeralStorage: resource.MustParse("104845292Ki"),
			},
			Allocatable: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("7910m"), corev1.ResourceMemory: resource.MustParse("31369680Ki"),
				corev1.ResourcePods: resource.MustParse("58"), corev1.ResourceEphemeralStorage: resource.MustParse("95551679124"),
			},
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("10.%d.%d.%d", 100+i/65536, i/256%256, i%256)},
				{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalDNS, Address: name},
			},
			NodeInfo: corev1.NodeSystemInfo{
				MachineID: fmt.Sprintf("ec2%029x", i), SystemUUID: fmt.Sprintf("ec2%05x-0000-0000-0000-000000000000", i),
				BootID: fmt.Sprintf("%08x-1111-2222-3333-444444444444", i), KernelVersion: "6.1.115-126.197.amzn2023.x86_64",
				OSImage: "Amazon Linux 2023.6.20241121", ContainerRuntimeVersion: "containerd://1.7.23",
				KubeletVersion: "v1.33.5-eks-113cf36", OperatingSystem: "linux", Architecture: "amd64",
			},
		},
	}
	if tainted(i) {
		n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
	}
	return n
}

func presentProfile(p int) string {
	return fmt.Sprintf("operator/team-%02d/workload-profile-%02d.json", p%10, p)
}

// applyInventory writes a node's inventory as inventory.Agent does: the
// object with its owner reference, then its status, both by server-side
// apply with the agent's field manager.
func applyInventory(ctx context.Context, c client.Client, node string, uid types.UID, profiles int) error {
	gvk := v1alpha1.SchemeGroupVersion.WithKind("NodeSeccompInventory")
	obj := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{
			"name":            node,
			"ownerReferences": []any{map[string]any{"apiVersion": "v1", "kind": "Node", "name": node, "uid": string(uid)}},
		},
	}}
	obj.SetGroupVersionKind(gvk)
	opts := []client.ApplyOption{client.FieldOwner(inventory.FieldManager), client.ForceOwnership}
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), opts...); err != nil {
		return fmt.Errorf("applying NodeSeccompInventory %s: %w", node, err)
	}
	now := metav1.Now()
	status := v1alpha1.NodeSeccompInventoryStatus{
		ProfileCount: int32(profiles), Runtime: "containerd", ObservedTime: &now,
		Conditions: []metav1.Condition{{
			Type: v1alpha1.InventoryTruncated, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonAllProfilesListed,
			Message: "every profile file is listed", LastTransitionTime: now,
		}},
	}
	for p := range profiles {
		sum := sha256.Sum256(fmt.Appendf(nil, "profile %d", p))
		status.Profiles = append(status.Profiles, v1alpha1.ProfileStatus{
			Path: presentProfile(p), SHA256: hex.EncodeToString(sum[:]), Size: 4096 + int64(p), Valid: true, DefaultAction: "SCMP_ACT_ERRNO",
		})
	}
	st, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&status)
	if err != nil {
		return err
	}
	withStatus := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": node}, "status": st}}
	withStatus.SetGroupVersionKind(gvk)
	if err := c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(withStatus), client.FieldOwner(inventory.FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying the status of NodeSeccompInventory %s: %w", node, err)
	}
	return nil
}

// renewLease writes the heartbeat Lease as inventory.Agent.RenewLease does.
func renewLease(ctx context.Context, c client.Client, node string, uid types.UID) error {
	lease := coordinationv1ac.Lease(policy.LeaseName(node), leaseNamespace).
		WithOwnerReferences(metav1ac.OwnerReference().WithAPIVersion("v1").WithKind("Node").WithName(node).WithUID(uid)).
		WithSpec(coordinationv1ac.LeaseSpec().WithHolderIdentity(node).WithLeaseDurationSeconds(leaseSeconds).
			WithRenewTime(metav1.NewMicroTime(time.Now())))
	if err := c.Apply(ctx, lease, client.FieldOwner(inventory.FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("renewing Lease %s/%s: %w", leaseNamespace, policy.LeaseName(node), err)
	}
	return nil
}

// review is the AdmissionReview of a Pod CREATE with a Localhost profile
// and a nodeSelector.
func review(profile string, selector map[string]string) ([]byte, error) {
	pod := corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: podNamespace},
		Spec: corev1.PodSpec{
			NodeSelector: selector,
			SecurityContext: &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{
				Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &profile,
			}},
			Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}},
		},
	}
	raw, err := json.Marshal(pod)
	if err != nil {
		return nil, err
	}
	return json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: "scale", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Name:     "web", Namespace: podNamespace, Operation: admissionv1.Create,
			UserInfo: authenticationv1.UserInfo{Username: "scale"}, Object: runtime.RawExtension{Raw: raw},
		},
	})
}

// oneConnection is a client that reuses one keep-alive connection.
func oneConnection(wh *framework.Webhook) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(wh.CA.CertPEM) {
		return nil, errors.New("the webhook's CA certificate is not PEM")
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12},
		MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1,
	}}, nil
}

func post(ctx context.Context, c *http.Client, port int, body []byte) (*admissionv1.AdmissionResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("https://127.0.0.1:%d/validate", port), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/validate answered %s: %.300s", resp.Status, data)
	}
	var r admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &r); err != nil || r.Response == nil {
		return nil, fmt.Errorf("/validate did not answer an AdmissionReview: %.300s", data)
	}
	return r.Response, nil
}

// describe summarises a decision: allowed or denied, and the first words
// of its message and warnings, to show which path was measured.
func describe(r *admissionv1.AdmissionResponse) string {
	var b strings.Builder
	if r.Allowed {
		b.WriteString("allowed")
	} else {
		b.WriteString("denied")
	}
	if r.Result != nil && r.Result.Message != "" {
		fmt.Fprintf(&b, ": %.160s", r.Result.Message)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "; warning: %.160s", w)
	}
	return b.String()
}

// rss reads VmRSS and VmHWM (KiB) from /proc/<pid>/status.
func rss(pid int) (rssKiB, hwmKiB int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rssKiB = v
		case "VmHWM:":
			hwmKiB = v
		}
	}
	return rssKiB, hwmKiB, nil
}

// heapInUse reads go_memstats_heap_inuse_bytes (MiB) from the metrics endpoint; 0 when absent.
func heapInUse(port int) float64 {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "go_memstats_heap_inuse_bytes "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f / (1 << 20)
		}
	}
	return 0
}

func saveHeap(port int, path string) error {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?gc=1", port))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/debug/pprof/heap answered %s", resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	fmt.Fprintf(os.Stderr, "heap profile: %s (go tool pprof -sample_index=inuse_space -top %s)\n", path, path)
	return f.Close()
}

func printTable(w io.Writer, rs []result) {
	mib := func(kib int64) string { return fmt.Sprintf("%.0f MiB", float64(kib)/1024) }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
	fmt.Fprintln(w, "| binary | nodes | candidates | objects created in | ready after start | RSS after sync | RSS after requests | peak RSS | Go heap in use (sync / after) | p50 / p99 / max, present on all | p50 / p99 / max, missing everywhere |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %s | %s | %s | %.0f / %.0f MiB | %s / %s / %s | %s / %s / %s |\n",
			r.binary, r.nodes, r.candidates, r.create.Round(100*time.Millisecond), r.sync.Round(10*time.Millisecond),
			mib(r.rssSync), mib(r.rssAfter), mib(r.hwm), r.heapSync, r.heapAfter,
			ms(r.present.q(0.5)), ms(r.present.q(0.99)), ms(r.present.q(1)),
			ms(r.missing.q(0.5)), ms(r.missing.q(0.99)), ms(r.missing.q(1)))
	}
	for _, r := range rs {
		fmt.Fprintf(w, "\n%s, %d nodes, present: %s\n%s, %d nodes, missing: %s\n", r.binary, r.nodes, r.presentNote, r.binary, r.nodes, r.missingNote)
	}
}
