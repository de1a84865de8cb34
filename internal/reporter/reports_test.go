package reporter

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/cli"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// brief is a result as one line, for exact comparisons.
func brief(r Result) string {
	return fmt.Sprintf("%s %s/%s %s %s %s: %s", r.Result, r.Subject.Kind, r.Subject.Name, r.Rule, r.Severity, r.Subject.APIVersion, r.Message)
}

func briefs(rs []Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = brief(r)
	}
	return out
}

func TestBuild(t *testing.T) {
	deny := func(kind, name string, reasons ...policy.Reason) cli.ObjectAudit {
		return cli.ObjectAudit{Kind: kind, Name: name, Status: cli.AuditDeny, Reasons: reasons, Message: kind + " " + name + " is forbidden"}
	}
	audit := &cli.AuditReport{Namespaces: []cli.NamespaceAudit{
		{Name: "legacy", Mode: v1alpha1.ModeDisabled, NextMode: v1alpha1.ModeAudit, Recommendation: "ready for audit, which denies nothing; ...", Objects: []cli.ObjectAudit{
			deny("Deployment", "web", policy.ReasonUnconfinedForbidden),
			{Kind: "CronJob", Name: "nightly", Status: cli.AuditDefault, Defaulted: "RuntimeDefault", Owns: map[string]int{"Job": 2, "Pod": 1}},
		}},
		{Name: "shop", Mode: v1alpha1.ModeWarn, NextMode: v1alpha1.ModeEnforce, Recommendation: "2 objects would be denied at enforce: ...", Objects: []cli.ObjectAudit{
			{Kind: "Pod", Name: "static", Status: cli.AuditNotApplicable, Detail: "a mirror pod"},
			deny("Pod", "debug", policy.ReasonPrivilegedForbidden, policy.ReasonUnconfinedForbidden),
			deny("StatefulSet", "db", policy.ReasonProfileMissing),
			{Kind: "Deployment", Name: "api", Status: cli.AuditOK},
		}, Profiles: []cli.RunningProfile{
			{Pod: "db-0", Owner: "StatefulSet/db", Container: "db", Profile: "localhost/db.json", Node: "node-a", State: cli.ProfileStateGone, Detail: "gone from node node-a"},
			{Pod: "api-1", Container: "api", Profile: "localhost/api.json", Node: "node-b", State: cli.ProfileStateOK},
			{Pod: "api-2", Container: "api", Profile: "localhost/api.json", Node: "node-c", State: cli.ProfileStateChanged, Detail: "sha256 differs"},
		}},
		{Name: "prod", Mode: v1alpha1.ModeEnforce, NextMode: v1alpha1.ModeEnforce, Recommendation: "at enforce: nothing would be denied", Objects: []cli.ObjectAudit{
			{Kind: "Deployment", Name: "shop", Status: cli.AuditOK},
		}},
		{Name: "kube-system", Mode: v1alpha1.ModeDisabled, NextMode: v1alpha1.ModeAudit, Exempt: true, Recommendation: "exempt", Objects: []cli.ObjectAudit{
			{Kind: "Pod", Name: "kube-proxy", Status: cli.AuditExempt, Detail: "namespace is exempt"},
		}},
		{Name: "empty", Mode: v1alpha1.ModeAudit, NextMode: v1alpha1.ModeWarn, Recommendation: "ready for warn", Objects: []cli.ObjectAudit{}},
		{Name: "seccomp-guard-system", Mode: v1alpha1.ModeDisabled, NextMode: v1alpha1.ModeAudit, Recommendation: "ready for audit", Objects: []cli.ObjectAudit{deny("Pod", "x", policy.ReasonPrivilegedForbidden)}},
	}}
	set := Build(audit, BuildOptions{Excluded: map[string]bool{"seccomp-guard-system": true}})

	require.Len(t, set.Namespaces, 4, "one report per namespace with results: not empty, not the excluded one")
	byNS := map[string]Report{}
	for _, r := range set.Namespaces {
		byNS[r.Namespace] = r
	}
	assert.Equal(t, []string{
		"warn Deployment/web UnconfinedForbidden medium apps/v1: Deployment web is forbidden",
		"pass CronJob/nightly ProfileDefaulted  batch/v1: admitted at audit; admission sets seccompProfile RuntimeDefault on its pods",
	}, briefs(byNS["legacy"].Results), "the next step of a disabled namespace denies nothing: warn, not fail")
	assert.Equal(t, map[string]string{"mode": "disabled", "nextMode": "audit", "owns": "Job=2,Pod=1", "defaulted": "RuntimeDefault"}, byNS["legacy"].Results[1].Properties)
	assert.Equal(t, []string{
		"fail Pod/db-0 ProfileGone high v1: container \"db\", profile localhost/db.json on node node-a: gone from node node-a",
		"fail Pod/debug PrivilegedForbidden high v1: Pod debug is forbidden",
		"fail StatefulSet/db ProfileMissing high apps/v1: StatefulSet db is forbidden",
		"warn Pod/api-2 ProfileChanged medium v1: container \"api\", profile localhost/api.json on node node-c: sha256 differs",
		"pass Deployment/api ProfileSet  apps/v1: admitted at enforce as it is",
		"skip Pod/static NotApplicable  v1: a mirror pod",
	}, briefs(byNS["shop"].Results), "sorted fail, warn, pass, skip; a profile that is ok on its node has no result")
	assert.Equal(t, "PrivilegedForbidden,UnconfinedForbidden", byNS["shop"].Results[1].Properties["reasons"])
	assert.Equal(t, Summary{Pass: 1, Fail: 3, Warn: 1, Skip: 1}, byNS["shop"].Summary)
	assert.Equal(t, []string{"skip Pod/kube-proxy Exempt  v1: namespace is exempt"}, briefs(byNS["kube-system"].Results))

	assert.Equal(t, []string{
		"fail Namespace/shop NextStep high v1: 2 objects would be denied at enforce: ...",
		"warn Namespace/legacy NextStep medium v1: ready for audit, which denies nothing; ...",
		"pass Namespace/empty NextStep  v1: ready for warn",
		"pass Namespace/prod NextStep  v1: at enforce: nothing would be denied",
		"skip Namespace/kube-system NextStep  v1: exempt",
	}, briefs(set.Cluster.Results))
	assert.Equal(t, "", set.Cluster.Namespace)

	assert.Equal(t, v1alpha1.LadderStep{Namespaces: 1, Violating: 1, Summary: "1 ns, 1 violating"}, set.Ladder.Disabled, "kube-system is exempt and seccomp-guard-system excluded")
	assert.Equal(t, v1alpha1.LadderStep{Namespaces: 1, Summary: "1 ns, 0 violating"}, set.Ladder.Audit)
	assert.Equal(t, v1alpha1.LadderStep{Namespaces: 1, Violating: 2, Summary: "1 ns, 2 violating"}, set.Ladder.Warn)
	assert.Equal(t, v1alpha1.LadderStep{Namespaces: 1, Summary: "1 ns, 0 violating"}, set.Ladder.Enforce)
}

func TestBuildBoundsReports(t *testing.T) {
	objects := func(n int, message string) []cli.ObjectAudit {
		out := make([]cli.ObjectAudit, n)
		for i := range out {
			out[i] = cli.ObjectAudit{Kind: "Pod", Name: fmt.Sprintf("p%05d", i), Status: cli.AuditDeny, Reasons: []policy.Reason{policy.ReasonUnconfinedForbidden}, Message: message}
		}
		return out
	}
	cases := []struct {
		name        string
		objects     []cli.ObjectAudit
		max         int
		wantResults int
		wantOmitted int
	}{
		{name: "under the count", objects: objects(10, "m"), max: 10, wantResults: 10},
		{name: "over the count", objects: objects(25, "m"), max: 10, wantResults: 10, wantOmitted: 15},
		// 5,000 results of 2 KiB would be 10 MiB: the size bound keeps
		// the report under 1 MiB whatever --max-results says.
		{name: "over the size", objects: objects(5000, strings.Repeat("x", 4000)), max: 5000, wantResults: 451, wantOmitted: 4549},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			audit := &cli.AuditReport{Namespaces: []cli.NamespaceAudit{{Name: "ns", Mode: v1alpha1.ModeWarn, NextMode: v1alpha1.ModeEnforce, Objects: tc.objects}}}
			set := Build(audit, BuildOptions{MaxResults: tc.max})
			require.Len(t, set.Namespaces, 1)
			rep := set.Namespaces[0]
			assert.Equal(t, tc.wantResults, len(rep.Results))
			assert.Equal(t, tc.wantOmitted, rep.Omitted)
			assert.Equal(t, len(tc.objects), rep.Summary.Fail, "the summary counts every result, kept or not")
			size := 0
			for _, r := range rep.Results {
				assert.LessOrEqual(t, len(r.Message), maxMessageBytes)
				size += resultSize(r)
			}
			assert.LessOrEqual(t, size, maxReportBytes)
		})
	}
}

func TestTruncate(t *testing.T) {
	long := strings.Repeat("é", 2000) // 4,000 bytes
	got := truncate(long, maxMessageBytes)
	assert.LessOrEqual(t, len(got), maxMessageBytes)
	assert.True(t, strings.HasSuffix(got, "... (truncated; run seccomp-guard audit for the whole message)"))
	assert.True(t, strings.HasPrefix(got, "éé"))
	assert.NotContains(t, got, "\uFFFD")
	assert.Equal(t, "short", truncate("short", maxMessageBytes))
}

func TestProfileResultUnchecked(t *testing.T) {
	r, ok := profileResult("ns", cli.RunningProfile{Pod: "p", Container: "c", Profile: "localhost/x.json", Node: "n", State: "unknown", Detail: "the inventory of node n is stale"})
	require.True(t, ok)
	assert.Equal(t, "warn Pod/p ProfileUnchecked low v1: container \"c\", profile localhost/x.json on node n: the inventory of node n is stale", brief(r))
	assert.Equal(t, "unknown", r.Properties["state"])
	assert.Equal(t, corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: "ns", Name: "p"}, r.Subject)
}
