package chart_test

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/policy"
	"github.com/seccomp-guard/seccomp-guard/webhook"
)

const testCA = "-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n"

// secretMode provides the serving certificate in a Secret.
var secretMode = []any{
	"certificates.mode", "secret",
	"certificates.secret.name", "my-tls",
	"certificates.secret.caBundle", testCA,
}

// selfManagedMode lets the webhook issue its own certificates.
var selfManagedMode = []any{"certificates.mode", "self-managed"}

// wantRules is what the e2e suites register.
var wantRules = framework.WebhookRules

func TestDefaults(t *testing.T) {
	objs := render(t, nil)

	t.Run("objects", func(t *testing.T) {
		assert.ElementsMatch(t, []string{
			"ServiceAccount sg-seccomp-guard-webhook",
			"ServiceAccount seccomp-guard-agent",
			"ClusterRole sg-seccomp-guard-webhook",
			"ClusterRoleBinding sg-seccomp-guard-webhook",
			"Role sg-seccomp-guard-webhook",
			"RoleBinding sg-seccomp-guard-webhook",
			"ClusterRole sg-seccomp-guard-agent",
			"ClusterRoleBinding sg-seccomp-guard-agent",
			"Role sg-seccomp-guard-agent",
			"RoleBinding sg-seccomp-guard-agent",
			"Service sg-seccomp-guard-webhook",
			"Deployment sg-seccomp-guard-webhook",
			"PodDisruptionBudget sg-seccomp-guard-webhook",
			"DaemonSet sg-seccomp-guard-agent",
			"Issuer sg-seccomp-guard-selfsigned",
			"Certificate sg-seccomp-guard-ca",
			"Issuer sg-seccomp-guard-ca",
			"Certificate sg-seccomp-guard-webhook-tls",
			"MutatingWebhookConfiguration sg-seccomp-guard",
			"ValidatingWebhookConfiguration sg-seccomp-guard",
			"ValidatingAdmissionPolicy sg-agent-own-node",
			"ValidatingAdmissionPolicyBinding sg-agent-own-node",
			"ClusterSeccompPolicy default",
			"ServiceAccount sg-seccomp-guard-hook",
			"ClusterRole sg-seccomp-guard-hook",
			"ClusterRoleBinding sg-seccomp-guard-hook",
			"Job sg-seccomp-guard-hook-pre-delete",
			"Job sg-seccomp-guard-hook-pre-upgrade",
		}, kindNames(objs))
	})

	t.Run("namespaced objects are in the release namespace", func(t *testing.T) {
		for _, o := range objs {
			switch o.GetKind() {
			case "ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
				"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ClusterSeccompPolicy":
				assert.Empty(t, o.GetNamespace(), "%s %s is cluster-scoped", o.GetKind(), o.GetName())
			default:
				assert.Equal(t, namespace, o.GetNamespace(), "%s %s", o.GetKind(), o.GetName())
			}
		}
	})

	t.Run("mutating webhook", func(t *testing.T) {
		cfg := get[admissionregistrationv1.MutatingWebhookConfiguration](t, objs, "MutatingWebhookConfiguration", fullname)
		require.Len(t, cfg.Webhooks, 1)
		w := cfg.Webhooks[0]
		assert.Equal(t, framework.MutatingWebhookName, w.Name)
		assert.Equal(t, &admissionregistrationv1.ServiceReference{
			Namespace: namespace, Name: fullname + "-webhook", Path: new(webhook.MutatePath), Port: new(int32(443)),
		}, w.ClientConfig.Service)
		assert.Equal(t, wantRules(), w.Rules)
		assert.Equal(t, new(admissionregistrationv1.Ignore), w.FailurePolicy)
		assert.Equal(t, new(admissionregistrationv1.Equivalent), w.MatchPolicy)
		assert.Equal(t, new(admissionregistrationv1.SideEffectClassNone), w.SideEffects)
		assert.Equal(t, new(int32(3)), w.TimeoutSeconds)
		assert.Equal(t, []string{"v1"}, w.AdmissionReviewVersions)
		assert.Equal(t, new(admissionregistrationv1.IfNeededReinvocationPolicy), w.ReinvocationPolicy)
	})

	t.Run("validating webhook", func(t *testing.T) {
		cfg := get[admissionregistrationv1.ValidatingWebhookConfiguration](t, objs, "ValidatingWebhookConfiguration", fullname)
		require.Len(t, cfg.Webhooks, 2)
		gated := cfg.Webhooks[1]
		assert.Equal(t, webhook.GatedWebhookName, gated.Name)
		assert.Equal(t, webhook.GatedPodRules(), gated.Rules)
		assert.Equal(t, webhook.GatedPodMatchConditions(), gated.MatchConditions)
		assert.Equal(t, cfg.Webhooks[0].ClientConfig, gated.ClientConfig)
		assert.Equal(t, cfg.Webhooks[0].NamespaceSelector, gated.NamespaceSelector)
		assert.Equal(t, new(admissionregistrationv1.Fail), gated.FailurePolicy)
		w := cfg.Webhooks[0]
		assert.Equal(t, framework.ValidatingWebhookName, w.Name)
		assert.Equal(t, &admissionregistrationv1.ServiceReference{
			Namespace: namespace, Name: fullname + "-webhook", Path: new(webhook.ValidatePath), Port: new(int32(443)),
		}, w.ClientConfig.Service)
		assert.Equal(t, wantRules(), w.Rules)
		assert.Equal(t, new(admissionregistrationv1.Fail), w.FailurePolicy)
		assert.Equal(t, new(admissionregistrationv1.Equivalent), w.MatchPolicy)
		assert.Equal(t, new(admissionregistrationv1.SideEffectClassNone), w.SideEffects)
		assert.Equal(t, new(int32(5)), w.TimeoutSeconds)
		assert.Equal(t, []string{"v1"}, w.AdmissionReviewVersions)
	})

	t.Run("webhook deployment", func(t *testing.T) {
		d := get[appsv1.Deployment](t, objs, "Deployment", fullname+"-webhook")
		assert.Equal(t, new(int32(2)), d.Spec.Replicas)
		pod := d.Spec.Template.Spec
		assert.Equal(t, fullname+"-webhook", pod.ServiceAccountName)
		assert.Equal(t, &corev1.PodSecurityContext{
			RunAsNonRoot: new(true), RunAsUser: new(int64(65532)), RunAsGroup: new(int64(65532)),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		}, pod.SecurityContext)
		require.Len(t, pod.Containers, 1)
		c := pod.Containers[0]
		assert.Equal(t, "ghcr.io/seccomp-guard/seccomp-guard:0.1.0", c.Image)
		assert.Equal(t, []string{
			"webhook",
			"--port=9443",
			"--cert-dir=/etc/seccomp-guard/tls",
			"--metrics-bind-address=:8080",
			"--health-probe-bind-address=:8081",
			"--leader-elect",
			"--leader-election-namespace=" + namespace,
			"--inventory-namespace=" + namespace,
			"--fallback-default-mode=disabled",
			"--tls-min-version=1.2",
			"--graceful-shutdown-timeout=20s",
			"--zap-log-level=info",
		}, c.Args)
		assert.Equal(t, []corev1.ContainerPort{
			{Name: "webhook", ContainerPort: 9443, Protocol: corev1.ProtocolTCP},
			{Name: "metrics", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
			{Name: "healthz", ContainerPort: 8081, Protocol: corev1.ProtocolTCP},
		}, c.Ports)
		require.NotNil(t, c.ReadinessProbe)
		assert.Equal(t, &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("healthz")}, c.ReadinessProbe.HTTPGet)
		require.NotNil(t, c.LivenessProbe)
		assert.Equal(t, &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("healthz")}, c.LivenessProbe.HTTPGet)
		require.NotNil(t, c.Lifecycle)
		require.NotNil(t, c.Lifecycle.PreStop)
		assert.Equal(t, &corev1.SleepAction{Seconds: 5}, c.Lifecycle.PreStop.Sleep)
		assert.Greater(t, *pod.TerminationGracePeriodSeconds, int64(5+20), "grace period covers preStop and draining")
		assert.Equal(t, &corev1.SecurityContext{
			RunAsNonRoot:             new(true),
			ReadOnlyRootFilesystem:   new(true),
			AllowPrivilegeEscalation: new(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		}, c.SecurityContext)
		assert.NotEmpty(t, c.Resources.Requests)
		assert.Equal(t, []corev1.VolumeMount{{Name: "tls", MountPath: "/etc/seccomp-guard/tls", ReadOnly: true}}, c.VolumeMounts)
		require.Len(t, pod.TopologySpreadConstraints, 2, "TestWebhookPodsUnderPressure checks them")
		spread := pod.TopologySpreadConstraints[0]
		assert.Equal(t, "kubernetes.io/hostname", spread.TopologyKey)
		assert.Equal(t, d.Spec.Selector, spread.LabelSelector)
	})

	t.Run("service", func(t *testing.T) {
		svc := get[corev1.Service](t, objs, "Service", fullname+"-webhook")
		d := get[appsv1.Deployment](t, objs, "Deployment", fullname+"-webhook")
		assert.Equal(t, d.Spec.Selector.MatchLabels, svc.Spec.Selector)
		require.NotEmpty(t, svc.Spec.Ports)
		assert.Equal(t, corev1.ServicePort{Name: "https", Port: 443, TargetPort: intstr.FromString("webhook"), Protocol: corev1.ProtocolTCP}, svc.Spec.Ports[0])
	})

	t.Run("webhook rbac", func(t *testing.T) {
		cr := get[rbacv1.ClusterRole](t, objs, "ClusterRole", fullname+"-webhook")
		assert.Equal(t, []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"namespaces", "nodes"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"seccomp-guard.io"}, Resources: []string{"nodeseccompinventories", "clusterseccomppolicies"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"seccomp-guard.io"}, Resources: []string{"clusterseccomppolicies/status"}, Verbs: []string{"patch", "update"}},
		}, cr.Rules)
		role := get[rbacv1.Role](t, objs, "Role", fullname+"-webhook")
		// get and update by name: the leader Lease only, never an agent's heartbeat.
		assert.Contains(t, role.Rules, rbacv1.PolicyRule{
			APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"list", "watch", "create"},
		})
		assert.Contains(t, role.Rules, rbacv1.PolicyRule{
			APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{webhook.LeaderElectionID}, Verbs: []string{"get", "update"},
		})
		for _, r := range role.Rules {
			if slices.Contains(r.Resources, "leases") && (slices.Contains(r.Verbs, "get") || slices.Contains(r.Verbs, "update")) {
				assert.Equal(t, []string{webhook.LeaderElectionID}, r.ResourceNames, "Lease get and update are limited to the leader Lease")
			}
		}
		crb := get[rbacv1.ClusterRoleBinding](t, objs, "ClusterRoleBinding", fullname+"-webhook")
		assert.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: fullname + "-webhook", Namespace: namespace}}, crb.Subjects)
	})

	t.Run("agent rbac as docs/inventory.md section 7 lists it", func(t *testing.T) {
		cr := get[rbacv1.ClusterRole](t, objs, "ClusterRole", fullname+"-agent")
		assert.Equal(t, []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get"}},
			{APIGroups: []string{"seccomp-guard.io"}, Resources: []string{"nodeseccompinventories"}, Verbs: []string{"get", "create", "patch"}},
			{APIGroups: []string{"seccomp-guard.io"}, Resources: []string{"nodeseccompinventories/status"}, Verbs: []string{"patch"}},
		}, cr.Rules)
		role := get[rbacv1.Role](t, objs, "Role", fullname+"-agent")
		assert.Equal(t, []rbacv1.PolicyRule{
			{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "patch"}},
		}, role.Rules)
		for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
			o := find(objs, kind, fullname+"-agent")
			require.NotNil(t, o, kind)
			subjects, _, _ := unstructuredSlice(o.Object, "subjects")
			assert.Equal(t, []any{map[string]any{"kind": "ServiceAccount", "name": "seccomp-guard-agent", "namespace": namespace}}, subjects, kind)
		}
	})
}

func TestNamespaceSelector(t *testing.T) {
	system := func(extra ...string) metav1.LabelSelectorRequirement {
		return metav1.LabelSelectorRequirement{
			Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn,
			Values: append([]string{"kube-system", "kube-node-lease", namespace}, extra...),
		}
	}
	clusterWide := metav1.LabelSelectorRequirement{Key: policy.ModeLabel, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"disabled"}}
	optIn := []metav1.LabelSelectorRequirement{{Key: policy.ModeLabel, Operator: metav1.LabelSelectorOpExists}, clusterWide}
	tests := []struct {
		name   string
		values map[string]any
		want   []metav1.LabelSelectorRequirement
	}{
		{name: "default is opt-in", want: append(optIn, system())},
		{name: "opt-in", values: values("mode", "opt-in"), want: append(optIn, system())},
		{name: "cluster-wide", values: values("mode", "cluster-wide"), want: []metav1.LabelSelectorRequirement{clusterWide, system()}},
		{
			name:   "extra excluded namespaces, duplicates dropped",
			values: values("mode", "cluster-wide", "excludedNamespaces", []string{"monitoring", "kube-system", "ingress"}),
			want:   []metav1.LabelSelectorRequirement{clusterWide, system("monitoring", "ingress")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, tc.values)
			m := get[admissionregistrationv1.MutatingWebhookConfiguration](t, objs, "MutatingWebhookConfiguration", fullname)
			v := get[admissionregistrationv1.ValidatingWebhookConfiguration](t, objs, "ValidatingWebhookConfiguration", fullname)
			assert.Equal(t, &metav1.LabelSelector{MatchExpressions: tc.want}, m.Webhooks[0].NamespaceSelector, "mutating")
			assert.Equal(t, &metav1.LabelSelector{MatchExpressions: tc.want}, v.Webhooks[0].NamespaceSelector, "validating")
		})
	}
}

// TestNamespaceSelectorMatches proves which namespaces each mode sends to
// the webhooks and to the native policies' bindings: in opt-in, a namespace
// whose mode label is misspelt (Enforce, enforced) is selected, so the
// engine's rule for it (enforce, with a warning) applies.
func TestNamespaceSelectorMatches(t *testing.T) {
	labelled := func(v string) labels.Set { return labels.Set{policy.ModeLabel: v} }
	namespaces := []struct {
		name   string
		labels labels.Set
	}{
		{"enforce", labelled("enforce")},
		{"Enforce", labelled("Enforce")},
		{"enforced", labelled("enforced")},
		{"empty value", labelled("")},
		{"warn", labelled("warn")},
		{"disabled", labelled("disabled")},
		{"unlabelled", labels.Set{}},
	}
	tests := []struct {
		name   string
		values map[string]any
		want   []string // the namespaces selected
	}{
		{
			name:   "opt-in: every value of the label but disabled",
			values: values("hybrid.enabled", true),
			want:   []string{"enforce", "Enforce", "enforced", "empty value", "warn"},
		},
		{
			name:   "cluster-wide: every namespace but disabled",
			values: values("mode", "cluster-wide", "hybrid.enabled", true),
			want:   []string{"enforce", "Enforce", "enforced", "empty value", "warn", "unlabelled"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, tc.values)
			selectors := map[string]*metav1.LabelSelector{}
			v := get[admissionregistrationv1.ValidatingWebhookConfiguration](t, objs, "ValidatingWebhookConfiguration", fullname)
			selectors["ValidatingWebhookConfiguration"] = v.Webhooks[0].NamespaceSelector
			for _, o := range objs {
				switch o.GetKind() {
				case "MutatingAdmissionPolicyBinding":
					b := get[admissionregistrationv1.MutatingAdmissionPolicyBinding](t, objs, o.GetKind(), o.GetName())
					selectors[o.GetKind()+" "+o.GetName()] = b.Spec.MatchResources.NamespaceSelector
				case "ValidatingAdmissionPolicyBinding":
					if o.GetName() == release+"-agent-own-node" {
						continue
					}
					b := get[admissionregistrationv1.ValidatingAdmissionPolicyBinding](t, objs, o.GetKind(), o.GetName())
					selectors[o.GetKind()+" "+o.GetName()] = b.Spec.MatchResources.NamespaceSelector
				}
			}
			require.Greater(t, len(selectors), 2, "the webhook configuration and the native bindings")
			for what, ls := range selectors {
				sel, err := metav1.LabelSelectorAsSelector(ls)
				require.NoError(t, err, what)
				var got []string
				for _, ns := range namespaces {
					l := maps.Clone(ns.labels)
					l["kubernetes.io/metadata.name"] = "shop"
					if sel.Matches(l) {
						got = append(got, ns.name)
					}
				}
				assert.Equal(t, tc.want, got, what)
			}
		})
	}
}

func TestCertificates(t *testing.T) {
	certManagerObjects := []string{
		"Issuer " + fullname + "-selfsigned",
		"Certificate " + fullname + "-ca",
		"Issuer " + fullname + "-ca",
		"Certificate " + fullname + "-webhook-tls",
	}
	tests := []struct {
		name           string
		values         map[string]any
		wantCertMgr    bool
		wantAnnotation string
		wantCABundle   []byte
		wantSecret     string
	}{
		{
			name:           "cert-manager by default",
			wantCertMgr:    true,
			wantAnnotation: namespace + "/" + fullname + "-webhook-tls",
			wantSecret:     fullname + "-webhook-tls",
		},
		{
			name:         "secret",
			values:       values(secretMode...),
			wantCABundle: []byte(testCA),
			wantSecret:   "my-tls",
		},
		{
			// No volume: the webhook reads its Secret through the API and
			// writes caBundle itself, so the chart leaves it empty.
			name:   "self-managed",
			values: values(selfManagedMode...),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, tc.values)
			names := kindNames(objs)
			for _, want := range certManagerObjects {
				if tc.wantCertMgr {
					assert.Contains(t, names, want)
				} else {
					assert.NotContains(t, names, want)
				}
			}
			m := get[admissionregistrationv1.MutatingWebhookConfiguration](t, objs, "MutatingWebhookConfiguration", fullname)
			v := get[admissionregistrationv1.ValidatingWebhookConfiguration](t, objs, "ValidatingWebhookConfiguration", fullname)
			for what, c := range map[string]struct {
				meta     metav1.ObjectMeta
				caBundle []byte
			}{
				"mutating":   {m.ObjectMeta, m.Webhooks[0].ClientConfig.CABundle},
				"validating": {v.ObjectMeta, v.Webhooks[0].ClientConfig.CABundle},
			} {
				assert.Equal(t, tc.wantAnnotation, c.meta.Annotations["cert-manager.io/inject-ca-from"], what)
				assert.Equal(t, tc.wantCABundle, c.caBundle, what)
			}
			d := get[appsv1.Deployment](t, objs, "Deployment", fullname+"-webhook")
			if tc.wantSecret == "" {
				assert.Empty(t, d.Spec.Template.Spec.Volumes)
				assert.Empty(t, d.Spec.Template.Spec.Containers[0].VolumeMounts)
			} else {
				require.Len(t, d.Spec.Template.Spec.Volumes, 1)
				assert.Equal(t, tc.wantSecret, d.Spec.Template.Spec.Volumes[0].Secret.SecretName)
			}
			if tc.wantCertMgr {
				cert := find(objs, "Certificate", fullname+"-webhook-tls")
				dnsNames, _, _ := unstructuredSlice(cert.Object, "spec", "dnsNames")
				assert.Contains(t, dnsNames, fullname+"-webhook."+namespace+".svc", "the name the API server dials")
				secretName, _, _ := unstructuredString(cert.Object, "spec", "secretName")
				assert.Equal(t, tc.wantSecret, secretName)
				issuer, _, _ := unstructuredString(cert.Object, "spec", "issuerRef", "name")
				assert.Equal(t, fullname+"-ca", issuer, "signed by the CA issuer")
				isCA, _, _ := unstructuredBool(find(objs, "Certificate", fullname+"-ca").Object, "spec", "isCA")
				assert.True(t, isCA)
			}
		})
	}
}

func TestSelfManagedCertificates(t *testing.T) {
	objs := render(t, values(append([]any{"certificates.selfManaged.duration", "720h", "certificates.selfManaged.renewBefore", "240h"}, selfManagedMode...)...))
	svc := fullname + "-webhook." + namespace + ".svc"

	t.Run("no cert-manager objects, no caBundle, no injection annotation", func(t *testing.T) {
		for _, o := range objs {
			assert.NotEqual(t, "cert-manager.io", o.GroupVersionKind().Group, "%s %s", o.GetKind(), o.GetName())
		}
		m := get[admissionregistrationv1.MutatingWebhookConfiguration](t, objs, "MutatingWebhookConfiguration", fullname)
		v := get[admissionregistrationv1.ValidatingWebhookConfiguration](t, objs, "ValidatingWebhookConfiguration", fullname)
		assert.Empty(t, m.Annotations)
		assert.Empty(t, v.Annotations)
		assert.Empty(t, m.Webhooks[0].ClientConfig.CABundle)
		assert.Empty(t, v.Webhooks[0].ClientConfig.CABundle)
	})

	t.Run("webhook arguments", func(t *testing.T) {
		d := get[appsv1.Deployment](t, objs, "Deployment", fullname+"-webhook")
		args := d.Spec.Template.Spec.Containers[0].Args
		assert.Equal(t, []string{
			"webhook",
			"--port=9443",
			"--cert-mode=self-managed",
			"--cert-secret=" + namespace + "/" + fullname + "-webhook-tls",
			"--cert-dns-names=" + svc + "," + svc + ".cluster.local",
			"--webhook-config-name=" + fullname,
			"--webhook-configs=mutating,validating",
			"--cert-validity=720h",
			"--cert-renew-before=240h",
		}, args[:9])
		assert.NotContains(t, args, "--cert-dir=/etc/seccomp-guard/tls")
		assert.Contains(t, args, "--leader-elect", "one writer at a time")
	})

	t.Run("rbac: the one Secret and the two configurations", func(t *testing.T) {
		cr := get[rbacv1.ClusterRole](t, objs, "ClusterRole", fullname+"-webhook")
		assert.Contains(t, cr.Rules, rbacv1.PolicyRule{
			APIGroups: []string{"admissionregistration.k8s.io"}, Resources: []string{"mutatingwebhookconfigurations", "validatingwebhookconfigurations"},
			ResourceNames: []string{fullname}, Verbs: []string{"get", "list", "watch", "patch", "update"},
		})
		role := get[rbacv1.Role](t, objs, "Role", fullname+"-webhook")
		assert.Contains(t, role.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}})
		assert.Contains(t, role.Rules, rbacv1.PolicyRule{
			APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{fullname + "-webhook-tls"},
			Verbs: []string{"get", "list", "watch", "update", "patch"},
		})
	})

	t.Run("hybrid: the webhook patches the validating configuration only, the one rendered", func(t *testing.T) {
		objs := render(t, values(append([]any{"hybrid.enabled", true}, selfManagedMode...)...))
		assert.Nil(t, find(objs, "MutatingWebhookConfiguration", fullname))
		require.NotNil(t, find(objs, "ValidatingWebhookConfiguration", fullname))
		d := get[appsv1.Deployment](t, objs, "Deployment", fullname+"-webhook")
		args := d.Spec.Template.Spec.Containers[0].Args
		assert.Contains(t, args, "--webhook-configs=validating")
		assert.NotContains(t, args, "--webhook-configs=mutating,validating")
	})

	t.Run("other modes grant nothing on Secrets or configurations", func(t *testing.T) {
		for _, v := range []map[string]any{nil, values(secretMode...)} {
			objs := render(t, v)
			for _, rule := range get[rbacv1.Role](t, objs, "Role", fullname+"-webhook").Rules {
				assert.NotContains(t, rule.Resources, "secrets")
			}
			for _, rule := range get[rbacv1.ClusterRole](t, objs, "ClusterRole", fullname+"-webhook").Rules {
				assert.NotContains(t, rule.APIGroups, "admissionregistration.k8s.io")
			}
		}
	})
}

func TestRefusedValues(t *testing.T) {
	tests := []struct {
		name    string
		values  map[string]any
		wantErr string
	}{
		{
			name:    "unknown certificates mode",
			values:  values("certificates.mode", "vault"),
			wantErr: "- at '/certificates/mode': value must be one of 'cert-manager', 'secret', 'self-managed'",
		},
		{
			name:    "self-managed with a bad duration",
			values:  values("certificates.mode", "self-managed", "certificates.selfManaged.duration", "90d"),
			wantErr: "- at '/certificates/selfManaged/duration': '90d' does not match pattern",
		},
		{
			name:    "secret mode without caBundle",
			values:  values("certificates.mode", "secret", "certificates.secret.name", "my-tls"),
			wantErr: "- at '/certificates/secret/caBundle': '' does not match pattern '-----BEGIN CERTIFICATE-----'",
		},
		{
			name:    "secret mode with a base64 caBundle",
			values:  values("certificates.mode", "secret", "certificates.secret.name", "my-tls", "certificates.secret.caBundle", base64.StdEncoding.EncodeToString([]byte(testCA))),
			wantErr: "does not match pattern '-----BEGIN CERTIFICATE-----'",
		},
		{
			name:    "secret mode without a Secret name",
			values:  values("certificates.mode", "secret", "certificates.secret.caBundle", testCA),
			wantErr: "- at '/certificates/secret/name': validation failed",
		},
		{
			name:    "unknown namespace mode",
			values:  values("mode", "everywhere"),
			wantErr: "- at '/mode': value must be one of 'opt-in', 'cluster-wide'",
		},
		{
			name:    "unknown failure policy",
			values:  values("webhook.failurePolicy.validating", "fail"),
			wantErr: "- at '/webhook/failurePolicy/validating': value must be one of 'Ignore', 'Fail'",
		},
		{
			name:    "misspelt value",
			values:  values("webhook.replicas", 3),
			wantErr: "- at '/webhook': additional properties 'replicas' not allowed",
		},
		{
			name:    "the host's / as a link target",
			values:  values("agent.linkTargets", []string{"/"}),
			wantErr: "- at '/agent/linkTargets/0': '/' does not match pattern '^(/[^/,]+)+$'",
		},
		{
			name:    "a relative link target",
			values:  values("agent.linkTargets", []string{"var/lib/security-profiles-operator"}),
			wantErr: "- at '/agent/linkTargets/0': 'var/lib/security-profiles-operator' does not match pattern '^(/[^/,]+)+$'",
		},
		{
			name:    "a link target with ..",
			values:  values("agent.linkTargets", []string{"/var/lib/kubelet/seccomp/../.."}),
			wantErr: "- at '/agent/linkTargets/0': 'not' failed",
		},
		{
			name:    "the host's / as the seccomp root",
			values:  values("agent.seccompRoot", "/"),
			wantErr: "- at '/agent/seccompRoot': '/' does not match pattern '^(/[^/,]+)+$'",
		},
		{
			name:    "nodeCoverage unquoted Off",
			values:  values("policy.spec.localhost.nodeCoverage", false),
			wantErr: "- at '/policy/spec/localhost/nodeCoverage': got boolean, want string",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := helmTemplate(t, tc.values)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "values don't meet the specifications of the schema(s)")
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestPodDisruptionBudget(t *testing.T) {
	tests := []struct {
		name    string
		values  map[string]any
		wantPDB bool
	}{
		{name: "two replicas by default", wantPDB: true},
		{name: "one replica has none", values: values("webhook.replicaCount", 1)},
		{name: "three replicas", values: values("webhook.replicaCount", 3), wantPDB: true},
		{name: "turned off", values: values("webhook.podDisruptionBudget.enabled", false)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, tc.values)
			if !tc.wantPDB {
				assert.Nil(t, find(objs, "PodDisruptionBudget", fullname+"-webhook"))
				return
			}
			pdb := get[policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget", fullname+"-webhook")
			assert.Equal(t, new(intstr.FromInt32(1)), pdb.Spec.MinAvailable)
			d := get[appsv1.Deployment](t, objs, "Deployment", fullname+"-webhook")
			assert.Equal(t, d.Spec.Selector, pdb.Spec.Selector)
		})
	}
}

func TestAgentDaemonSet(t *testing.T) {
	tests := []struct {
		name        string
		values      map[string]any
		wantSA      string
		wantRoot    string
		wantPrioity string
		// wantLinkTargets are the host directories mounted besides the seccomp root.
		wantLinkTargets []string
	}{
		{
			name:   "defaults",
			wantSA: "seccomp-guard-agent", wantRoot: "/var/lib/kubelet/seccomp", wantPrioity: "system-node-critical",
			wantLinkTargets: []string{"/var/lib/security-profiles-operator"},
		},
		{
			name:            "custom ServiceAccount, seccomp root and priority",
			values:          values("agent.serviceAccount.name", "my-agent", "agent.seccompRoot", "/data/kubelet/seccomp", "agent.priorityClassName", ""),
			wantSA:          "my-agent",
			wantRoot:        "/data/kubelet/seccomp",
			wantPrioity:     "",
			wantLinkTargets: []string{"/var/lib/security-profiles-operator"},
		},
		{
			name:   "custom link targets",
			values: values("agent.linkTargets", []string{"/opt/profiles", "/var/lib/security-profiles-operator"}),
			wantSA: "seccomp-guard-agent", wantRoot: "/var/lib/kubelet/seccomp", wantPrioity: "system-node-critical",
			wantLinkTargets: []string{"/opt/profiles", "/var/lib/security-profiles-operator"},
		},
		{
			name:   "no link targets: the seccomp root alone",
			values: values("agent.linkTargets", []string{}),
			wantSA: "seccomp-guard-agent", wantRoot: "/var/lib/kubelet/seccomp", wantPrioity: "system-node-critical",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, tc.values)
			ds := get[appsv1.DaemonSet](t, objs, "DaemonSet", fullname+"-agent")
			pod := ds.Spec.Template.Spec
			assert.Equal(t, tc.wantSA, pod.ServiceAccountName)
			assert.NotNil(t, find(objs, "ServiceAccount", tc.wantSA))
			assert.Equal(t, tc.wantPrioity, pod.PriorityClassName)
			assert.Equal(t, []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, pod.Tolerations, "every taint")
			require.Len(t, pod.Containers, 1)
			c := pod.Containers[0]
			assert.Equal(t, []string{
				"agent",
				"--node-name=$(NODE_NAME)",
				"--host-root=/host",
				"--seccomp-root=" + tc.wantRoot,
				"--mounted-dirs=" + strings.Join(append([]string{tc.wantRoot}, tc.wantLinkTargets...), ","),
				"--namespace=" + namespace,
				"--health-probe-bind-address=:8081",
				"--metrics-bind-address=:8080",
				"--resync=5m",
				"--lease-duration=40s",
				"--zap-log-level=info",
			}, c.Args)
			assert.Equal(t, []corev1.EnvVar{{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"},
			}}}, c.Env)
			assert.Equal(t, &corev1.SecurityContext{
				RunAsUser:                new(int64(0)),
				RunAsNonRoot:             new(false),
				ReadOnlyRootFilesystem:   new(true),
				AllowPrivilegeEscalation: new(false),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"DAC_READ_SEARCH"}},
				SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			}, c.SecurityContext)
			assert.Equal(t, &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}, pod.SecurityContext.SeccompProfile)
			require.NotNil(t, c.ReadinessProbe)
			assert.Equal(t, &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("healthz")}, c.ReadinessProbe.HTTPGet)
			require.NotNil(t, c.LivenessProbe)
			assert.Equal(t, &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("healthz")}, c.LivenessProbe.HTTPGet)
			assert.Equal(t, []corev1.ContainerPort{
				{Name: "healthz", ContainerPort: 8081, Protocol: corev1.ProtocolTCP},
				{Name: "metrics", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
			}, c.Ports)
			// Only the seccomp root and the link targets, each read-only at
			// its host path under /host; never the host's /.
			propagation := corev1.MountPropagationHostToContainer
			wantMounts := []corev1.VolumeMount{{Name: "seccomp-root", MountPath: "/host" + tc.wantRoot, ReadOnly: true, MountPropagation: &propagation}}
			wantVolumes := []corev1.Volume{{Name: "seccomp-root", VolumeSource: corev1.VolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: tc.wantRoot, Type: new(corev1.HostPathDirectoryOrCreate)},
			}}}
			for i, dir := range tc.wantLinkTargets {
				name := fmt.Sprintf("link-target-%d", i)
				wantMounts = append(wantMounts, corev1.VolumeMount{Name: name, MountPath: "/host" + dir, ReadOnly: true, MountPropagation: &propagation})
				wantVolumes = append(wantVolumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: new(corev1.HostPathDirectoryOrCreate)},
				}})
			}
			assert.Equal(t, wantMounts, c.VolumeMounts)
			assert.Equal(t, wantVolumes, pod.Volumes)
			var hostPaths []string
			for _, v := range pod.Volumes {
				if v.HostPath != nil {
					hostPaths = append(hostPaths, v.HostPath.Path)
				}
			}
			assert.Equal(t, append([]string{tc.wantRoot}, tc.wantLinkTargets...), hostPaths, "the hostPath volumes are exactly the seccomp root and the link targets")
			assert.NotContains(t, hostPaths, "/", "never the host's /")

			// The admission policy restricts the same identity the DaemonSet runs as.
			vap := find(objs, "ValidatingAdmissionPolicy", release+"-agent-own-node")
			require.NotNil(t, vap)
			conds, _, _ := unstructuredSlice(vap.Object, "spec", "matchConditions")
			require.Len(t, conds, 1)
			assert.Contains(t, conds[0].(map[string]any)["expression"], `"system:serviceaccount:`+namespace+`:`+tc.wantSA+`"`)
		})
	}
}

func TestPolicy(t *testing.T) {
	tests := []struct {
		name     string
		values   map[string]any
		wantMode v1alpha1.Mode // "" when no policy is rendered
		// wantFallback is the webhook's --fallback-default-mode: the
		// policy's defaultMode, served while the policy is missing.
		wantFallback v1alpha1.Mode
	}{
		{name: "opt-in leaves unlabelled namespaces alone", wantMode: v1alpha1.ModeDisabled, wantFallback: v1alpha1.ModeDisabled},
		{name: "cluster-wide enforces", values: values("mode", "cluster-wide"), wantMode: v1alpha1.ModeEnforce, wantFallback: v1alpha1.ModeEnforce},
		{name: "explicit defaultMode wins", values: values("mode", "cluster-wide", "policy.spec.defaultMode", "warn"), wantMode: v1alpha1.ModeWarn, wantFallback: v1alpha1.ModeWarn},
		{name: "not created", values: values("policy.create", false), wantFallback: v1alpha1.ModeDisabled},
		{name: "not created, cluster-wide", values: values("mode", "cluster-wide", "policy.create", false), wantFallback: v1alpha1.ModeEnforce},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, tc.values)
			d := get[appsv1.Deployment](t, objs, "Deployment", fullname+"-webhook")
			assert.Contains(t, d.Spec.Template.Spec.Containers[0].Args, "--fallback-default-mode="+string(tc.wantFallback))
			if tc.wantMode == "" {
				assert.Nil(t, find(objs, "ClusterSeccompPolicy", v1alpha1.DefaultPolicyName))
				return
			}
			p := get[v1alpha1.ClusterSeccompPolicy](t, objs, "ClusterSeccompPolicy", v1alpha1.DefaultPolicyName)
			assert.Equal(t, map[string]string{"helm.sh/resource-policy": "keep"}, p.Annotations, "helm uninstall keeps the policy")
			assert.Equal(t, tc.wantMode, p.Spec.DefaultMode)
			assert.Equal(t, v1alpha1.ProfileTypeRuntimeDefault, p.Spec.DefaultProfile.Type)
			assert.Equal(t, v1alpha1.NodeCoverageAll, p.Spec.Localhost.NodeCoverage)
		})
	}
}

func TestLabels(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
	}{
		{name: "defaults"},
		{name: "cluster-wide with a Secret and one replica", values: values(append([]any{"mode", "cluster-wide", "webhook.replicaCount", 1}, secretMode...)...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, o := range render(t, tc.values) {
				labels := o.GetLabels()
				for _, key := range []string{
					"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
					"app.kubernetes.io/managed-by", "app.kubernetes.io/component", "app.kubernetes.io/part-of",
				} {
					assert.NotEmpty(t, labels[key], "%s %s has no label %s", o.GetKind(), o.GetName(), key)
				}
				assert.Equal(t, release, labels["app.kubernetes.io/instance"], "%s %s", o.GetKind(), o.GetName())
			}
		})
	}
}
