package main

import (
	"fmt"
	"io"
	"strings"
)

// Target names; TargetPSA and TargetFloor are the baselines of the ratios.
const (
	TargetFloor    = "no-op"
	TargetPSA      = "psa"
	TargetValidate = "seccomp-guard /validate"
	TargetMutate   = "seccomp-guard /mutate"
)

// fmtSpread writes a spread as "median (min–max)" with format f, or "n/a".
func fmtSpread(s Spread, f string) string {
	if s.N == 0 {
		return "n/a"
	}
	if s.N == 1 || s.Min == s.Max {
		return fmt.Sprintf(f, s.Median)
	}
	return fmt.Sprintf(f+" ("+f+"–"+f+")", s.Median, s.Min, s.Max)
}

func fmtRatio(s Spread) string {
	if s.N == 0 {
		return "n/a"
	}
	return fmtSpread(s, "%.2f") + "×"
}

// markdownTable writes a Markdown table.
func markdownTable(w io.Writer, header []string, rows [][]string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(header, " | "))
	fmt.Fprintf(w, "|%s\n", strings.Repeat(" --- |", len(header)))
	for _, r := range rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
}

// WriteComparison writes one table per pod: each target's throughput, p99,
// CPU and allocations per answer, each as the median over rounds with the
// lowest and highest in parentheses, and as ratios (taken round by round)
// to the Pod Security Admission webhook and to the no-op floor.
func WriteComparison(w io.Writer, c *Comparison, objectBytes map[string]int) {
	thr := func(s Sample) float64 { return s.Throughput }
	p99 := func(s Sample) float64 { return ms(s.Latency.P99) }
	cpu := func(s Sample) float64 { return s.CPUPerReq * 1e6 }
	alloc := func(s Sample) float64 { return s.AllocPerReq }
	header := []string{"server", "req/s", "× PSA", "× floor", "p99 ms", "p99 × PSA", "CPU µs/req", "CPU × floor", "CPU × PSA", "allocs/req", "errors"}
	for _, pod := range c.Pods {
		fmt.Fprintf(w, "\n%s pod (%s of JSON), %d rounds:\n\n", pod, kb(objectBytes[pod]), len(c.Samples[pod][c.Targets[0]]))
		var rows [][]string
		for _, t := range c.Targets {
			ratio := func(f func(Sample) float64, base string) string {
				if _, ok := c.Samples[pod][base]; !ok {
					return "n/a"
				}
				return fmtRatio(SpreadOf(Ratios(c.series(pod, t, f), c.series(pod, base, f))))
			}
			var errs Counts
			for _, s := range c.Samples[pod][t] {
				errs.add(s.Counts)
			}
			rows = append(rows, []string{
				t,
				fmtSpread(SpreadOf(c.series(pod, t, thr)), "%.0f"), ratio(thr, TargetPSA), ratio(thr, TargetFloor),
				fmtSpread(SpreadOf(c.series(pod, t, p99)), "%.2f"), ratio(p99, TargetPSA),
				fmtSpread(SpreadOf(c.series(pod, t, cpu)), "%.1f"), ratio(cpu, TargetFloor), ratio(cpu, TargetPSA),
				fmtSpread(SpreadOf(c.series(pod, t, alloc)), "%.0f"),
				errs.String(),
			})
		}
		markdownTable(w, header, rows)
	}
}

func kb(n int) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f KB", float64(n)/1024)
}
