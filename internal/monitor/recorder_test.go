package monitor

import (
	"context"
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
	k8stypes "k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/recording"
	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
	"github.com/seccomp-guard/seccomp-guard/internal/violations"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

func recordedContainer(pod, uid string) violations.PodContainer {
	return violations.PodContainer{Namespace: "shop", Pod: pod, UID: k8stypes.UID("uid-" + uid), Container: "app", Workload: "Deployment/web", Profile: "localhost/" + policy.RecordingProfile, Recording: true}
}

func rec(syscall string) violations.Record {
	return violations.Record{Arch: "x86_64", Syscall: syscall, Action: violations.ActionLog}
}

// TestRecorderMerges: replicas and runs of one container merge into one
// recording; another container is another recording; unnamed syscalls are
// counted, not listed.
func TestRecorderMerges(t *testing.T) {
	r := newRecorder(MaxRecordings, time.Hour)
	require.True(t, r.add(recordedContainer("web-1", "1"), rec("read"), t0))
	require.True(t, r.add(recordedContainer("web-1", "1"), rec("read"), t0.Add(time.Second)))
	require.True(t, r.add(recordedContainer("web-2", "2"), rec("mkdir"), t0.Add(2*time.Second)))
	require.True(t, r.add(recordedContainer("web-2", "2"), rec("syscall_999"), t0.Add(3*time.Second)))
	side := recordedContainer("web-1", "1")
	side.Container = "sidecar"
	require.True(t, r.add(side, rec("write"), t0.Add(4*time.Second)))

	got, changed := r.snapshot(t0.Add(5 * time.Second))
	require.True(t, changed)
	first, last := metav1.NewTime(t0), metav1.NewTime(t0.Add(3*time.Second))
	side1 := metav1.NewTime(t0.Add(4 * time.Second))
	assert.Equal(t, []v1alpha1.RecordingStatus{
		{Namespace: "shop", Workload: "Deployment/web", Container: "app", Architectures: []string{"x86_64"}, Syscalls: []string{"mkdir", "read"}, UnnamedSyscalls: 1, Records: 4, Pods: 2, FirstSeen: &first, LastSeen: &last},
		{Namespace: "shop", Workload: "Deployment/web", Container: "sidecar", Architectures: []string{"x86_64"}, Syscalls: []string{"write"}, Records: 1, Pods: 1, FirstSeen: &side1, LastSeen: &side1},
	}, got)

	_, changed = r.snapshot(t0.Add(6 * time.Second))
	assert.False(t, changed, "nothing new: no write")
	r.add(recordedContainer("web-1", "1"), rec("read"), t0.Add(7*time.Second))
	_, changed = r.snapshot(t0.Add(8 * time.Second))
	assert.False(t, changed, "a known syscall of a known pod changes only the counts: not worth a write")
	r.add(recordedContainer("web-1", "1"), rec("openat"), t0.Add(9*time.Second))
	_, changed = r.snapshot(t0.Add(10 * time.Second))
	assert.True(t, changed, "a new syscall is written")
}

// TestRecorderLoadsAnEarlierRun: a restarted agent merges into what it
// wrote before instead of replacing it.
func TestRecorderLoadsAnEarlierRun(t *testing.T) {
	first := metav1.NewTime(t0.Add(-time.Hour))
	r := newRecorder(MaxRecordings, 24*time.Hour)
	r.load([]v1alpha1.RecordingStatus{{Namespace: "shop", Workload: "Deployment/web", Container: "app", Architectures: []string{"x86_64"}, Syscalls: []string{"read"}, Records: 10, Pods: 2, FirstSeen: &first, LastSeen: &first}})
	r.add(recordedContainer("web-3", "3"), rec("write"), t0)
	got, _ := r.snapshot(t0)
	require.Len(t, got, 1)
	assert.Equal(t, []string{"read", "write"}, got[0].Syscalls)
	assert.Equal(t, int64(11), got[0].Records)
	assert.Equal(t, int32(3), got[0].Pods)
	assert.Equal(t, first, *got[0].FirstSeen)
}

// TestRecorderBounds: at most max recordings (a new one is refused, the
// known ones still grow), and one idle beyond the retention is dropped.
func TestRecorderBounds(t *testing.T) {
	r := newRecorder(2, time.Hour)
	a, b, c := recordedContainer("a", "a"), recordedContainer("b", "b"), recordedContainer("c", "c")
	a.Workload, b.Workload, c.Workload = "Pod/a", "Pod/b", "Pod/c"
	require.True(t, r.add(a, rec("read"), t0))
	require.True(t, r.add(b, rec("read"), t0.Add(30*time.Minute)))
	assert.False(t, r.add(c, rec("read"), t0.Add(30*time.Minute)), "a third recording is refused")
	assert.True(t, r.add(a, rec("write"), t0))

	got, changed := r.snapshot(t0.Add(61 * time.Minute))
	assert.True(t, changed)
	require.Len(t, got, 1, "Pod/a was idle for over an hour")
	assert.Equal(t, "Pod/b", got[0].Workload)
	assert.True(t, r.add(c, rec("read"), t0.Add(61*time.Minute)), "room again")
}

// TestRecordingKeptOutOfViolations: the records of a recorded container go
// to its recording, not to the violation metric or Events; the same
// syscall of a container that is not recorded is a violation.
func TestRecordingKeptOutOfViolations(t *testing.T) {
	const id = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"
	opts := DefaultOptions()
	opts.NodeName = "node-a"
	opts.ProcRoot = fakeProc(t, 777, id)
	opts.RecordingDir = t.TempDir()
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).Build()
	m := New(c, &loopSource{}, opts, logr.Discard())
	m.Clock = clocktesting.NewFakeClock(time.Unix(1800000000, 0))
	lp := policy.RecordingProfile
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "rec", Name: "web", UID: "uid-web", Annotations: map[string]string{policy.RecordAnnotation: "true"}},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &lp}},
			Containers:      []corev1.Container{{Name: "app"}},
		},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://" + id}}},
	}
	m.Pods.Upsert(pod)
	r := violations.Record{Time: time.Unix(1800000000, 0), PID: 777, Arch: "x86_64", Syscall: "mkdirat", Action: violations.ActionLog}
	recorded0 := testutil.ToFloat64(recordingRecords.WithLabelValues("recorded"))
	violations0 := testutil.ToFloat64(violationsTotal.WithLabelValues("rec", "Pod/web", "app", "mkdirat", "SCMP_ACT_LOG"))

	m.handle(r)
	assert.Equal(t, 1.0, testutil.ToFloat64(recordingRecords.WithLabelValues("recorded"))-recorded0)
	assert.Equal(t, 0.0, testutil.ToFloat64(violationsTotal.WithLabelValues("rec", "Pod/web", "app", "mkdirat", "SCMP_ACT_LOG"))-violations0)
	assert.Empty(t, m.agg.due(m.Clock.Now().Add(time.Hour)), "no Event pending")

	// Without the annotation the same record is a violation.
	delete(pod.Annotations, policy.RecordAnnotation)
	m.Pods.Upsert(pod)
	m.handle(r)
	assert.Equal(t, 1.0, testutil.ToFloat64(violationsTotal.WithLabelValues("rec", "Pod/web", "app", "mkdirat", "SCMP_ACT_LOG"))-violations0)
	assert.Equal(t, 1.0, testutil.ToFloat64(recordingRecords.WithLabelValues("recorded"))-recorded0)
}

// TestWriteLoggingProfile: written atomically, readable by the runtime,
// rewritten only when changed, and a missing directory is a clear error.
func TestWriteLoggingProfile(t *testing.T) {
	dir := t.TempDir()
	wrote, err := WriteLoggingProfile(dir)
	require.NoError(t, err)
	assert.True(t, wrote)
	name := filepath.Join(dir, filepath.Base(policy.RecordingProfile))
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	assert.Equal(t, string(recording.NodeLoggingProfile()), string(b))
	st, err := os.Stat(name)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())

	wrote, err = WriteLoggingProfile(dir)
	require.NoError(t, err)
	assert.False(t, wrote, "unchanged: not rewritten")

	require.NoError(t, os.WriteFile(name, []byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`), 0o644))
	wrote, err = WriteLoggingProfile(dir)
	require.NoError(t, err)
	assert.True(t, wrote, "changed by someone: put back")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left")

	_, err = WriteLoggingProfile(filepath.Join(dir, "absent"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--recording-dir must be the agent's writable mount of <seccomp root>/seccomp-guard")
}

// TestWriteRecordings: the recordings go to the node's inventory status
// and are read back (a real API server's answer for a missing inventory
// is checked in e2e/install).
func TestWriteRecordings(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithStatusSubresource(&v1alpha1.NodeSeccompInventory{}).Build()
	first := metav1.NewTime(t0)
	sts := []v1alpha1.RecordingStatus{{Namespace: "shop", Workload: "Deployment/web", Container: "app", Architectures: []string{"x86_64"}, Syscalls: []string{"read"}, Records: 1, Pods: 1, FirstSeen: &first, LastSeen: &first}}
	require.NoError(t, c.Create(ctx, &v1alpha1.NodeSeccompInventory{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}}))
	require.NoError(t, writeRecordings(ctx, c, "node-a", sts))
	got, err := readRecordings(ctx, c, "node-a")
	require.NoError(t, err)
	assert.Equal(t, "read", got[0].Syscalls[0])
	assert.Equal(t, "Deployment/web", got[0].Workload)
}

// TestRecordsBeforeThePodKnowsTheContainer: a container's first records
// come before its pod's status names it; they wait, and are attributed
// once the index learns the container (here, to the recording), or
// counted as unknown-container after the TTL.
func TestRecordsBeforeThePodKnowsTheContainer(t *testing.T) {
	const id = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b"
	opts := DefaultOptions()
	opts.NodeName = "node-a"
	opts.ProcRoot = fakeProc(t, 888, id)
	opts.RecordingDir = t.TempDir()
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).Build()
	m := New(c, &loopSource{}, opts, logr.Discard())
	clk := clocktesting.NewFakeClock(time.Unix(1800000000, 0))
	m.Clock = clk
	at := time.Unix(1800000000, 0)
	for _, s := range []string{"execve", "mkdir", "mkdir", "openat"} {
		m.handle(violations.Record{Time: at, PID: 888, Arch: "x86_64", Syscall: s, Action: violations.ActionLog})
	}
	unknown0 := testutil.ToFloat64(unattributed.WithLabelValues("unknown-container", "execve", "SCMP_ACT_LOG"))
	m.resolvePending()
	got, _ := m.recorder.snapshot(clk.Now())
	assert.Empty(t, got, "nothing attributed before the pod names the container")

	lp := policy.RecordingProfile
	m.Pods.Upsert(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "rec", Name: "web-1", UID: "uid-1", Annotations: map[string]string{policy.RecordAnnotation: "true"}},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &lp}},
			Containers:      []corev1.Container{{Name: "app"}},
		},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://" + id}}},
	})
	clk.Step(2 * time.Second)
	m.resolvePending()
	got, _ = m.recorder.snapshot(clk.Now())
	require.Len(t, got, 1)
	assert.Equal(t, []string{"execve", "mkdir", "openat"}, got[0].Syscalls)
	assert.Equal(t, int64(4), got[0].Records, "repeats are replayed")

	// A container no pod ever names: counted after the TTL.
	const other = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
	m.attributor.ProcRoot = fakeProc(t, 999, other)
	m.handle(violations.Record{Time: at, PID: 999, Arch: "x86_64", Syscall: "execve", Action: violations.ActionLog})
	clk.Step(pendingTTL - time.Second)
	m.resolvePending()
	assert.Equal(t, unknown0, testutil.ToFloat64(unattributed.WithLabelValues("unknown-container", "execve", "SCMP_ACT_LOG")), "still waiting")
	clk.Step(2 * time.Second)
	m.resolvePending()
	assert.Equal(t, unknown0+1, testutil.ToFloat64(unattributed.WithLabelValues("unknown-container", "execve", "SCMP_ACT_LOG")))
}

// TestPIDCache: a process is looked up once a second, not per record; a
// process that was gone is looked up again.
func TestPIDCache(t *testing.T) {
	const id = "2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c"
	root := fakeProc(t, 4321, id)
	at := &violations.Attributor{ProcRoot: root}
	c := newPIDCache()
	r := violations.Record{Time: time.Unix(1800000000, 0), PID: 4321}
	now := time.Unix(1800000000, 0)
	assert.Equal(t, violations.OriginContainer, c.attribute(at, r, now).Origin)
	require.NoError(t, os.RemoveAll(filepath.Join(root, "4321")))
	assert.Equal(t, violations.OriginContainer, c.attribute(at, r, now.Add(500*time.Millisecond)).Origin, "cached")
	assert.Equal(t, violations.OriginExited, c.attribute(at, r, now.Add(2*time.Second)).Origin, "expired: looked up again")
	assert.Equal(t, violations.OriginExited, c.attribute(at, r, now.Add(2100*time.Millisecond)).Origin, "an exited process is not cached")
}

// handle attributes a record now and publishes it, as Emit and Run do.
func (m *Monitor) handle(r violations.Record) { m.handleAttributed(r, m.attributor.Attribute(r)) }
