package monitor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
	"github.com/seccomp-guard/seccomp-guard/internal/violations"
)

// loopSource emits n records as fast as it can, then waits for the end.
type loopSource struct {
	n   int
	gen func(i int) violations.Record
}

func (s *loopSource) Name() string   { return "netlink" }
func (s *loopSource) Complete() bool { return true }
func (s *loopSource) Run(ctx context.Context, emit func(violations.Record)) error {
	for i := range s.n {
		emit(s.gen(i))
	}
	<-ctx.Done()
	return nil
}

// fakeProc is a /proc with one containerized process.
func fakeProc(t *testing.T, pid int, containerID string) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, fmt.Sprint(pid))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "stat"), []byte("cpu 0 0 0 0\nbtime 1700000000\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup"), []byte("0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-"+containerID+".scope\n"), 0o644))
	stat := fmt.Sprintf("%d (sh) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n", pid)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644))
	return root
}

// TestFloodIsBounded generates records in a loop from one container, each
// with another syscall: the queue, the metric's series, the pending
// Events and the Event writes stay within their bounds, and what exceeds
// them is counted, not lost silently.
func TestFloodIsBounded(t *testing.T) {
	const id = "3f1c9b8a7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a"
	const n = 200_000
	opts := DefaultOptions()
	opts.NodeName = "node-a"
	opts.ProcRoot = fakeProc(t, 4242, id)
	opts.QueueSize, opts.MaxSeries, opts.MaxEventKeys = 64, 100, 50
	opts.EventQPS, opts.EventBurst = 5, 10
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).Build()
	src := &loopSource{n: n, gen: func(i int) violations.Record {
		return violations.Record{Time: time.Unix(1800000000, 0), PID: 4242, Arch: "x86_64", Syscall: fmt.Sprintf("call%d", i%1000), Action: violations.Action("SCMP_ACT_LOG")}
	}}
	m := New(c, src, opts, logr.Discard())
	clk := clocktesting.NewFakeClock(time.Unix(1800000000, 0))
	m.Clock = clk
	m.Pods.Upsert(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "flood", UID: "uid-flood"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main"}}},
		Status:     corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "main", ContainerID: "containerd://" + id}}},
	})
	queueFull0 := testutil.ToFloat64(dropped.WithLabelValues("queue-full"))
	keys0 := testutil.ToFloat64(dropped.WithLabelValues("event-keys"))
	read0 := testutil.ToFloat64(records.WithLabelValues("netlink"))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	deadline := time.Now().Add(time.Minute)
	for testutil.ToFloat64(records.WithLabelValues("netlink"))-read0 < n || len(m.queue) > 0 {
		require.True(t, time.Now().Before(deadline), "the records were not all read")
		time.Sleep(10 * time.Millisecond)
	}
	// A minute of flushes, a second at a time.
	for range 60 {
		clk.Step(time.Second)
		time.Sleep(time.Millisecond)
	}
	cancel()
	require.NoError(t, <-done)

	queueFull := testutil.ToFloat64(dropped.WithLabelValues("queue-full")) - queueFull0
	t.Logf("%d records: %.0f dropped at the queue, %d series, %d pending Events", n, queueFull, len(m.series.seen), len(m.agg.pending))
	assert.LessOrEqual(t, len(m.queue), opts.QueueSize)
	assert.Len(t, m.series.seen, opts.MaxSeries, "the series stop at MaxSeries")
	assert.Positive(t, testutil.ToFloat64(violationsTotal.WithLabelValues(Overflow, Overflow, Overflow, Overflow, Overflow)), "the rest counted under the overflow series")
	assert.LessOrEqual(t, len(m.agg.pending), opts.MaxEventKeys)
	assert.Positive(t, testutil.ToFloat64(dropped.WithLabelValues("event-keys"))-keys0, "keys beyond MaxEventKeys are counted")

	var events corev1.EventList
	require.NoError(t, c.List(context.Background(), &events, client.InNamespace("ns")))
	assert.LessOrEqual(t, len(events.Items), opts.MaxEventKeys, "one Event per key at most")
	var count int32
	for _, e := range events.Items {
		count += e.Count
	}
	t.Logf("%d Events written, counting %d records", len(events.Items), count)
	assert.NotEmpty(t, events.Items)
}
