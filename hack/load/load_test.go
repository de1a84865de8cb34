package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
)

func TestPodFixtures(t *testing.T) {
	cases := []struct {
		name     string
		min, max int // JSON size of the pod
		profile  corev1.SeccompProfileType
	}{
		{PodSmall, 300, 700, corev1.SeccompProfileTypeRuntimeDefault},
		{PodLarge, 12 * 1024, 14 * 1024, corev1.SeccompProfileTypeRuntimeDefault},
		{PodLocalhost, 300, 750, corev1.SeccompProfileTypeLocalhost},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod, err := Pod(tc.name, "ns")
			require.NoError(t, err)
			r, err := NewReview(pod)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, r.ObjectBytes, tc.min)
			assert.LessOrEqual(t, r.ObjectBytes, tc.max)
			assert.Equal(t, tc.profile, pod.Spec.SecurityContext.SeccompProfile.Type)
			for _, c := range pod.Spec.Containers {
				assert.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop, "restricted needs drop ALL")
				assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
			}
		})
	}
	_, err := Pod("huge", "ns")
	assert.EqualError(t, err, `unknown pod fixture "huge": use small, large or localhost`)
}

func TestReviewBody(t *testing.T) {
	pod, err := Pod(PodLocalhost, "shop")
	require.NoError(t, err)
	r, err := NewReview(pod)
	require.NoError(t, err)
	uid := UID(42)
	assert.Equal(t, "00000000-0000-4000-8000-00000000002a", uid)
	body := r.AppendBody(nil, uid)
	assert.Len(t, body, r.Len())
	var review admissionv1.AdmissionReview
	require.NoError(t, json.Unmarshal(body, &review))
	assert.Equal(t, "admission.k8s.io/v1", review.APIVersion)
	assert.Equal(t, uid, string(review.Request.UID))
	assert.Equal(t, admissionv1.Create, review.Request.Operation)
	assert.Equal(t, "shop", review.Request.Namespace)
	assert.Equal(t, "pods", review.Request.Resource.Resource)
	var got corev1.Pod
	require.NoError(t, json.Unmarshal(review.Request.Object.Raw, &got))
	assert.Equal(t, LocalhostProfile, *got.Spec.SecurityContext.SeccompProfile.LocalhostProfile)
	// The uid comes first in the request, where the no-op server looks.
	assert.Contains(t, string(body), `"request":{"uid":"`+uid+`"`)
	got2, err := requestUID(body)
	require.NoError(t, err)
	assert.Equal(t, uid, got2)
}

func TestRequestUID(t *testing.T) {
	cases := []struct {
		name, body, uid, err string
	}{
		{"uid first", `{"request":{"uid":"a-b","object":{"metadata":{"uid":"x"}}}}`, "a-b", ""},
		{"uid later", `{"apiVersion":"v1","request":{"kind":{},"uid":"c-d"}}`, "c-d", ""},
		{"no request", `{"apiVersion":"v1"}`, "", "the AdmissionReview has no request.uid"},
		{"not json", `<html>`, "", "the body is not an AdmissionReview: invalid character '<' looking for beginning of value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			uid, err := requestUID([]byte(tc.body))
			if tc.err != "" {
				assert.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.uid, uid)
		})
	}
}

func TestCheckResponse(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		want    Outcome
		allowed bool
	}{
		{"allowed", `{"response":{"uid":"u1","allowed":true}}`, OK, true},
		{"denied is an answer", `{"response":{"uid":"u1","allowed":false,"status":{"code":403}}}`, OK, false},
		{"allowed missing", `{"response":{"uid":"u1"}}`, AllowedMissing, false},
		{"uid mismatch", `{"response":{"uid":"u2","allowed":true}}`, UIDMismatch, false},
		{"no response", `{"kind":"AdmissionReview"}`, Undecodable, false},
		{"not json", `oops`, Undecodable, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, allowed := CheckResponse([]byte(tc.body), "u1")
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.allowed, allowed)
		})
	}
}

func TestCountsString(t *testing.T) {
	var c Counts
	assert.Equal(t, "none", c.String())
	assert.Equal(t, 0, c.Errors())
	c.By[OK] = 10
	c.By[BadStatus] = 3
	c.By[Transport] = 1
	c.Denied = 2
	assert.Equal(t, "transport=1 status=3 denied=2", c.String())
	assert.Equal(t, 4, c.Errors())
}

// TestRunCountsEveryFailure runs the generator against a server that
// answers in turn: allowed, a 500, a wrong uid, no allowed field, and a
// denial; each failure is counted once, none retried.
func TestRunCountsEveryFailure(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r.Body)
		uid, err := requestUID(buf.Bytes())
		require.NoError(t, err)
		switch n.Add(1) % 5 {
		case 1:
			_, _ = w.Write(NoopResponse(uid))
		case 2:
			http.Error(w, "boom", http.StatusInternalServerError)
		case 3:
			_, _ = w.Write(NoopResponse("other"))
		case 4:
			fmt.Fprintf(w, `{"response":{"uid":%q}}`, uid)
		case 0:
			fmt.Fprintf(w, `{"response":{"uid":%q,"allowed":false}}`, uid)
		}
	}))
	defer srv.Close()
	pod, err := Pod(PodSmall, "ns")
	require.NoError(t, err)
	review, err := NewReview(pod)
	require.NoError(t, err)
	client := newClient(&tls.Config{InsecureSkipVerify: true}, 1) //nolint:gosec // test server
	l := Load{URL: srv.URL + "/validate", Review: review, Client: client, Concurrency: 1, Duration: 300 * time.Millisecond, Timeout: 5 * time.Second}
	res := l.Run(context.Background())
	total := int(n.Load())
	require.GreaterOrEqual(t, total, 5)
	assert.Equal(t, total, res.Counts.By[OK]+res.Counts.Errors(), "each request counted once")
	assert.Equal(t, (total+4)/5+total/5, res.Counts.By[OK], "allowed and denied answers are OK")
	assert.Equal(t, total/5, res.Counts.Denied)
	assert.Equal(t, (total+3)/5, res.Counts.By[BadStatus])
	assert.Equal(t, (total+2)/5, res.Counts.By[UIDMismatch])
	assert.Equal(t, (total+1)/5, res.Counts.By[AllowedMissing])
	assert.Equal(t, "status: 500 Internal Server Error: boom\n", res.Counts.Example)
	assert.Len(t, res.Latencies, res.Counts.By[OK])
}

func TestRunTransportErrors(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more
	pod, err := Pod(PodSmall, "ns")
	require.NoError(t, err)
	review, err := NewReview(pod)
	require.NoError(t, err)
	l := Load{URL: url, Review: review, Client: newClient(&tls.Config{InsecureSkipVerify: true}, 2), //nolint:gosec // test
		Concurrency: 2, Duration: 100 * time.Millisecond, Timeout: time.Second}
	res := l.Run(context.Background())
	assert.Positive(t, res.Counts.By[Transport])
	assert.Equal(t, res.Counts.By[Transport], res.Counts.Errors())
	assert.Empty(t, res.Latencies)
	assert.True(t, strings.HasPrefix(res.Counts.Example, "transport: "), res.Counts.Example)
}

// TestRunRate checks the open loop: about Rate×Duration requests, whatever
// the concurrency.
func TestRunRate(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		noopHandler(w, r)
	}))
	defer srv.Close()
	pod, err := Pod(PodSmall, "ns")
	require.NoError(t, err)
	review, err := NewReview(pod)
	require.NoError(t, err)
	l := Load{URL: srv.URL, Review: review, Client: newClient(&tls.Config{InsecureSkipVerify: true}, 4), //nolint:gosec // test
		Concurrency: 4, Rate: 100, Duration: time.Second, Timeout: 5 * time.Second}
	res := l.Run(context.Background())
	assert.Equal(t, 0, res.Counts.Errors())
	assert.InDelta(t, 100, n.Load(), 15)
}

func TestNoopResponse(t *testing.T) {
	assert.JSONEq(t, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u\"1","allowed":true}}`, string(NoopResponse(`u"1`)))
	o, allowed := CheckResponse(NoopResponse("x"), "x")
	assert.Equal(t, OK, o)
	assert.True(t, allowed)
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(101-i)*time.Millisecond)
	}
	l := Summarize(d)
	assert.Equal(t, Latency{P50: 50 * time.Millisecond, P90: 90 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}, l)
	assert.Equal(t, time.Duration(0), Percentile(nil, 99))
	assert.Equal(t, 7*time.Millisecond, Percentile([]time.Duration{7 * time.Millisecond}, 99))
	assert.Equal(t, Latency{}, Summarize(nil))
}

func TestSpreadAndRatios(t *testing.T) {
	assert.Equal(t, Spread{Median: 2, Min: 1, Max: 3, N: 3}, SpreadOf([]float64{3, 1, 2}))
	assert.Equal(t, Spread{Median: 2.5, Min: 1, Max: 4, N: 4}, SpreadOf([]float64{4, 1, 3, 2}))
	assert.Equal(t, Spread{Median: 5, Min: 5, Max: 5, N: 1}, SpreadOf([]float64{math.NaN(), 5}))
	assert.Equal(t, 0, SpreadOf(nil).N)
	r := Ratios([]float64{2, 3, 4}, []float64{1, 0, 2})
	assert.Equal(t, 2.0, r[0])
	assert.True(t, math.IsNaN(r[1]), "a zero baseline has no ratio")
	assert.Equal(t, 2.0, r[2])
}

func TestParseStatCPU(t *testing.T) {
	stat := "4242 (seccomp guard) S 1 4242 4242 0 -1 4194560 9000 0 0 0 150 25 0 0 20 0 12 0 100 800000000 5000 18446744073709551615"
	d, err := ParseStatCPU(stat)
	require.NoError(t, err)
	assert.Equal(t, 1750*time.Millisecond, d)
	_, err = ParseStatCPU("4242 comm S 1")
	assert.EqualError(t, err, `/proc stat "4242 comm S 1" has no command name in parentheses`)
	_, err = ParseStatCPU("1 (x) S 1 2")
	assert.EqualError(t, err, "/proc stat has 3 fields after the command name, want at least 13")
	self, err := ProcessCPU(1)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, self, time.Duration(0))
}

func TestParseMetric(t *testing.T) {
	text := "# HELP go_memstats_mallocs_total Total number of mallocs.\n# TYPE go_memstats_mallocs_total counter\n" +
		"go_memstats_mallocs_total_extra 1\ngo_memstats_mallocs_total 1.234567e+06\n" +
		"seccomp_guard_admission_requests_total{op=\"mutate\"} 3\nseccomp_guard_admission_requests_total{op=\"validate\"} 4\n"
	v, err := ParseMetric(strings.NewReader(text), "go_memstats_mallocs_total")
	require.NoError(t, err)
	assert.Equal(t, 1234567.0, v)
	_, err = ParseMetric(strings.NewReader(text), "go_gc_cycles")
	assert.EqualError(t, err, "no sample go_gc_cycles in the exposition")
	sum, err := SumMetric(strings.NewReader(text), "seccomp_guard_admission_requests_total")
	require.NoError(t, err)
	assert.Equal(t, 7.0, sum)
}

func TestWriteComparison(t *testing.T) {
	sample := func(thr float64, p99 time.Duration, cpu, alloc float64) Sample {
		return Sample{Throughput: thr, Latency: Latency{P99: p99}, CPUPerReq: cpu, AllocPerReq: alloc}
	}
	c := newComparison([]string{PodSmall}, []string{TargetFloor, TargetPSA, TargetValidate})
	c.Samples[PodSmall][TargetFloor] = []Sample{sample(10000, time.Millisecond, 50e-6, 20), sample(12000, time.Millisecond, 50e-6, 20)}
	c.Samples[PodSmall][TargetPSA] = []Sample{sample(4000, 4*time.Millisecond, 200e-6, 400), sample(4000, 4*time.Millisecond, 250e-6, 400)}
	bad := sample(8000, 2*time.Millisecond, 100e-6, 150)
	bad.Counts.By[BadStatus] = 2
	c.Samples[PodSmall][TargetValidate] = []Sample{sample(8000, 2*time.Millisecond, 100e-6, 150), bad}
	var b strings.Builder
	WriteComparison(&b, c, map[string]int{PodSmall: 512})
	assert.Equal(t, `
small pod (512 B of JSON), 2 rounds:

| server | req/s | × PSA | × floor | p99 ms | p99 × PSA | CPU µs/req | CPU × floor | CPU × PSA | allocs/req | errors |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
| no-op | 11000 (10000–12000) | 2.75 (2.50–3.00)× | 1.00× | 1.00 | 0.25× | 50.0 | 1.00× | 0.23 (0.20–0.25)× | 20 | none |
| psa | 4000 | 1.00× | 0.37 (0.33–0.40)× | 4.00 | 1.00× | 225.0 (200.0–250.0) | 4.50 (4.00–5.00)× | 1.00× | 400 | none |
| seccomp-guard /validate | 8000 | 2.00× | 0.73 (0.67–0.80)× | 2.00 | 0.50× | 100.0 | 2.00× | 0.45 (0.40–0.50)× | 150 | status=2 |
`, b.String())
}

func TestWriteAPIServer(t *testing.T) {
	s := map[string][]CreateSample{
		ConfigNone:     {{PodsPerSec: 200, P99: 40 * time.Millisecond}, {PodsPerSec: 220, P99: 40 * time.Millisecond}},
		ConfigNoop:     {{PodsPerSec: 100, P99: 80 * time.Millisecond}, {PodsPerSec: 110, P99: 60 * time.Millisecond}},
		ConfigWebhooks: {{PodsPerSec: 90, P99: 80 * time.Millisecond}, {PodsPerSec: 99, P99: 66 * time.Millisecond, Failed: 1}},
	}
	var b strings.Builder
	WriteAPIServer(&b, []string{ConfigNone, ConfigNoop, ConfigWebhooks}, s)
	assert.Equal(t, `| configuration | pods/s | × none | × no-op pair | p99 ms | p99 × none | p99 × no-op pair | failed |
| --- | --- | --- | --- | --- | --- | --- | --- |
| no admission | 210 (200–220) | 1.00× | 2.00× | 40.0 | 1.00× | 0.58 (0.50–0.67)× | 0 |
| no-op webhook pair | 105 (100–110) | 0.50× | 1.00× | 70.0 (60.0–80.0) | 1.75 (1.50–2.00)× | 1.00× | 0 |
| seccomp-guard webhooks | 94 (90–99) | 0.45× | 0.90× | 73.0 (66.0–80.0) | 1.82 (1.65–2.00)× | 1.05 (1.00–1.10)× | 1 |
`, b.String())
}
