// Command load is seccomp-guard's admission load tool (issue 16).
//
//	load run       AdmissionReviews against any webhook URL at a fixed
//	               concurrency or rate: throughput, p50/p90/p99/max, errors
//	load compare   seccomp-guard's /validate and /mutate, the Pod Security
//	               Admission webhook and a no-op floor, side by side in
//	               alternating rounds, each server pinned to its own core:
//	               the table `make bench-load` prints
//	load apiserver pod creations through a local API server with no
//	               admission, the native policies, a no-op webhook pair,
//	               seccomp-guard's webhooks and hybrid mode (`make bench-apiserver`)
//	load noop      the no-op HTTPS webhook (answers allowed, echoing the uid)
//
// Nothing is retried: every failed request is counted. docs/performance.md
// has the commands and the figures.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "run":
		err = cmdRun(ctx, os.Args[2:])
	case "compare":
		err = cmdCompare(ctx, os.Args[2:])
	case "apiserver":
		err = cmdAPIServer(ctx, os.Args[2:])
	case "noop":
		err = runNoop(os.Args[2:])
	default:
		usage()
		stop()
		os.Exit(2) //nolint:gocritic // stop() ran
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: load run|compare|apiserver|noop [flags] (load <command> -h lists the flags)")
}

// loadFlags are the flags every load-generating command shares.
type loadFlags struct {
	concurrency *int
	rate        *float64
	duration    *time.Duration
	timeout     *time.Duration
}

func addLoadFlags(fs *flag.FlagSet, duration time.Duration) loadFlags {
	return loadFlags{
		concurrency: fs.Int("concurrency", 8, "parallel requests, each on its own keep-alive HTTP/1.1 connection"),
		rate:        fs.Float64("rate", 0, "requests per second in total (open loop); 0 sends as fast as answers come (closed loop)"),
		duration:    fs.Duration("duration", duration, "how long each load runs"),
		timeout:     fs.Duration("timeout", 10*time.Second, "per request; a timeout counts as a transport error"),
	}
}

func (f loadFlags) check() error {
	if *f.concurrency < 1 {
		return fmt.Errorf("-concurrency %d: give at least 1", *f.concurrency)
	}
	if *f.rate < 0 {
		return fmt.Errorf("-rate %g: give a positive rate, or 0 for as fast as the server answers", *f.rate)
	}
	if *f.duration <= 0 {
		return fmt.Errorf("-duration %s: give a positive duration, e.g. 5s", *f.duration)
	}
	return nil
}

func cmdRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	url := fs.String("url", "", "the webhook URL, e.g. https://127.0.0.1:9443/validate")
	caFile := fs.String("ca-file", "", "PEM CA bundle that verifies the webhook's serving certificate")
	insecure := fs.Bool("insecure", false, "do not verify the serving certificate")
	pod := fs.String("pod", PodSmall, "pod fixture: small, large or localhost")
	namespace := fs.String("namespace", Namespace, "the review's namespace")
	lf := addLoadFlags(fs, 10*time.Second)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" {
		return errors.New("run: give -url, the webhook's https URL")
	}
	if err := lf.check(); err != nil {
		return err
	}
	client, err := NewClient(*caFile, *insecure, *lf.concurrency)
	if err != nil {
		return err
	}
	p, err := Pod(*pod, *namespace)
	if err != nil {
		return err
	}
	review, err := NewReview(p)
	if err != nil {
		return err
	}
	l := Load{URL: *url, Review: review, Client: client, Concurrency: *lf.concurrency, Rate: *lf.rate, Duration: *lf.duration, Timeout: *lf.timeout}
	res := l.Run(ctx)
	lat := Summarize(res.Latencies)
	fmt.Printf("%s, %s pod (%s), %d connections, %s: %d answered, %.0f req/s, p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms, errors: %s\n",
		*url, *pod, kb(review.ObjectBytes), *lf.concurrency, res.Elapsed.Round(time.Millisecond), len(res.Latencies), res.Throughput(),
		ms(lat.P50), ms(lat.P90), ms(lat.P99), ms(lat.Max), res.Counts.String())
	if res.Counts.Example != "" {
		fmt.Printf("first error: %s\n", res.Counts.Example)
	}
	if res.Counts.Errors() > 0 {
		return fmt.Errorf("%d of %d requests failed", res.Counts.Errors(), res.Counts.Errors()+len(res.Latencies))
	}
	return nil
}

// affinity is this process's Cpus_allowed_list.
func affinity() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// rig is what compare and apiserver both start: a control plane set up for
// the load, the serving certificate all servers share, and its CA.
type rig struct {
	cp      *framework.ControlPlane
	ca      *framework.CA
	certDir string
	servers []*Server
}

func (r *rig) stop() {
	for _, s := range r.servers {
		_ = s.Proc.Stop()
	}
	r.cp.Stop()
}

func startRig(ctx context.Context, nodes int, progress func(string)) (*rig, error) {
	progress("starting kube-apiserver and etcd")
	cp, err := startControlPlane()
	if err != nil {
		return nil, err
	}
	r := &rig{cp: cp, certDir: filepath.Join(cp.Dir, "certs")}
	if r.ca, err = framework.NewCA(); err != nil {
		r.stop()
		return nil, err
	}
	if _, err := r.ca.WriteServingCert(r.certDir); err != nil {
		r.stop()
		return nil, err
	}
	if err := setUpCluster(ctx, cp.Client); err != nil {
		r.stop()
		return nil, err
	}
	if nodes > 0 {
		t := time.Now()
		if err := createNodes(ctx, cp.Client, nodes, 10, 8); err != nil {
			r.stop()
			return nil, err
		}
		progress(fmt.Sprintf("created %d Nodes, NodeSeccompInventories and agent Leases in %s", nodes, time.Since(t).Round(time.Second)))
	}
	return r, nil
}

func (r *rig) client(conns int) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(r.ca.CertPEM)
	return newClient(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, NextProtos: []string{"http/1.1"}}, conns)
}

func checkBinary(flagName, path, buildWith string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("-%s %s: %w (build it with %s)", flagName, path, err, buildWith)
	}
	return nil
}

func progressTo(start time.Time) func(string) {
	return func(s string) { fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(start).Seconds(), s) }
}

func cmdCompare(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	sgBin := fs.String("seccomp-guard", "bin/seccomp-guard", "the seccomp-guard binary")
	psaBin := fs.String("psa", "", "the Pod Security Admission webhook binary (hack/psa)")
	serverCPUs := fs.String("server-cpus", "1", "taskset CPU list for the servers (empty: not pinned); pin this program elsewhere, e.g. taskset -c 0")
	pods := fs.String("pods", "small,large,localhost", "pod fixtures, comma-separated")
	nodes := fs.Int("nodes", 1000, "Nodes (with inventories and fresh agent Leases) in the API server, which the localhost pod is checked across")
	rounds := fs.Int("rounds", 5, "alternating rounds")
	warmup := fs.Duration("warmup", time.Second, "unrecorded load per server and pod before the rounds")
	profileDir := fs.String("profile-dir", "", "after the rounds, write a CPU profile of seccomp-guard under each of its loads (one -duration each, unrecorded) to DIR/<pod>-<validate|mutate>.pprof")
	lf := addLoadFlags(fs, 2*time.Second)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := lf.check(); err != nil {
		return err
	}
	if err := checkBinary("seccomp-guard", *sgBin, "make build"); err != nil {
		return err
	}
	if err := checkBinary("psa", *psaBin, "make bench-load"); err != nil {
		return err
	}
	if *serverCPUs != "" {
		if _, err := exec.LookPath("taskset"); err != nil {
			return errors.New("taskset is not installed (Debian: apt-get install util-linux); or run with -server-cpus '' to measure unpinned")
		}
	}
	podList := splitList(*pods)
	reviews := map[string]*Review{}
	sizes := map[string]int{}
	for _, name := range podList {
		p, err := Pod(name, Namespace)
		if err != nil {
			return err
		}
		if reviews[name], err = NewReview(p); err != nil {
			return err
		}
		sizes[name] = reviews[name].ObjectBytes
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	progress := progressTo(time.Now())
	r, err := startRig(ctx, *nodes, progress)
	if err != nil {
		return err
	}
	defer r.stop()
	noop, err := startNoop(ctx, r.cp.Dir, self, r.certDir, *serverCPUs)
	if noop != nil {
		r.servers = append(r.servers, noop)
	}
	if err != nil {
		return err
	}
	psa, err := startPSA(ctx, r.cp, *psaBin, r.certDir, *serverCPUs)
	if psa != nil {
		r.servers = append(r.servers, psa)
	}
	if err != nil {
		return err
	}
	sg, err := startSeccompGuard(ctx, r.cp, *sgBin, r.certDir, *serverCPUs, *profileDir != "")
	if err != nil {
		return err
	}
	r.servers = append(r.servers, sg)
	for _, s := range r.servers {
		if err := calibrateScrape(ctx, s); err != nil {
			return err
		}
	}
	targets := []Target{{TargetFloor, noop, "/validate"}, {TargetPSA, psa, "/"}, {TargetValidate, sg, "/validate"}, {TargetMutate, sg, "/mutate"}}
	client := r.client(*lf.concurrency)
	var tlsv []string
	for _, s := range r.servers {
		v, err := TLSVersion(client, fmt.Sprintf("127.0.0.1:%d", s.Port))
		if err != nil {
			return fmt.Errorf("TLS handshake with %s: %w", s.Name, err)
		}
		tlsv = append(tlsv, s.Name+" "+v)
	}
	progress("servers up (" + strings.Join(tlsv, ", ") + "); measuring")
	o := CompareOptions{Pods: podList, Rounds: *rounds, Duration: *lf.duration, Warmup: *warmup, Concurrency: *lf.concurrency, Rate: *lf.rate, Timeout: *lf.timeout}
	cmp, err := runComparison(ctx, o, client, reviews, targets, progress)
	if err != nil {
		return err
	}
	if *profileDir != "" {
		if err := profileTargets(ctx, o, client, reviews, targets[2:], *profileDir, progress); err != nil {
			return err
		}
	}
	load := "closed loop"
	if *lf.rate > 0 {
		load = fmt.Sprintf("%.0f req/s open loop", *lf.rate)
	}
	fmt.Printf("\nAdmissionReviews over HTTPS (HTTP/1.1, %d keep-alive connections, %s), %s per server, pod and round; load generator on CPUs %s, servers on CPUs %q; %d nodes in the API server.\n",
		*lf.concurrency, load, *lf.duration, affinity(), *serverCPUs, *nodes)
	fmt.Println("Each figure: median over rounds (lowest–highest); ratios are taken round by round. CPU and allocations are the server's, per answered review (allocations less those of the /metrics scrapes around each load).")
	WriteComparison(os.Stdout, cmp, sizes)
	return failedAny(cmp)
}

// failedAny fails the command when any request failed.
func failedAny(c *Comparison) error {
	var all Counts
	for _, byTarget := range c.Samples {
		for _, samples := range byTarget {
			for _, s := range samples {
				all.add(s.Counts)
			}
		}
	}
	if all.Errors() > 0 {
		return fmt.Errorf("%d requests failed (%s); first: %s", all.Errors(), all.String(), all.Example)
	}
	return nil
}

func cmdAPIServer(ctx context.Context, args []string) error {
	defaults := []string{ConfigNone, ConfigNative, ConfigNoop, ConfigWebhooks, ConfigHybrid}
	all := append(slices.Clone(defaults), ConfigNativeMutating, ConfigNativeValidating)
	fs := flag.NewFlagSet("apiserver", flag.ContinueOnError)
	sgBin := fs.String("seccomp-guard", "bin/seccomp-guard", "the seccomp-guard binary")
	rounds := fs.Int("rounds", 8, "interleaved rounds (each runs every configuration once)")
	pods := fs.Int("pods", 300, "pods created per configuration and round")
	warmupPods := fs.Int("warmup-pods", 50, "pods created and deleted, unrecorded, before each configuration's measured creates")
	workers := fs.Int("workers", 8, "parallel creates")
	configs := fs.String("configs", strings.Join(defaults, ","), "configurations, comma-separated: some of "+strings.Join(all, ", "))
	withProfile := fs.Bool("with-profile", false, "create every pod with RuntimeDefault set, so that nothing patches it (the calls' cost without the patch's)")
	profileDir := fs.String("profile-dir", "", "write a CPU profile of kube-apiserver during each configuration's first measured round to DIR/apiserver-<configuration>.pprof")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfgs := splitList(*configs)
	for _, c := range cfgs {
		if !slices.Contains(all, c) {
			return fmt.Errorf("-configs: unknown configuration %q: use some of %s", c, strings.Join(all, ", "))
		}
	}
	if *rounds < 1 || *pods < 1 || *workers < 1 || *warmupPods < 0 {
		return errors.New("-rounds, -pods and -workers must be at least 1, -warmup-pods at least 0")
	}
	if err := checkBinary("seccomp-guard", *sgBin, "make build"); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	progress := progressTo(time.Now())
	r, err := startRig(ctx, 0, progress)
	if err != nil {
		return err
	}
	defer r.stop()
	noop, err := startNoop(ctx, r.cp.Dir, self, r.certDir, "")
	if noop != nil {
		r.servers = append(r.servers, noop)
	}
	if err != nil {
		return err
	}
	sg, err := startSeccompGuard(ctx, r.cp, *sgBin, r.certDir, "", false)
	if err != nil {
		return err
	}
	r.servers = append(r.servers, sg)
	rig := &admissionRig{c: r.cp.Client, noop: noop, sg: sg, ca: r.ca}
	progress("servers up; measuring")
	if *profileDir != "" {
		if err := os.MkdirAll(*profileDir, 0o755); err != nil {
			return err
		}
	}
	samples, err := runAPIServer(ctx, APIServerOptions{Configs: cfgs, Rounds: *rounds, Pods: *pods, WarmupPods: *warmupPods, Workers: *workers,
		ProfileDir: *profileDir, Config: r.cp.Config, WithProfile: *withProfile}, rig, progress)
	if err != nil {
		return err
	}
	fmt.Printf("\nPod creations through kube-apiserver: %d pods per configuration and round (after %d unrecorded), %d workers, %d interleaved rounds, not pinned.\n", *pods, *warmupPods, *workers, *rounds)
	if *withProfile {
		fmt.Println("Every pod was created with RuntimeDefault set: no configuration patched it.")
	}
	fmt.Println("Each figure: median over rounds (lowest–highest); ratios are taken round by round.")
	WriteAPIServer(os.Stdout, cfgs, samples)
	for _, c := range cfgs {
		for _, s := range samples[c] {
			if s.Failed > 0 {
				return fmt.Errorf("%s: %d creates failed; first: %s", c, s.Failed, s.Example)
			}
		}
	}
	return nil
}
