package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/native"
)

// Admission configurations of the apiserver mode.
const (
	ConfigNone   = "no admission"
	ConfigNative = "native policies"
	// The native policies split, to see which costs what: the mutating
	// policy alone, and the validating policies alone (their pods then
	// carry RuntimeDefault, since nothing defaults them).
	ConfigNativeMutating   = "native mutating only"
	ConfigNativeValidating = "native validating only"
	ConfigNoop             = "no-op webhook pair"
	ConfigWebhooks         = "seccomp-guard webhooks"
	ConfigHybrid           = "hybrid"
)

// nativePrefix names the native policies the harness installs.
const nativePrefix = "load"

// signature is what a dry-run create of the probe pod shows once a
// configuration is in effect: whether the pod was defaulted, and which
// webhook servers were called.
type signature struct {
	defaulted, noop, webhooks, denied bool
}

var signatures = map[string]signature{
	ConfigNone:   {},
	ConfigNative: {defaulted: true},
	// The probe pod has no profile: refused as ProfileNotSet.
	ConfigNativeValidating: {denied: true},
	ConfigNativeMutating:   {defaulted: true},
	ConfigNoop:             {noop: true},
	ConfigWebhooks:         {defaulted: true, webhooks: true},
	ConfigHybrid:           {defaulted: true},
}

// admissionRig switches the API server between the configurations.
type admissionRig struct {
	c        client.Client
	noop, sg *Server
	ca       *framework.CA
}

// install removes every configuration's objects, then installs name's.
func (a *admissionRig) install(ctx context.Context, name string) error {
	if err := framework.RemoveWebhookConfigs(ctx, a.c); err != nil {
		return err
	}
	for _, o := range native.Build(nativePrefix).List() {
		if err := client.IgnoreNotFound(a.c.Delete(ctx, o.(client.Object))); err != nil {
			return fmt.Errorf("deleting %T: %w", o, err)
		}
	}
	if name == ConfigNative || name == ConfigHybrid || name == ConfigNativeMutating || name == ConfigNativeValidating {
		objs := native.Build(nativePrefix)
		switch name {
		case ConfigNativeMutating:
			objs.ValidatingPolicies, objs.ValidatingPolicyBindings = nil, nil
		case ConfigNativeValidating:
			objs.MutatingPolicies, objs.MutatingPolicyBindings = nil, nil
		}
		for _, o := range objs.List() {
			if err := a.c.Create(ctx, o.(client.Object)); err != nil {
				return fmt.Errorf("installing %T: %w", o, err)
			}
		}
	}
	switch name {
	case ConfigNoop:
		return framework.InstallWebhookConfigs(ctx, a.c, &framework.Webhook{Port: a.noop.Port, CA: a.ca})
	case ConfigWebhooks:
		return framework.InstallWebhookConfigs(ctx, a.c, &framework.Webhook{Port: a.sg.Port, CA: a.ca})
	case ConfigHybrid:
		return framework.InstallWebhookConfigsWith(ctx, a.c, &framework.Webhook{Port: a.sg.Port, CA: a.ca}, framework.WebhookConfigOptions{Hybrid: true})
	}
	return nil
}

// waitInEffect dry-runs the probe pod until three probes in a row show
// name's signature: the API server reads admission configuration from
// informers, so a change takes effect a moment after it is written.
func (a *admissionRig) waitInEffect(ctx context.Context, name string) error {
	want, streak := signatures[name], 0
	return framework.Poll(ctx, 100*time.Millisecond, 60*time.Second, "the "+name+" configuration to take effect", func(ctx context.Context) error {
		got, err := a.probe(ctx)
		if err != nil {
			streak = 0
			return err
		}
		if got != want {
			streak = 0
			return fmt.Errorf("a dry-run create shows %+v, want %+v", got, want)
		}
		if streak++; streak < 3 {
			return fmt.Errorf("%d of 3 probes in effect", streak)
		}
		return nil
	})
}

func (a *admissionRig) probe(ctx context.Context) (signature, error) {
	n0, err := counter(ctx, a.noop.MetricsURL, "noop_requests_total")
	if err != nil {
		return signature{}, err
	}
	w0, err := counter(ctx, a.sg.MetricsURL, "seccomp_guard_admission_requests_total")
	if err != nil {
		return signature{}, err
	}
	pod := createPod(0, false)
	denied := false
	if err := a.c.Create(ctx, pod, client.DryRunAll); apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
		denied = true
	} else if err != nil {
		return signature{}, fmt.Errorf("dry-run create: %w", err)
	}
	n1, err := counter(ctx, a.noop.MetricsURL, "noop_requests_total")
	if err != nil {
		return signature{}, err
	}
	w1, err := counter(ctx, a.sg.MetricsURL, "seccomp_guard_admission_requests_total")
	if err != nil {
		return signature{}, err
	}
	sc := pod.Spec.SecurityContext
	return signature{defaulted: !denied && sc != nil && sc.SeccompProfile != nil, noop: n1 > n0, webhooks: w1 > w0, denied: denied}, nil
}

// SumMetric sums every sample of name (all label sets) in an exposition.
func SumMetric(r io.Reader, name string) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var sum float64
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name)
		if !ok || (!strings.HasPrefix(rest, " ") && !strings.HasPrefix(rest, "{")) {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			return 0, fmt.Errorf("metric %s: a sample without a value", name)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("metric %s: %q is not a number", name, f[0])
		}
		sum += v
	}
	return sum, sc.Err()
}

func counter(ctx context.Context, url, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return SumMetric(resp.Body, name)
}

// createPod is the pod the apiserver mode creates: the small fixture
// without a seccomp profile, so that the mutation (webhook or native
// policy) defaults it, unless withProfile (RuntimeDefault, for a
// configuration that does not default), and without a Localhost profile,
// so that in hybrid mode it never leaves the API server.
func createPod(i int, withProfile bool) *corev1.Pod {
	pod, _ := Pod(PodSmall, Namespace)
	pod.Name = fmt.Sprintf("load-%05d", i)
	pod.TypeMeta = metav1.TypeMeta{}
	pod.Spec.SecurityContext.SeccompProfile = nil
	if withProfile {
		pod.Spec.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	}
	return pod
}

// CreateResult is one round of creates.
type CreateResult struct {
	Elapsed   time.Duration
	Latencies []time.Duration
	Failed    int
	Example   string
}

// createPods creates n pods with workers parallel clients; a failed create
// is counted, never retried.
func createPods(ctx context.Context, c client.Client, n, workers int, withProfile bool) CreateResult {
	jobs := make(chan int)
	var mu sync.Mutex
	var res CreateResult
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			var lat []time.Duration
			failed, example := 0, ""
			for i := range jobs {
				t := time.Now()
				if err := c.Create(ctx, createPod(i, withProfile)); err != nil {
					failed++
					if example == "" {
						example = err.Error()
					}
					continue
				}
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			defer mu.Unlock()
			res.Latencies = append(res.Latencies, lat...)
			res.Failed += failed
			if res.Example == "" {
				res.Example = example
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}

// deletePods deletes every pod of the namespace (none is bound to a node,
// so each goes at once) and waits until none is left.
func deletePods(ctx context.Context, c client.Client) error {
	if err := c.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(Namespace), client.GracePeriodSeconds(0)); err != nil {
		return fmt.Errorf("deleting the round's pods: %w", err)
	}
	return framework.Poll(ctx, 200*time.Millisecond, 120*time.Second, "the round's pods to be deleted", func(ctx context.Context) error {
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(Namespace)); err != nil {
			return err
		}
		if len(pods.Items) > 0 {
			return fmt.Errorf("%d pods left", len(pods.Items))
		}
		return nil
	})
}

// APIServerOptions shape the apiserver mode.
type APIServerOptions struct {
	Configs    []string
	Rounds     int
	Pods       int
	WarmupPods int // created and deleted, unrecorded, after a configuration is in effect and before its measured creates
	Workers    int
	// ProfileDir, when set, receives a CPU profile of kube-apiserver
	// (its /debug/pprof/profile, over Config) taken during each
	// configuration's measured creates of the first round:
	// apiserver-<configuration>.pprof.
	ProfileDir string
	Config     *rest.Config
	// WithProfile creates every pod with RuntimeDefault already set, so
	// that no configuration patches it: the cost of the calls without the
	// cost of applying a patch.
	WithProfile bool
}

// CreateSample is one configuration's figures in one round.
type CreateSample struct {
	PodsPerSec float64
	P99        time.Duration
	Failed     int
	Example    string
}

// runAPIServer creates Pods pods per configuration per round, the
// configurations in a rotated order each round.
func runAPIServer(ctx context.Context, o APIServerOptions, rig *admissionRig, progress func(string)) (map[string][]CreateSample, error) {
	out := map[string][]CreateSample{}
	for r := range o.Rounds {
		for i := range o.Configs {
			name := o.Configs[(i+r)%len(o.Configs)]
			if err := rig.install(ctx, name); err != nil {
				return nil, err
			}
			if err := rig.waitInEffect(ctx, name); err != nil {
				return nil, err
			}
			// The API server compiles a newly written admission policy and
			// its first evaluations are slower (type checking, cost
			// estimation, connection set-up to a webhook): warm up first.
			if o.WarmupPods > 0 {
				if w := createPods(ctx, rig.c, o.WarmupPods, o.Workers, o.WithProfile || name == ConfigNativeValidating); w.Failed > 0 {
					return nil, fmt.Errorf("%s: %d warm-up creates failed; first: %s", name, w.Failed, w.Example)
				}
				if err := deletePods(ctx, rig.c); err != nil {
					return nil, err
				}
			}
			var profiled chan error
			if o.ProfileDir != "" && r == 0 {
				profiled = make(chan error, 1)
				go func() {
					profiled <- profileAPIServer(ctx, o.Config, filepath.Join(o.ProfileDir, "apiserver-"+strings.ReplaceAll(name, " ", "-")+".pprof"))
				}()
			}
			res := createPods(ctx, rig.c, o.Pods, o.Workers, o.WithProfile || name == ConfigNativeValidating)
			if profiled != nil {
				if err := <-profiled; err != nil {
					return nil, err
				}
			}
			if err := deletePods(ctx, rig.c); err != nil {
				return nil, err
			}
			s := CreateSample{PodsPerSec: float64(len(res.Latencies)) / res.Elapsed.Seconds(), P99: Summarize(res.Latencies).P99, Failed: res.Failed, Example: res.Example}
			out[name] = append(out[name], s)
			progress(fmt.Sprintf("round %d/%d  %-24s %7.1f pods/s  p99 %7.2f ms  failed %d %s", r+1, o.Rounds, name, s.PodsPerSec, ms(s.P99), s.Failed, s.Example))
		}
	}
	return out, nil
}

// WriteAPIServer writes the apiserver mode's table: per configuration,
// pods created per second and p99 create latency (median over rounds, with
// the lowest and highest), and their ratios, round by round, to no
// admission and to the no-op webhook pair.
func WriteAPIServer(w io.Writer, configs []string, samples map[string][]CreateSample) {
	thr := func(s CreateSample) float64 { return s.PodsPerSec }
	p99 := func(s CreateSample) float64 { return ms(s.P99) }
	series := func(cfg string, f func(CreateSample) float64) []float64 {
		var v []float64
		for _, s := range samples[cfg] {
			v = append(v, f(s))
		}
		return v
	}
	ratio := func(cfg, base string, f func(CreateSample) float64) string {
		if _, ok := samples[base]; !ok {
			return "n/a"
		}
		return fmtRatio(SpreadOf(Ratios(series(cfg, f), series(base, f))))
	}
	header := []string{"configuration", "pods/s", "× none", "× no-op pair", "p99 ms", "p99 × none", "p99 × no-op pair", "failed"}
	var rows [][]string
	for _, cfg := range configs {
		failed := 0
		for _, s := range samples[cfg] {
			failed += s.Failed
		}
		rows = append(rows, []string{cfg,
			fmtSpread(SpreadOf(series(cfg, thr)), "%.0f"), ratio(cfg, ConfigNone, thr), ratio(cfg, ConfigNoop, thr),
			fmtSpread(SpreadOf(series(cfg, p99)), "%.1f"), ratio(cfg, ConfigNone, p99), ratio(cfg, ConfigNoop, p99),
			strconv.Itoa(failed)})
	}
	markdownTable(w, header, rows)
}

// apiServerProfileSeconds is how long a kube-apiserver CPU profile runs:
// less than the measured creates of a round take at 300 pods.
const apiServerProfileSeconds = 1

// profileAPIServer writes a CPU profile of kube-apiserver, taken now for
// apiServerProfileSeconds, to file.
func profileAPIServer(ctx context.Context, cfg *rest.Config, file string) error {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cfg.Host, "/")+"/debug/pprof/profile?seconds="+strconv.Itoa(apiServerProfileSeconds), nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("profiling kube-apiserver: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("profiling kube-apiserver: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profiling kube-apiserver: %s: %s", resp.Status, b)
	}
	return os.WriteFile(file, b, 0o644)
}
