package chart_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/internal/nativechart"
)

const reporterName = fullname + "-reporter"

// reportFormats are the values of reporter.format, with the API group and
// the CRDs (files in the chart's report-crds/) of the reports they write.
var reportFormats = []struct {
	format, group string
	resources     []string
	crds          map[string]string // CRD name -> file
}{
	{
		format: "openreports", group: "openreports.io", resources: []string{"reports", "clusterreports"},
		crds: map[string]string{
			"reports.openreports.io":        "openreports.io_reports.yaml",
			"clusterreports.openreports.io": "openreports.io_clusterreports.yaml",
		},
	},
	{
		format: "wgpolicyk8s", group: "wgpolicyk8s.io", resources: []string{"policyreports", "clusterpolicyreports"},
		crds: map[string]string{
			"policyreports.wgpolicyk8s.io":        "wgpolicyk8s.io_policyreports.yaml",
			"clusterpolicyreports.wgpolicyk8s.io": "wgpolicyk8s.io_clusterpolicyreports.yaml",
		},
	},
}

// reportCRDFile reads one CRD of the chart's report-crds/.
func reportCRDFile(t *testing.T, file string) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	root, err := framework.RepoRoot()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(root, "charts", "seccomp-guard", "report-crds", file))
	require.NoError(t, err)
	crd := &apiextensionsv1.CustomResourceDefinition{}
	require.NoError(t, yaml.UnmarshalStrict(b, crd), "report-crds/%s", file)
	return crd
}

// reporterObjects names the objects of the reporter's component.
func reporterObjects(t *testing.T, vals map[string]any) []string {
	t.Helper()
	var out []string
	for _, o := range render(t, vals) {
		if o.GetLabels()["app.kubernetes.io/component"] == "reporter" {
			out = append(out, o.GetKind()+" "+o.GetName())
		}
	}
	return out
}

func TestReporterObjects(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
		want   []string
	}{
		{name: "absent by default"},
		{name: "installCRDs alone installs nothing", values: values("reporter.installCRDs", true)},
		{name: "enabled: its Deployment, ServiceAccount and RBAC, no CRDs", values: values("reporter.enabled", true), want: []string{
			"ServiceAccount " + reporterName,
			"ClusterRole " + reporterName,
			"ClusterRoleBinding " + reporterName,
			"Role " + reporterName,
			"RoleBinding " + reporterName,
			"Deployment " + reporterName,
		}},
		{name: "enabled with installCRDs: the OpenReports CRDs too", values: values("reporter.enabled", true, "reporter.installCRDs", true), want: []string{
			"CustomResourceDefinition reports.openreports.io",
			"CustomResourceDefinition clusterreports.openreports.io",
			"ServiceAccount " + reporterName,
			"ClusterRole " + reporterName,
			"ClusterRoleBinding " + reporterName,
			"Role " + reporterName,
			"RoleBinding " + reporterName,
			"Deployment " + reporterName,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.ElementsMatch(t, tc.want, reporterObjects(t, tc.values))
		})
	}
}

func TestReporterDeployment(t *testing.T) {
	for _, f := range reportFormats {
		t.Run(f.format, func(t *testing.T) {
			objs := render(t, values("reporter.enabled", true, "reporter.format", f.format))
			d := get[appsv1.Deployment](t, objs, "Deployment", reporterName)
			assert.Equal(t, new(int32(1)), d.Spec.Replicas)
			assert.Equal(t, map[string]string{
				"app.kubernetes.io/name":      "seccomp-guard",
				"app.kubernetes.io/instance":  release,
				"app.kubernetes.io/component": "reporter",
			}, d.Spec.Selector.MatchLabels)
			pod := d.Spec.Template.Spec
			assert.Equal(t, reporterName, pod.ServiceAccountName)
			assert.Equal(t, &corev1.PodSecurityContext{
				RunAsNonRoot: new(true), RunAsUser: new(int64(65532)), RunAsGroup: new(int64(65532)),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			}, pod.SecurityContext)
			assert.Equal(t, map[string]string{"kubernetes.io/os": "linux"}, pod.NodeSelector)
			assert.Empty(t, pod.Tolerations)
			assert.Nil(t, pod.Affinity)
			require.Len(t, pod.Containers, 1)
			c := pod.Containers[0]
			webhook := get[appsv1.Deployment](t, objs, "Deployment", fullname+"-webhook").Spec.Template.Spec.Containers[0]
			assert.Equal(t, webhook.Image, c.Image, "the webhook's image")
			assert.Equal(t, "ghcr.io/seccomp-guard/seccomp-guard:0.1.0", c.Image)
			assert.Equal(t, []string{
				"reporter",
				"--format=" + f.format,
				"--release-namespace=" + namespace,
				"--leader-elect=true",
				"--excluded-namespaces=kube-system,kube-node-lease," + namespace,
				"--debounce=2s",
				"--max-results=1000",
				"--metrics-bind-address=:8080",
				"--health-probe-bind-address=:8081",
			}, c.Args)
			assert.Equal(t, []corev1.ContainerPort{
				{Name: "metrics", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
				{Name: "healthz", ContainerPort: 8081, Protocol: corev1.ProtocolTCP},
			}, c.Ports)
			require.NotNil(t, c.ReadinessProbe)
			assert.Equal(t, &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("healthz")}, c.ReadinessProbe.HTTPGet)
			require.NotNil(t, c.LivenessProbe)
			assert.Equal(t, &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("healthz")}, c.LivenessProbe.HTTPGet)
			assert.Equal(t, webhook.SecurityContext, c.SecurityContext, "the webhook's container securityContext")
			assert.Equal(t, &corev1.SecurityContext{
				RunAsNonRoot:             new(true),
				ReadOnlyRootFilesystem:   new(true),
				AllowPrivilegeEscalation: new(false),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			}, c.SecurityContext)
			assert.Equal(t, corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
			}, c.Resources)
			assert.Equal(t, []corev1.EnvVar{{Name: "GOMEMLIMIT", Value: "230MiB"}}, c.Env, "90% of the memory limit")
		})
	}
}

func TestReporterValues(t *testing.T) {
	toleration := corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "infra", Effect: corev1.TaintEffectNoSchedule}
	tests := []struct {
		name   string
		values map[string]any
		check  func(t *testing.T, d *appsv1.Deployment)
	}{
		{
			name:   "two replicas (leader election keeps one at work)",
			values: values("reporter.replicas", 2),
			check: func(t *testing.T, d *appsv1.Deployment) {
				assert.Equal(t, new(int32(2)), d.Spec.Replicas)
			},
		},
		{
			name:   "debounce, a large maxResults and extra arguments",
			values: values("reporter.debounce", "1m30s", "reporter.maxResults", 5000, "reporter.extraArgs", []string{"--zap-log-level=debug"}),
			check: func(t *testing.T, d *appsv1.Deployment) {
				args := d.Spec.Template.Spec.Containers[0].Args
				assert.Contains(t, args, "--debounce=1m30s")
				assert.Contains(t, args, "--max-results=5000", "an integer, not 5e+03")
				assert.Equal(t, "--zap-log-level=debug", args[len(args)-1])
			},
		},
		{
			name: "a memory limit in Gi",
			values: values("reporter.resources", map[string]any{
				"requests": map[string]any{"cpu": "200m", "memory": "1Gi"}, "limits": map[string]any{"memory": "1Gi"},
			}),
			check: func(t *testing.T, d *appsv1.Deployment) {
				assert.Equal(t, []corev1.EnvVar{{Name: "GOMEMLIMIT", Value: "921MiB"}}, d.Spec.Template.Spec.Containers[0].Env)
			},
		},
		{
			name:   "no memory limit: no GOMEMLIMIT",
			values: values("reporter.resources.limits", nil),
			check: func(t *testing.T, d *appsv1.Deployment) {
				c := d.Spec.Template.Spec.Containers[0]
				assert.Empty(t, c.Resources.Limits)
				assert.Empty(t, c.Env)
			},
		},
		{
			name: "placement",
			values: values(
				"reporter.nodeSelector", map[string]any{"node-role.example.com/infra": "true"},
				"reporter.tolerations", []any{map[string]any{"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}},
				"reporter.affinity", map[string]any{"nodeAffinity": map[string]any{"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
					"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{map[string]any{"key": "zone", "operator": "In", "values": []any{"a"}}}}},
				}}},
				"reporter.podAnnotations", map[string]any{"example.com/scrape": "true"},
			),
			check: func(t *testing.T, d *appsv1.Deployment) {
				pod := d.Spec.Template
				assert.Equal(t, map[string]string{"kubernetes.io/os": "linux", "node-role.example.com/infra": "true"}, pod.Spec.NodeSelector,
					"Helm merges a nodeSelector into the default")
				assert.Equal(t, []corev1.Toleration{toleration}, pod.Spec.Tolerations)
				require.NotNil(t, pod.Spec.Affinity)
				require.NotNil(t, pod.Spec.Affinity.NodeAffinity)
				assert.Equal(t, map[string]string{"example.com/scrape": "true"}, pod.Annotations)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.values["reporter"].(map[string]any)["enabled"] = true
			tc.check(t, get[appsv1.Deployment](t, render(t, tc.values), "Deployment", reporterName))
		})
	}
}

func TestReporterRBAC(t *testing.T) {
	for _, f := range reportFormats {
		t.Run(f.format, func(t *testing.T) {
			objs := render(t, values("reporter.enabled", true, "reporter.format", f.format))
			read := []string{"get", "list", "watch"}

			cr := get[rbacv1.ClusterRole](t, objs, "ClusterRole", reporterName)
			want := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces", "nodes"}, Verbs: read}}
			want = append(want, nativechart.ReporterReadRules()...)
			want = append(want,
				rbacv1.PolicyRule{APIGroups: []string{"seccomp-guard.io"}, Resources: []string{"clusterseccomppolicies", "nodeseccompinventories"}, Verbs: read},
				rbacv1.PolicyRule{APIGroups: []string{"seccomp-guard.io"}, Resources: []string{"clusterseccomppolicies/status"}, Verbs: []string{"get", "update", "patch"}},
				rbacv1.PolicyRule{APIGroups: []string{f.group}, Resources: f.resources, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
			)
			assert.Equal(t, want, cr.Rules)

			t.Run("reads every workload kind and pods", func(t *testing.T) {
				for _, gr := range []string{"/pods", "/replicationcontrollers", "apps/deployments", "apps/replicasets", "apps/statefulsets",
					"apps/daemonsets", "batch/jobs", "batch/cronjobs"} {
					group, res, _ := strings.Cut(gr, "/")
					assert.True(t, slices.ContainsFunc(cr.Rules, func(r rbacv1.PolicyRule) bool {
						return slices.Equal(r.Verbs, read) && slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, res)
					}), "no get/list/watch on %s", gr)
				}
			})

			t.Run("writes only the reports of its format", func(t *testing.T) {
				for _, other := range reportFormats {
					if other.format == f.format {
						continue
					}
					for _, r := range cr.Rules {
						assert.NotContains(t, r.APIGroups, other.group)
					}
				}
			})

			crb := get[rbacv1.ClusterRoleBinding](t, objs, "ClusterRoleBinding", reporterName)
			assert.Equal(t, rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: reporterName}, crb.RoleRef)
			assert.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: reporterName, Namespace: namespace}}, crb.Subjects)

			role := get[rbacv1.Role](t, objs, "Role", reporterName)
			assert.Equal(t, namespace, role.Namespace)
			assert.Equal(t, []rbacv1.PolicyRule{
				{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"list", "watch", "create"}},
				{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{"seccomp-guard-reporter"}, Verbs: []string{"get", "update"}},
				{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
			}, role.Rules)
			rb := get[rbacv1.RoleBinding](t, objs, "RoleBinding", reporterName)
			assert.Equal(t, namespace, rb.Namespace)
			assert.Equal(t, rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: reporterName}, rb.RoleRef)
			assert.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: reporterName, Namespace: namespace}}, rb.Subjects)

			sa := get[corev1.ServiceAccount](t, objs, "ServiceAccount", reporterName)
			assert.Equal(t, namespace, sa.Namespace)
		})
	}
}

func TestReportCRDsRendered(t *testing.T) {
	for _, f := range reportFormats {
		t.Run(f.format, func(t *testing.T) {
			objs := render(t, values("reporter.enabled", true, "reporter.format", f.format, "reporter.installCRDs", true))
			var got []string
			for _, o := range objs {
				if o.GetKind() == "CustomResourceDefinition" {
					got = append(got, o.GetName())
				}
			}
			var want []string
			for name := range f.crds {
				want = append(want, name)
			}
			assert.ElementsMatch(t, want, got, "the CRDs of %s only", f.format)

			for name, file := range f.crds {
				crd := get[apiextensionsv1.CustomResourceDefinition](t, objs, "CustomResourceDefinition", name)
				assert.Equal(t, "keep", crd.Annotations["helm.sh/resource-policy"], "%s is kept on uninstall", name)
				assert.Equal(t, "reporter", crd.Labels["app.kubernetes.io/component"])
				assert.Empty(t, crd.Namespace)
				fromFile := reportCRDFile(t, file)
				assert.Equal(t, fromFile.Spec, crd.Spec, "%s is rendered as report-crds/%s has it", name, file)
				assert.Equal(t, fromFile.Name, crd.Name)
				assert.Equal(t, f.group, crd.Spec.Group)
			}
		})
	}
}

// TestReportCRDFiles checks what `make generate` puts in report-crds/: the
// short names, printer columns and result enum every report consumer
// expects.
func TestReportCRDFiles(t *testing.T) {
	tests := []struct {
		file, kind, version string
		scope               apiextensionsv1.ResourceScope
		shortName           string
	}{
		{"openreports.io_reports.yaml", "Report", "v1alpha1", apiextensionsv1.NamespaceScoped, "reps"},
		{"openreports.io_clusterreports.yaml", "ClusterReport", "v1alpha1", apiextensionsv1.ClusterScoped, "creps"},
		{"wgpolicyk8s.io_policyreports.yaml", "PolicyReport", "v1alpha2", apiextensionsv1.NamespaceScoped, "polr"},
		{"wgpolicyk8s.io_clusterpolicyreports.yaml", "ClusterPolicyReport", "v1alpha2", apiextensionsv1.ClusterScoped, "cpolr"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			crd := reportCRDFile(t, tc.file)
			assert.Equal(t, tc.kind, crd.Spec.Names.Kind)
			assert.Equal(t, tc.scope, crd.Spec.Scope)
			assert.Equal(t, []string{tc.shortName}, crd.Spec.Names.ShortNames)
			require.Len(t, crd.Spec.Versions, 1)
			v := crd.Spec.Versions[0]
			assert.Equal(t, tc.version, v.Name)
			assert.True(t, v.Served && v.Storage)
			var columns []string
			for _, c := range v.AdditionalPrinterColumns {
				columns = append(columns, c.Name+"="+c.JSONPath)
			}
			assert.Equal(t, []string{
				"Kind=.scope.kind", "Name=.scope.name", "Pass=.summary.pass", "Fail=.summary.fail", "Warn=.summary.warn",
				"Error=.summary.error", "Skip=.summary.skip", "Age=.metadata.creationTimestamp",
			}, columns)
			result := v.Schema.OpenAPIV3Schema.Properties["results"].Items.Schema.Properties["result"]
			var enum []string
			for _, e := range result.Enum {
				enum = append(enum, string(e.Raw))
			}
			assert.Equal(t, []string{`"pass"`, `"fail"`, `"warn"`, `"error"`, `"skip"`}, enum)
		})
	}
}

func TestRefusedReporterValues(t *testing.T) {
	tests := []struct {
		name    string
		values  map[string]any
		wantErr string
	}{
		{
			name:    "unknown format",
			values:  values("reporter.enabled", true, "reporter.format", "policyreport"),
			wantErr: "- at '/reporter/format': value must be one of 'openreports', 'wgpolicyk8s'",
		},
		{
			name:    "debounce without a unit",
			values:  values("reporter.debounce", "5"),
			wantErr: "- at '/reporter/debounce': '5' does not match pattern",
		},
		{
			name:    "no results",
			values:  values("reporter.maxResults", 0),
			wantErr: "- at '/reporter/maxResults': minimum: got 0, want 1",
		},
		{
			name:    "misspelt value",
			values:  values("reporter.installCRD", true),
			wantErr: "- at '/reporter': additional properties 'installCRD' not allowed",
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
