package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

func TestAuditCommand(t *testing.T) {
	ns := func(name, mode string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{policy.ModeLabel: mode}}}
	}
	pod := func(namespace, name string, app string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: types.UID(namespace + "/" + name), Labels: map[string]string{"app": app}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", SecurityContext: &corev1.SecurityContext{
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}}}}}}
	}
	objs := []client.Object{ns("warned", "warn"), ns("audited", "audit"), pod("warned", "debug", "debug"), pod("audited", "old", "old")}
	saved := auditClient
	auditClient = func(string) (client.Reader, error) {
		return fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(objs...).Build(), nil
	}
	t.Cleanup(func() { auditClient = saved })

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
		wantOut    string // a line stdout must hold
	}{
		{name: "denied at the next step", args: []string{"audit"}, wantCode: exitError,
			wantStderr: "Error: 1 top-level object would be denied at enforce, the next step of its namespace\n",
			wantOut:    `  recommendation: 1 object would be denied at enforce: Pod debug (UnconfinedForbidden)`},
		{name: "next step warn denies nothing", args: []string{"audit", "-n", "audited"}, wantCode: exitOK,
			wantOut: `  recommendation: ready for warn, which denies nothing; 1 object would be denied at enforce: Pod old (UnconfinedForbidden)`},
		{name: "selector leaves the denied pod out", args: []string{"audit", "-l", "app=old", "-o", "json"}, wantCode: exitOK,
			wantOut: `      "recommendation": "ready for warn, which denies nothing; 1 object would be denied at enforce: Pod old (UnconfinedForbidden)",`},
		{name: "html", args: []string{"audit", "-o", "html"}, wantCode: exitError,
			wantStderr: "Error: 1 top-level object would be denied at enforce, the next step of its namespace\n",
			wantOut:    `<pre class="message">pod &#34;debug&#34; is forbidden by seccomp-guard: spec.containers[0].securityContext.seccompProfile.type: &#34;Unconfined&#34; is forbidden in namespace &#34;warned&#34; (UnconfinedForbidden); remove it or use RuntimeDefault</pre>`},
		{name: "bad output", args: []string{"audit", "-o", "yaml"}, wantCode: exitUsage,
			wantStderr: "Error: unknown output format \"yaml\" for --output: use text, json or html\nRun 'seccomp-guard audit --help' for usage.\n"},
		{name: "bad selector", args: []string{"audit", "-l", "a b"}, wantCode: exitUsage,
			wantStderr: "Error: invalid --selector \"a b\": unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt; use a label selector such as app=web,tier!=db\nRun 'seccomp-guard audit --help' for usage.\n"},
		{name: "unknown namespace", args: []string{"audit", "-n", "nope"}, wantCode: exitUsage,
			wantStderr: "Error: namespace \"nope\" does not exist; check --namespace (kubectl get namespaces)\nRun 'seccomp-guard audit --help' for usage.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", tt.args...)
			assert.Equal(t, tt.wantCode, code, stderr)
			assert.Equal(t, tt.wantStderr, stderr)
			if tt.wantOut != "" {
				assert.Contains(t, stdout, tt.wantOut+"\n")
			}
		})
	}
}
