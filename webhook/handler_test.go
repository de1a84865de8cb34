package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/seccomp-guard/seccomp-guard/policy"
)

type fakeNamespaces map[string]policy.Namespace

func (f fakeNamespaces) Namespace(_ context.Context, name string) (policy.Namespace, error) {
	ns, ok := f[name]
	if !ok {
		return policy.Namespace{}, errors.New("not found")
	}
	return ns, nil
}

type fixedPolicy struct{ p *policy.Policy }

func (f fixedPolicy) Current() *policy.Policy { return f.p }

var podGVK = metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}

func podRequest(t testing.TB, ns string, sp *corev1.SeccompProfile) admission.Request {
	t.Helper()
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
	}
	if sp != nil {
		pod.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: sp}
	}
	raw, err := json.Marshal(pod)
	require.NoError(t, err)
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "1", Kind: podGVK, Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		Name: "web", Namespace: ns, Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw},
	}}
}

func newHandlers(reg prometheus.Registerer) (*MutatingHandler, *ValidatingHandler) {
	nss := fakeNamespaces{
		"shop":  {Name: "shop", Labels: map[string]string{policy.ModeLabel: "enforce"}},
		"lab":   {Name: "lab", Labels: map[string]string{policy.ModeLabel: "warn"}},
		"audit": {Name: "audit", Labels: map[string]string{policy.ModeLabel: "audit"}},
	}
	m := NewMetrics(reg)
	now := func() time.Time { return time.Unix(1e9, 0) }
	shared := Evaluator{Namespaces: nss, Policy: fixedPolicy{policy.DefaultPolicy()}, Metrics: m, Now: now}
	return &MutatingHandler{shared}, &ValidatingHandler{shared}
}

func TestHandler(t *testing.T) {
	unconfined := &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
	const unconfinedMsg = `spec.securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`
	tests := []struct {
		name         string
		mutating     bool
		req          func(t *testing.T) admission.Request
		wantAllowed  bool
		wantCode     int32
		wantMessage  string
		wantPatch    string
		wantWarnings []string
		wantAudit    map[string]string
	}{
		{
			name:        "mutate: pod without profile is patched",
			mutating:    true,
			req:         func(t *testing.T) admission.Request { return podRequest(t, "shop", nil) },
			wantAllowed: true,
			wantCode:    http.StatusOK,
			wantPatch:   `[{"op":"add","path":"/spec/securityContext","value":{"seccompProfile":{"type":"RuntimeDefault"}}}]`,
			wantAudit:   map[string]string{"defaulted": "RuntimeDefault"},
		},
		{
			name:        "mutate: never denies",
			mutating:    true,
			req:         func(t *testing.T) admission.Request { return podRequest(t, "shop", unconfined) },
			wantAllowed: true,
			wantCode:    http.StatusOK,
		},
		{
			name:        "validate: enforce denies with every violation",
			req:         func(t *testing.T) admission.Request { return podRequest(t, "shop", unconfined) },
			wantCode:    http.StatusForbidden,
			wantMessage: `pod "web" is forbidden by seccomp-guard: ` + unconfinedMsg,
			wantAudit:   map[string]string{"mode": "enforce", "decision": "denied", "violations": unconfinedMsg},
		},
		{
			name:         "validate: warn admits with a warning",
			req:          func(t *testing.T) admission.Request { return podRequest(t, "lab", unconfined) },
			wantAllowed:  true,
			wantCode:     http.StatusOK,
			wantWarnings: []string{`spec.securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "lab" (UnconfinedForbidden); remove it or use RuntimeDefault`},
			wantAudit:    map[string]string{"mode": "warn", "decision": "would-deny", "violations": `spec.securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "lab" (UnconfinedForbidden); remove it or use RuntimeDefault`},
		},
		{
			name:        "validate: audit admits silently and records",
			req:         func(t *testing.T) admission.Request { return podRequest(t, "audit", nil) },
			wantAllowed: true,
			wantCode:    http.StatusOK,
			wantAudit:   map[string]string{"mode": "audit", "decision": "allowed", "would-default": "RuntimeDefault"},
		},
		{
			name: "an object that does not decode is a 400 that says why",
			req: func(t *testing.T) admission.Request {
				r := podRequest(t, "shop", nil)
				r.Object.Raw = []byte(`{"spec":{"containers":"not-a-list"}}`)
				return r
			},
			wantCode:    http.StatusBadRequest,
			wantMessage: `the request's object does not decode as *v1.Pod: json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type []v1.Container`,
		},
		{
			name: "a request without an object is a 400",
			req: func(t *testing.T) admission.Request {
				r := podRequest(t, "shop", nil)
				r.Object.Raw = nil
				return r
			},
			wantCode:    http.StatusBadRequest,
			wantMessage: `the AdmissionReview request carries no object; seccomp-guard needs it to decide`,
		},
		{
			name: "DELETE is admitted with the policy's reason, before anything is decoded",
			req: func(t *testing.T) admission.Request {
				r := podRequest(t, "shop", unconfined)
				r.Operation, r.OldObject, r.Object.Raw = admissionv1.Delete, r.Object, nil
				return r
			},
			wantAllowed: true,
			wantCode:    http.StatusOK,
			wantMessage: `operation DELETE does not change seccomp profiles`,
		},
		{
			name:     "CONNECT is admitted with the policy's reason by the mutating webhook too",
			mutating: true,
			req: func(t *testing.T) admission.Request {
				r := podRequest(t, "ghost", nil)
				r.Kind = metav1.GroupVersionKind{Version: "v1", Kind: "PodExecOptions"}
				r.Operation, r.SubResource, r.Object.Raw = admissionv1.Connect, "exec", []byte(`not json`)
				return r
			},
			wantAllowed: true,
			wantCode:    http.StatusOK,
			wantMessage: `operation CONNECT does not change seccomp profiles`,
		},
		{
			name: "an unexpected resource is admitted with an explanation",
			req: func(t *testing.T) admission.Request {
				r := podRequest(t, "shop", nil)
				r.Kind = metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
				r.Resource.Resource = "configmaps"
				return r
			},
			wantAllowed: true,
			wantCode:    http.StatusOK,
			wantMessage: `seccomp-guard does not handle v1/ConfigMap (resource configmaps); the webhook configuration sends it more than it needs: limit its rules to pods and the workload kinds`,
		},
		{
			name:        "mutate: an unreadable namespace admits unpatched with a warning (fail open)",
			mutating:    true,
			req:         func(t *testing.T) admission.Request { return podRequest(t, "ghost", nil) },
			wantAllowed: true,
			wantCode:    http.StatusOK,
			wantWarnings: []string{`seccomp-guard's mutating webhook could not default this pod and admitted it unpatched (the validating webhook still decides): ` +
				`seccomp-guard could not read namespace "ghost": not found; see the seccomp-guard webhook's logs`},
		},
		{
			name:     "mutate: an object that does not decode admits unpatched with a warning",
			mutating: true,
			req: func(t *testing.T) admission.Request {
				r := podRequest(t, "shop", nil)
				r.Object.Raw = []byte(`{"spec":{"containers":"not-a-list"}}`)
				return r
			},
			wantAllowed: true,
			wantCode:    http.StatusOK,
			wantWarnings: []string{`seccomp-guard's mutating webhook could not default this pod and admitted it unpatched (the validating webhook still decides): ` +
				`the request's object does not decode as *v1.Pod: json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type []v1.Container; see the seccomp-guard webhook's logs`},
		},
		{
			name:        "an unreadable namespace is a 500 that names it",
			req:         func(t *testing.T) admission.Request { return podRequest(t, "ghost", nil) },
			wantCode:    http.StatusInternalServerError,
			wantMessage: `seccomp-guard could not read namespace "ghost": not found`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mut, val := newHandlers(prometheus.NewRegistry())
			var h admission.Handler = val
			if tc.mutating {
				h = mut
			}
			resp := h.Handle(context.Background(), tc.req(t))
			assert.Equal(t, tc.wantAllowed, resp.Allowed, "allowed")
			require.NotNil(t, resp.Result)
			assert.Equal(t, tc.wantCode, resp.Result.Code, "code")
			assert.Equal(t, tc.wantMessage, resp.Result.Message, "message")
			assert.Equal(t, tc.wantPatch, string(resp.Patch), "patch")
			assert.Equal(t, tc.wantWarnings, resp.Warnings, "warnings")
			assert.Equal(t, tc.wantAudit, resp.AuditAnnotations, "audit annotations")
		})
	}
}

type panickingNamespaces struct{}

func (panickingNamespaces) Namespace(context.Context, string) (policy.Namespace, error) {
	panic("boom")
}

// TestHandlerPanic proves the mutating webhook fails open on a panic, as its
// failurePolicy Ignore says, and the validating one fails closed.
func TestHandlerPanic(t *testing.T) {
	tests := []struct {
		name         string
		webhook      func(Evaluator) admission.Handler
		wantAllowed  bool
		wantCode     int32
		wantWarnings []string
		wantSeries   []string
	}{
		{
			name:        "mutate: admits unpatched with a warning",
			webhook:     func(e Evaluator) admission.Handler { return &MutatingHandler{e} },
			wantAllowed: true,
			wantCode:    http.StatusOK,
			wantWarnings: []string{`seccomp-guard's mutating webhook could not default this pod and admitted it unpatched (the validating webhook still decides): ` +
				`panic: boom; see the seccomp-guard webhook's logs`},
			wantSeries: []string{"mutate", "Pod", "CREATE", "", "error", ""},
		},
		{
			name:        "validate: denies (controller-runtime's recovery answers 500)",
			webhook:     func(e Evaluator) admission.Handler { return &ValidatingHandler{e} },
			wantAllowed: false,
			wantCode:    http.StatusInternalServerError,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m := NewMetrics(reg)
			e := Evaluator{Namespaces: panickingNamespaces{}, Policy: fixedPolicy{policy.DefaultPolicy()}, Metrics: m}
			// As served: inside controller-runtime's webhook with RecoverPanic.
			wh := &admission.Webhook{Handler: tc.webhook(e), RecoverPanic: new(true)}
			resp := wh.Handle(context.Background(), podRequest(t, "shop", nil))
			assert.Equal(t, tc.wantAllowed, resp.Allowed, "allowed")
			require.NotNil(t, resp.Result)
			assert.Equal(t, tc.wantCode, resp.Result.Code, "code")
			assert.Equal(t, tc.wantWarnings, resp.Warnings, "warnings")
			assert.Empty(t, resp.Patch, "patch")
			if tc.wantSeries != nil {
				assert.InDelta(t, 1, testutil.ToFloat64(m.requests.WithLabelValues(tc.wantSeries...)), 0, "count of %v", tc.wantSeries)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, val := newHandlers(reg)
	val.Handle(context.Background(), podRequest(t, "shop", &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}))
	// A pod without a profile is denied at the validating stage (ProfileNotSet: the mutating webhook did not run).
	val.Handle(context.Background(), podRequest(t, "shop", nil))
	val.Handle(context.Background(), podRequest(t, "shop", &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}))
	assert.InDelta(t, 1, testutil.ToFloat64(val.Metrics.(*Metrics).requests.WithLabelValues("validate", "Pod", "CREATE", "enforce", "denied", "UnconfinedForbidden")), 0)
	assert.InDelta(t, 1, testutil.ToFloat64(val.Metrics.(*Metrics).requests.WithLabelValues("validate", "Pod", "CREATE", "enforce", "denied", "ProfileNotSet")), 0)
	assert.InDelta(t, 1, testutil.ToFloat64(val.Metrics.(*Metrics).requests.WithLabelValues("validate", "Pod", "CREATE", "enforce", "allowed", "")), 0)
	n, err := testutil.GatherAndCount(reg, "seccomp_guard_admission_duration_seconds")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

// TestMetricsDecision proves how each kind of outcome is counted: requests
// answered without the engine count as skipped like the engine's own skips,
// and only requests that could not be decided count as errors.
func TestMetricsDecision(t *testing.T) {
	tests := []struct {
		name     string
		mutating bool
		req      func(t *testing.T) admission.Request
		// want are the labels of the one series counted: webhook, kind,
		// operation, mode, decision, reason.
		want []string
	}{
		{
			name: "DELETE is skipped",
			req: func(t *testing.T) admission.Request {
				r := podRequest(t, "shop", nil)
				r.Operation, r.OldObject, r.Object.Raw = admissionv1.Delete, r.Object, nil
				return r
			},
			want: []string{"validate", "Pod", "DELETE", "", "skipped", ""},
		},
		{
			name:     "CONNECT is skipped",
			mutating: true,
			req: func(t *testing.T) admission.Request {
				r := podRequest(t, "shop", nil)
				r.Kind = metav1.GroupVersionKind{Version: "v1", Kind: "PodExecOptions"}
				r.Operation, r.SubResource = admissionv1.Connect, "exec"
				return r
			},
			want: []string{"mutate", "other", "CONNECT", "", "skipped", ""}, // kinds outside policy.Kinds share the label "other"
		},
		{
			name: "a kind seccomp-guard does not handle is skipped",
			req: func(t *testing.T) admission.Request {
				r := podRequest(t, "shop", nil)
				r.Kind = metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
				r.Resource.Resource = "configmaps"
				return r
			},
			want: []string{"validate", "other", "CREATE", "", "skipped", ""},
		},
		{
			name: "the engine's own skip is skipped, with the namespace's mode",
			req: func(t *testing.T) admission.Request {
				r := podRequest(t, "shop", nil)
				r.Operation, r.OldObject = admissionv1.Update, r.Object
				return r
			},
			want: []string{"validate", "Pod", "UPDATE", "enforce", "skipped", ""},
		},
		{
			name: "an object that does not decode is an error",
			req: func(t *testing.T) admission.Request {
				r := podRequest(t, "shop", nil)
				r.Object.Raw = []byte(`{"spec":{"containers":"not-a-list"}}`)
				return r
			},
			want: []string{"validate", "Pod", "CREATE", "", "error", ""},
		},
		{
			name:     "an unreadable namespace is an error",
			mutating: true,
			req:      func(t *testing.T) admission.Request { return podRequest(t, "ghost", nil) },
			want:     []string{"mutate", "Pod", "CREATE", "", "error", ""},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			mut, val := newHandlers(reg)
			var h admission.Handler = val
			if tc.mutating {
				h = mut
			}
			h.Handle(context.Background(), tc.req(t))
			requests := val.Metrics.(*Metrics).requests
			require.Equal(t, 1, testutil.CollectAndCount(requests), "series of seccomp_guard_admission_requests_total")
			assert.InDelta(t, 1, testutil.ToFloat64(requests.WithLabelValues(tc.want...)), 0, "count of %v", tc.want)
			n, err := testutil.GatherAndCount(reg, "seccomp_guard_admission_duration_seconds")
			require.NoError(t, err)
			assert.Equal(t, 1, n, "latency series")
		})
	}
}

// lookupCounter is a NodeView that counts profile lookups.
type lookupCounter struct {
	policy.NodeView
	lookups int
}

func (v *lookupCounter) Profile(node, path string) policy.ProfileLookup {
	v.lookups++
	return v.NodeView.Profile(node, path)
}

// TestMutatingWebhookComputesNoCoverage proves the mutating webhook does not
// classify nodes for a decision whose violations it throws away.
func TestMutatingWebhookComputesNoCoverage(t *testing.T) {
	nodes := []*corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}}, {ObjectMeta: metav1.ObjectMeta{Name: "node-b"}}}
	for _, tc := range []struct {
		name        string
		handler     func(Evaluator) admission.Handler
		wantLookups int
	}{
		{name: "mutate", handler: func(e Evaluator) admission.Handler { return &MutatingHandler{e} }, wantLookups: 0},
		{name: "validate", handler: func(e Evaluator) admission.Handler { return &ValidatingHandler{e} }, wantLookups: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			view := &lookupCounter{NodeView: policy.NewStaticNodeView(nodes, nil, nil)}
			mh, _ := newHandlers(prometheus.NewRegistry())
			e := mh.Evaluator
			e.Nodes = view
			tc.handler(e).Handle(context.Background(), podRequest(t, "shop", &corev1.SeccompProfile{
				Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: new("profiles/app.json"),
			}))
			assert.Equal(t, tc.wantLookups, view.lookups, "profile lookups")
		})
	}
}
