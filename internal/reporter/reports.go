// Package reporter keeps policy reports of what is already running current:
// `seccomp-guard reporter` evaluates the cluster with the same code as
// `seccomp-guard audit` (cli.Audit, which calls policy/) and writes the
// result as one report per namespace, a cluster report that summarises the
// namespaces, and the rollout ladder in the ClusterSeccompPolicy's status.
//
// This file is pure: it turns an audit into reports. reporter.go watches
// the cluster and writes them.
package reporter

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/cli"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// The result of a report entry, as the OpenReports and wgpolicyk8s APIs
// spell them.
const (
	ResultPass = "pass" // admitted at the next step, as it is or defaulted
	ResultFail = "fail" // denied at the next step (enforce), or a running pod's profile is gone
	ResultWarn = "warn" // breaks a rule, but the next step only audits or warns; or a profile changed
	ResultSkip = "skip" // exempt, or not applicable (mirror and Windows pods)
)

// Rules of results that are not a policy.Reason.
const (
	RuleDefaulted      = "ProfileDefaulted" // admitted; admission sets the default profile
	RuleAdmitted       = "ProfileSet"       // admitted as it is
	RuleExempt         = "Exempt"
	RuleNotApplicable  = "NotApplicable"
	RuleProfileGone    = "ProfileGone"      // a running pod's Localhost profile is gone from its node
	RuleProfileChanged = "ProfileChanged"   // ... differs from the rest of the fleet
	RuleProfileUnknown = "ProfileUnchecked" // ... cannot be checked (stale or invalid inventory)
	RuleNextStep       = "NextStep"         // the cluster report: a namespace's next step
)

// Source is the reports' source and the manager label's value.
const Source = "seccomp-guard"

// ReportName is the name of every report: one per namespace, and the
// cluster report.
const ReportName = "seccomp-guard"

// Bounds of a report: its number of results, the length of one message,
// and its estimated size (etcd refuses objects over 1.5 MiB).
const (
	DefaultMaxResults = 1000
	maxMessageBytes   = 2048
	maxReportBytes    = 1 << 20
)

// Result is one entry of a report, in neither API's types yet.
type Result struct {
	Subject    corev1.ObjectReference
	Rule       string
	Result     string
	Severity   string
	Message    string
	Properties map[string]string
}

// Summary counts a report's results, including those left out.
type Summary struct {
	Pass, Fail, Warn, Error, Skip int
}

func (s *Summary) add(result string) {
	switch result {
	case ResultPass:
		s.Pass++
	case ResultFail:
		s.Fail++
	case ResultWarn:
		s.Warn++
	case ResultSkip:
		s.Skip++
	default:
		s.Error++
	}
}

// Report is a namespace's report ("" for the cluster report).
type Report struct {
	Namespace string
	Results   []Result
	Summary   Summary
	// Omitted counts the results left out to keep the report within
	// bounds; Summary still counts them.
	Omitted int
}

// Set is everything the reporter writes after one evaluation.
type Set struct {
	// Policy is the ClusterSeccompPolicy the results name.
	Policy     string
	Namespaces []Report
	Cluster    Report
	Ladder     v1alpha1.LadderStatus
}

// BuildOptions bound and narrow the reports.
type BuildOptions struct {
	// MaxResults bounds the results of each report (DefaultMaxResults when 0).
	MaxResults int
	// Excluded are namespaces the webhook configurations never send (the
	// chart's excludedNamespaces and its release namespace): no report, and
	// not counted on the ladder.
	Excluded map[string]bool
}

// Build turns an audit into reports.
func Build(a *cli.AuditReport, opts BuildOptions) *Set {
	if opts.MaxResults <= 0 {
		opts.MaxResults = DefaultMaxResults
	}
	s := &Set{Policy: v1alpha1.DefaultPolicyName}
	var nsResults []Result
	steps := map[v1alpha1.Mode]*v1alpha1.LadderStep{
		v1alpha1.ModeDisabled: &s.Ladder.Disabled, v1alpha1.ModeAudit: &s.Ladder.Audit,
		v1alpha1.ModeWarn: &s.Ladder.Warn, v1alpha1.ModeEnforce: &s.Ladder.Enforce,
	}
	for i := range a.Namespaces {
		na := &a.Namespaces[i]
		if opts.Excluded[na.Name] {
			continue
		}
		var results []Result
		violating := 0
		for _, o := range na.Objects {
			r := objectResult(na, o)
			if o.Status == cli.AuditDeny {
				violating++
			}
			results = append(results, r)
		}
		for _, rp := range na.Profiles {
			if r, ok := profileResult(na.Name, rp); ok {
				results = append(results, r)
			}
		}
		if len(results) > 0 {
			s.Namespaces = append(s.Namespaces, bound(Report{Namespace: na.Name}, results, opts.MaxResults))
		}
		nsResults = append(nsResults, namespaceResult(na, violating))
		if step := steps[na.Mode]; step != nil && !na.Exempt {
			step.Namespaces++
			step.Violating += int32(violating)
		}
	}
	for _, step := range steps {
		step.Summary = fmt.Sprintf("%d ns, %d violating", step.Namespaces, step.Violating)
	}
	s.Cluster = bound(Report{}, nsResults, opts.MaxResults)
	return s
}

// objectResult is a top-level object's entry: its verdict at the next step.
func objectResult(na *cli.NamespaceAudit, o cli.ObjectAudit) Result {
	r := Result{
		Subject: corev1.ObjectReference{APIVersion: apiVersion(o.Kind), Kind: o.Kind, Namespace: na.Name, Name: o.Name, UID: o.UID},
		Properties: map[string]string{
			"mode":     string(na.Mode),
			"nextMode": string(na.NextMode),
		},
	}
	if len(o.Owns) > 0 {
		r.Properties["owns"] = owns(o.Owns)
	}
	switch o.Status {
	case cli.AuditDeny:
		r.Rule = string(o.Reasons[0])
		if len(o.Reasons) > 1 {
			rs := make([]string, len(o.Reasons))
			for i, reason := range o.Reasons {
				rs[i] = string(reason)
			}
			r.Properties["reasons"] = strings.Join(rs, ",")
		}
		r.Result, r.Severity = ResultWarn, "medium"
		if na.NextMode == v1alpha1.ModeEnforce {
			r.Result, r.Severity = ResultFail, "high"
		}
		r.Message = o.Message
	case cli.AuditDefault:
		r.Rule, r.Result = RuleDefaulted, ResultPass
		r.Message = fmt.Sprintf("admitted at %s; admission sets seccompProfile %s on its pods", na.NextMode, o.Defaulted)
		r.Properties["defaulted"] = o.Defaulted
	case cli.AuditOK:
		r.Rule, r.Result = RuleAdmitted, ResultPass
		r.Message = fmt.Sprintf("admitted at %s as it is", na.NextMode)
	case cli.AuditExempt:
		r.Rule, r.Result, r.Message = RuleExempt, ResultSkip, o.Detail
	default:
		r.Rule, r.Result, r.Message = RuleNotApplicable, ResultSkip, o.Detail
	}
	if len(o.Warnings) > 0 {
		r.Properties["warnings"] = fmt.Sprint(len(o.Warnings))
	}
	return r
}

// profileResult is a running pod's Localhost profile that is not as it
// should be on its node; false when it is.
func profileResult(namespace string, rp cli.RunningProfile) (Result, bool) {
	r := Result{
		Subject: corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: namespace, Name: rp.Pod},
		Properties: map[string]string{
			"node":      rp.Node,
			"container": rp.Container,
			"profile":   rp.Profile,
		},
	}
	if rp.Owner != "" {
		r.Properties["owner"] = rp.Owner
	}
	switch rp.State {
	case cli.ProfileStateOK:
		return Result{}, false
	case cli.ProfileStateGone:
		r.Rule, r.Result, r.Severity = RuleProfileGone, ResultFail, "high"
	case cli.ProfileStateChanged:
		r.Rule, r.Result, r.Severity = RuleProfileChanged, ResultWarn, "medium"
	default:
		r.Rule, r.Result, r.Severity = RuleProfileUnknown, ResultWarn, "low"
		r.Properties["state"] = rp.State
	}
	r.Message = fmt.Sprintf("container %q, profile %s on node %s: %s", rp.Container, rp.Profile, rp.Node, rp.Detail)
	return r, true
}

// namespaceResult is a namespace's entry in the cluster report.
func namespaceResult(na *cli.NamespaceAudit, violating int) Result {
	r := Result{
		Subject: corev1.ObjectReference{APIVersion: "v1", Kind: "Namespace", Name: na.Name},
		Rule:    RuleNextStep,
		Message: na.Recommendation,
		Properties: map[string]string{
			"mode":      string(na.Mode),
			"nextMode":  string(na.NextMode),
			"objects":   fmt.Sprint(len(na.Objects)),
			"violating": fmt.Sprint(violating),
		},
	}
	switch {
	case na.Exempt:
		r.Result = ResultSkip
	case violating == 0:
		r.Result = ResultPass
	case na.NextMode == v1alpha1.ModeEnforce:
		r.Result, r.Severity = ResultFail, "high"
	default:
		r.Result, r.Severity = ResultWarn, "medium"
	}
	return r
}

// bound sorts results (fail, warn, pass, skip; then by subject), counts all
// of them, and keeps those that fit in maxResults and maxReportBytes.
func bound(rep Report, results []Result, maxResults int) Report {
	order := map[string]int{ResultFail: 0, ResultWarn: 1, ResultPass: 2, ResultSkip: 3}
	sort.SliceStable(results, func(i, j int) bool {
		a, b := results[i], results[j]
		if order[a.Result] != order[b.Result] {
			return order[a.Result] < order[b.Result]
		}
		if a.Subject.Kind != b.Subject.Kind {
			return policy.KindIndex(a.Subject.Kind) < policy.KindIndex(b.Subject.Kind)
		}
		if a.Subject.Name != b.Subject.Name {
			return a.Subject.Name < b.Subject.Name
		}
		return a.Rule < b.Rule
	})
	size := 0
	for _, r := range results {
		rep.Summary.add(r.Result)
		r.Message = truncate(r.Message, maxMessageBytes)
		n := resultSize(r)
		if len(rep.Results) >= maxResults || size+n > maxReportBytes {
			rep.Omitted++
			continue
		}
		size += n
		rep.Results = append(rep.Results, r)
	}
	return rep
}

// resultSize estimates a result's size once written: its strings plus
// the JSON keys and the timestamp.
func resultSize(r Result) int {
	n := 200 + len(r.Subject.APIVersion) + len(r.Subject.Kind) + len(r.Subject.Namespace) + len(r.Subject.Name) + len(r.Subject.UID) +
		len(r.Rule) + len(r.Result) + len(r.Severity) + len(r.Message)
	for k, v := range r.Properties {
		n += len(k) + len(v) + 6
	}
	return n
}

// truncate cuts s to at most n bytes on a rune boundary, saying so.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const more = "... (truncated; run seccomp-guard audit for the whole message)"
	cut := n - len(more)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + more
}

// apiVersion of a kind that policy.Kinds lists, by its name.
func apiVersion(kind string) string {
	if k, ok := policy.KindNamed(kind); ok {
		return k.GroupVersion().String()
	}
	return ""
}

// owns is "Pod=3,ReplicaSet=1".
func owns(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, ",")
}
