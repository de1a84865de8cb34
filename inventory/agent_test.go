package inventory

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	coordinationv1ac "k8s.io/client-go/applyconfigurations/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
)

// writes counts the agent's server-side applies, and can make them fail.
type writes struct {
	mu      sync.Mutex
	objects int // applies of the NodeSeccompInventory object
	status  int // applies of its status
	leases  int
	failing error
	failed  int // applies refused with failing
	// onFail, when set, is called with the count of refused applies after
	// each refusal, outside the lock.
	onFail func(failed int)
}

// refuse counts a refused apply and calls onFail.
func (w *writes) refuse() {
	w.mu.Lock()
	w.failed++
	n, onFail := w.failed, w.onFail
	w.mu.Unlock()
	if onFail != nil {
		onFail(n)
	}
}

func (w *writes) counts() (objects, status int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.objects, w.status
}

func (w *writes) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failing = err
}

func (w *writes) funcs() interceptor.Funcs {
	return interceptor.Funcs{
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			w.mu.Lock()
			failing := w.failing
			if failing == nil {
				if _, isLease := obj.(*coordinationv1ac.LeaseApplyConfiguration); isLease {
					w.leases++
				} else {
					w.objects++
				}
			}
			w.mu.Unlock()
			if failing != nil {
				w.refuse()
				return failing
			}
			return c.Apply(ctx, obj, opts...)
		},
		SubResourceApply: func(ctx context.Context, c client.Client, sub string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
			w.mu.Lock()
			failing := w.failing
			if failing == nil {
				w.status++
			}
			w.mu.Unlock()
			if failing != nil {
				w.refuse()
				return failing
			}
			return c.SubResource(sub).Apply(ctx, obj, opts...)
		},
	}
}

func withRuntime(n *corev1.Node, version string) *corev1.Node {
	n.Status.NodeInfo.ContainerRuntimeVersion = version
	return n
}

func agentNode(uid types.UID) *corev1.Node {
	n := testNode("node-a", nil)
	n.UID = uid
	return withRuntime(n, "containerd://1.7.0")
}

type agentFixture struct {
	client client.WithWatch
	writes *writes
	clock  *clock
	root   string
}

func newAgentFixture(t *testing.T, objs ...client.Object) *agentFixture {
	t.Helper()
	w := &writes{}
	c := fake.NewClientBuilder().
		WithScheme(scheme.Scheme).
		WithObjects(objs...).
		WithStatusSubresource(&v1alpha1.NodeSeccompInventory{}).
		WithInterceptorFuncs(w.funcs()).
		Build()
	return &agentFixture{client: c, writes: w, clock: newClock(), root: t.TempDir()}
}

func (f *agentFixture) agent(t *testing.T) *Agent {
	return &Agent{
		Client:  f.client,
		Options: AgentOptions{NodeName: "node-a", SeccompRoot: f.root, LeaseDuration: 40 * time.Second},
		Log:     testr.New(t),
		Now:     f.clock.now,
	}
}

func (f *agentFixture) inventory(t *testing.T) *v1alpha1.NodeSeccompInventory {
	t.Helper()
	inv := &v1alpha1.NodeSeccompInventory{}
	require.NoError(t, f.client.Get(context.Background(), client.ObjectKey{Name: "node-a"}, inv))
	return inv
}

func (f *agentFixture) write(t *testing.T, name string, data []byte) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(f.root, name)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(f.root, name), data, 0o644))
}

// TestAgentWritesOnlyWhenChanged walks the agent through the life of an
// inventory, step by step, counting its writes.
func TestAgentWritesOnlyWhenChanged(t *testing.T) {
	ctx := context.Background()
	f := newAgentFixture(t, agentNode("uid-1"))
	valid := fixture(t, "valid.json")
	f.write(t, "profiles/web.json", valid)
	a := f.agent(t)
	start := f.clock.t

	type want struct {
		wrote    bool
		objects  int // total object applies so far
		status   int // total status applies so far
		profiles []string
		invalid  int32
		runtime  string
		observed time.Time
		ownerUID types.UID
	}
	steps := []struct {
		name   string
		change func(t *testing.T)
		full   bool
		agent  func() *Agent // a fresh agent: a restart
		want   want
	}{
		{
			name: "first sync writes the object, then its status",
			full: true,
			want: want{wrote: true, objects: 1, status: 1, profiles: []string{"profiles/web.json"}, runtime: "containerd", observed: start, ownerUID: "uid-1"},
		},
		{
			name: "nothing changed: no write",
			want: want{objects: 1, status: 1, profiles: []string{"profiles/web.json"}, runtime: "containerd", observed: start, ownerUID: "uid-1"},
		},
		{
			name: "a full resync that finds the cluster's copy current: no write",
			full: true,
			want: want{objects: 1, status: 1, profiles: []string{"profiles/web.json"}, runtime: "containerd", observed: start, ownerUID: "uid-1"},
		},
		{
			name:   "a new invalid file: written, observedTime moves",
			change: func(t *testing.T) { f.write(t, "profiles/bad.json", fixture(t, "unknown-action.json")) },
			want:   want{wrote: true, objects: 2, status: 2, profiles: []string{"profiles/bad.json", "profiles/web.json"}, invalid: 1, runtime: "containerd", observed: start.Add(3 * time.Minute), ownerUID: "uid-1"},
		},
		{
			name:   "the same content written again (a touch): no write",
			change: func(t *testing.T) { f.write(t, "profiles/web.json", valid) },
			want:   want{objects: 2, status: 2, profiles: []string{"profiles/bad.json", "profiles/web.json"}, invalid: 1, runtime: "containerd", observed: start.Add(3 * time.Minute), ownerUID: "uid-1"},
		},
		{
			name:  "a restarted agent finds the cluster current: no write, observedTime kept",
			full:  true,
			agent: func() *Agent { return f.agent(t) },
			want:  want{objects: 2, status: 2, profiles: []string{"profiles/bad.json", "profiles/web.json"}, invalid: 1, runtime: "containerd", observed: start.Add(3 * time.Minute), ownerUID: "uid-1"},
		},
		{
			name: "someone else's edit of the status is repaired at the full resync",
			change: func(t *testing.T) {
				inv := f.inventory(t)
				inv.Status.Profiles = nil
				require.NoError(t, f.client.Status().Update(ctx, inv))
			},
			full: true,
			want: want{wrote: true, objects: 3, status: 3, profiles: []string{"profiles/bad.json", "profiles/web.json"}, invalid: 1, runtime: "containerd", observed: start.Add(6 * time.Minute), ownerUID: "uid-1"},
		},
		{
			name: "a deleted inventory is recreated at the full resync",
			change: func(t *testing.T) {
				require.NoError(t, f.client.Delete(ctx, f.inventory(t)))
			},
			full: true,
			want: want{wrote: true, objects: 4, status: 4, profiles: []string{"profiles/bad.json", "profiles/web.json"}, invalid: 1, runtime: "containerd", observed: start.Add(7 * time.Minute), ownerUID: "uid-1"},
		},
		{
			name: "a Node recreated under the same name: the owner reference follows its new UID",
			change: func(t *testing.T) {
				require.NoError(t, f.client.Delete(ctx, agentNode("uid-1")))
				require.NoError(t, f.client.Create(ctx, agentNode("uid-2")))
			},
			full: true,
			want: want{wrote: true, objects: 5, status: 5, profiles: []string{"profiles/bad.json", "profiles/web.json"}, invalid: 1, runtime: "containerd", observed: start.Add(8 * time.Minute), ownerUID: "uid-2"},
		},
		{
			name: "the node's runtime changes to CRI-O: revalidated and written",
			change: func(t *testing.T) {
				n := &corev1.Node{}
				require.NoError(t, f.client.Get(ctx, client.ObjectKey{Name: "node-a"}, n))
				require.NoError(t, f.client.Status().Update(ctx, withRuntime(n, "cri-o://1.30.0")))
			},
			full: true,
			want: want{wrote: true, objects: 6, status: 6, profiles: []string{"profiles/bad.json", "profiles/web.json"}, invalid: 1, runtime: "cri-o", observed: start.Add(9 * time.Minute), ownerUID: "uid-2"},
		},
		{
			name:   "a file removed",
			change: func(t *testing.T) { require.NoError(t, os.Remove(filepath.Join(f.root, "profiles/bad.json"))) },
			want:   want{wrote: true, objects: 7, status: 7, profiles: []string{"profiles/web.json"}, runtime: "cri-o", observed: start.Add(10 * time.Minute), ownerUID: "uid-2"},
		},
	}
	for i, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			f.clock.t = start.Add(time.Duration(i) * time.Minute) // step i happens i minutes in
			if s.change != nil {
				s.change(t)
			}
			if s.agent != nil {
				a = s.agent()
			}
			_, wrote, err := a.Sync(ctx, s.full)
			require.NoError(t, err)
			assert.Equal(t, s.want.wrote, wrote, "wrote")
			objects, status := f.writes.counts()
			assert.Equal(t, s.want.objects, objects, "object applies")
			assert.Equal(t, s.want.status, status, "status applies")

			inv := f.inventory(t)
			var paths []string
			for _, p := range inv.Status.Profiles {
				paths = append(paths, p.Path)
			}
			assert.Equal(t, s.want.profiles, paths)
			assert.Equal(t, int32(len(s.want.profiles)), inv.Status.ProfileCount)
			assert.Equal(t, s.want.invalid, inv.Status.InvalidCount)
			assert.Equal(t, s.want.runtime, inv.Status.Runtime)
			require.NotNil(t, inv.Status.ObservedTime)
			assert.True(t, s.want.observed.Equal(inv.Status.ObservedTime.Time), "observedTime %s, want %s", inv.Status.ObservedTime.Time, s.want.observed)
			assert.Equal(t, []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: "node-a", UID: s.want.ownerUID}}, inv.OwnerReferences)
		})
	}
}

func TestAgentSyncErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("no Node: an error, nothing written", func(t *testing.T) {
		f := newAgentFixture(t)
		_, wrote, err := f.agent(t).Sync(ctx, true)
		assert.EqualError(t, err, `reading Node node-a: nodes "node-a" not found`)
		assert.False(t, wrote)
	})
	t.Run("a failed write is retried even though the content did not change", func(t *testing.T) {
		f := newAgentFixture(t, agentNode("uid-1"))
		f.write(t, "p.json", fixture(t, "valid.json"))
		a := f.agent(t)
		f.writes.fail(errors.New("connection refused"))
		_, wrote, err := a.Sync(ctx, true)
		assert.EqualError(t, err, "applying NodeSeccompInventory node-a: connection refused")
		assert.False(t, wrote)

		f.writes.fail(nil)
		_, wrote, err = a.Sync(ctx, false)
		require.NoError(t, err)
		assert.True(t, wrote)
		assert.Equal(t, int32(1), f.inventory(t).Status.ProfileCount)
	})
	t.Run("a root that is not a directory: an error, nothing written", func(t *testing.T) {
		f := newAgentFixture(t, agentNode("uid-1"))
		a := f.agent(t)
		a.Options.SeccompRoot = filepath.Join(f.root, "file")
		f.write(t, "file", []byte("{}"))
		_, wrote, err := a.Sync(ctx, true)
		assert.EqualError(t, err, "the seccomp root "+a.Options.SeccompRoot+" is not a directory")
		assert.False(t, wrote)
		objects, _ := f.writes.counts()
		assert.Zero(t, objects)
	})
	t.Run("a missing root is an empty inventory", func(t *testing.T) {
		f := newAgentFixture(t, agentNode("uid-1"))
		a := f.agent(t)
		a.Options.SeccompRoot = filepath.Join(f.root, "missing")
		_, wrote, err := a.Sync(ctx, true)
		require.NoError(t, err)
		assert.True(t, wrote)
		assert.Equal(t, v1alpha1.NodeSeccompInventoryStatus{
			Runtime: "containerd", ObservedTime: &metav1.Time{Time: f.clock.t},
			Conditions: []metav1.Condition{{
				Type: "Truncated", Status: metav1.ConditionFalse, LastTransitionTime: metav1.Time{Time: f.clock.t},
				Reason: "AllProfilesListed", Message: "every file under the seccomp root is listed",
			}},
		}, normalize(f.inventory(t).Status))
	})
}

// normalize rounds observedTime as the API does (to the second).
func normalize(st v1alpha1.NodeSeccompInventoryStatus) v1alpha1.NodeSeccompInventoryStatus {
	if st.ObservedTime != nil {
		st.ObservedTime = &metav1.Time{Time: st.ObservedTime.UTC()}
	}
	for i := range st.Conditions {
		st.Conditions[i].LastTransitionTime = metav1.Time{Time: st.Conditions[i].LastTransitionTime.UTC()}
	}
	return st
}

func TestAgentRenewLease(t *testing.T) {
	ctx := context.Background()
	f := newAgentFixture(t, agentNode("uid-1"))
	a := f.agent(t)
	require.EqualError(t, a.RenewLease(ctx), "the Node has not been read yet")

	_, _, err := a.Sync(ctx, true)
	require.NoError(t, err)
	require.NoError(t, a.RenewLease(ctx))
	lease := &coordinationv1.Lease{}
	require.NoError(t, f.client.Get(ctx, client.ObjectKey{Namespace: "seccomp-guard", Name: "seccomp-guard-node-node-a"}, lease))
	assert.Equal(t, coordinationv1.LeaseSpec{
		HolderIdentity:       new("node-a"),
		LeaseDurationSeconds: new(int32(40)),
		RenewTime:            &metav1.MicroTime{Time: f.clock.t},
	}, normalizeLease(lease.Spec))
	assert.Equal(t, []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: "node-a", UID: "uid-1"}}, lease.OwnerReferences)

	f.clock.advance(10 * time.Second)
	require.NoError(t, a.RenewLease(ctx))
	require.NoError(t, f.client.Get(ctx, client.ObjectKey{Namespace: "seccomp-guard", Name: "seccomp-guard-node-node-a"}, lease))
	assert.True(t, f.clock.t.Equal(lease.Spec.RenewTime.Time), "renewTime moves")

	a.Options.LeaseDuration = 1500 * time.Millisecond
	require.NoError(t, a.RenewLease(ctx))
	require.NoError(t, f.client.Get(ctx, client.ObjectKey{Namespace: "seccomp-guard", Name: "seccomp-guard-node-node-a"}, lease))
	assert.Equal(t, int32(2), *lease.Spec.LeaseDurationSeconds, "rounded up to whole seconds")
}

func normalizeLease(s coordinationv1.LeaseSpec) coordinationv1.LeaseSpec {
	if s.RenewTime != nil {
		s.RenewTime = &metav1.MicroTime{Time: s.RenewTime.UTC()}
	}
	return s
}

// TestAgentRun runs the whole loop against the fake API with a real file
// system watch: changes arrive without a resync, including in new
// subdirectories and through atomic renames; the Lease is renewed once the
// inventory is written; a failing API is retried.
func TestAgentRun(t *testing.T) {
	f := newAgentFixture(t, agentNode("uid-1"))
	valid := fixture(t, "valid.json")
	f.write(t, "profiles/web.json", valid)
	f.writes.fail(errors.New("connection refused")) // the API is down at start
	a := f.agent(t)
	// The health at the second refused write: the loop runs one sync at a
	// time, so the first failed sync has finished, and set the health, by
	// the time its retry writes.
	healthAtRetry := make(chan bool, 1)
	f.writes.onFail = func(n int) {
		if n == 2 {
			healthAtRetry <- a.Healthy()
		}
	}
	a.Now = nil
	a.Options.Resync = time.Hour // so that only watch events can explain what follows
	a.Options.Debounce = 20 * time.Millisecond
	a.Options.LeaseDuration = time.Second
	a.Options.HealthProbeBindAddress = "0"

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context was cancelled")
		}
	}()

	paths := func() []string {
		inv := &v1alpha1.NodeSeccompInventory{}
		if err := f.client.Get(context.Background(), client.ObjectKey{Name: "node-a"}, inv); err != nil {
			return nil
		}
		var out []string
		for _, p := range inv.Status.Profiles {
			out = append(out, p.Path)
		}
		return out
	}
	eventually := func(want []string, msg string) {
		t.Helper()
		require.EventuallyWithT(t, func(c *assert.CollectT) { assert.Equal(c, want, paths()) }, 10*time.Second, 10*time.Millisecond, msg)
	}

	select {
	case healthy := <-healthAtRetry:
		assert.False(t, healthy, "not healthy while the API fails")
	case <-time.After(10 * time.Second):
		t.Fatal("no retry of the failed write within 10s")
	}
	assert.Nil(t, paths())
	f.writes.fail(nil)
	eventually([]string{"profiles/web.json"}, "written once the API is back (retried with backoff)")
	require.Eventually(t, a.Healthy, 5*time.Second, 10*time.Millisecond)
	lease := &coordinationv1.Lease{}
	require.Eventually(t, func() bool {
		return f.client.Get(context.Background(), client.ObjectKey{Namespace: "seccomp-guard", Name: "seccomp-guard-node-node-a"}, lease) == nil
	}, 5*time.Second, 10*time.Millisecond, "the Lease is renewed once the inventory is written")
	first := lease.Spec.RenewTime.Time
	require.Eventually(t, func() bool {
		_ = f.client.Get(context.Background(), client.ObjectKey{Namespace: "seccomp-guard", Name: "seccomp-guard-node-node-a"}, lease)
		return lease.Spec.RenewTime.After(first)
	}, 5*time.Second, 10*time.Millisecond, "and renewed again on its own timer")

	f.write(t, "profiles/new.json", valid)
	eventually([]string{"profiles/new.json", "profiles/web.json"}, "a new file")

	f.write(t, "team/a/b/deep.json", valid)
	eventually([]string{"profiles/new.json", "profiles/web.json", "team/a/b/deep.json"}, "a new directory tree")
	f.write(t, "team/a/b/deeper.json", valid)
	eventually([]string{"profiles/new.json", "profiles/web.json", "team/a/b/deep.json", "team/a/b/deeper.json"}, "a file in a directory created after the start")

	// Config management writes aside and renames into place.
	f.write(t, "profiles/.web.json.tmp", fixture(t, "allow-by-default.json"))
	require.NoError(t, os.Rename(filepath.Join(f.root, "profiles/.web.json.tmp"), filepath.Join(f.root, "profiles/web.json")))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		inv := &v1alpha1.NodeSeccompInventory{}
		assert.NoError(c, f.client.Get(context.Background(), client.ObjectKey{Name: "node-a"}, inv))
		var action string
		for _, p := range inv.Status.Profiles {
			if p.Path == "profiles/web.json" {
				action = p.DefaultAction
			}
		}
		assert.Equal(c, "SCMP_ACT_ALLOW", action)
	}, 10*time.Second, 10*time.Millisecond, "an atomic rename over a profile")

	require.NoError(t, os.RemoveAll(filepath.Join(f.root, "team")))
	eventually([]string{"profiles/new.json", "profiles/web.json"}, "a removed directory tree")
}

func TestAgentOptionsValidate(t *testing.T) {
	cases := []struct {
		name    string
		opts    AgentOptions
		wantErr string
	}{
		{name: "defaults", opts: AgentOptions{NodeName: "n"}},
		{name: "no node", opts: AgentOptions{}, wantErr: "--node-name is required (or set NODE_NAME, e.g. from the downward API's spec.nodeName)"},
		{name: "lease too short", opts: AgentOptions{NodeName: "n", LeaseDuration: 500 * time.Millisecond}, wantErr: "--lease-duration 500ms is too short: use at least 1s"},
		{name: "mounted dirs under a host root", opts: AgentOptions{NodeName: "n", HostRoot: "/host", MountedDirs: []string{"/var/lib/security-profiles-operator"}}},
		{name: "relative mounted dir", opts: AgentOptions{NodeName: "n", HostRoot: "/host", MountedDirs: []string{"var/lib/spo"}}, wantErr: `--mounted-dirs: "var/lib/spo" is not an absolute path; list host directories such as /var/lib/security-profiles-operator`},
		{name: "mounted dirs without a host root", opts: AgentOptions{NodeName: "n", MountedDirs: []string{"/var/lib/spo"}}, wantErr: "--mounted-dirs needs --host-root: it lists the host directories mounted under the host root"},
		{name: "negative resync", opts: AgentOptions{NodeName: "n", Resync: -time.Second}, wantErr: "--resync and the debounce delay must not be negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if tc.wantErr == "" {
				assert.NoError(t, err)
			} else {
				assert.EqualError(t, err, tc.wantErr)
			}
		})
	}
}
