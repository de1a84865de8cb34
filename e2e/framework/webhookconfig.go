package framework

import (
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/native"
	"github.com/seccomp-guard/seccomp-guard/policy"
	"github.com/seccomp-guard/seccomp-guard/webhook"
)

// WebhookConfigName names both webhook configurations.
const WebhookConfigName = "seccomp-guard"

// Webhook names; the API server prefixes audit annotation keys with them.
const (
	MutatingWebhookName   = "mutate.seccomp-guard.io"
	ValidatingWebhookName = "validate.seccomp-guard.io"
)

// WebhookRules are the resources and operations both webhooks receive:
// webhook.Rules, from which the chart's rules are generated too.
func WebhookRules() []admissionregistrationv1.RuleWithOperations { return webhook.Rules() }

// namespaceSelector is the chart's opt-in selector: every namespace with the
// mode label, whatever its value (a typo reaches the engine, which enforces
// it), except those labelled disabled and the system namespaces
// (kube-system, kube-node-lease and the release namespace are always
// excluded).
func namespaceSelector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: policy.ModeLabel, Operator: metav1.LabelSelectorOpExists},
		{Key: policy.ModeLabel, Operator: metav1.LabelSelectorOpNotIn, Values: []string{string(v1alpha1.ModeDisabled)}},
		{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"kube-system", "kube-node-lease", v1alpha1.DefaultReleaseNamespace}},
	}}
}

// InstallWebhookConfigs registers the mutating and validating webhooks,
// pointing at w, both failing closed so that a broken webhook fails the test.
// Without w.CA (self-managed certificates) the caBundle is left empty for
// the webhook to fill in.
func InstallWebhookConfigs(ctx context.Context, c client.Client, w *Webhook) error {
	return InstallWebhookConfigsWith(ctx, c, w, WebhookConfigOptions{})
}

// WebhookConfigOptions change what InstallWebhookConfigsWith registers.
type WebhookConfigOptions struct {
	// Hybrid is the hybrid install of design section 10: only the validating
	// webhook is registered, with native.WebhookMatchConditions, so that it
	// receives only objects that reference a Localhost profile; the native
	// policies (native.Build, installed separately) default and check the rest.
	Hybrid bool
}

// InstallWebhookConfigsWith is InstallWebhookConfigs with options.
func InstallWebhookConfigsWith(ctx context.Context, c client.Client, w *Webhook, opts WebhookConfigOptions) error {
	var caBundle []byte
	if w.CA != nil {
		caBundle = w.CA.CertPEM
	}
	url := func(path string) *string {
		u := fmt.Sprintf("https://127.0.0.1:%d%s", w.Port, path)
		return &u
	}
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	ifNeeded := admissionregistrationv1.IfNeededReinvocationPolicy
	equivalent := admissionregistrationv1.Equivalent
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: WebhookConfigName},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    MutatingWebhookName,
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: url(webhook.MutatePath), CABundle: caBundle},
			Rules:                   WebhookRules(),
			NamespaceSelector:       namespaceSelector(),
			FailurePolicy:           &fail,
			MatchPolicy:             &equivalent,
			SideEffects:             &none,
			TimeoutSeconds:          new(int32(3)),
			AdmissionReviewVersions: []string{"v1"},
			ReinvocationPolicy:      &ifNeeded,
		}},
	}
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: WebhookConfigName},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    ValidatingWebhookName,
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: url(webhook.ValidatePath), CABundle: caBundle},
			Rules:                   WebhookRules(),
			NamespaceSelector:       namespaceSelector(),
			FailurePolicy:           &fail,
			MatchPolicy:             &equivalent,
			SideEffects:             &none,
			TimeoutSeconds:          new(int32(5)),
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	// The pod UPDATE that removes the last scheduling gate, and no other pod
	// UPDATE (webhook.GatedPodMatchConditions).
	gated := validating.Webhooks[0]
	gated.Name, gated.Rules, gated.MatchConditions = webhook.GatedWebhookName, webhook.GatedPodRules(), webhook.GatedPodMatchConditions()
	objs := []client.Object{mutating, validating}
	if opts.Hybrid {
		validating.Webhooks[0].MatchConditions = native.WebhookMatchConditions()
		gated.MatchConditions = append(gated.MatchConditions, native.WebhookMatchConditions()...)
		objs = []client.Object{validating}
	}
	validating.Webhooks = append(validating.Webhooks, gated)
	for _, obj := range objs {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %T: %w", obj, err)
		}
	}
	return nil
}

// RemoveWebhookConfigs deletes both configurations.
func RemoveWebhookConfigs(ctx context.Context, c client.Client) error {
	for _, obj := range []client.Object{
		&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: WebhookConfigName}},
		&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: WebhookConfigName}},
	} {
		if err := client.IgnoreNotFound(c.Delete(ctx, obj)); err != nil {
			return err
		}
	}
	return nil
}
