package inventory

// The agent: one per node (a DaemonSet). It keeps the node's
// NodeSeccompInventory equal to what a scan of the seccomp root finds, and
// renews the node's heartbeat Lease while it does.
//
// Writes: the inventory only when the scanned content differs from what the
// agent last wrote (or, after a restart or at each resync, from what the
// cluster holds), with server-side apply: the object (owner reference to the
// Node) first, then the status subresource. status.observedTime is the time
// of the scan that found the change.
//
// Heartbeat: the Lease seccomp-guard-<node> in the release namespace, renewed
// every LeaseDuration/4 on its own timer, never by rewriting the inventory.
// It is renewed only while the inventory in the cluster is current: from the
// first successful write, and not while scans or writes keep failing. The
// webhook then treats the node as unknown after staleAfter instead of
// trusting an inventory the agent can no longer vouch for. A stopping agent
// leaves its Lease alone, so that a rolling update of the DaemonSet does not
// make every node unknown at once.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	coordinationv1ac "k8s.io/client-go/applyconfigurations/coordination/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// FieldManager is the agent's server-side apply field manager.
const FieldManager = "seccomp-guard-agent"

// AgentOptions configure the agent. Zero values take the defaults named on
// each field (DefaultAgentOptions).
type AgentOptions struct {
	// NodeName is the node the agent runs on. Required.
	NodeName string
	// SeccompRoot is the kubelet's seccomp root. Default /var/lib/kubelet/seccomp.
	SeccompRoot string
	// HostRoot is where the host's / is mounted; "" reads SeccompRoot as it
	// is and follows links only inside it (see Scanner).
	HostRoot string
	// MountedDirs are the host directories mounted under HostRoot besides
	// SeccompRoot: the directories its links lead into (the chart's
	// agent.linkTargets). A link that leads elsewhere is reported as outside
	// them, not as dangling. Empty: the whole host is mounted at HostRoot.
	MountedDirs []string
	// Resync is the period of full rescans, which also compare with the
	// cluster's copy. Default 5m.
	Resync time.Duration
	// LeaseDuration is the heartbeat Lease's duration; it is renewed every
	// quarter of it. Default 40s, at least 1s.
	LeaseDuration time.Duration
	// Namespace holds the heartbeat Lease (the release namespace). Default
	// v1alpha1.DefaultReleaseNamespace ("seccomp-guard").
	Namespace string
	// Debounce is how long the tree must be quiet after a change before it
	// is scanned (at most 10 times as long under constant change). Default 500ms.
	Debounce time.Duration
	// HealthProbeBindAddress serves /healthz and /readyz ("0" or "" disables).
	HealthProbeBindAddress string
	// MetricsBindAddress serves /metrics ("0" or "" disables).
	MetricsBindAddress string
}

// Validate checks the options a user sets.
func (o *AgentOptions) Validate() error {
	if o.NodeName == "" {
		return errors.New("--node-name is required (or set NODE_NAME, e.g. from the downward API's spec.nodeName)")
	}
	for _, d := range o.MountedDirs {
		if !path.IsAbs(d) {
			return fmt.Errorf("--mounted-dirs: %q is not an absolute path; list host directories such as /var/lib/security-profiles-operator", d)
		}
	}
	if len(o.MountedDirs) > 0 && o.HostRoot == "" {
		return errors.New("--mounted-dirs needs --host-root: it lists the host directories mounted under the host root")
	}
	if o.LeaseDuration != 0 && o.LeaseDuration < time.Second {
		return fmt.Errorf("--lease-duration %s is too short: use at least 1s", o.LeaseDuration)
	}
	if o.Resync < 0 || o.Debounce < 0 {
		return errors.New("--resync and the debounce delay must not be negative")
	}
	return nil
}

// DefaultAgentOptions returns the defaults of AgentOptions: what the agent
// uses for a zero field and what the agent command's flags default to.
func DefaultAgentOptions() AgentOptions {
	return AgentOptions{
		SeccompRoot:   DefaultSeccompRoot,
		Resync:        5 * time.Minute,
		LeaseDuration: 40 * time.Second,
		Namespace:     v1alpha1.DefaultReleaseNamespace,
		Debounce:      500 * time.Millisecond,
	}
}

func (o *AgentOptions) setDefaults() {
	d := DefaultAgentOptions()
	if o.SeccompRoot == "" {
		o.SeccompRoot = d.SeccompRoot
	}
	if o.Resync == 0 {
		o.Resync = d.Resync
	}
	if o.LeaseDuration == 0 {
		o.LeaseDuration = d.LeaseDuration
	}
	if o.Namespace == "" {
		o.Namespace = d.Namespace
	}
	if o.Debounce == 0 {
		o.Debounce = d.Debounce
	}
}

// RunAgent runs the agent until ctx is cancelled.
func RunAgent(ctx context.Context, cfg *rest.Config, opts AgentOptions) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		return fmt.Errorf("creating the API client: %w", err)
	}
	a := &Agent{Client: c, Options: opts, Log: log.FromContext(ctx).WithName("agent")}
	return a.Run(ctx)
}

// Agent keeps one node's inventory and heartbeat current. Set the exported
// fields, then call Run (or Sync and RenewLease, from tests).
type Agent struct {
	Client  client.Client
	Options AgentOptions
	Log     logr.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	node    atomic.Pointer[nodeFacts]
	healthy atomic.Bool // the cluster's inventory matches the last scan

	// Owned by the goroutine that calls Sync.
	written     string // digest of the status in the cluster, "" when unknown or absent
	checkedLive bool   // written has been compared with the cluster's copy
	rootMissing bool
}

// nodeFacts is what the agent needs from its Node.
type nodeFacts struct {
	uid     types.UID
	runtime Runtime
	note    string // why the runtime was assumed
}

func (a *Agent) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Healthy reports whether the cluster's inventory matches the last scan.
func (a *Agent) Healthy() bool { return a.healthy.Load() }

// Sync scans the tree and writes the inventory if its content changed. A
// full sync also re-reads the Node (its UID and runtime) and compares with
// the inventory in the cluster, so that a deleted or edited copy is
// repaired. It returns the scan (also on a write error, for its
// directories) and whether it wrote.
func (a *Agent) Sync(ctx context.Context, full bool) (ScanResult, bool, error) {
	a.Options.setDefaults()
	facts := a.node.Load()
	if full || facts == nil {
		f, err := a.readNode(ctx)
		if err != nil {
			return ScanResult{}, false, err
		}
		if facts == nil || *facts != *f {
			a.Log.Info("validating profiles for the node's container runtime", "runtime", f.runtime, "nodeUID", f.uid)
			if f.note != "" {
				a.Log.Info("warning: " + f.note)
			}
		}
		if facts != nil && facts.uid != f.uid {
			a.checkedLive = false // a new Node of the same name: a new owner
		}
		facts = f
		a.node.Store(f)
	}

	scan, err := Scanner{Root: a.Options.SeccompRoot, HostRoot: a.Options.HostRoot, MountedDirs: a.Options.MountedDirs, Runtime: facts.runtime}.Scan()
	if err != nil {
		return ScanResult{}, false, err
	}
	if scan.RootMissing != a.rootMissing {
		a.rootMissing = scan.RootMissing
		if scan.RootMissing {
			a.Log.Info("the seccomp root does not exist: the inventory is empty until it does", "seccompRoot", a.Options.SeccompRoot)
		}
	}
	status := statusOf(scan.Profiles, facts.runtime)
	digest := statusDigest(status)

	if full || !a.checkedLive {
		live := &v1alpha1.NodeSeccompInventory{}
		err := a.Client.Get(ctx, client.ObjectKey{Name: a.Options.NodeName}, live)
		switch {
		case apierrors.IsNotFound(err):
			a.written = ""
		case err != nil:
			return scan, false, fmt.Errorf("reading NodeSeccompInventory %s: %w", a.Options.NodeName, err)
		case !ownedBy(live, facts.uid):
			a.written = ""
		default:
			a.written = statusDigest(live.Status)
		}
		a.checkedLive = true
	}
	if digest == a.written {
		return scan, false, nil
	}

	status.ObservedTime = &metav1.Time{Time: a.now()}
	for i := range status.Conditions {
		// The status changed; the condition may not have, but the agent
		// keeps no history: the time of the scan that found the change.
		status.Conditions[i].LastTransitionTime = *status.ObservedTime
	}
	if err := a.apply(ctx, facts, status); err != nil {
		a.checkedLive = false // unknown what the cluster holds now
		return scan, false, err
	}
	a.written = digest
	a.Log.Info("inventory written", "profiles", status.ProfileCount, "invalid", status.InvalidCount, "runtime", status.Runtime)
	if omitted := status.Omitted(); omitted > 0 {
		a.Log.Info("warning: the inventory leaves files out", "omitted", omitted, "why", status.Conditions[0].Message)
	}
	for _, p := range status.Profiles {
		if !p.Valid {
			a.Log.V(1).Info("invalid profile", "path", p.Path, "reason", p.Reason)
		}
	}
	return scan, true, nil
}

func (a *Agent) readNode(ctx context.Context) (*nodeFacts, error) {
	node := &corev1.Node{}
	if err := a.Client.Get(ctx, client.ObjectKey{Name: a.Options.NodeName}, node); err != nil {
		return nil, fmt.Errorf("reading Node %s: %w", a.Options.NodeName, err)
	}
	rt, note := RuntimeFromVersion(node.Status.NodeInfo.ContainerRuntimeVersion)
	return &nodeFacts{uid: node.UID, runtime: rt, note: note}, nil
}

func ownedBy(inv *v1alpha1.NodeSeccompInventory, uid types.UID) bool {
	return slices.ContainsFunc(inv.OwnerReferences, func(ref metav1.OwnerReference) bool {
		return ref.Kind == "Node" && ref.UID == uid
	})
}

// statusOf is the status for a scan's entries, within the limits of
// bound.go: the counts cover every file found, the list and the Truncated
// condition say what is left out.
func statusOf(profiles []v1alpha1.ProfileStatus, rt Runtime) v1alpha1.NodeSeccompInventoryStatus {
	b := boundProfiles(profiles)
	st := v1alpha1.NodeSeccompInventoryStatus{
		Profiles:   b.profiles,
		Runtime:    string(rt),
		Conditions: []metav1.Condition{truncatedCondition(b, len(profiles))},
	}
	for _, p := range profiles {
		st.ProfileCount++
		if !p.Valid {
			st.InvalidCount++
		}
	}
	return st
}

// statusDigest identifies a status's content: everything but observedTime
// and the conditions' transition times.
func statusDigest(st v1alpha1.NodeSeccompInventoryStatus) string {
	st.ObservedTime = nil
	if len(st.Profiles) == 0 {
		st.Profiles = nil
	}
	st.Conditions = slices.Clone(st.Conditions)
	for i := range st.Conditions {
		st.Conditions[i].LastTransitionTime = metav1.Time{}
	}
	b, err := json.Marshal(st)
	if err != nil {
		return "" // cannot happen for this type; "" means "write"
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// apply writes the object (with its owner reference), then its status.
func (a *Agent) apply(ctx context.Context, facts *nodeFacts, status v1alpha1.NodeSeccompInventoryStatus) error {
	name := a.Options.NodeName
	gvk := v1alpha1.SchemeGroupVersion.WithKind("NodeSeccompInventory")
	obj := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{
			"name": name,
			"ownerReferences": []any{map[string]any{
				"apiVersion": "v1", "kind": "Node", "name": name, "uid": string(facts.uid),
			}},
		},
	}}
	obj.SetGroupVersionKind(gvk)
	opts := []client.ApplyOption{client.FieldOwner(FieldManager), client.ForceOwnership}
	if err := a.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), opts...); err != nil {
		return fmt.Errorf("applying NodeSeccompInventory %s: %w", name, err)
	}

	st, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&status)
	if err != nil {
		return err
	}
	withStatus := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": name},
		"status":   st,
	}}
	withStatus.SetGroupVersionKind(gvk)
	if err := a.Client.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(withStatus),
		client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying the status of NodeSeccompInventory %s: %w", name, err)
	}
	return nil
}

// RenewLease writes the heartbeat Lease (creating it if needed), owned by
// the Node so that it goes with it.
func (a *Agent) RenewLease(ctx context.Context) error {
	a.Options.setDefaults()
	facts := a.node.Load()
	if facts == nil {
		return errors.New("the Node has not been read yet")
	}
	node := a.Options.NodeName
	lease := coordinationv1ac.Lease(policy.LeaseName(node), a.Options.Namespace).
		WithOwnerReferences(metav1ac.OwnerReference().
			WithAPIVersion("v1").WithKind("Node").WithName(node).WithUID(facts.uid)).
		WithSpec(coordinationv1ac.LeaseSpec().
			WithHolderIdentity(node).
			WithLeaseDurationSeconds(int32(math.Ceil(a.Options.LeaseDuration.Seconds()))).
			WithRenewTime(metav1.NewMicroTime(a.now())))
	if err := a.Client.Apply(ctx, lease, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("renewing Lease %s/%s: %w", a.Options.Namespace, policy.LeaseName(node), err)
	}
	return nil
}
