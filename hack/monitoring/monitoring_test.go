package monitoring_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/seccomp-guard/seccomp-guard/internal/monitoring"
)

// repoRoot is two directories up: hack/monitoring.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	return root
}

// renderShown renders one template of the chart with every monitoring object on.
func renderShown(t *testing.T, template string, extra ...string) []byte {
	t.Helper()
	root := repoRoot(t)
	helm := filepath.Join(root, "bin", "helm")
	if _, err := os.Stat(helm); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: run `make tools`", helm)
		}
		t.Skipf("%s is missing: run `make tools`", helm)
	}
	args := []string{"template", "sg", filepath.Join(root, "charts", "seccomp-guard"), "--namespace", "seccomp-guard",
		"--set", "monitoring.serviceMonitor.enabled=true", "--set", "monitoring.prometheusRule.enabled=true",
		"--set", "monitoring.dashboard.enabled=true", "--show-only", "templates/" + template}
	cmd := exec.Command(helm, append(args, extra...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "helm template: %s", stderr.String())
	return out
}

// known maps every series name the chart may query to the labels it has
// (those of the metric, the scrape target's and, for buckets, le).
func known() map[string][]string {
	m := map[string][]string{}
	for _, metric := range slices.Concat(monitoring.WebhookMetrics, monitoring.AgentMetrics) {
		for _, s := range metric.Series() {
			labels := slices.Concat(metric.Labels, monitoring.TargetLabels, []string{"node"})
			if strings.HasSuffix(s, "_bucket") {
				labels = append(labels, "le")
			}
			m[s] = labels
		}
	}
	for _, s := range monitoring.ScrapeSeries {
		m[s] = slices.Concat(monitoring.TargetLabels, []string{"node"})
	}
	return m
}

// problems parses a PromQL expression and returns what is wrong with it:
// a parse error, no selector, a series no seccomp-guard binary exposes, or
// a label that series does not have.
func problems(expr string) []string {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return []string{err.Error()}
	}
	series := known()
	var out []string
	selectors := 0
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		selectors++
		labels, ok := series[vs.Name]
		if !ok {
			out = append(out, fmt.Sprintf("%q is not exposed by any seccomp-guard binary (internal/monitoring)", vs.Name))
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name != "__name__" && !slices.Contains(labels, m.Name) {
				out = append(out, fmt.Sprintf("%s has no label %q", vs.Name, m.Name))
			}
		}
		return nil
	})
	if selectors == 0 {
		out = append(out, "selects no series")
	}
	return out
}

func TestProblems(t *testing.T) {
	tests := []struct {
		name, expr string
		want       []string
	}{
		{name: "a known counter and label", expr: `rate(seccomp_guard_violations_total{namespace="a"}[5m])`},
		{name: "a histogram bucket with le", expr: `seccomp_guard_admission_duration_seconds_bucket{le="1"}`},
		{name: "up with the node target label", expr: `up{node="n"} == 0`},
		{name: "an unknown metric", expr: `rate(seccomp_guard_nonexistent_total[5m])`, want: []string{`"seccomp_guard_nonexistent_total" is not exposed by any seccomp-guard binary (internal/monitoring)`}},
		{name: "a histogram's base name", expr: `seccomp_guard_admission_duration_seconds`, want: []string{`"seccomp_guard_admission_duration_seconds" is not exposed by any seccomp-guard binary (internal/monitoring)`}},
		{name: "an unknown label", expr: `seccomp_guard_admission_requests_total{verdict="error"}`, want: []string{`seccomp_guard_admission_requests_total has no label "verdict"`}},
		{name: "no selector", expr: `time()`, want: []string{"selects no series"}},
		{name: "a Grafana variable", expr: `rate(seccomp_guard_violations_total[$__rate_interval])`, want: []string{`1:37: parse error: unexpected character in duration expression: '$'`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, problems(tc.expr))
		})
	}
}

func TestPrometheusRule(t *testing.T) {
	var raw map[string]any
	require.NoError(t, yaml.Unmarshal(renderShown(t, "monitoring-prometheusrule.yaml"), &raw))
	spec, err := yaml.Marshal(raw["spec"])
	require.NoError(t, err)
	// rulefmt.Parse is what `promtool check rules` runs: groups, rule
	// fields, durations, and every expr and template.
	groups, errs := rulefmt.Parse(spec, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	require.Empty(t, errs, "promtool semantics:\n%s", spec)
	require.Len(t, groups.Groups, 3)
	alerts := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts++
			assert.Empty(t, problems(r.Expr), "alert %s: %s", r.Alert, r.Expr)
		}
	}
	assert.Equal(t, 6, alerts)
}

func TestDashboardQueries(t *testing.T) {
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	require.NoError(t, yaml.Unmarshal(renderShown(t, "monitoring-dashboard.yaml"), &cm))
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal([]byte(cm.Data["seccomp-guard.json"]), &d))
	queried := map[string]bool{}
	for _, p := range d.Panels {
		for _, target := range p.Targets {
			assert.Empty(t, problems(target.Expr), "panel %q: %s", p.Title, target.Expr)
			e, err := parser.NewParser(parser.Options{}).ParseExpr(target.Expr)
			require.NoError(t, err)
			for _, vs := range parser.ExtractSelectors(e) {
				for _, m := range vs {
					if m.Name == "__name__" {
						queried[m.Value] = true
					}
				}
			}
		}
	}
	// The dashboard shows every metric of the contract.
	for _, metric := range slices.Concat(monitoring.WebhookMetrics, monitoring.AgentMetrics) {
		found := false
		for _, s := range metric.Series() {
			found = found || queried[s]
		}
		assert.True(t, found, "no panel shows %s", metric.Name)
	}
}
