package main

import (
	"errors"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/types"

	"github.com/seccomp-guard/seccomp-guard/certs"
)

// Values of --cert-mode.
const (
	certModeFiles       = "files"
	certModeSelfManaged = "self-managed"
)

// certFlags are the webhook's certificate flags.
type certFlags struct {
	mode   string
	secret string
	opts   certs.Options
}

// selfManagedFlags are only meaningful with --cert-mode=self-managed.
var selfManagedFlags = []string{"cert-secret", "cert-dns-names", "webhook-config-name", "webhook-configs", "cert-validity", "cert-renew-before"}

func (c *certFlags) bind(f *pflag.FlagSet) {
	f.StringVar(&c.mode, "cert-mode", certModeFiles, `Where the serving certificate comes from: "files" (tls.crt and tls.key in --cert-dir) or "self-managed" (seccomp-guard issues, rotates and publishes its own CA and certificate).`)
	f.StringVar(&c.secret, "cert-secret", "", "Self-managed: [namespace/]name of the Secret holding ca.crt, ca.key, tls.crt and tls.key; the namespace defaults to --inventory-namespace.")
	f.StringSliceVar(&c.opts.DNSNames, "cert-dns-names", nil, "Self-managed: names the serving certificate is valid for, e.g. svc.ns.svc,svc.ns.svc.cluster.local; IP addresses become IP SANs.")
	f.StringVar(&c.opts.WebhookConfigName, "webhook-config-name", "", "Self-managed: name of the Mutating and Validating webhook configurations whose caBundle is kept equal to the CA.")
	f.StringSliceVar(&c.opts.WebhookConfigs, "webhook-configs", []string{certs.ConfigMutating, certs.ConfigValidating},
		"Self-managed: which webhook configurations of --webhook-config-name the install has and get the caBundle: mutating, validating (a hybrid install has only validating).")
	f.DurationVar(&c.opts.Validity, "cert-validity", certs.DefaultValidity, "Self-managed: lifetime of the serving certificate (the CA lives 10 years).")
	f.DurationVar(&c.opts.RenewBefore, "cert-renew-before", certs.DefaultRenewBefore, "Self-managed: renew the serving certificate this long before it expires.")
}

// options checks the combination of flags and returns the self-managed
// options, or nil in files mode. Errors are usage errors.
func (c *certFlags) options(f *pflag.FlagSet, defaultNamespace string) (*certs.Options, error) {
	switch c.mode {
	case certModeFiles:
		for _, name := range selfManagedFlags {
			if f.Changed(name) {
				return nil, newUsageError("--%s needs --cert-mode=self-managed (the certificate now comes from --cert-dir)", name)
			}
		}
		return nil, nil
	case certModeSelfManaged:
	default:
		return nil, newUsageError("--cert-mode %q is not supported: use %s or %s", c.mode, certModeFiles, certModeSelfManaged)
	}
	if f.Changed("cert-dir") {
		return nil, newUsageError("--cert-dir is not used with --cert-mode=self-managed: the certificate comes from --cert-secret; drop one of them")
	}
	opts := c.opts
	ns, name, found := strings.Cut(c.secret, "/")
	if !found {
		ns, name = defaultNamespace, c.secret
	}
	if found && (ns == "" || name == "" || strings.Contains(name, "/")) {
		return nil, newUsageError("--cert-secret %q must be name or namespace/name", c.secret)
	}
	opts.Secret = types.NamespacedName{Namespace: ns, Name: name}
	opts.SetDefaults()
	if err := opts.Validate(); err != nil {
		return nil, usageError{err: errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))}
	}
	return &opts, nil
}
