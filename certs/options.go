// Package certs issues and rotates the webhook's own CA and serving
// certificate (--cert-mode=self-managed). They live in one Secret (ca.crt,
// ca.key, tls.crt, tls.key); the leader keeps it current and writes the CA
// bundle into the webhook configurations, and every replica serves the
// Secret's certificate straight from its informer cache, so a renewal needs
// no restart. Keys, templates and signing come from cert-manager's pki package.
package certs

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Defaults of Options.
const (
	DefaultValidity      = 90 * 24 * time.Hour
	DefaultRenewBefore   = 30 * 24 * time.Hour
	DefaultCAValidity    = 10 * 365 * 24 * time.Hour
	DefaultCARenewBefore = 365 * 24 * time.Hour
)

// The webhook configurations an install may have, the values of
// --webhook-configs.
const (
	ConfigMutating   = "mutating"
	ConfigValidating = "validating"
)

// caPropagation is how long the webhook configurations must have trusted a
// new CA before the serving certificate moves to it, so that every API
// server has seen the new caBundle first.
var caPropagation = 2 * time.Minute

// Options configure self-managed certificates. Zero durations take the
// defaults named on each field.
type Options struct {
	// Secret holds ca.crt, ca.key, tls.crt and tls.key. Required.
	Secret types.NamespacedName
	// DNSNames the serving certificate is valid for; entries that parse as
	// IP addresses become IP SANs. Required.
	DNSNames []string
	// WebhookConfigName names the MutatingWebhookConfiguration and the
	// ValidatingWebhookConfiguration whose every webhook gets the CA bundle. Required.
	WebhookConfigName string
	// WebhookConfigs lists the configurations of that name the install
	// has, which get the CA bundle: ConfigMutating, ConfigValidating.
	// Empty means both. A hybrid install has only the validating one.
	WebhookConfigs []string
	// Validity of the serving certificate. Default 90 days.
	Validity time.Duration
	// RenewBefore renews the serving certificate this long before it expires. Default 30 days.
	RenewBefore time.Duration
	// CAValidity of the CA. Default 10 years.
	CAValidity time.Duration
	// CARenewBefore replaces the CA this long before it expires. Default 1 year.
	CARenewBefore time.Duration
}

// SetDefaults fills in zero durations.
func (o *Options) SetDefaults() {
	for _, d := range []struct {
		field *time.Duration
		def   time.Duration
	}{
		{&o.Validity, DefaultValidity},
		{&o.RenewBefore, DefaultRenewBefore},
		{&o.CAValidity, DefaultCAValidity},
		{&o.CARenewBefore, DefaultCARenewBefore},
	} {
		if *d.field == 0 {
			*d.field = d.def
		}
	}
}

// Validate checks the options after SetDefaults; its messages name the
// command-line flags.
func (o *Options) Validate() error {
	var errs []error
	if o.Secret.Name == "" || o.Secret.Namespace == "" {
		errs = append(errs, errors.New("--cert-secret is required: the namespace/name of the Secret that holds the certificates"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(o.Secret.Name) {
			errs = append(errs, fmt.Errorf("--cert-secret name %q is not a valid Secret name: %s", o.Secret.Name, msg))
		}
		for _, msg := range validation.IsDNS1123Label(o.Secret.Namespace) {
			errs = append(errs, fmt.Errorf("--cert-secret namespace %q is not a valid namespace: %s", o.Secret.Namespace, msg))
		}
	}
	if len(o.DNSNames) == 0 {
		errs = append(errs, errors.New("--cert-dns-names is required: the names the API server dials, e.g. <service>.<namespace>.svc"))
	}
	dnsNames, _ := splitNames(o.DNSNames)
	for _, n := range dnsNames {
		if msgs := validation.IsDNS1123Subdomain(strings.TrimPrefix(n, "*.")); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("--cert-dns-names entry %q is neither an IP address nor a DNS name: %s", n, strings.Join(msgs, "; ")))
		}
	}
	if o.WebhookConfigName == "" {
		errs = append(errs, errors.New("--webhook-config-name is required: the name of the Mutating and Validating webhook configurations to write the CA bundle into"))
	}
	for _, c := range o.WebhookConfigs {
		if c != ConfigMutating && c != ConfigValidating {
			errs = append(errs, fmt.Errorf("--webhook-configs entry %q is not a webhook configuration: use %s, %s or both", c, ConfigMutating, ConfigValidating))
		}
	}
	if o.Validity <= 0 || o.RenewBefore <= 0 || o.RenewBefore >= o.Validity {
		errs = append(errs, fmt.Errorf("--cert-renew-before (%s) must be positive and shorter than --cert-validity (%s)", o.RenewBefore, o.Validity))
	}
	if o.CARenewBefore <= 0 || o.CARenewBefore >= o.CAValidity {
		errs = append(errs, fmt.Errorf("the CA's renew-before (%s) must be positive and shorter than its validity (%s)", o.CARenewBefore, o.CAValidity))
	}
	return errors.Join(errs...)
}

// hasConfig reports whether the install has the configuration of kind
// (ConfigMutating or ConfigValidating).
func (o *Options) hasConfig(kind string) bool {
	return len(o.WebhookConfigs) == 0 || slices.Contains(o.WebhookConfigs, kind)
}
