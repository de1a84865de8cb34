package chart_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
)

// monitoringOn turns on every monitoring object.
var monitoringOn = []any{
	"monitoring.serviceMonitor.enabled", true,
	"monitoring.prometheusRule.enabled", true,
	"monitoring.dashboard.enabled", true,
}

func TestMonitoringObjects(t *testing.T) {
	monitoringKinds := func(objs []string) []string {
		var out []string
		for _, o := range objs {
			if strings.HasPrefix(o, "ServiceMonitor ") || strings.HasPrefix(o, "PrometheusRule ") || strings.HasSuffix(o, "-agent-metrics") || strings.HasSuffix(o, "-dashboard") {
				out = append(out, o)
			}
		}
		return out
	}
	tests := []struct {
		name   string
		values map[string]any
		want   []string
	}{
		{name: "off by default"},
		{name: "agent metrics Service alone", values: values("monitoring.agentMetricsService.enabled", true), want: []string{"Service sg-seccomp-guard-agent-metrics"}},
		{name: "ServiceMonitors bring the agent metrics Service", values: values("monitoring.serviceMonitor.enabled", true), want: []string{
			"Service sg-seccomp-guard-agent-metrics", "ServiceMonitor sg-seccomp-guard-webhook", "ServiceMonitor sg-seccomp-guard-agent",
		}},
		{name: "rules", values: values("monitoring.prometheusRule.enabled", true), want: []string{"PrometheusRule sg-seccomp-guard"}},
		{name: "dashboard", values: values("monitoring.dashboard.enabled", true), want: []string{"ConfigMap sg-seccomp-guard-dashboard"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.ElementsMatch(t, tc.want, monitoringKinds(kindNames(render(t, tc.values))))
		})
	}
}

func TestMonitoringScrapeTargets(t *testing.T) {
	objs := render(t, values(append([]any{"monitoring.serviceMonitor.labels", map[string]any{"release": "kube-prometheus-stack"}}, monitoringOn...)...))

	t.Run("agent exposes metrics", func(t *testing.T) {
		ds := get[appsv1.DaemonSet](t, objs, "DaemonSet", fullname+"-agent")
		c := ds.Spec.Template.Spec.Containers[0]
		assert.Contains(t, c.Args, "--metrics-bind-address=:8080")
		assert.Contains(t, c.Ports, corev1.ContainerPort{Name: "metrics", ContainerPort: 8080, Protocol: corev1.ProtocolTCP})
	})

	t.Run("agent metrics Service", func(t *testing.T) {
		svc := get[corev1.Service](t, objs, "Service", fullname+"-agent-metrics")
		ds := get[appsv1.DaemonSet](t, objs, "DaemonSet", fullname+"-agent")
		assert.Equal(t, corev1.ClusterIPNone, svc.Spec.ClusterIP)
		assert.Equal(t, ds.Spec.Selector.MatchLabels, svc.Spec.Selector)
		assert.Equal(t, []corev1.ServicePort{{Name: "metrics", Port: 8080, TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolTCP}}, svc.Spec.Ports)
	})

	tests := []struct {
		name, monitor, service string
		honorLabels            bool
		nodeLabel              bool
	}{
		{name: "webhook", monitor: fullname + "-webhook", service: fullname + "-webhook"},
		// The violations counter's namespace and container are the workload's, not the agent pod's.
		{name: "agent", monitor: fullname + "-agent", service: fullname + "-agent-metrics", honorLabels: true, nodeLabel: true},
	}
	for _, tc := range tests {
		t.Run(tc.name+" ServiceMonitor", func(t *testing.T) {
			sm := get[monitoringv1.ServiceMonitor](t, objs, "ServiceMonitor", tc.monitor)
			assert.Equal(t, "kube-prometheus-stack", sm.Labels["release"])
			assert.Equal(t, []string{namespace}, sm.Spec.NamespaceSelector.MatchNames)
			// The selector picks exactly the Service meant, and its port "metrics".
			var selected []string
			for _, o := range objs {
				if o.GetKind() != "Service" {
					continue
				}
				match := true
				for k, v := range sm.Spec.Selector.MatchLabels {
					match = match && o.GetLabels()[k] == v
				}
				if match {
					selected = append(selected, o.GetName())
				}
			}
			assert.Equal(t, []string{tc.service}, selected)
			svc := get[corev1.Service](t, objs, "Service", tc.service)
			assert.Contains(t, svc.Spec.Ports, corev1.ServicePort{Name: "metrics", Port: 8080, TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolTCP})
			require.Len(t, sm.Spec.Endpoints, 1)
			ep := sm.Spec.Endpoints[0]
			assert.Equal(t, "metrics", ep.Port)
			assert.Equal(t, "/metrics", ep.Path)
			assert.Equal(t, monitoringv1.Duration("30s"), ep.Interval)
			assert.Equal(t, tc.honorLabels, ep.HonorLabels)
			if tc.nodeLabel {
				require.Len(t, ep.RelabelConfigs, 1)
				assert.Equal(t, []monitoringv1.LabelName{"__meta_kubernetes_pod_node_name"}, ep.RelabelConfigs[0].SourceLabels)
				assert.Equal(t, "node", ep.RelabelConfigs[0].TargetLabel)
			} else {
				assert.Empty(t, ep.RelabelConfigs)
			}
		})
	}
}

// githubAnchor is the fragment GitHub gives a Markdown heading.
func githubAnchor(heading string) string {
	a := strings.ToLower(strings.TrimSpace(heading))
	a = regexp.MustCompile(`[^a-z0-9 _-]`).ReplaceAllString(a, "")
	return strings.ReplaceAll(a, " ", "-")
}

func TestPrometheusRule(t *testing.T) {
	root, err := framework.RepoRoot()
	require.NoError(t, err)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "alerts.md"))
	require.NoError(t, err)
	anchors := map[string]bool{}
	for line := range strings.SplitSeq(string(doc), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			anchors[githubAnchor(h)] = true
		}
	}

	objs := render(t, values(append([]any{"monitoring.prometheusRule.labels", map[string]any{"release": "kube-prometheus-stack"}}, monitoringOn...)...))
	rule := get[monitoringv1.PrometheusRule](t, objs, "PrometheusRule", fullname)
	assert.Equal(t, "kube-prometheus-stack", rule.Labels["release"])
	var alerts []string
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			t.Run(r.Alert, func(t *testing.T) {
				assert.NotEmpty(t, r.Labels["severity"])
				assert.NotEmpty(t, r.Annotations["summary"])
				assert.NotEmpty(t, r.Annotations["description"])
				const base = "https://github.com/seccomp-guard/seccomp-guard/blob/main/docs/alerts.md#"
				url := r.Annotations["runbook_url"]
				require.True(t, strings.HasPrefix(url, base), "runbook_url %q is not a section of docs/alerts.md", url)
				anchor := strings.TrimPrefix(url, base)
				assert.Equal(t, strings.ToLower(r.Alert), anchor)
				assert.True(t, anchors[anchor], "docs/alerts.md has no section %q (a heading `## %s`)", anchor, r.Alert)
			})
		}
	}
	assert.Equal(t, []string{
		"SeccompGuardWebhookErrors", "SeccompGuardWebhookSlow",
		"SeccompGuardNodeInventoryStale", "SeccompGuardAgentDown", "SeccompGuardAgentSyncStale",
		"SeccompGuardViolationsSpike",
	}, alerts)
}

// TestPrometheusRuleThresholds: the thresholds follow the values they are
// derived from (hack/monitoring parses the expressions themselves).
func TestPrometheusRuleThresholds(t *testing.T) {
	exprOf := func(t *testing.T, vals map[string]any, alert string) string {
		t.Helper()
		rule := get[monitoringv1.PrometheusRule](t, render(t, vals), "PrometheusRule", fullname)
		for _, g := range rule.Spec.Groups {
			for _, r := range g.Rules {
				if r.Alert == alert {
					return r.Expr.String()
				}
			}
		}
		t.Fatalf("no alert %s", alert)
		return ""
	}
	tests := []struct {
		name   string
		values []any
		alert  string
		want   string
	}{
		{name: "stale after the policy's staleAfter", alert: "SeccompGuardNodeInventoryStale", want: "max by (node) (seccomp_guard_node_inventory_age_seconds) > 300"},
		{name: "the policy's staleAfter in hours and minutes", values: []any{"policy.spec.localhost.staleAfter", "1h30m"}, alert: "SeccompGuardNodeInventoryStale", want: "> 5400"},
		{name: "inventoryStaleAfter overrides it", values: []any{"monitoring.prometheusRule.inventoryStaleAfter", "90s", "policy.spec.localhost.staleAfter", "1h"}, alert: "SeccompGuardNodeInventoryStale", want: "> 90"},
		{name: "fractional seconds", values: []any{"monitoring.prometheusRule.inventoryStaleAfter", "1.5s"}, alert: "SeccompGuardNodeInventoryStale", want: "> 1.5"},
		{name: "agent sync after resyncs", values: []any{"agent.resync", "2m", "monitoring.prometheusRule.agentSyncStaleResyncs", 4}, alert: "SeccompGuardAgentSyncStale", want: "> 4 * 120"},
		{name: "latency against each webhook's timeout", values: []any{"webhook.timeoutSeconds.mutating", 2, "webhook.timeoutSeconds.validating", 10}, alert: "SeccompGuardWebhookSlow", want: "{webhook=\"mutate\"}[5m])))\n  > 0.8 * 2\nor\nhistogram_quantile(0.99, sum by (webhook, le) (rate(seccomp_guard_admission_duration_seconds_bucket{webhook=\"validate\"}[5m])))\n  > 0.8 * 10"},
		{name: "agent job", alert: "SeccompGuardAgentDown", want: `up{job="sg-seccomp-guard-agent-metrics"} == 0`},
		{name: "violations per second", values: []any{"monitoring.prometheusRule.violationsPerSecond", 2.5}, alert: "SeccompGuardViolationsSpike", want: "> 2.5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Contains(t, exprOf(t, values(append(tc.values, monitoringOn...)...), tc.alert), tc.want)
		})
	}
}

func TestDashboard(t *testing.T) {
	tests := []struct {
		name            string
		values          []any
		wantNamespace   string
		wantLabel       [2]string
		wantAnnotations map[string]string
	}{
		{name: "sidecar defaults", wantNamespace: namespace, wantLabel: [2]string{"grafana_dashboard", "1"}},
		{name: "another label, namespace and folder", values: []any{
			"monitoring.dashboard.namespace", "monitoring",
			"monitoring.dashboard.labelKey", "example.com/dashboard",
			"monitoring.dashboard.labelValue", "seccomp",
			"monitoring.dashboard.annotations", map[string]any{"grafana_folder": "Security"},
		}, wantNamespace: "monitoring", wantLabel: [2]string{"example.com/dashboard", "seccomp"}, wantAnnotations: map[string]string{"grafana_folder": "Security"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cm := get[corev1.ConfigMap](t, render(t, values(append(tc.values, monitoringOn...)...)), "ConfigMap", fullname+"-dashboard")
			assert.Equal(t, tc.wantNamespace, cm.Namespace)
			assert.Equal(t, tc.wantLabel[1], cm.Labels[tc.wantLabel[0]])
			assert.Equal(t, tc.wantAnnotations, cm.Annotations)
			require.Len(t, cm.Data, 1)
			checkDashboard(t, cm.Data["seccomp-guard.json"])
		})
	}
}

// grafanaDashboard is the part of Grafana's dashboard model the chart's
// dashboard must fill.
type grafanaDashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query string `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr  string `json:"expr"`
			RefID string `json:"refId"`
		} `json:"targets"`
	} `json:"panels"`
}

// checkDashboard: valid JSON; every panel but a row (which holds no query)
// has the Prometheus data source variable and queries. hack/monitoring
// parses the queries and checks their metrics.
func checkDashboard(t *testing.T, data string) {
	t.Helper()
	var d grafanaDashboard
	require.NoError(t, json.Unmarshal([]byte(data), &d), "the dashboard is not valid JSON")
	assert.Equal(t, "seccomp-guard", d.UID)
	require.Len(t, d.Templating.List, 1)
	assert.Equal(t, "datasource", d.Templating.List[0].Type)
	assert.Equal(t, "prometheus", d.Templating.List[0].Query)
	ids := map[int]bool{}
	queries := 0
	for _, p := range d.Panels {
		assert.False(t, ids[p.ID], "panel id %d is used twice", p.ID)
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if assert.NotNil(t, p.Datasource, "panel %q has no datasource", p.Title) {
			assert.Equal(t, "prometheus", p.Datasource.Type, p.Title)
			assert.Equal(t, "${datasource}", p.Datasource.UID, p.Title)
		}
		assert.NotEmpty(t, p.Targets, "panel %q has no targets", p.Title)
		for _, target := range p.Targets {
			assert.NotEmpty(t, target.Expr, "panel %q target %s", p.Title, target.RefID)
			queries++
		}
	}
	assert.GreaterOrEqual(t, queries, 10)
}
