package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Target is one URL the comparison loads: a server and a path.
type Target struct {
	Name   string // row name in the table
	Server *Server
	Path   string
}

// Sample is one target's figures in one round on one pod.
type Sample struct {
	Throughput  float64 // OK answers per second
	Latency     Latency
	CPUPerReq   float64 // seconds of server CPU (user+system) per OK answer
	AllocPerReq float64 // server allocations per OK answer
	Counts      Counts
}

// Comparison holds every sample: [pod][target][round].
type Comparison struct {
	Pods    []string
	Targets []string
	Samples map[string]map[string][]Sample
}

func newComparison(pods, targets []string) *Comparison {
	c := &Comparison{Pods: pods, Targets: targets, Samples: map[string]map[string][]Sample{}}
	for _, p := range pods {
		c.Samples[p] = map[string][]Sample{}
	}
	return c
}

// measure runs one load against t and reads the server's CPU and
// allocations around it.
func measure(ctx context.Context, l Load, t Target) (Sample, error) {
	cpu0, err := ProcessCPU(t.Server.Pid())
	if err != nil {
		return Sample{}, fmt.Errorf("reading %s's CPU time: %w", t.Server.Name, err)
	}
	m0, err := Mallocs(ctx, t.Server.MetricsURL)
	if err != nil {
		return Sample{}, err
	}
	res := l.Run(ctx)
	cpu1, err := ProcessCPU(t.Server.Pid())
	if err != nil {
		return Sample{}, fmt.Errorf("reading %s's CPU time: %w", t.Server.Name, err)
	}
	m1, err := Mallocs(ctx, t.Server.MetricsURL)
	if err != nil {
		return Sample{}, err
	}
	s := Sample{Throughput: res.Throughput(), Latency: Summarize(res.Latencies), Counts: res.Counts}
	if n := float64(len(res.Latencies)); n > 0 {
		s.CPUPerReq = (cpu1 - cpu0).Seconds() / n
		s.AllocPerReq = max(m1-m0-t.Server.ScrapeAllocs, 0) / n
	} else {
		s.CPUPerReq, s.AllocPerReq = math.NaN(), math.NaN()
	}
	return s, nil
}

// CompareOptions shape the three-way comparison.
type CompareOptions struct {
	Pods        []string
	Rounds      int
	Duration    time.Duration // per target, pod and round
	Warmup      time.Duration // per target and pod, before the rounds, not recorded
	Concurrency int
	Rate        float64
	Timeout     time.Duration
}

// runComparison loads every target with every pod, Rounds times; in each
// round the targets take turns in a rotated order, so that none always runs
// first or last on a machine whose load drifts.
func runComparison(ctx context.Context, o CompareOptions, client *http.Client, reviews map[string]*Review, targets []Target, progress func(string)) (*Comparison, error) {
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Name
	}
	cmp := newComparison(o.Pods, names)
	load := func(pod string, t Target, d time.Duration) Load {
		return Load{URL: fmt.Sprintf("https://127.0.0.1:%d%s", t.Server.Port, t.Path), Review: reviews[pod], Client: client,
			Concurrency: o.Concurrency, Rate: o.Rate, Duration: d, Timeout: o.Timeout}
	}
	for _, pod := range o.Pods {
		for _, t := range targets {
			res := func() Result { l := load(pod, t, o.Warmup); return l.Run(ctx) }()
			if res.Counts.Errors() > 0 {
				return nil, fmt.Errorf("warm-up of %s with the %s pod failed: %s; first: %s", t.Name, pod, res.Counts.String(), res.Counts.Example)
			}
		}
	}
	for r := range o.Rounds {
		for _, pod := range o.Pods {
			for i := range targets {
				t := targets[(i+r)%len(targets)]
				s, err := measure(ctx, load(pod, t, o.Duration), t)
				if err != nil {
					return nil, err
				}
				cmp.Samples[pod][t.Name] = append(cmp.Samples[pod][t.Name], s)
				progress(fmt.Sprintf("round %d/%d  %-9s  %-22s %8.0f req/s  p99 %6.2f ms  cpu %6.1f µs/req  allocs %6.0f/req  errors: %s",
					r+1, o.Rounds, pod, t.Name, s.Throughput, ms(s.Latency.P99), s.CPUPerReq*1e6, s.AllocPerReq, s.Counts.String()))
			}
		}
	}
	return cmp, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// series extracts one figure of target's samples on pod, round by round.
func (c *Comparison) series(pod, target string, f func(Sample) float64) []float64 {
	var out []float64
	for _, s := range c.Samples[pod][target] {
		out = append(out, f(s))
	}
	return out
}

// profileTargets loads each target (servers that serve pprof) with each pod
// for one Duration, unrecorded, while it takes a CPU profile of the server
// over that time, and writes it to dir/<pod>-<path>.pprof (go tool pprof
// -top reads it).
func profileTargets(ctx context.Context, o CompareOptions, client *http.Client, reviews map[string]*Review, targets []Target, dir string, progress func(string)) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("-profile-dir: %w", err)
	}
	secs := max(int(o.Duration.Round(time.Second)/time.Second), 1)
	for _, pod := range o.Pods {
		for _, t := range targets {
			if t.Server.PprofURL == "" {
				continue
			}
			file := filepath.Join(dir, pod+"-"+strings.Trim(t.Path, "/")+".pprof")
			errc := make(chan error, 1)
			go func() { errc <- fetchProfile(ctx, fmt.Sprintf("%s/profile?seconds=%d", t.Server.PprofURL, secs), file) }()
			l := Load{URL: fmt.Sprintf("https://127.0.0.1:%d%s", t.Server.Port, t.Path), Review: reviews[pod], Client: client,
				Concurrency: o.Concurrency, Rate: o.Rate, Duration: time.Duration(secs)*time.Second + 500*time.Millisecond, Timeout: o.Timeout}
			res := l.Run(ctx)
			if err := <-errc; err != nil {
				return fmt.Errorf("profiling %s with the %s pod: %w", t.Name, pod, err)
			}
			progress(fmt.Sprintf("profiled %s with the %s pod under %.0f req/s: %s", t.Name, pod, res.Throughput(), file))
		}
	}
	return nil
}

func fetchProfile(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s answered %s: %s", url, resp.Status, b)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
