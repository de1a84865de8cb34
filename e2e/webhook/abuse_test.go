package webhook_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
)

// The flood is bounded in count and in time, and goes to loopback only.
const (
	floodRandomReviews = 2000 // per round; two rounds
	floodWorkers       = 16
	floodBigWorkers    = 32 // parallel bodies of floodBigBytes
	floodBigRounds     = 2  // bodies per big worker
	floodBigBytes      = 7<<20 - 64<<10
	floodDeadline      = 4 * time.Minute
)

// webhookClient trusts the webhook's CA and keeps up to 32 connections.
func webhookClient(t *testing.T) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(wh.CA.CertPEM))
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12},
			MaxIdleConnsPerHost: floodBigWorkers,
		},
	}
}

// post sends one review body and returns the HTTP status and, for a 200,
// the review's result code and whether it was allowed.
func post(ctx context.Context, c *http.Client, path string, body []byte) (status int, code int32, allowed bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("https://127.0.0.1:%d%s", wh.Port, path), bytes.NewReader(body))
	if err != nil {
		return 0, 0, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, false, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp.StatusCode, 0, false, err
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &review); err != nil || review.Response == nil {
		return resp.StatusCode, 0, false, fmt.Errorf("not an AdmissionReview: %.200s", data)
	}
	code = http.StatusOK
	if review.Response.Result != nil && review.Response.Result.Code != 0 {
		code = review.Response.Result.Code
	}
	return resp.StatusCode, code, review.Response.Allowed, nil
}

func reviewBody(t testing.TB, uid string, kind metav1.GroupVersionKind, op admissionv1.Operation, ns string, obj []byte) []byte {
	t.Helper()
	b, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID(uid), Kind: kind,
			Resource: metav1.GroupVersionResource{Group: kind.Group, Version: kind.Version, Resource: strings.ToLower(kind.Kind) + "s"},
			Name:     "flood", Namespace: ns, Operation: op, Object: runtime.RawExtension{Raw: obj},
		},
	})
	require.NoError(t, err)
	return b
}

// series counts the metric series the webhook exposes: all of them, and
// seccomp-guard's own.
func series(t *testing.T) (all, own int) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", wh.MetricsPort))
	require.NoError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		all++
		if strings.HasPrefix(line, "seccomp_guard_") {
			own++
		}
	}
	require.NoError(t, sc.Err())
	return all, own
}

// peakRSS returns the webhook process's peak resident memory (VmHWM).
func peakRSS(t *testing.T) resource.Quantity {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", wh.Cmd.Process.Pid))
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			require.NoError(t, err)
			return *resource.NewQuantity(kb<<10, resource.BinarySI)
		}
	}
	t.Fatal("no VmHWM in /proc/<pid>/status")
	return resource.Quantity{}
}

// chartMemoryLimit is the webhook container's memory limit in the chart's defaults.
func chartMemoryLimit(t *testing.T) resource.Quantity {
	t.Helper()
	objs, err := framework.RenderChart("seccomp-guard", "seccomp-guard", nil)
	require.NoError(t, err)
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			cm, _ := c.(map[string]any)
			if cm["name"] != "webhook" {
				continue
			}
			res, _ := cm["resources"].(map[string]any)
			limits, _ := res["limits"].(map[string]any)
			mem, _ := limits["memory"].(string)
			require.NotEmpty(t, mem, "the chart's webhook container has no memory limit")
			return resource.MustParse(mem)
		}
	}
	t.Fatal("the chart renders no webhook Deployment")
	return resource.Quantity{}
}

// prober creates, through the API server, a dry-run Unconfined pod in an
// enforce namespace every 200ms until stopped, and counts the answers that
// are the webhook's decision (UnconfinedForbidden) and those that are not
// (the call failed: the webhook was too busy).
type prober struct {
	decided, failed atomic.Int64
	lastFailure     atomic.Value
}

func (p *prober) probeOnce(ctx context.Context, ns string) bool {
	err := k8s.Create(ctx, newPod(ns, "probe", podLevel(corev1.SeccompProfileTypeUnconfined)), client.DryRunAll)
	if apierrors.IsForbidden(err) && strings.Contains(err.Error(), "UnconfinedForbidden") {
		p.decided.Add(1)
		return true
	}
	p.failed.Add(1)
	p.lastFailure.Store(fmt.Sprint(err))
	return false
}

func (p *prober) run(ctx context.Context, ns string, stop <-chan struct{}) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			p.probeOnce(ctx, ns)
		}
	}
}

// TestFlood floods the running webhook over loopback, as any pod in the
// cluster could, and shows that its metric series stay bounded, its
// resident memory stays under the chart's limit, and the API server's
// reviews are still answered during the flood and after it.
func TestFlood(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), floodDeadline)
	defer cancel()
	c := webhookClient(t)
	ns := namespace(t, "enforce", nil)
	limit := chartMemoryLimit(t)
	pod, err := json.Marshal(newPod(ns, "flood"))
	require.NoError(t, err)

	allBefore, ownBefore := series(t)
	var roundSeries [2][2]int
	codes := map[string]int{}
	var codesMu sync.Mutex
	count := func(what string) {
		codesMu.Lock()
		codes[what]++
		codesMu.Unlock()
	}

	// 1. Random kinds, operations and namespaces, in two rounds of fresh values.
	var during prober
	stop := make(chan struct{})
	probing := make(chan struct{})
	go func() { defer close(probing); during.run(ctx, ns, stop) }()
	start := time.Now()
	for round := range 2 {
		var wg sync.WaitGroup
		var next atomic.Int64
		for range floodWorkers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(round), rand.Uint64()))
				for i := next.Add(1); i <= floodRandomReviews && ctx.Err() == nil; i = next.Add(1) {
					uid := fmt.Sprintf("r%d-%d", round, i)
					var body []byte
					switch i % 3 {
					case 0: // an invented kind
						body = reviewBody(t, uid, metav1.GroupVersionKind{Group: fmt.Sprintf("g%d.example", rng.Uint32()), Version: "v1", Kind: fmt.Sprintf("K%d", rng.Uint32())}, admissionv1.Create, ns, pod)
					case 1: // an invented operation
						body = reviewBody(t, uid, metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, admissionv1.Operation(fmt.Sprintf("OP%d", rng.Uint32())), ns, pod)
					default: // a namespace that does not exist
						body = reviewBody(t, uid, metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, admissionv1.Create, fmt.Sprintf("ns-%d", rng.Uint32()), pod)
					}
					path := "/validate"
					if i%2 == 0 {
						path = "/mutate"
					}
					status, code, _, err := post(ctx, c, path, body)
					switch {
					case err != nil:
						count("error")
					default:
						count(fmt.Sprintf("http %d / review %d", status, code))
					}
				}
			})
		}
		wg.Wait()
		roundSeries[round][0], roundSeries[round][1] = series(t)
	}
	randomTime := time.Since(start)

	// 2. Parallel bodies of almost 7 MiB: a Pod with a container whose
	// environment has a quarter of a million entries, the costliest shape
	// to decode.
	var env bytes.Buffer
	env.WriteString(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"big"},"spec":{"containers":[{"name":"c","image":"busybox","env":[`)
	for i := 0; env.Len() < floodBigBytes-1024; i++ {
		if i > 0 {
			env.WriteByte(',')
		}
		fmt.Fprintf(&env, `{"name":"E%d","value":"v"}`, i)
	}
	env.WriteString(`]}]}}`)
	big := reviewBody(t, "big", metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, admissionv1.Create, ns, env.Bytes())
	require.Less(t, len(big), 7<<20, "the body must be under the webhook's 7 MiB limit, so that it is decoded")
	bigStart := time.Now()
	var wg sync.WaitGroup
	for w := range floodBigWorkers {
		wg.Go(func() {
			for r := range floodBigRounds {
				path := "/validate"
				if (w+r)%2 == 0 {
					path = "/mutate"
				}
				status, code, _, err := post(ctx, c, path, big)
				if err != nil {
					count("big: error")
					continue
				}
				count(fmt.Sprintf("big: http %d / review %d", status, code))
			}
		})
	}
	wg.Wait()
	bigTime := time.Since(bigStart)
	close(stop)
	<-probing

	// 3. After the flood every review is answered.
	var after prober
	for range 10 {
		after.probeOnce(ctx, ns)
	}
	allAfter, ownAfter := series(t)
	t.Logf("series all/own after the flood: %d/%d", allAfter, ownAfter)
	peak := peakRSS(t)

	t.Logf("random reviews: %d in %s (%.0f/s); series all/own: before %d/%d, after round 1 %d/%d, after round 2 %d/%d",
		2*floodRandomReviews, randomTime.Round(time.Millisecond), float64(2*floodRandomReviews)/randomTime.Seconds(),
		allBefore, ownBefore, roundSeries[0][0], roundSeries[0][1], roundSeries[1][0], roundSeries[1][1])
	t.Logf("big bodies: %d × %.1f MiB in %s", floodBigWorkers*floodBigRounds, float64(len(big))/(1<<20), bigTime.Round(time.Millisecond))
	t.Logf("answers: %v", codes)
	t.Logf("API server probes during the flood: %d decided, %d failed (last failure: %v); after: %d decided, %d failed",
		during.decided.Load(), during.failed.Load(), during.lastFailure.Load(), after.decided.Load(), after.failed.Load())
	t.Logf("webhook peak RSS %s (VmHWM), chart memory limit %s", peak.String(), limit.String())

	// Fresh invented values in round 2 add no series of seccomp-guard's own,
	// and at most a handful overall (a new HTTP status code label).
	assert.Equal(t, roundSeries[0][1], roundSeries[1][1], "seccomp_guard_* series after round 2, as after round 1")
	assert.LessOrEqual(t, roundSeries[1][0], roundSeries[0][0]+10, "all series after round 2")
	assert.LessOrEqual(t, ownAfter-ownBefore, 200, "seccomp_guard_* series added by the whole flood")
	assert.Less(t, peak.Value(), limit.Value(), "the webhook's peak RSS must stay under the chart's memory limit")
	assert.Positive(t, during.decided.Load(), "the API server's reviews must be answered during the flood")
	assert.Equal(t, int64(10), after.decided.Load(), "every review after the flood must be answered")
	assert.Zero(t, codes["error"]+codes["big: error"], "transport errors")
}

// TestMalformedReviews sends the running webhook reviews the API server
// never sends: each gets a 400 that says what is wrong, never allowed: true.
func TestMalformedReviews(t *testing.T) {
	const pod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}`
	const req = `"uid":"u1","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"namespace":"default","operation":"CREATE","object":`
	wrongVersion := func(apiVersion, kind string) string {
		return fmt.Sprintf(`seccomp-guard: malformed AdmissionReview: the body has apiVersion %q and kind %q, not admission.k8s.io/v1 and AdmissionReview; register the webhook with admissionReviewVersions [v1]`, apiVersion, kind)
	}
	tests := []struct {
		name, body, wantMessage string
	}{
		{name: "null body", body: `null`, wantMessage: wrongVersion("", "")},
		{name: "no request", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`,
			wantMessage: `seccomp-guard: malformed AdmissionReview: the AdmissionReview carries no request`},
		{name: "admission.k8s.io/v1beta1", body: `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{` + req + pod + `}}`,
			wantMessage: wrongVersion("admission.k8s.io/v1beta1", "AdmissionReview")},
		{name: "a kind other than AdmissionReview", body: `{"apiVersion":"admission.k8s.io/v1","kind":"Pod","request":{` + req + pod + `}}`,
			wantMessage: wrongVersion("admission.k8s.io/v1", "Pod")},
		{name: "no uid", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{` + strings.Replace(req, `"uid":"u1",`, "", 1) + pod + `}}`,
			wantMessage: `seccomp-guard: malformed AdmissionReview: the AdmissionReview's request has no uid`},
		{name: "the object's kind contradicts request.kind", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{` + req + `{"apiVersion":"apps/v1","kind":"Deployment"}}}`,
			wantMessage: `seccomp-guard: malformed AdmissionReview: request.object is apps/v1 Deployment, but request.kind says v1 Pod; the two must name the same kind`},
		{name: "not JSON", body: `{`,
			wantMessage: `seccomp-guard: malformed AdmissionReview: the body is not a JSON AdmissionReview: unexpected end of JSON input`},
	}
	c := webhookClient(t)
	for _, path := range []string{"/mutate", "/validate"} {
		for _, tc := range tests {
			t.Run(path+" "+tc.name, func(t *testing.T) {
				req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("https://127.0.0.1:%d%s", wh.Port, path), strings.NewReader(tc.body))
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/json")
				resp, err := c.Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				var review admissionv1.AdmissionReview
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&review))
				require.NotNil(t, review.Response, "the answer carries a response")
				assert.False(t, review.Response.Allowed, "a malformed review is never allowed")
				require.NotNil(t, review.Response.Result)
				assert.Equal(t, int32(http.StatusBadRequest), review.Response.Result.Code)
				assert.Equal(t, tc.wantMessage, review.Response.Result.Message)
			})
		}
	}
}
