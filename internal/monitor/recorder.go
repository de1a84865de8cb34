package monitor

// Recording (docs/recording.md): the records of containers that run under
// the logging profile are collected into one syscall set per namespace,
// workload and container, merged over every run and replica on this node,
// and written to the node's NodeSeccompInventory status.recordings with
// the field manager RecorderFieldManager, never into the violation metrics
// or Events.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/recording"
	"github.com/seccomp-guard/seccomp-guard/internal/violations"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// RecorderFieldManager owns status.recordings of the node's inventory; the
// inventory's own field manager owns the rest of the status, so neither
// write removes the other's fields.
const RecorderFieldManager = "seccomp-guard-recorder"

// MaxRecordings bounds the recordings one node holds (the CRD's MaxItems).
const MaxRecordings = 64

// maxPodsPerRecording bounds the pod UIDs remembered per recording (to
// count distinct pods); beyond it the count stops growing.
const maxPodsPerRecording = 1000

type recKey struct{ namespace, workload, container string }

type recEntry struct {
	archs, syscalls map[string]struct{}
	unnamed         int64
	records         int64
	basePods        int32 // pods counted before this agent started
	pods            map[types.UID]struct{}
	first, last     time.Time
}

// recorder holds the recordings of one node. Safe for concurrent use.
type recorder struct {
	mu        sync.Mutex
	entries   map[recKey]*recEntry
	max       int
	retention time.Duration
	dirty     bool
}

func newRecorder(maxEntries int, retention time.Duration) *recorder {
	return &recorder{entries: map[recKey]*recEntry{}, max: maxEntries, retention: retention}
}

// add collects one record of a recorded container; false when it is a new
// recording and the node already holds the most it may.
func (r *recorder) add(pc violations.PodContainer, rec violations.Record, now time.Time) bool {
	k := recKey{pc.Namespace, pc.Workload, pc.Container}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[k]
	if e == nil {
		if len(r.entries) >= r.max {
			return false
		}
		e = &recEntry{archs: map[string]struct{}{}, syscalls: map[string]struct{}{}, pods: map[types.UID]struct{}{}, first: now}
		r.entries[k] = e
		r.dirty = true
	}
	e.records++
	e.last = now
	if _, ok := e.archs[rec.Arch]; !ok {
		e.archs[rec.Arch] = struct{}{}
		r.dirty = true
	}
	if violations.Named(rec.Syscall) {
		if _, ok := e.syscalls[rec.Syscall]; !ok {
			e.syscalls[rec.Syscall] = struct{}{}
			r.dirty = true
		}
	} else {
		e.unnamed++
	}
	if _, ok := e.pods[pc.UID]; !ok && len(e.pods) < maxPodsPerRecording {
		e.pods[pc.UID] = struct{}{}
		r.dirty = true
	}
	return true
}

// load seeds the recorder with what an earlier run of the agent wrote, so
// that a restart merges into the recordings instead of replacing them.
func (r *recorder) load(sts []v1alpha1.RecordingStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range sts {
		k := recKey{st.Namespace, st.Workload, st.Container}
		if _, ok := r.entries[k]; ok || len(r.entries) >= r.max {
			continue
		}
		e := &recEntry{archs: map[string]struct{}{}, syscalls: map[string]struct{}{}, pods: map[types.UID]struct{}{},
			unnamed: st.UnnamedSyscalls, records: st.Records, basePods: st.Pods}
		for _, a := range st.Architectures {
			e.archs[a] = struct{}{}
		}
		for _, s := range st.Syscalls {
			e.syscalls[s] = struct{}{}
		}
		if st.FirstSeen != nil {
			e.first = st.FirstSeen.Time
		}
		if st.LastSeen != nil {
			e.last = st.LastSeen.Time
		}
		r.entries[k] = e
	}
}

// snapshot drops the recordings not added to for longer than the
// retention and returns the rest, sorted, and whether anything changed
// since the last snapshot.
func (r *recorder) snapshot(now time.Time) ([]v1alpha1.RecordingStatus, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, e := range r.entries {
		if r.retention > 0 && now.Sub(e.last) > r.retention {
			delete(r.entries, k)
			r.dirty = true
		}
	}
	changed := r.dirty
	r.dirty = false
	out := make([]v1alpha1.RecordingStatus, 0, len(r.entries))
	for k, e := range r.entries {
		first, last := metav1.NewTime(e.first.UTC().Truncate(time.Second)), metav1.NewTime(e.last.UTC().Truncate(time.Second))
		out = append(out, v1alpha1.RecordingStatus{
			Namespace: k.namespace, Workload: k.workload, Container: k.container,
			Architectures: sortedKeys(e.archs), Syscalls: sortedKeys(e.syscalls),
			UnnamedSyscalls: e.unnamed, Records: e.records, Pods: e.basePods + int32(len(e.pods)),
			FirstSeen: &first, LastSeen: &last,
		})
	}
	slices.SortFunc(out, func(a, b v1alpha1.RecordingStatus) int { // the list's keys
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Workload, b.Workload), strings.Compare(a.Container, b.Container))
	})
	recordingsHeld.Set(float64(len(out)))
	return out, changed
}

// markDirty makes the next snapshot report a change (a failed write).
func (r *recorder) markDirty() {
	r.mu.Lock()
	r.dirty = true
	r.mu.Unlock()
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// writeRecordings applies status.recordings of the node's inventory.
func writeRecordings(ctx context.Context, c client.Client, node string, sts []v1alpha1.RecordingStatus) error {
	list := make([]any, 0, len(sts))
	for i := range sts {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&sts[i])
		if err != nil {
			return err
		}
		list = append(list, m)
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": node},
		"status":   map[string]any{"recordings": list},
	}}
	obj.SetGroupVersionKind(v1alpha1.SchemeGroupVersion.WithKind("NodeSeccompInventory"))
	err := c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(RecorderFieldManager), client.ForceOwnership)
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("the NodeSeccompInventory %q does not exist yet (the agent creates it on its first scan): %w", node, err)
	}
	return err
}

// readRecordings returns what the node's inventory holds already.
func readRecordings(ctx context.Context, c client.Client, node string) ([]v1alpha1.RecordingStatus, error) {
	var inv v1alpha1.NodeSeccompInventory
	if err := c.Get(ctx, client.ObjectKey{Name: node}, &inv); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return inv.Status.Recordings, nil
}

// WriteLoggingProfile writes the logging profile into dir (the agent's one
// writable mount: <seccomp root>/seccomp-guard on the host), atomically,
// and only when its content differs. It returns whether it wrote.
func WriteLoggingProfile(dir string) (bool, error) {
	want := recording.NodeLoggingProfile()
	name := filepath.Join(dir, filepath.Base(policy.RecordingProfile))
	if have, err := os.ReadFile(name); err == nil && string(have) == string(want) {
		return false, nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("reading the logging profile %s: %w", name, err)
	}
	tmp, err := os.CreateTemp(dir, ".recording-*.json")
	if err != nil {
		return false, fmt.Errorf("writing the logging profile into %s (--recording-dir must be the agent's writable mount of <seccomp root>/%s): %w", dir, filepath.Dir(policy.RecordingProfile), err)
	}
	defer os.Remove(tmp.Name()) // gone after the rename
	if _, err := tmp.Write(want); err != nil {
		_ = tmp.Close() // the write error is the one to report
		return false, err
	}
	if err := tmp.Chmod(0o644); err != nil {
		_ = tmp.Close() // the chmod error is the one to report
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return false, fmt.Errorf("installing the logging profile %s: %w", name, err)
	}
	return true, nil
}
