package reporter

// The reporter: a leader-elected loop that evaluates the cluster with
// cli.Audit whenever what it reads changes (debounced), and writes the
// reports and the policy's ladder status. It runs in its own Deployment,
// never on the admission path: its informers hold every pod and workload
// of the cluster, which the webhook must not.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/cli"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// Reporter evaluates the cluster and writes the reports. It is a
// manager.Runnable that needs leader election: one replica writes.
type Reporter struct {
	// Client writes the reports and the policy status.
	Client client.Client
	// Reader reads the cluster (the manager's cache).
	Reader client.Reader
	// Cache is where the reporter registers its event handlers; nil in
	// tests that call Sync themselves.
	Cache cache.Informers
	Opts  Options
	Clock clock.WithTicker

	trigger chan struct{}
	status  statusWriter
	// rearmed, when set (tests), is called each time a change restarts
	// the quiet period.
	rearmed func()
}

// New returns a reporter; opts must be valid (Options.Validate).
func New(c client.Client, reader client.Reader, informers cache.Informers, opts Options) *Reporter {
	r := &Reporter{Client: c, Reader: reader, Cache: informers, Opts: opts, Clock: clock.RealClock{}, trigger: make(chan struct{}, 1)}
	r.status = statusWriter{interval: opts.StatusInterval, offers: make(chan *v1alpha1.LadderStatus, 1)}
	return r
}

// Notify asks for a rescan; it never blocks.
func (r *Reporter) Notify() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Start registers the event handlers, waits for the caches, and rescans on
// every relevant change (debounced) and every Opts.Resync.
func (r *Reporter) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("reporter")
	ctx = ctrl.LoggerInto(ctx, log)
	if err := r.watch(ctx); err != nil {
		return err
	}
	if !r.Cache.WaitForCacheSync(ctx) {
		return errors.New("the reporter's caches did not sync")
	}
	log.Info("reporting", "format", r.Opts.Format, "debounce", r.Opts.Debounce, "resync", r.Opts.Resync)
	go r.status.run(ctx, r.Client, r.Clock)
	r.Notify()
	return r.loop(ctx, r.Sync)
}

// watched lists what the audit reads: a change to any of them can change a
// report.
func watched() []client.Object {
	objs := []client.Object{&corev1.Namespace{}, &corev1.Node{}, &v1alpha1.ClusterSeccompPolicy{}, &v1alpha1.NodeSeccompInventory{}, &coordinationv1.Lease{}}
	for _, k := range policy.Kinds() {
		objs = append(objs, k.New().(client.Object))
	}
	return objs
}

func (r *Reporter) watch(ctx context.Context) error {
	handler := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { r.Notify() },
		DeleteFunc: func(any) { r.Notify() },
		UpdateFunc: func(oldObj, newObj any) {
			if Relevant(oldObj, newObj) {
				r.Notify()
			}
		},
	}
	for _, obj := range watched() {
		inf, err := r.Cache.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("watching %T: %w", obj, err)
		}
		if _, err := inf.AddEventHandler(handler); err != nil {
			return fmt.Errorf("watching %T: %w", obj, err)
		}
	}
	return nil
}

// Relevant reports whether an update can change a report. Status-only
// churn is not: pods' container statuses, nodes' heartbeats, Lease
// renewals, the policy's own status (which the reporter writes).
func Relevant(oldObj, newObj any) bool {
	o, ok1 := oldObj.(client.Object)
	n, ok2 := newObj.(client.Object)
	if !ok1 || !ok2 {
		return true
	}
	if o.GetResourceVersion() == n.GetResourceVersion() {
		return false // an informer resync
	}
	metaChanged := o.GetGeneration() != n.GetGeneration() ||
		!equality.Semantic.DeepEqual(o.GetLabels(), n.GetLabels()) ||
		!equality.Semantic.DeepEqual(o.GetAnnotations(), n.GetAnnotations()) ||
		!equality.Semantic.DeepEqual(o.GetOwnerReferences(), n.GetOwnerReferences())
	switch n := n.(type) {
	case *corev1.Pod:
		op := o.(*corev1.Pod)
		return metaChanged || op.Spec.NodeName != n.Spec.NodeName || op.Status.Phase != n.Status.Phase
	case *corev1.Node:
		on := o.(*corev1.Node)
		return metaChanged || !equality.Semantic.DeepEqual(on.Spec.Taints, n.Spec.Taints) || on.Spec.Unschedulable != n.Spec.Unschedulable
	case *coordinationv1.Lease:
		return false // renewals; a Lease that stops is seen at the next resync
	case *v1alpha1.NodeSeccompInventory:
		return true // the agent writes only when the node's profiles change
	}
	return metaChanged
}

// loop waits for a notification, lets the cluster settle for Debounce
// (at most MaxWait after the first notification), and calls sync.
func (r *Reporter) loop(ctx context.Context, sync func(context.Context) error) error {
	log := ctrl.LoggerFrom(ctx)
	resync := r.Clock.NewTicker(r.Opts.Resync)
	defer resync.Stop()
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.trigger:
		case <-resync.C():
		case <-retry:
		}
		retry = nil
		deadline := r.Clock.Now().Add(r.Opts.MaxWait)
		timer := r.Clock.NewTimer(r.Opts.Debounce)
	settle:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return nil
			case <-r.trigger:
				left := deadline.Sub(r.Clock.Now())
				if left <= 0 {
					timer.Stop()
					break settle // changes kept coming until MaxWait
				}
				timer.Stop()
				timer = r.Clock.NewTimer(min(r.Opts.Debounce, left))
				if r.rearmed != nil {
					r.rearmed()
				}
			case <-timer.C():
				break settle
			}
		}
		if err := sync(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Error(err, "reporting failed; retrying", "in", r.Opts.RetryAfter)
			retry = r.Clock.After(r.Opts.RetryAfter)
		}
	}
}

// Sync evaluates the cluster once and writes what changed.
func (r *Reporter) Sync(ctx context.Context) error {
	start := time.Now()
	err := r.sync(ctx)
	scanDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		scans.WithLabelValues("error").Inc()
		return err
	}
	scans.WithLabelValues("ok").Inc()
	return nil
}

func (r *Reporter) sync(ctx context.Context) error {
	now := r.Clock.Now()
	a, err := cli.Audit(ctx, r.Reader, cli.AuditOptions{ReleaseNamespace: r.Opts.ReleaseNamespace, Now: now})
	if err != nil {
		return fmt.Errorf("evaluating the cluster: %w", err)
	}
	set := Build(a, BuildOptions{MaxResults: r.Opts.MaxResults, Excluded: r.Opts.excluded()})
	objectsEvaluated.Set(float64(a.Summary.Objects))
	if err := r.write(ctx, set, metav1.NewTime(now)); err != nil {
		return err
	}
	ladder := set.Ladder
	ladder.ObservedTime = metav1.NewTime(now.UTC().Truncate(time.Second))
	r.status.offer(&ladder)
	return nil
}

// write creates, updates and deletes reports so that exactly set's exist,
// rewriting only those whose content changed.
func (r *Reporter) write(ctx context.Context, set *Set, now metav1.Time) error {
	nsList, clusterList := r.Opts.Format.lists()
	for _, l := range []client.ObjectList{nsList, clusterList} {
		if err := r.Reader.List(ctx, l, client.MatchingLabels{ManagedByLabel: Source}); err != nil {
			return fmt.Errorf("listing the reports: %w%s", err, crdHint(err, r.Opts.Format))
		}
	}
	existing := map[types.NamespacedName]client.Object{}
	for _, l := range []client.ObjectList{nsList, clusterList} {
		items, err := meta.ExtractList(l)
		if err != nil {
			return err
		}
		for _, item := range items {
			obj := item.(client.Object)
			existing[client.ObjectKeyFromObject(obj)] = obj
		}
	}
	var errs []error
	for _, rep := range append(set.Namespaces, set.Cluster) {
		desired, err := r.Opts.Format.object(&rep, set.Policy, r.Opts.MaxResults, now)
		if err != nil {
			return err
		}
		key := client.ObjectKeyFromObject(desired)
		old, found := existing[key]
		delete(existing, key)
		switch {
		case !found:
			if err := r.Client.Create(ctx, desired); err != nil {
				if apierrors.IsAlreadyExists(err) {
					r.Notify() // the cache has not seen it yet
					continue
				}
				errs = append(errs, fmt.Errorf("creating report %s: %w%s", key, err, crdHint(err, r.Opts.Format)))
				continue
			}
			reportWrites.WithLabelValues("create").Inc()
		case old.GetAnnotations()[ContentAnnotation] != desired.GetAnnotations()[ContentAnnotation]:
			desired.SetResourceVersion(old.GetResourceVersion())
			if err := r.Client.Update(ctx, desired); err != nil {
				errs = append(errs, fmt.Errorf("updating report %s: %w", key, err))
				continue
			}
			reportWrites.WithLabelValues("update").Inc()
		}
	}
	for key, obj := range existing {
		if err := r.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting report %s, which has nothing left to report: %w", key, err))
			continue
		}
		reportWrites.WithLabelValues("delete").Inc()
	}
	return errors.Join(errs...)
}

// crdHint says what to do when the report CRDs are not installed.
func crdHint(err error, f Format) string {
	if !meta.IsNoMatchError(err) && !apierrors.IsNotFound(err) {
		return ""
	}
	crds := "reports.openreports.io and clusterreports.openreports.io"
	if f == FormatWGPolicy {
		crds = "policyreports.wgpolicyk8s.io and clusterpolicyreports.wgpolicyk8s.io"
	}
	return fmt.Sprintf(" (are the CRDs %s installed? `kubectl get crd %s`; the chart installs them with reporter.installCRDs=true, see docs/install.md)", crds, crdNames(f))
}

func crdNames(f Format) string {
	if f == FormatWGPolicy {
		return "policyreports.wgpolicyk8s.io clusterpolicyreports.wgpolicyk8s.io"
	}
	return "reports.openreports.io clusterreports.openreports.io"
}

// statusWriter writes the ladder into the ClusterSeccompPolicy's status,
// at most once per interval and only when it changed.
type statusWriter struct {
	interval time.Duration
	offers   chan *v1alpha1.LadderStatus
}

func (s *statusWriter) offer(l *v1alpha1.LadderStatus) {
	if s.offers == nil {
		return
	}
	select {
	case s.offers <- l:
	default:
		select { // replace the one waiting
		case <-s.offers:
		default:
		}
		select {
		case s.offers <- l:
		default:
		}
	}
}

func (s *statusWriter) run(ctx context.Context, c client.Client, clk clock.Clock) {
	log := ctrl.LoggerFrom(ctx)
	var (
		written *v1alpha1.LadderStatus
		pending *v1alpha1.LadderStatus
		last    time.Time
		wait    <-chan time.Time
	)
	for {
		select {
		case <-ctx.Done():
			return
		case l := <-s.offers:
			pending = l
		case <-wait:
			wait = nil
		}
		if pending == nil || (written != nil && sameLadder(written, pending)) {
			pending = nil
			continue
		}
		if d := s.interval - clk.Since(last); d > 0 {
			if wait == nil {
				wait = clk.After(d)
			}
			continue
		}
		last = clk.Now()
		if err := patchLadder(ctx, c, pending); err != nil {
			log.Error(err, "writing the ladder into ClusterSeccompPolicy status; retrying", "name", v1alpha1.DefaultPolicyName, "in", s.interval)
			wait = clk.After(s.interval)
			continue
		}
		written, pending = pending, nil
	}
}

// sameLadder compares the counts, not the time.
func sameLadder(a, b *v1alpha1.LadderStatus) bool {
	return a.Disabled == b.Disabled && a.Audit == b.Audit && a.Warn == b.Warn && a.Enforce == b.Enforce
}

// patchLadder merge-patches status.ladder of the policy "default"; nothing
// when there is no such policy (the built-in defaults apply).
func patchLadder(ctx context.Context, c client.Client, l *v1alpha1.LadderStatus) error {
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"ladder": l}})
	if err != nil {
		return err
	}
	csp := &v1alpha1.ClusterSeccompPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultPolicyName}}
	err = c.Status().Patch(ctx, csp, client.RawPatch(types.MergePatchType, patch))
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
