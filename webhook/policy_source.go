package webhook

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// ConditionReady is the ClusterSeccompPolicy condition the webhook maintains.
const ConditionReady = "Ready"

// PolicyStore holds the compiled policy the webhook serves. The request path
// reads it with one atomic load; the reconciler replaces it when the
// ClusterSeccompPolicy "default" changes.
type PolicyStore struct {
	current atomic.Pointer[policy.Policy]
}

var _ PolicySource = (*PolicyStore)(nil)

// NewPolicyStore starts with the built-in defaults.
func NewPolicyStore() *PolicyStore {
	s := &PolicyStore{}
	s.current.Store(policy.DefaultPolicy())
	return s
}

// Current implements PolicySource.
func (s *PolicyStore) Current() *policy.Policy { return s.current.Load() }

// Set replaces the served policy.
func (s *PolicyStore) Set(p *policy.Policy) { s.current.Store(p) }

// PolicyReconciler compiles the ClusterSeccompPolicy "default" into the
// store on every replica, and on the leader writes which generation is
// served into its status.
type PolicyReconciler struct {
	Client client.Client
	Store  *PolicyStore
	// Leader says whether this replica writes the status now; another
	// replica's reconcile only serves the policy. Nil: always (no leader
	// election).
	Leader Leader
	// Elections, when set, delivers an event each time this replica becomes
	// the leader (ElectedEvent), so that the new leader writes the status at
	// once rather than on the next change of the policy: the previous
	// leader may have lost the Lease before it wrote it.
	Elections <-chan event.GenericEvent
	// Fallback is served while there is no ClusterSeccompPolicy "default"
	// (FallbackPolicy); nil means the built-in defaults.
	Fallback *policy.Policy
}

// FallbackPolicy is the policy served without a ClusterSeccompPolicy
// "default": the built-in defaults with the installed mode's defaultMode
// (--fallback-default-mode), so that deleting the policy object does not
// stop enforcement in a cluster-wide install. An empty mode is the built-in
// default, v1alpha1.DefaultMode.
func FallbackPolicy(mode v1alpha1.Mode) (*policy.Policy, error) {
	if mode == "" {
		return policy.DefaultPolicy(), nil
	}
	if !mode.IsValid() {
		return nil, fmt.Errorf("--fallback-default-mode %q is not a mode: use one of %v", mode, v1alpha1.Modes())
	}
	p, _ := policy.Compile(&v1alpha1.ClusterSeccompPolicy{Spec: v1alpha1.ClusterSeccompPolicySpec{DefaultMode: mode}})
	return p, nil
}

// fallback is what to serve without a ClusterSeccompPolicy "default".
func (r *PolicyReconciler) fallback() *policy.Policy {
	if r.Fallback != nil {
		return r.Fallback
	}
	return policy.DefaultPolicy()
}

// SetupWithManager registers the reconciler. It runs on every replica: each
// one serves requests and needs the policy.
func (r *PolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Named("clusterseccomppolicy").
		For(&v1alpha1.ClusterSeccompPolicy{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetName() == v1alpha1.DefaultPolicyName
		}), predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() || !servingCurrent(e.ObjectNew)
		}})).
		WithOptions(controller.Options{NeedLeaderElection: new(false), MaxConcurrentReconciles: 1})
	if r.Elections != nil {
		b = b.WatchesRawSource(source.Channel(r.Elections, &handler.EnqueueRequestForObject{}))
	}
	return b.Complete(r)
}

// ElectedEvent is what to send on PolicyReconciler.Elections when this
// replica becomes the leader: a reconcile of the ClusterSeccompPolicy
// "default" (of the fallback when there is none).
func ElectedEvent() event.GenericEvent {
	return event.GenericEvent{Object: &v1alpha1.ClusterSeccompPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultPolicyName}}}
}

// leading says whether this replica writes the status.
func (r *PolicyReconciler) leading() bool {
	return r.Leader == nil || r.Leader.Leading()
}

func servingCurrent(o client.Object) bool {
	p, ok := o.(*v1alpha1.ClusterSeccompPolicy)
	return ok && p.Status.ObservedGeneration == p.Generation
}

// Loaded reports whether the store serves what the cache holds: the
// generation of the ClusterSeccompPolicy "default", or the built-in defaults
// when there is none.
func (s *PolicyStore) Loaded(ctx context.Context, c client.Reader) error {
	obj := &v1alpha1.ClusterSeccompPolicy{}
	err := c.Get(ctx, client.ObjectKey{Name: v1alpha1.DefaultPolicyName}, obj)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur := s.Current(); cur.Name != obj.Name || cur.Generation != obj.Generation {
		return fmt.Errorf("ClusterSeccompPolicy %q generation %d is not loaded yet", obj.Name, obj.Generation)
	}
	return nil
}

// Reconcile implements reconcile.Reconciler.
func (r *PolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	obj := &v1alpha1.ClusterSeccompPolicy{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: v1alpha1.DefaultPolicyName}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			fb := r.fallback()
			r.Store.Set(fb)
			logger.Info("no ClusterSeccompPolicy \"default\": serving the built-in defaults with the installed mode's defaultMode (--fallback-default-mode); recreate the policy (helm upgrade) to configure it",
				"defaultMode", fb.DefaultMode)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	compiled, errs := policy.Compile(obj)
	r.Store.Set(compiled)
	logger.Info("serving ClusterSeccompPolicy", "generation", obj.Generation, "problems", len(errs))

	if !r.leading() {
		return ctrl.Result{}, nil // the leader writes the status
	}
	cond := metav1.Condition{
		Type:               ConditionReady,
		Status:             metav1.ConditionTrue,
		Reason:             "Serving",
		Message:            fmt.Sprintf("the webhook serves generation %d", obj.Generation),
		ObservedGeneration: obj.Generation,
	}
	if len(errs) > 0 {
		msgs := make([]string, 0, len(errs))
		for _, e := range errs {
			msgs = append(msgs, e.Error())
		}
		cond.Status = metav1.ConditionFalse
		cond.Reason = "InvalidSpec"
		cond.Message = fmt.Sprintf("generation %d is served, but it has problems (broken globs match nothing; invalid values fall back to their defaults); fix them: %s", obj.Generation, strings.Join(msgs, "; "))
	}
	patch := client.MergeFrom(obj.DeepCopy())
	generationChanged := obj.Status.ObservedGeneration != obj.Generation
	obj.Status.ObservedGeneration = obj.Generation
	if changed := meta.SetStatusCondition(&obj.Status.Conditions, cond); !changed && !generationChanged {
		return ctrl.Result{}, nil
	}
	if err := r.Client.Status().Patch(ctx, obj, patch); err != nil {
		return ctrl.Result{}, fmt.Errorf("writing status of ClusterSeccompPolicy %q: %w", obj.Name, err)
	}
	return ctrl.Result{}, nil
}
