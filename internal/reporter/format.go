package reporter

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	openreportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Format is the API the reports are written in.
type Format string

// The formats: OpenReports (openreports.io/v1alpha1 Report and
// ClusterReport), and the older wgpolicyk8s.io/v1alpha2 PolicyReport and
// ClusterPolicyReport that some tools still read only.
const (
	FormatOpenReports Format = "openreports"
	FormatWGPolicy    Format = "wgpolicyk8s"
)

// Formats lists the formats, the default first.
func Formats() []Format { return []Format{FormatOpenReports, FormatWGPolicy} }

// ParseFormat checks a --format value.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats() {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("--format %q is not a report format; use %s (openreports.io/v1alpha1 Report, ClusterReport) or %s (wgpolicyk8s.io/v1alpha2 PolicyReport, ClusterPolicyReport)", s, FormatOpenReports, FormatWGPolicy)
}

// Labels and annotations on every report the reporter writes.
const (
	// ManagedByLabel marks the reports the reporter owns: it deletes those
	// it no longer wants and never touches others.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// ContentAnnotation is a digest of the report's results and summary:
	// the reporter rewrites a report only when it changes.
	ContentAnnotation = "seccomp-guard.io/content-sha256"
	// OmittedAnnotation counts the results left out to keep the report
	// within bounds (the summary still counts them).
	OmittedAnnotation = "seccomp-guard.io/omitted-results"
)

// digest is the content digest of a report.
func (rep *Report) digest(policyName string) string {
	b, _ := json.Marshal(struct {
		Policy string
		*Report
	}{policyName, rep})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (rep *Report) meta(policyName string) metav1.ObjectMeta {
	m := metav1.ObjectMeta{
		Name:        ReportName,
		Namespace:   rep.Namespace,
		Labels:      map[string]string{ManagedByLabel: Source},
		Annotations: map[string]string{ContentAnnotation: rep.digest(policyName)},
	}
	if rep.Omitted > 0 {
		m.Annotations[OmittedAnnotation] = strconv.Itoa(rep.Omitted)
	}
	return m
}

// object is the report in format f: a namespaced report, or the cluster
// report when rep.Namespace is "".
func (f Format) object(rep *Report, policyName string, maxResults int, now metav1.Time) (client.Object, error) {
	results := make([]openreportsv1alpha1.ReportResult, len(rep.Results))
	for i, r := range rep.Results {
		results[i] = openreportsv1alpha1.ReportResult{
			Source:      Source,
			Policy:      policyName,
			Rule:        r.Rule,
			Category:    "seccomp",
			Severity:    openreportsv1alpha1.ResultSeverity(r.Severity),
			Timestamp:   metav1.Timestamp{Seconds: now.Unix()},
			Result:      openreportsv1alpha1.Result(r.Result),
			Subjects:    []corev1.ObjectReference{r.Subject},
			Description: r.Message,
			Properties:  r.Properties,
		}
	}
	summary := openreportsv1alpha1.ReportSummary{Pass: rep.Summary.Pass, Fail: rep.Summary.Fail, Warn: rep.Summary.Warn, Error: rep.Summary.Error, Skip: rep.Summary.Skip}
	config := &openreportsv1alpha1.ReportConfiguration{Limits: openreportsv1alpha1.Limits{MaxResults: maxResults}}
	var obj client.Object
	if rep.Namespace == "" {
		obj = &openreportsv1alpha1.ClusterReport{
			TypeMeta:      metav1.TypeMeta{APIVersion: openreportsv1alpha1.SchemeGroupVersion.String(), Kind: "ClusterReport"},
			ObjectMeta:    rep.meta(policyName),
			Source:        Source,
			Configuration: config,
			Summary:       summary,
			Results:       results,
		}
	} else {
		obj = &openreportsv1alpha1.Report{
			TypeMeta:      metav1.TypeMeta{APIVersion: openreportsv1alpha1.SchemeGroupVersion.String(), Kind: "Report"},
			ObjectMeta:    rep.meta(policyName),
			Source:        Source,
			Configuration: config,
			Summary:       summary,
			Results:       results,
		}
	}
	if f == FormatWGPolicy {
		return toWGPolicy(obj)
	}
	return obj, nil
}

// lists returns empty lists of the format's namespaced and cluster reports.
func (f Format) lists() (namespaced, cluster client.ObjectList) {
	if f == FormatWGPolicy {
		return wgpolicyLists()
	}
	return &openreportsv1alpha1.ReportList{}, &openreportsv1alpha1.ClusterReportList{}
}
