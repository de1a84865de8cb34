package certs

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CacheByObject restricts the cache to the one Secret and the two webhook
// configurations: seccomp-guard never lists other Secrets.
func CacheByObject(opts Options) map[client.Object]cache.ByObject {
	byName := func(name string) fields.Selector { return fields.OneTermEqualSelector("metadata.name", name) }
	return map[client.Object]cache.ByObject{
		&corev1.Secret{}: {
			Namespaces: map[string]cache.Config{opts.Secret.Namespace: {}},
			Field:      byName(opts.Secret.Name),
		},
		&admissionregistrationv1.MutatingWebhookConfiguration{}:   {Field: byName(opts.WebhookConfigName)},
		&admissionregistrationv1.ValidatingWebhookConfiguration{}: {Field: byName(opts.WebhookConfigName)},
	}
}

// Source serves the Secret's tls.crt and tls.key on every replica. It is fed
// by the Secret's informer, so a renewed certificate is served as soon as
// the cache sees it, with no restart and no wait for a mounted volume.
type Source struct {
	secret  types.NamespacedName
	log     logr.Logger
	current atomic.Pointer[tls.Certificate]
}

// NewSource watches the Secret through informers (the manager's cache).
func NewSource(ctx context.Context, informers cache.Informers, secret types.NamespacedName, log logr.Logger) (*Source, error) {
	s := &Source{secret: secret, log: log}
	informer, err := informers.GetInformer(ctx, &corev1.Secret{}, cache.BlockUntilSynced(false))
	if err != nil {
		return nil, fmt.Errorf("watching Secret %s: %w", secret, err)
	}
	if _, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    s.load,
		UpdateFunc: func(_, obj any) { s.load(obj) },
		// On deletion the current certificate stays: the API server trusts it
		// until the leader writes a new CA bundle along with a new Secret.
		DeleteFunc: func(any) {
			s.log.Info("the certificate Secret was deleted; serving the last certificate until it is back", "secret", secret.String())
		},
	}); err != nil {
		return nil, fmt.Errorf("watching Secret %s: %w", secret, err)
	}
	return s, nil
}

func (s *Source) load(obj any) {
	secret, ok := obj.(*corev1.Secret)
	if !ok || secret.Namespace != s.secret.Namespace || secret.Name != s.secret.Name {
		return
	}
	if len(secret.Data[TLSCertKey]) == 0 {
		return // the leader has not issued it yet
	}
	pair, err := servingKeyPair(secret.Data[TLSCertKey], secret.Data[TLSKeyKey])
	if err != nil {
		s.log.Error(err, "the Secret's tls.crt and tls.key do not form a key pair; serving the last good certificate", "secret", s.secret.String())
		return
	}
	if prev := s.current.Load(); prev != nil && prev.Leaf.SerialNumber.Cmp(pair.Leaf.SerialNumber) == 0 {
		return
	}
	s.current.Store(pair)
	s.log.Info("serving certificate loaded", "secret", s.secret.String(), "serial", pair.Leaf.SerialNumber.Text(16), "notAfter", pair.Leaf.NotAfter)
}

// GetCertificate is tls.Config's GetCertificate.
func (s *Source) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := s.current.Load(); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("no serving certificate yet: waiting for Secret %s, which the leader creates", s.secret)
}

// Loaded is a readiness check: ready once a certificate is served.
func (s *Source) Loaded(*http.Request) error {
	if s.current.Load() == nil {
		return errors.New("no serving certificate loaded from Secret " + s.secret.String() + " yet")
	}
	return nil
}
