package main

import (
	"math"
	"slices"
	"time"
)

// Latency is the distribution of one run's latencies.
type Latency struct {
	P50, P90, P99, Max time.Duration
}

// Percentile is the nearest-rank p-th percentile (0 < p <= 100) of sorted.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Summarize sorts latencies and returns their percentiles.
func Summarize(latencies []time.Duration) Latency {
	slices.Sort(latencies)
	if len(latencies) == 0 {
		return Latency{}
	}
	return Latency{
		P50: Percentile(latencies, 50), P90: Percentile(latencies, 90),
		P99: Percentile(latencies, 99), Max: latencies[len(latencies)-1],
	}
}

// Spread is one figure over rounds: its median, lowest and highest.
type Spread struct {
	Median, Min, Max float64
	N                int
}

// SpreadOf summarises values (one per round); NaNs (a round without the
// figure) are left out.
func SpreadOf(values []float64) Spread {
	var v []float64
	for _, x := range values {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return Spread{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	slices.Sort(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return Spread{Median: med, Min: v[0], Max: v[len(v)-1], N: len(v)}
}

// Ratios divides a by b round by round (the rounds alternate, so each pair
// shares the machine's state), NaN where b is zero or either is missing.
func Ratios(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = math.NaN()
		if i < len(b) && b[i] != 0 && !math.IsNaN(a[i]) && !math.IsNaN(b[i]) {
			out[i] = a[i] / b[i]
		}
	}
	return out
}
