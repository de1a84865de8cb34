//go:build soak

package soak_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// webhookPod is a running webhook replica, reached at its address on the
// node's pod network (the host is the bridge's gateway).
type webhookPod struct {
	Name     string
	IP       string
	Restarts int32
}

// webhookPods lists the webhook's running, ready pods.
func webhookPods(ctx context.Context, t *testing.T) []webhookPod {
	t.Helper()
	var pods corev1.PodList
	if err := node.Client.List(ctx, &pods, client.InNamespace(releaseNS), client.MatchingLabels{"app.kubernetes.io/component": "webhook"}); err != nil {
		t.Fatalf("listing the webhook pods: %v", err)
	}
	var out []webhookPod
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			continue
		}
		wp := webhookPod{Name: p.Name, IP: p.Status.PodIP}
		for _, cs := range p.Status.ContainerStatuses {
			wp.Restarts += cs.RestartCount
		}
		out = append(out, wp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// restarts maps each webhook pod to its containers' restarts.
func restarts(pods []webhookPod) map[string]int32 {
	m := map[string]int32{}
	for _, p := range pods {
		m[p.Name] = p.Restarts
	}
	return m
}

var plainHTTP = &http.Client{Timeout: 2 * time.Second}

// readiness polls /readyz of each pod every 250 ms and counts the answers
// that are not 200 OK.
type readiness struct {
	mu       sync.Mutex
	checks   map[string]int
	notReady map[string][]string // pod: the first few failures
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

func watchReadiness(t *testing.T, pods []webhookPod) *readiness {
	r := &readiness{checks: map[string]int{}, notReady: map[string][]string{}, stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(r.halt) // a test that ended early
	go func() {
		defer close(r.done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-tick.C:
			}
			for _, p := range pods {
				problem := ""
				resp, err := plainHTTP.Get("http://" + p.IP + ":8081/readyz")
				if err != nil {
					problem = err.Error()
				} else {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						problem = fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(b))
					}
				}
				r.mu.Lock()
				r.checks[p.Name]++
				if problem != "" {
					r.notReady[p.Name] = append(r.notReady[p.Name], time.Now().Format("15:04:05.000")+" "+problem)
				}
				r.mu.Unlock()
			}
		}
	}()
	return r
}

// finish stops polling and fails the test if a pod was ever not ready.
func (r *readiness) finish(t *testing.T, what string) {
	t.Helper()
	r.halt()
	for pod, n := range r.checks {
		bad := r.notReady[pod]
		t.Logf("%s: /readyz of %s: %d checks, %d not ready", what, pod, n, len(bad))
		if len(bad) > 0 {
			t.Errorf("%s: webhook pod %s was not ready %d times of %d; the first:\n  %s", what, pod, len(bad), n, strings.Join(bad[:min(len(bad), 10)], "\n  "))
		}
	}
}

func (r *readiness) halt() {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
}

// metrics reads the Go runtime's figures from a pod's /metrics (plain
// HTTP on port 8080, the chart's "metrics" port).
func metrics(ip string) (goroutines, rssBytes, heapBytes float64, err error) {
	resp, err := plainHTTP.Get("http://" + ip + ":8080/metrics")
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, 0, fmt.Errorf("GET /metrics of %s: %s", ip, resp.Status)
	}
	want := map[string]*float64{"go_goroutines": &goroutines, "process_resident_memory_bytes": &rssBytes, "go_memstats_heap_inuse_bytes": &heapBytes}
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if p := want[name]; ok && p != nil {
			if *p, err = strconv.ParseFloat(strings.TrimSpace(value), 64); err != nil {
				return 0, 0, 0, fmt.Errorf("%s of %s: %w", name, ip, err)
			}
			found++
		}
	}
	if found != len(want) {
		return 0, 0, 0, fmt.Errorf("/metrics of %s lacks one of go_goroutines, process_resident_memory_bytes, go_memstats_heap_inuse_bytes", ip)
	}
	return goroutines, rssBytes, heapBytes, sc.Err()
}

// direct sends AdmissionReviews to each webhook pod's /validate itself,
// bypassing the API server: what a replica answers while the API server
// is down. TLS is not verified: the serving certificate names the
// Service, and the address is the pod's, on the node's own bridge.
type direct struct {
	client *http.Client
	mu     sync.Mutex
	ok     map[string]int
	failed map[string][]string
	stop   chan struct{}
	once   sync.Once
	done   chan struct{}
}

func newDirectClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see direct
	}}
}

// review asks pod ip's /validate about a pod with profile sp in namespace
// ns, and returns whether it was allowed and the message.
func review(c *http.Client, ip, ns string, sp *corev1.SeccompProfile) (allowed bool, message string, err error) {
	pod := podFor(ns, "direct", sp)
	raw, err := json.Marshal(pod)
	if err != nil {
		return false, "", err
	}
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       types.UID(fmt.Sprintf("soak-%d", time.Now().UnixNano())),
			Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Namespace: ns, Name: pod.Name, Operation: admissionv1.Create,
			UserInfo: authnUser(),
			Object:   runtime.RawExtension{Raw: raw},
		},
	}
	body, err := json.Marshal(ar)
	if err != nil {
		return false, "", err
	}
	resp, err := c.Post("https://"+ip+":9443/validate", "application/json", bytes.NewReader(body))
	if err != nil {
		return false, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return false, "", fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(b, &out); err != nil {
		return false, "", fmt.Errorf("not an AdmissionReview answer (%w): %s", err, b)
	}
	if out.Response == nil {
		return false, "", fmt.Errorf("an AdmissionReview answer without a response: %s", b)
	}
	if out.Response.Result != nil {
		message = out.Response.Result.Message
	}
	return out.Response.Allowed, message, nil
}

func startDirect(t *testing.T, pods []webhookPod, ns string) *direct {
	d := &direct{client: newDirectClient(), ok: map[string]int{}, failed: map[string][]string{}, stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(d.halt) // a test that ended early
	go func() {
		defer close(d.done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-d.stop:
				return
			case <-tick.C:
			}
			// Not the pod without a profile: /validate alone denies it
			// (ProfileNotSet), as the mutating webhook never ran.
			kinds := loadKinds[1:]
			k := kinds[i%len(kinds)]
			for _, p := range pods {
				allowed, msg, err := review(d.client, p.IP, ns, k.sp)
				problem := ""
				switch {
				case err != nil:
					problem = err.Error()
				case k.denied != "" && (allowed || !strings.Contains(msg, k.denied)):
					problem = fmt.Sprintf("a %s pod: allowed %v, %q; want denied (%s)", k.name, allowed, msg, k.denied)
				case k.denied == "" && !allowed:
					problem = fmt.Sprintf("a %s pod: denied: %s", k.name, msg)
				}
				d.mu.Lock()
				if problem == "" {
					d.ok[p.Name]++
				} else {
					d.failed[p.Name] = append(d.failed[p.Name], time.Now().Format("15:04:05.000")+" "+problem)
				}
				d.mu.Unlock()
			}
		}
	}()
	return d
}

// finish stops the reviews and fails the test on a wrong or missing answer.
func (d *direct) finish(t *testing.T, what string) {
	t.Helper()
	d.halt()
	names := map[string]bool{}
	for n := range d.ok {
		names[n] = true
	}
	for n := range d.failed {
		names[n] = true
	}
	for n := range names {
		bad := d.failed[n]
		t.Logf("%s: AdmissionReviews sent to %s directly: %d answered right, %d not", what, n, d.ok[n], len(bad))
		if len(bad) > 0 {
			t.Errorf("%s: webhook pod %s answered %d reviews wrong or not at all; the first:\n  %s", what, n, len(bad), strings.Join(bad[:min(len(bad), 10)], "\n  "))
		}
	}
}

func (d *direct) halt() {
	d.once.Do(func() { close(d.stop) })
	<-d.done
}
