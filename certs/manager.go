package certs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Bounds of the manager's loop.
const (
	// resync re-checks everything at least this often.
	resync = 10 * time.Minute
	// minRetry and maxRetry bound the back-off after an error.
	minRetry = time.Second
	maxRetry = time.Minute
)

// Manager keeps the Secret's CA and serving certificate current and the CA
// bundle of both webhook configurations equal to the Secret's ca.crt. It
// runs on the elected leader only.
type Manager struct {
	// Client reads the Secret and the configurations (from the cache) and writes them.
	Client client.Client
	// Informers of the Secret and the configurations: changes trigger a check.
	Informers cache.Informers
	Options   Options
	// Clock defaults to the real clock.
	Clock clock.Clock
	Log   logr.Logger
}

var _ manager.LeaderElectionRunnable = &Manager{}

// NeedLeaderElection makes the manager one writer among the replicas.
func (m *Manager) NeedLeaderElection() bool { return true }

// Start checks on start, on every change to the Secret or the
// configurations, when a renewal falls due, and every resync, until ctx ends.
func (m *Manager) Start(ctx context.Context) error {
	if m.Clock == nil {
		m.Clock = clock.RealClock{}
	}
	changed := make(chan struct{}, 1)
	poke := func(any) {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	handler := toolscache.ResourceEventHandlerFuncs{
		AddFunc: poke, UpdateFunc: func(_, o any) { poke(o) }, DeleteFunc: poke,
	}
	for _, obj := range []client.Object{&corev1.Secret{}, &admissionregistrationv1.MutatingWebhookConfiguration{}, &admissionregistrationv1.ValidatingWebhookConfiguration{}} {
		informer, err := m.Informers.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("watching %T for self-managed certificates: %w", obj, err)
		}
		reg, err := informer.AddEventHandler(handler)
		if err != nil {
			return fmt.Errorf("watching %T for self-managed certificates: %w", obj, err)
		}
		defer func() { _ = informer.RemoveEventHandler(reg) }()
	}

	retry := minRetry
	for {
		next, err := m.Reconcile(ctx)
		var wait time.Duration
		switch {
		case err == nil:
			retry = minRetry
			wait = min(max(next.Sub(m.Clock.Now()), 0), resync)
		case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err):
			// The cache lags behind our own write: look again soon.
			m.Log.V(1).Info("certificates changed while updating them; checking again", "reason", err.Error())
			wait = minRetry
		default:
			m.Log.Error(err, "self-managed certificates", "retryIn", retry)
			wait, retry = retry, min(2*retry, maxRetry)
		}
		timer := m.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-changed:
			timer.Stop()
		case <-timer.C():
		}
	}
}

// Reconcile brings the Secret and the configurations up to date once and
// returns when to look again.
func (m *Manager) Reconcile(ctx context.Context) (time.Time, error) {
	if m.Clock == nil {
		m.Clock = clock.RealClock{}
	}
	opts := &m.Options
	secret := &corev1.Secret{}
	exists := true
	if err := m.Client.Get(ctx, opts.Secret, secret); apierrors.IsNotFound(err) {
		exists = false
	} else if err != nil {
		return time.Time{}, fmt.Errorf("reading Secret %s: %w", opts.Secret, err)
	}
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{}
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	var missing []error
	for _, cfg := range []client.Object{mutating, validating} {
		if err := m.Client.Get(ctx, client.ObjectKey{Name: opts.WebhookConfigName}, cfg); apierrors.IsNotFound(err) {
			missing = append(missing, fmt.Errorf("%s %q does not exist: install it (the chart does) or fix --webhook-config-name", kindOf(cfg), opts.WebhookConfigName))
		} else if err != nil {
			return time.Time{}, fmt.Errorf("reading %s %q: %w", kindOf(cfg), opts.WebhookConfigName, err)
		}
	}
	bundle := secret.Data[CACertKey]
	configsTrustCA := len(missing) == 0 && len(bundle) > 0 && hasBundle(mutating, validating, bundle)

	now := m.Clock.Now()
	p, err := planSecret(secret.Data, opts, now, configsTrustCA)
	if err != nil {
		return time.Time{}, err
	}
	if p.data != nil {
		if err := m.writeSecret(ctx, secret, exists, p.data); err != nil {
			return time.Time{}, err
		}
		m.Log.Info("issued certificates", "secret", opts.Secret.String(), "reasons", p.reasons)
		bundle = p.data[CACertKey]
	}
	if len(missing) > 0 {
		return p.next, errors.Join(missing...)
	}
	if err := m.patchCABundle(ctx, mutating, validating, bundle); err != nil {
		return time.Time{}, err
	}
	return p.next, nil
}

func (m *Manager) writeSecret(ctx context.Context, secret *corev1.Secret, exists bool, data map[string][]byte) error {
	if !exists {
		secret = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name: m.Options.Secret.Name, Namespace: m.Options.Secret.Namespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "seccomp-guard"},
			},
			Type: corev1.SecretTypeTLS,
			Data: data,
		}
		if err := m.Client.Create(ctx, secret); err != nil {
			return fmt.Errorf("creating Secret %s: %w", m.Options.Secret, err)
		}
		return nil
	}
	if secret.Type != corev1.SecretTypeTLS && secret.Type != corev1.SecretTypeOpaque && secret.Type != "" {
		return fmt.Errorf("the Secret %s has type %s: delete it so that seccomp-guard creates it as %s, or point --cert-secret elsewhere", m.Options.Secret, secret.Type, corev1.SecretTypeTLS)
	}
	secret = secret.DeepCopy()
	if secret.Data == nil {
		secret.Data = map[string][]byte{}
	}
	maps.Copy(secret.Data, data)
	// An Update carries the resourceVersion we read: a concurrent writer makes it fail, not lose data.
	if err := m.Client.Update(ctx, secret); err != nil {
		return fmt.Errorf("updating Secret %s: %w", m.Options.Secret, err)
	}
	return nil
}

// hasBundle reports whether every webhook of both configurations trusts exactly bundle.
func hasBundle(mutating *admissionregistrationv1.MutatingWebhookConfiguration, validating *admissionregistrationv1.ValidatingWebhookConfiguration, bundle []byte) bool {
	for _, w := range mutating.Webhooks {
		if !bytes.Equal(w.ClientConfig.CABundle, bundle) {
			return false
		}
	}
	for _, w := range validating.Webhooks {
		if !bytes.Equal(w.ClientConfig.CABundle, bundle) {
			return false
		}
	}
	return true
}

// patchCABundle sets caBundle on every webhook that lacks it, with a
// strategic merge patch that touches only caBundle, guarded by the
// resourceVersion read.
func (m *Manager) patchCABundle(ctx context.Context, mutating *admissionregistrationv1.MutatingWebhookConfiguration, validating *admissionregistrationv1.ValidatingWebhookConfiguration, bundle []byte) error {
	patch := func(obj, orig client.Object, changed bool) error {
		if !changed {
			return nil
		}
		if err := m.Client.Patch(ctx, obj, client.StrategicMergeFrom(orig, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("writing the CA bundle into %s %q: %w", kindOf(obj), obj.GetName(), err)
		}
		m.Log.Info("wrote the CA bundle", "kind", kindOf(obj), "name", obj.GetName())
		return nil
	}
	origM, changed := mutating.DeepCopy(), false
	for i := range mutating.Webhooks {
		if !bytes.Equal(mutating.Webhooks[i].ClientConfig.CABundle, bundle) {
			mutating.Webhooks[i].ClientConfig.CABundle, changed = bundle, true
		}
	}
	if err := patch(mutating, origM, changed); err != nil {
		return err
	}
	origV, changed := validating.DeepCopy(), false
	for i := range validating.Webhooks {
		if !bytes.Equal(validating.Webhooks[i].ClientConfig.CABundle, bundle) {
			validating.Webhooks[i].ClientConfig.CABundle, changed = bundle, true
		}
	}
	return patch(validating, origV, changed)
}

func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		return "MutatingWebhookConfiguration"
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		return "ValidatingWebhookConfiguration"
	}
	return fmt.Sprintf("%T", obj)
}
