package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	openreportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	wgpolicyv1alpha2 "github.com/seccomp-guard/seccomp-guard/api/wgpolicyk8s/v1alpha2"
	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/internal/cli"
	"github.com/seccomp-guard/seccomp-guard/internal/reporter"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

const reportNamespace = "e2e-reports"

// TestReports runs the real `seccomp-guard reporter`: objects created while
// their namespace was disabled show up in its report with the verdicts and
// messages of `seccomp-guard audit`; moving the namespace up the ladder
// changes the report within seconds; the policy's status and printer
// columns show the ladder, and are absent before a reporter runs; the
// wgpolicyk8s format writes the same results as PolicyReports.
func TestReports(t *testing.T) {
	ctx := context.Background()
	require.NoError(t, cp.InstallReportCRDs("openreports"))
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultReleaseNamespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
	csp := &v1alpha1.ClusterSeccompPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultPolicyName}}
	require.NoError(t, k8s.Create(ctx, csp))
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), csp) })

	t.Run("without a reporter the ladder columns are absent, not zero", func(t *testing.T) {
		cells := policyColumns(t)
		for _, col := range []string{"Disabled", "Audit", "Warn", "Enforce"} {
			v, ok := cells[col]
			require.True(t, ok, "column %s: have %v", col, cells)
			assert.Nil(t, v, "column %s", col)
		}
	})

	require.NoError(t, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: reportNamespace, Labels: map[string]string{policy.ModeLabel: "disabled"}}}))
	labels := map[string]string{"app": "web"}
	unconfined := &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}}
	for _, obj := range []client.Object{
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: reportNamespace, Name: "web"}, Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.example/web", SecurityContext: unconfined}}}},
		}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: reportNamespace, Name: "debug"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "shell", Image: "registry.example/shell", SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)}}}}},
		&batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: reportNamespace, Name: "nightly"}, Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure, Containers: []corev1.Container{{Name: "backup", Image: "registry.example/backup"}}}}}}}},
	} {
		require.NoError(t, k8s.Create(ctx, obj), "creating %T %s while the namespace is disabled", obj, obj.GetName())
	}

	rep, err := framework.StartReporter(ctx, cp, bin, "reporter", "--debounce=500ms", "--status-interval=1s")
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, rep.Stop()) })

	// audit's messages: the report must carry the same.
	code, stdout, stderr := runAudit(t, "-n", reportNamespace, "-o", "json")
	require.Equal(t, 0, code, stderr)
	var a cli.AuditReport
	require.NoError(t, json.Unmarshal([]byte(stdout), &a))
	require.Len(t, a.Namespaces, 1)
	messages := map[string]string{}
	for _, o := range a.Namespaces[0].Objects {
		messages[o.Kind+"/"+o.Name] = o.Message
	}
	require.NotEmpty(t, messages["Deployment/web"])

	t.Run("disabled: what enforce would deny is a warning", func(t *testing.T) {
		want := map[string]string{
			"Deployment/web":  "warn UnconfinedForbidden: " + messages["Deployment/web"],
			"Pod/debug":       "warn PrivilegedForbidden: " + messages["Pod/debug"],
			"CronJob/nightly": "pass ProfileDefaulted: admitted at audit; admission sets seccompProfile RuntimeDefault on its pods",
		}
		waitReport(t, "the first report", want)
		waitClusterResult(t, "warn")
	})

	t.Run("the ladder in the policy's status and printer columns", func(t *testing.T) {
		err := framework.Poll(ctx, 100*time.Millisecond, 30*time.Second, "the ladder in the status", func(ctx context.Context) error {
			got := &v1alpha1.ClusterSeccompPolicy{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(csp), got); err != nil {
				return err
			}
			if got.Status.Ladder == nil || got.Status.Ladder.Disabled.Violating < 2 {
				return fmt.Errorf("status.ladder is %+v; want disabled with at least the 2 violating objects of %s", got.Status.Ladder, reportNamespace)
			}
			return nil
		})
		require.NoError(t, err)
		cells := policyColumns(t)
		assert.Regexp(t, `^\d+ ns, \d+ violating$`, cells["Disabled"])
		assert.Regexp(t, `^\d+ ns, \d+ violating$`, cells["Enforce"])
	})

	t.Run("moving the namespace up the ladder changes the report within seconds", func(t *testing.T) {
		start := time.Now()
		setNamespaceMode(t, reportNamespace, "warn")
		want := map[string]string{
			"Deployment/web":  "fail UnconfinedForbidden: " + messages["Deployment/web"],
			"Pod/debug":       "fail PrivilegedForbidden: " + messages["Pod/debug"],
			"CronJob/nightly": "pass ProfileDefaulted: admitted at enforce; admission sets seccompProfile RuntimeDefault on its pods",
		}
		waitReport(t, "the report at warn", want)
		t.Logf("the report changed %.1fs after the namespace moved to warn (debounce 500ms)", time.Since(start).Seconds())
		waitClusterResult(t, "fail")
	})

	t.Run("a fixed object leaves the report", func(t *testing.T) {
		require.NoError(t, k8s.Delete(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: reportNamespace, Name: "web"}}))
		waitReport(t, "the report without web", map[string]string{
			"Pod/debug":       "fail PrivilegedForbidden: " + messages["Pod/debug"],
			"CronJob/nightly": "pass ProfileDefaulted: admitted at enforce; admission sets seccompProfile RuntimeDefault on its pods",
		})
	})

	t.Run("wgpolicyk8s", func(t *testing.T) {
		require.NoError(t, rep.Stop())
		require.NoError(t, cp.InstallReportCRDs("wgpolicyk8s"))
		wg, err := framework.StartReporter(ctx, cp, bin, "reporter-wgpolicyk8s", "--format=wgpolicyk8s", "--debounce=500ms")
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, wg.Stop()) })
		err = framework.Poll(ctx, 100*time.Millisecond, 30*time.Second, "the PolicyReport", func(ctx context.Context) error {
			pr := &wgpolicyv1alpha2.PolicyReport{}
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: reportNamespace, Name: reporter.ReportName}, pr); err != nil {
				return err
			}
			got := map[string]string{}
			for _, r := range pr.Results {
				got[r.Subjects[0].Kind+"/"+r.Subjects[0].Name] = fmt.Sprintf("%s %s: %s", r.Result, r.Rule, r.Description)
			}
			want := map[string]string{
				"Pod/debug":       "fail PrivilegedForbidden: " + messages["Pod/debug"],
				"CronJob/nightly": "pass ProfileDefaulted: admitted at enforce; admission sets seccompProfile RuntimeDefault on its pods",
			}
			if !assert.ObjectsAreEqual(want, got) {
				return fmt.Errorf("PolicyReport results %v; want %v", got, want)
			}
			if pr.Summary.Fail != 1 || pr.Summary.Pass != 1 {
				return fmt.Errorf("summary %+v; want 1 fail, 1 pass", pr.Summary)
			}
			return nil
		})
		require.NoError(t, err)
		cpr := &wgpolicyv1alpha2.ClusterPolicyReport{}
		require.NoError(t, k8s.Get(ctx, client.ObjectKey{Name: reporter.ReportName}, cpr))
		assert.NotEmpty(t, cpr.Results)
	})
}

// waitReport waits until the namespace's report has exactly want:
// "Kind/name" -> "result rule: message".
func waitReport(t *testing.T, what string, want map[string]string) {
	t.Helper()
	err := framework.Poll(context.Background(), 100*time.Millisecond, 30*time.Second, what, func(ctx context.Context) error {
		r := &openreportsv1alpha1.Report{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: reportNamespace, Name: reporter.ReportName}, r); err != nil {
			return err
		}
		got := map[string]string{}
		for _, res := range r.Results {
			if len(res.Subjects) != 1 || res.Policy != v1alpha1.DefaultPolicyName || res.Source != reporter.Source {
				return framework.Abort(fmt.Errorf("result %+v: want one subject, policy default, source seccomp-guard", res))
			}
			got[res.Subjects[0].Kind+"/"+res.Subjects[0].Name] = fmt.Sprintf("%s %s: %s", res.Result, res.Rule, res.Description)
		}
		if !assert.ObjectsAreEqual(want, got) {
			return fmt.Errorf("results:\n  %s\nwant:\n  %s", lines(got), lines(want))
		}
		return nil
	})
	require.NoError(t, err)
}

// waitClusterResult waits until the cluster report's entry for the
// namespace has the result.
func waitClusterResult(t *testing.T, result string) {
	t.Helper()
	err := framework.Poll(context.Background(), 100*time.Millisecond, 30*time.Second, "the cluster report", func(ctx context.Context) error {
		r := &openreportsv1alpha1.ClusterReport{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: reporter.ReportName}, r); err != nil {
			return err
		}
		for _, res := range r.Results {
			if res.Subjects[0].Kind == "Namespace" && res.Subjects[0].Name == reportNamespace {
				if string(res.Result) != result {
					return fmt.Errorf("namespace %s: %s (%s); want %s", reportNamespace, res.Result, res.Description, result)
				}
				return nil
			}
		}
		return errors.New("no entry for namespace " + reportNamespace)
	})
	require.NoError(t, err)
}

// policyColumns reads `kubectl get clusterseccomppolicy default` as the
// API server renders it: printer column name -> cell.
func policyColumns(t *testing.T) map[string]any {
	t.Helper()
	hc, err := rest.HTTPClientFor(cp.Config)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(cp.Config.Host, "/")+"/apis/seccomp-guard.io/v1alpha1/clusterseccomppolicies/default", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var table metav1.Table
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&table))
	require.Len(t, table.Rows, 1)
	out := map[string]any{}
	for i, c := range table.ColumnDefinitions {
		out[c.Name] = table.Rows[0].Cells[i]
	}
	return out
}

func lines(m map[string]string) string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+" = "+v)
	}
	sort.Strings(out)
	return strings.Join(out, "\n  ")
}
