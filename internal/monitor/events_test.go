package monitor

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
	"github.com/seccomp-guard/seccomp-guard/internal/violations"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestMessage(t *testing.T) {
	cases := []struct {
		name    string
		syscall string
		action  violations.Action
		profile string
		count   int
		window  time.Duration
		want    string
	}{
		{"errno, the issue's example", "mkdir", "SCMP_ACT_ERRNO", "localhost/profiles/no-mkdir.json", 12, time.Minute, "syscall mkdir refused (SCMP_ACT_ERRNO) by profiles/no-mkdir.json, 12 times in 60s"},
		{"log once", "mkdirat", "SCMP_ACT_LOG", "localhost/profiles/log.json", 1, 2 * time.Second, "syscall mkdirat logged (SCMP_ACT_LOG) by profiles/log.json, once in 2s"},
		{"kill", "ptrace", "SCMP_ACT_KILL_PROCESS", "localhost/p.json", 3, 5 * time.Minute, "syscall ptrace refused, process killed (SCMP_ACT_KILL_PROCESS) by p.json, 3 times in 5m"},
		{"runtime default", "unshare", "SCMP_ACT_ERRNO", "runtime/default", 2, 10 * time.Second, "syscall unshare refused (SCMP_ACT_ERRNO) by the container runtime's default profile, 2 times in 10s"},
		{"no profile known", "bpf", "SCMP_ACT_TRAP", "", 1, time.Second, "syscall bpf refused with SIGSYS (SCMP_ACT_TRAP) by an unknown profile, once in 1s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Message(tc.syscall, tc.action, tc.profile, tc.count, tc.window))
		})
	}
}

// TestAggregator: the first Event waits FirstDelay for a burst, the next
// one Interval; an idle key is forgotten; keys are bounded.
func TestAggregator(t *testing.T) {
	a := newAggregator(2, 2*time.Second, time.Minute)
	k := eventKey{Namespace: "ns", Pod: "p", Container: "c", Syscall: "mkdir", Action: "SCMP_ACT_LOG"}
	for i := range 5 {
		require.True(t, a.add(k, t0.Add(time.Duration(i)*100*time.Millisecond)))
	}
	assert.Empty(t, a.due(t0.Add(time.Second)), "the burst is still coalescing")
	got := a.due(t0.Add(2 * time.Second))
	require.Len(t, got, 1)
	assert.Equal(t, 5, got[0].count)
	assert.Equal(t, 2*time.Second, got[0].window)

	a.add(k, t0.Add(10*time.Second))
	assert.Empty(t, a.due(t0.Add(30*time.Second)), "within the interval")
	got = a.due(t0.Add(62 * time.Second))
	require.Len(t, got, 1)
	assert.Equal(t, 1, got[0].count)

	other := eventKey{Namespace: "ns", Pod: "q", Container: "c", Syscall: "mkdir", Action: "SCMP_ACT_LOG"}
	third := eventKey{Namespace: "ns", Pod: "r", Container: "c", Syscall: "mkdir", Action: "SCMP_ACT_LOG"}
	require.True(t, a.add(other, t0.Add(63*time.Second)))
	assert.False(t, a.add(third, t0.Add(63*time.Second)), "two keys held: a third is refused")

	// k stays idle: forgotten after two empty intervals, which frees a key.
	a.due(t0.Add(123 * time.Second))
	a.due(t0.Add(184 * time.Second))
	assert.True(t, a.add(third, t0.Add(185*time.Second)))
}

// TestEventWriter: the first write creates the Event on the pod, the next
// adds to its count; one Event per key, whatever the records.
func TestEventWriter(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).Build()
	w := &eventWriter{client: c, node: "node-a", limiter: rate.NewLimiter(rate.Inf, 1)}
	k := eventKey{Namespace: "ns", Pod: "web-1", UID: "uid-1", Container: "app", Syscall: "mkdir", Action: "SCMP_ACT_ERRNO", Profile: "localhost/profiles/no-mkdir.json"}
	require.NoError(t, w.write(ctx, flush{key: k, count: 12, window: time.Minute}, t0))
	require.NoError(t, w.write(ctx, flush{key: k, count: 3, window: 30 * time.Second}, t0.Add(time.Minute)))

	var events corev1.EventList
	require.NoError(t, c.List(ctx, &events, client.InNamespace("ns")))
	require.Len(t, events.Items, 1)
	e := events.Items[0]
	assert.Equal(t, corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: "ns", Name: "web-1", UID: "uid-1", FieldPath: "spec.containers{app}"}, e.InvolvedObject)
	assert.Equal(t, "SeccompSyscallRefused", e.Reason)
	assert.Equal(t, corev1.EventTypeWarning, e.Type)
	assert.Equal(t, int32(15), e.Count)
	assert.Equal(t, "syscall mkdir refused (SCMP_ACT_ERRNO) by profiles/no-mkdir.json, 3 times in 30s", e.Message)
	assert.Equal(t, t0, e.FirstTimestamp.UTC())
	assert.Equal(t, t0.Add(time.Minute), e.LastTimestamp.UTC())
	assert.Equal(t, corev1.EventSource{Component: "seccomp-guard-agent", Host: "node-a"}, e.Source)
}

// TestBoundMessage: a profile path from a pod's spec cannot make an Event
// message the API refuses; the cut keeps valid UTF-8.
func TestBoundMessage(t *testing.T) {
	long := Message("mkdir", "SCMP_ACT_ERRNO", "localhost/"+strings.Repeat("é", 2000), 1, time.Second)
	got := boundMessage(long)
	assert.LessOrEqual(t, len(got), maxEventMessage)
	assert.True(t, utf8.ValidString(got))
	assert.True(t, strings.HasPrefix(got, "syscall mkdir refused (SCMP_ACT_ERRNO) by éé"))
	assert.True(t, strings.HasSuffix(got, "..."))
	short := "syscall mkdir logged (SCMP_ACT_LOG) by p.json, once in 1s"
	assert.Equal(t, short, boundMessage(short))
}
