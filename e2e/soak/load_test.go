//go:build soak

package soak_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/rest"
)

// soakDuration is SOAK_DURATION (a Go duration), 10 minutes by default.
func soakDuration() (time.Duration, error) {
	v := os.Getenv("SOAK_DURATION")
	if v == "" {
		return 10 * time.Minute, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 30*time.Second {
		return 0, fmt.Errorf("SOAK_DURATION=%q: want a Go duration of at least 30s, such as 10m", v)
	}
	return d, nil
}

// soakRate is SOAK_RATE, pod creations per second, 20 by default.
func soakRate() (float64, error) {
	v := os.Getenv("SOAK_RATE")
	if v == "" {
		return 20, nil
	}
	r, err := strconv.ParseFloat(v, 64)
	if err != nil || r <= 0 || r > 500 {
		return 0, fmt.Errorf("SOAK_RATE=%q: want pod creations per second, more than 0 and at most 500", v)
	}
	return r, nil
}

// podKind is one of the pods the load cycles through, with the answer the
// policy gives it in an enforced namespace.
type podKind struct {
	name string
	sp   *corev1.SeccompProfile
	// denied is a text the intended denial contains; empty: admitted.
	denied string
	// defaulted: the admitted pod must come back with RuntimeDefault (the
	// mutating webhook, whose failurePolicy is Ignore, ran).
	defaulted bool
}

// loadKinds are the pods of the load: one the mutating webhook defaults,
// one with RuntimeDefault, one the validating webhook denies.
var loadKinds = []podKind{
	{name: "unset", defaulted: true},
	{name: "runtime-default", sp: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
	{name: "unconfined", sp: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}, denied: "Unconfined"},
}

// podFor is a pod of kind k.
func podFor(ns, name string, sp *corev1.SeccompProfile) *corev1.Pod {
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": "soak"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "main", Image: "busybox:soak", Command: []string{"sleep", "3600"}}},
		},
	}
	if sp != nil {
		pod.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: sp}
	}
	return pod
}

// apiClient posts pods to the API server directly, with the admin's
// credentials and no retries: client-go's retries live in rest.Request,
// not in the transport used here.
type apiClient struct {
	host string
	http *http.Client
}

func newAPIClient(t *testing.T) *apiClient {
	t.Helper()
	rt, err := rest.TransportFor(node.Config)
	if err != nil {
		t.Fatalf("the API server's transport: %v", err)
	}
	return &apiClient{host: strings.TrimSuffix(node.Config.Host, "/"), http: &http.Client{Transport: rt, Timeout: 30 * time.Second}}
}

// answer is the API server's answer to one dry-run create.
type answer struct {
	code     int
	message  string // the Status message of an error
	pod      *corev1.Pod
	warnings []string // Warning headers' texts
	err      error    // transport error: no answer
}

// create sends a dry-run create of pod, once.
func (a *apiClient) create(ctx context.Context, pod *corev1.Pod) answer {
	body, err := json.Marshal(pod)
	if err != nil {
		return answer{err: err}
	}
	url := a.host + "/api/v1/namespaces/" + pod.Namespace + "/pods?dryRun=All"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{code: resp.StatusCode, err: err}
	}
	ans := answer{code: resp.StatusCode}
	warnings, errs := utilnet.ParseWarningHeaders(resp.Header.Values("Warning"))
	if len(errs) > 0 {
		return answer{code: resp.StatusCode, err: fmt.Errorf("the Warning headers: %v", errs)}
	}
	for _, w := range warnings {
		ans.warnings = append(ans.warnings, w.Text)
	}
	if resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK {
		ans.pod = &corev1.Pod{}
		if err := json.Unmarshal(b, ans.pod); err != nil {
			ans.err = fmt.Errorf("decoding the created pod: %w", err)
		}
		return ans
	}
	var st metav1.Status
	if json.Unmarshal(b, &st) == nil && st.Message != "" {
		ans.message = st.Message
	} else {
		ans.message = string(b)
	}
	return ans
}

// judge says whether ans is the answer the policy gives a pod of kind k:
// "" if it is, else what was wrong.
func judge(k podKind, ans answer) string {
	switch {
	case ans.err != nil:
		return "no answer: " + ans.err.Error()
	case k.denied != "":
		if ans.code == http.StatusForbidden && strings.Contains(ans.message, k.denied) && strings.Contains(ans.message, "denied the request") {
			return ""
		}
		return fmt.Sprintf("want the webhook's denial (%s), got %d: %s", k.denied, ans.code, ans.message)
	case ans.code != http.StatusCreated:
		return fmt.Sprintf("want admitted, got %d: %s", ans.code, ans.message)
	case k.defaulted:
		sc := ans.pod.Spec.SecurityContext
		if sc == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			return "admitted without the default profile: the mutating webhook (failurePolicy Ignore) was not answered"
		}
	}
	return ""
}

// load creates pods at a steady rate (open loop: a slow answer does not
// slow the rate) and counts the answers, until stopped.
type load struct {
	api  *apiClient
	ns   string
	rate float64

	mu          sync.Mutex
	ok, denied  int
	failed      int
	failures    []string // the first few, with their time
	failOpen    int      // failures where the pod was admitted (201) all the same
	failSpan    window   // from the first failure to the last
	classes     map[string]int
	unavailable int // no answer while the API server was down (outage)
	latencies   []time.Duration
	outages     []window

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// window is a span of time, open while to is zero.
type window struct{ from, to time.Time }

func (w window) contains(t time.Time) bool {
	return !t.Before(w.from) && (w.to.IsZero() || !t.After(w.to))
}

// maxInFlight bounds the creates waiting for an answer.
const maxInFlight = 64

func startLoad(t *testing.T, ns string, rate float64) *load {
	t.Helper()
	l := &load{api: newAPIClient(t), ns: ns, rate: rate, stop: make(chan struct{}), classes: map[string]int{}}
	t.Cleanup(func() { l.finish() }) // a test that ended early
	slots := make(chan struct{}, maxInFlight)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		interval := time.Duration(float64(time.Second) / rate)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
			select {
			case slots <- struct{}{}:
			default:
				// Not sent: the API server has not answered the earlier ones.
				l.record(time.Now(), 0, "", fmt.Sprintf("%d creates already waiting for an answer: the load fell behind", maxInFlight), true, false)
				continue
			}
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				defer func() { <-slots }()
				k := loadKinds[i%len(loadKinds)]
				start := time.Now()
				ans := l.api.create(context.Background(), podFor(l.ns, fmt.Sprintf("soak-%d", i), k.sp))
				l.record(start, time.Since(start), k.denied, judge(k, ans), ans.err != nil, ans.err == nil && ans.code == http.StatusCreated)
			}()
		}
	}()
	return l
}

// record counts one answer; problem is judge's verdict, admitted whether
// the API server created the pod.
func (l *load) record(at time.Time, took time.Duration, denial, problem string, noAnswer, admitted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case problem == "" && denial != "":
		l.denied++
	case problem == "":
		l.ok++
	case noAnswer && l.inOutage(at):
		l.unavailable++
		return
	default:
		l.failed++
		if admitted {
			l.failOpen++
		}
		if l.failSpan.from.IsZero() {
			l.failSpan.from = at
		}
		l.failSpan.to = at
		l.classes[digits.ReplaceAllString(problem, "N")]++
		if len(l.failures) < 20 {
			l.failures = append(l.failures, at.Format("15:04:05.000")+" "+problem)
		}
		return
	}
	l.latencies = append(l.latencies, took)
}

func (l *load) inOutage(at time.Time) bool {
	return slices.ContainsFunc(l.outages, func(w window) bool { return w.contains(at) })
}

// outage marks the API server down from now on: creates that get no
// answer until endOutage are counted as unavailable, not failed.
func (l *load) outage() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.outages = append(l.outages, window{from: time.Now()})
}

func (l *load) endOutage() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.outages[len(l.outages)-1].to = time.Now()
}

// digits are replaced by N in a failure's class.
var digits = regexp.MustCompile(`[0-9]+`)

// result is what a load counted.
type result struct {
	OK, Denied, Failed, Unavailable int
	FailOpen                        int    // failed, and the pod was admitted all the same
	FailSpan                        window // from the first failure to the last
	Failures                        []string
	Classes                         map[string]int // failures by message, digits as N
	P50, P99, Max                   time.Duration
}

func (r result) String() string {
	s := fmt.Sprintf("%d admitted, %d denied as intended, %d failed; latency p50 %s, p99 %s, max %s",
		r.OK, r.Denied, r.Failed, r.P50.Round(100*time.Microsecond), r.P99.Round(100*time.Microsecond), r.Max.Round(time.Millisecond))
	if r.Unavailable > 0 {
		s += fmt.Sprintf("; %d sent while kube-apiserver was down got no answer", r.Unavailable)
	}
	return s
}

// finish stops the load, waits for the answers and returns the counts.
func (l *load) finish() result {
	l.stopOnce.Do(func() { close(l.stop) })
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	r := result{OK: l.ok, Denied: l.denied, Failed: l.failed, Unavailable: l.unavailable, FailOpen: l.failOpen, FailSpan: l.failSpan,
		Failures: l.failures, Classes: maps.Clone(l.classes)}
	lat := slices.Clone(l.latencies)
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		r.P50, r.P99, r.Max = lat[n/2], lat[min(n-1, n*99/100)], lat[n-1]
	}
	return r
}

// check fails the test if the load saw a failed admission.
func (r result) check(t *testing.T, what string) {
	t.Helper()
	t.Logf("%s: %s", what, r)
	if r.OK+r.Denied == 0 {
		t.Errorf("%s: no pod creation was answered", what)
	}
	if r.Failed > 0 {
		var classes []string
		for c, n := range r.Classes {
			classes = append(classes, fmt.Sprintf("%5d  %s", n, c))
		}
		slices.Sort(classes)
		t.Errorf("%s: %d failed admissions, by message:\n  %s\nthe first:\n  %s", what, r.Failed, strings.Join(classes, "\n  "), strings.Join(r.Failures, "\n  "))
	}
}

// checkCrash holds the load to what a crashed replica may cost: requests
// that kube-apiserver still sends to the dead endpoint fail, and every one
// of them fails closed (refused, never admitted), within window of the
// crash; nothing fails before it or after.
func (r result) checkCrash(t *testing.T, what string, crash time.Time, window time.Duration) {
	t.Helper()
	t.Logf("%s: %s", what, r)
	if r.OK+r.Denied == 0 {
		t.Errorf("%s: no pod creation was answered", what)
	}
	var classes []string
	for c, n := range r.Classes {
		classes = append(classes, fmt.Sprintf("%5d  %s", n, c))
	}
	slices.Sort(classes)
	if r.Failed > 0 {
		t.Logf("%s: %d failed closed, from %s to %s after the crash, by message:\n  %s", what, r.Failed,
			r.FailSpan.from.Sub(crash).Round(time.Millisecond), r.FailSpan.to.Sub(crash).Round(time.Millisecond), strings.Join(classes, "\n  "))
	}
	if r.FailOpen > 0 {
		t.Errorf("%s: %d pods were admitted although the answer was wrong (failed open); the first failures:\n  %s", what, r.FailOpen, strings.Join(r.Failures, "\n  "))
	}
	if r.Failed > 0 && (r.FailSpan.from.Before(crash) || r.FailSpan.to.After(crash.Add(window))) {
		t.Errorf("%s: failures from %s to %s after the crash, outside the first %s; the first:\n  %s", what,
			r.FailSpan.from.Sub(crash), r.FailSpan.to.Sub(crash), window, strings.Join(r.Failures, "\n  "))
	}
}
