package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// Namespace is where the load's pods are, in enforce mode.
const Namespace = "load"

// startControlPlane starts kube-apiserver and etcd (bin/k8s) without the
// e2e framework's blocking audit log, which would add a disk write to every
// create the apiserver mode measures.
func startControlPlane() (*framework.ControlPlane, error) {
	if missing := framework.MissingAssets(); len(missing) > 0 {
		return nil, fmt.Errorf("the control plane is not built (missing %s): run `make controlplane`", strings.Join(missing, ", "))
	}
	// A shared 2-core machine can take longer than envtest's default 20 s.
	if os.Getenv("KUBEBUILDER_CONTROLPLANE_START_TIMEOUT") == "" {
		_ = os.Setenv("KUBEBUILDER_CONTROLPLANE_START_TIMEOUT", "2m")
	}
	ctrllog.SetLogger(logr.Discard()) // envtest's own logging; failures come back as errors
	cp, err := framework.StartControlPlane(func(env *envtest.Environment) error {
		args := env.ControlPlane.GetAPIServer().Configure()
		for _, f := range []string{"audit-policy-file", "audit-log-path", "audit-log-mode"} {
			args.Disable(f)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	cp.Config.QPS, cp.Config.Burst = -1, 0 // no client-side throttling
	if cp.Client, err = client.New(cp.Config, client.Options{Scheme: cp.Client.Scheme()}); err != nil {
		cp.Stop()
		return nil, err
	}
	return cp, nil
}

// setUpCluster creates the load namespace (enforce), the release namespace,
// and the ClusterSeccompPolicy "default" with a staleAfter of an hour, so
// that the heartbeats written once here stay fresh for the whole run.
func setUpCluster(ctx context.Context, c client.Client) error {
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace, Labels: map[string]string{policy.ModeLabel: string(v1alpha1.ModeEnforce)}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultReleaseNamespace}},
		&v1alpha1.ClusterSeccompPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultPolicyName}, Spec: v1alpha1.ClusterSeccompPolicySpec{
			Localhost: v1alpha1.LocalhostPolicy{StaleAfter: &metav1.Duration{Duration: time.Hour}},
		}},
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %s %s: %w", o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), err)
		}
	}
	return nil
}

// createNodes creates n Nodes (realistic labels and capacity; every tenth
// tainted NoSchedule, which the localhost fixture tolerates through no
// toleration, so those are not candidates), each with a
// NodeSeccompInventory of profiles profiles including LocalhostProfile and a
// fresh agent Lease, with workers parallel writers.
func createNodes(ctx context.Context, c client.Client, n, profiles, workers int) error {
	jobs := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				if err := createNode(ctx, c, i, profiles); err != nil {
					errs <- err
					for range jobs {
					}
					return
				}
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	return <-errs
}

func createNode(ctx context.Context, c client.Client, i, profiles int) error {
	name := fmt.Sprintf("load-node-%04d", i)
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
			"node.kubernetes.io/instance-type": "m5.xlarge", "topology.kubernetes.io/zone": fmt.Sprintf("zone-%c", 'a'+i%3),
			"pool": fmt.Sprintf("pool-%d", i%3),
		}},
		Status: corev1.NodeStatus{Capacity: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110"),
		}},
	}
	if i%10 == 9 {
		node.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "batch", Effect: corev1.TaintEffectNoSchedule}}
	}
	if err := c.Create(ctx, node); err != nil {
		return fmt.Errorf("creating Node %s: %w", name, err)
	}
	inv := &v1alpha1.NodeSeccompInventory{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.Create(ctx, inv); err != nil {
		return fmt.Errorf("creating NodeSeccompInventory %s: %w", name, err)
	}
	now := metav1.Now()
	inv.Status = v1alpha1.NodeSeccompInventoryStatus{Runtime: "containerd", ObservedTime: &now, ProfileCount: int32(profiles)}
	for p := range profiles {
		path := fmt.Sprintf("profiles/app-%02d.json", p)
		if p == 0 {
			path = LocalhostProfile
		}
		inv.Status.Profiles = append(inv.Status.Profiles, v1alpha1.ProfileStatus{
			Path: path, SHA256: fmt.Sprintf("%064x", p+1), Size: 2048, Valid: true, DefaultAction: "SCMP_ACT_ERRNO",
		})
	}
	if err := c.Status().Update(ctx, inv); err != nil {
		return fmt.Errorf("writing the status of NodeSeccompInventory %s: %w", name, err)
	}
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: policy.LeaseName(name), Namespace: v1alpha1.DefaultReleaseNamespace},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: new(name), LeaseDurationSeconds: new(int32(40)),
			RenewTime: &metav1.MicroTime{Time: time.Now()}},
	}
	if err := c.Create(ctx, lease); err != nil {
		return fmt.Errorf("creating Lease %s: %w", lease.Name, err)
	}
	return nil
}

// Server is a webhook server process the harness started.
type Server struct {
	Name       string
	Proc       *framework.Process
	Port       int
	MetricsURL string // go_memstats_mallocs_total
	PprofURL   string // net/http/pprof's root, when the server serves it
	// ScrapeAllocs is what one scrape of MetricsURL allocates in the
	// server (measured idle, calibrateScrape); measure subtracts it.
	ScrapeAllocs float64
}

// Pid is the server's process id (taskset execs it, so the same).
func (s *Server) Pid() int { return s.Proc.Cmd.Process.Pid }

// pinned prefixes argv with taskset when cpus is set.
func pinned(cpus string, bin string, args ...string) (string, []string) {
	if cpus == "" {
		return bin, args
	}
	return "taskset", append([]string{"-c", cpus, bin}, args...)
}

// ports returns n free loopback ports.
func ports(n int) ([]int, error) {
	out := make([]int, n)
	for i := range out {
		p, err := framework.FreePort()
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// startSeccompGuard starts `seccomp-guard webhook` with the serving
// certificate in certDir (tls.crt, tls.key), as framework.StartWebhook does.
// With pprof, it also serves net/http/pprof on a loopback port.
func startSeccompGuard(ctx context.Context, cp *framework.ControlPlane, bin, certDir, cpus string, pprof bool) (*Server, error) {
	p, err := ports(4)
	if err != nil {
		return nil, err
	}
	var extra []string
	if pprof {
		extra = []string{"--pprof-bind-address", "127.0.0.1:" + strconv.Itoa(p[3])}
	}
	cmd, args := pinned(cpus, bin, append([]string{"webhook",
		"--kubeconfig", cp.Kubeconfig,
		"--port", strconv.Itoa(p[0]),
		"--cert-dir", certDir,
		"--health-probe-bind-address", "127.0.0.1:" + strconv.Itoa(p[1]),
		"--metrics-bind-address", "127.0.0.1:" + strconv.Itoa(p[2]),
		"--inventory-namespace", v1alpha1.DefaultReleaseNamespace,
		"--graceful-shutdown-timeout", "10s"}, extra...)...)
	proc, err := framework.StartProcess(cp.Dir, "seccomp-guard", cmd, args...)
	if err != nil {
		return nil, err
	}
	if err := proc.WaitReadyz(ctx, p[1], 120*time.Second); err != nil {
		_ = proc.Stop()
		return nil, err
	}
	s := &Server{Name: "seccomp-guard", Proc: proc, Port: p[0], MetricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", p[2])}
	if pprof {
		s.PprofURL = fmt.Sprintf("http://127.0.0.1:%d/debug/pprof", p[3])
	}
	return s, nil
}

// calibrateScrape measures what one scrape of s's /metrics allocates in s
// (seccomp-guard's exposition holds every Go runtime metric and allocates
// thousands of objects to write them): the smallest of five back-to-back
// idle differences.
func calibrateScrape(ctx context.Context, s *Server) error {
	prev, err := Mallocs(ctx, s.MetricsURL)
	if err != nil {
		return err
	}
	best := -1.0
	for range 5 {
		m, err := Mallocs(ctx, s.MetricsURL)
		if err != nil {
			return err
		}
		if d := m - prev; best < 0 || d < best {
			best = d
		}
		prev = m
	}
	s.ScrapeAllocs = best
	return nil
}

// psaConfig is the Pod Security Admission configuration: restricted for
// every namespace (the load namespace has no pod-security labels), latest.
const psaConfig = `apiVersion: pod-security.admission.config.k8s.io/v1
kind: PodSecurityConfiguration
defaults:
  enforce: restricted
  enforce-version: latest
  audit: restricted
  audit-version: latest
  warn: restricted
  warn-version: latest
exemptions: {}
`

// startPSA starts the Pod Security Admission webhook (hack/psa) with the
// same serving certificate.
func startPSA(ctx context.Context, cp *framework.ControlPlane, bin, certDir, cpus string) (*Server, error) {
	p, err := ports(2)
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(cp.Dir, "psa-config.yaml")
	if err := os.WriteFile(cfg, []byte(psaConfig), 0o600); err != nil {
		return nil, err
	}
	cmd, args := pinned(cpus, bin,
		"--kubeconfig", cp.Kubeconfig, "--config", cfg,
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(p[0]),
		"--tls-cert-file", filepath.Join(certDir, "tls.crt"), "--tls-private-key-file", filepath.Join(certDir, "tls.key"))
	// env, then taskset, exec the webhook: the process id stays the same.
	args = append([]string{"PSA_MALLOCS_ADDR=127.0.0.1:" + strconv.Itoa(p[1]), cmd}, args...)
	proc, err := framework.StartProcess(cp.Dir, "psa", "env", args...)
	if err != nil {
		return nil, err
	}
	s := &Server{Name: "psa", Proc: proc, Port: p[0], MetricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", p[1])}
	if err := waitMetrics(ctx, s); err != nil {
		return s, err
	}
	// Its /readyz (on the serving port) answers once the namespace informer synced.
	probe := newClient(&tls.Config{InsecureSkipVerify: true}, 1) //nolint:gosec // a readiness probe
	url := fmt.Sprintf("https://127.0.0.1:%d/readyz", p[0])
	return s, framework.Poll(ctx, 200*time.Millisecond, 60*time.Second, "the Pod Security Admission webhook to be ready", func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := probe.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answered %s", url, resp.Status)
		}
		return nil
	})
}

// startNoop starts `load noop` (this program) with the same certificate.
func startNoop(ctx context.Context, dir, self, certDir, cpus string) (*Server, error) {
	p, err := ports(2)
	if err != nil {
		return nil, err
	}
	cmd, args := pinned(cpus, self, "noop", "-port", strconv.Itoa(p[0]), "-metrics-port", strconv.Itoa(p[1]),
		"-tls-cert-file", filepath.Join(certDir, "tls.crt"), "-tls-key-file", filepath.Join(certDir, "tls.key"))
	proc, err := framework.StartProcess(dir, "noop", cmd, args...)
	if err != nil {
		return nil, err
	}
	s := &Server{Name: "noop", Proc: proc, Port: p[0], MetricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", p[1])}
	return s, waitMetrics(ctx, s)
}

// waitMetrics waits until the server's allocation metric answers.
func waitMetrics(ctx context.Context, s *Server) error {
	return framework.Poll(ctx, 200*time.Millisecond, 120*time.Second, "the "+s.Name+" server to answer /metrics", func(ctx context.Context) error {
		if exited, err := s.Proc.Exited(); exited {
			return framework.Abort(fmt.Errorf("%s exited: %w\n%s", s.Name, err, s.Proc.Log()))
		}
		_, err := Mallocs(ctx, s.MetricsURL)
		return err
	})
}
