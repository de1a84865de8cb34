package chart_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
)

// TestServerSideDryRun applies every rendered object with a server-side
// dry run against a real kube-apiserver (with seccomp-guard's CRDs), so that
// the API server's own validation catches schema mistakes in webhook
// configurations, admission policies, RBAC, workloads and the policy object.
// cert-manager's and the Prometheus Operator's objects are left out: their CRDs are not installed.
func TestServerSideDryRun(t *testing.T) {
	if missing := framework.MissingAssets(); len(missing) > 0 {
		skipOrFail(t, "control plane not built (missing "+strings.Join(missing, ", ")+"): run `make controlplane`")
	}
	helm(t) // skip before starting anything when helm is missing
	cp, err := framework.StartControlPlane()
	require.NoError(t, err)
	t.Cleanup(cp.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, cp.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}))

	tests := []struct {
		name   string
		values map[string]any
	}{
		{name: "defaults"},
		{name: "cluster-wide with a Secret, one replica", values: values(append([]any{
			"mode", "cluster-wide", "webhook.replicaCount", 1, "excludedNamespaces", []string{"monitoring"},
		}, secretMode...)...)},
		{name: "self-managed certificates", values: values(selfManagedMode...)},
		{name: "hybrid", values: values("hybrid.enabled", true, "mode", "cluster-wide")},
		{name: "reporter with the OpenReports CRDs", values: values("reporter.enabled", true, "reporter.installCRDs", true)},
		{name: "reporter with the wgpolicyk8s CRDs, two replicas", values: values(
			"reporter.enabled", true, "reporter.installCRDs", true, "reporter.format", "wgpolicyk8s", "reporter.replicas", 2)},
		{name: "Localhost default profile and every option", values: values(
			"policy.spec.defaultMode", "audit",
			"policy.spec.defaultProfile", map[string]any{"type": "Localhost", "localhostProfile": "profiles/default.json"},
			"policy.spec.localhost.nodeCoverage", "Off",
			"policy.spec.localhost.allowedProfiles", []string{"profiles/*"},
			"webhook.topologySpreadConstraints", []any{},
			"webhook.tolerations", []any{map[string]any{"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}},
			"webhook.priorityClassName", "system-cluster-critical",
			"imagePullSecrets", []any{map[string]any{"name": "regcred"}},
		)},
		{name: "monitoring: agent metrics Service and dashboard", values: values(monitoringOn...)},
		{name: "network policy, client CA, no priority class", values: values(
			"webhook.networkPolicy.enabled", true,
			"webhook.networkPolicy.from", []any{
				map[string]any{"ipBlock": map[string]any{"cidr": "10.0.0.0/24", "except": []any{"10.0.0.128/25"}}},
				map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "kube-system"}}},
			},
			"webhook.networkPolicy.metrics.enabled", true,
			"webhook.clientCA.configMap", "apiserver-client-ca",
			"webhook.priorityClassName", "",
			"webhook.nodeFailureTolerationSeconds", 0,
		)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			applied := 0
			for _, obj := range render(t, tc.values) {
				// Neither cert-manager's nor the Prometheus Operator's CRDs are installed
				// (TestMonitoringScrapeTargets and TestPrometheusRule decode the latter strictly).
				if g := obj.GroupVersionKind().Group; g == "cert-manager.io" || g == "monitoring.coreos.com" {
					continue
				}
				err := cp.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj),
					client.DryRunAll, client.FieldOwner("chart-test"), client.ForceOwnership)
				assert.NoError(t, err, "%s %s", obj.GetKind(), obj.GetName())
				applied++
			}
			assert.Greater(t, applied, 10)
		})
	}
}
