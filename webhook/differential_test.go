package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/yaml"

	"github.com/seccomp-guard/seccomp-guard/policy"
)

// The differential tests: the path the server registers (Endpoint, the
// trimmed one-pass decode) and the full-decode reference path
// (controller-runtime's admission.Webhook, then the whole typed object)
// must answer every review the API server can send with the same decision,
// status, patch, warnings and audit annotations, on /mutate and /validate.

type endpoints struct{ fast, full http.Handler }

func differentialEndpoints() map[string]endpoints {
	mut, val := newHandlers(prometheus.NewRegistry())
	return map[string]endpoints{
		"mutate":   {fast: NewMutatingEndpoint(mut), full: referenceEndpoint(mut)},
		"validate": {fast: NewValidatingEndpoint(val), full: referenceEndpoint(val)},
	}
}

func serveReview(h http.Handler, body []byte) *admissionv1.AdmissionResponse {
	r := httptest.NewRequest(http.MethodPost, ValidatePath, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(w.Body.Bytes(), &review); err != nil || review.Response == nil {
		return &admissionv1.AdmissionResponse{Result: nil, Warnings: []string{fmt.Sprintf("undecodable response %q: %v", w.Body.String(), err)}}
	}
	return review.Response
}

func code(r *admissionv1.AdmissionResponse) int32 {
	if r.Result == nil {
		return 0
	}
	return r.Result.Code
}

// compareReview serves body on both paths of both webhooks, after checking
// that the scanner decodes it exactly as the API server's decoder does
// (compareScan). A review the
// full path cannot decode (a type error in a field the policy never reads:
// the API server never sends one) may be decided by the trimmed path; a
// review the full path decides must be decided identically.
func compareReview(t testing.TB, eps map[string]endpoints, body []byte) {
	t.Helper()
	compareScan(t, body)
	for name, ep := range eps {
		full, fast := serveReview(ep.full, body), serveReview(ep.fast, body)
		if code(full) == http.StatusBadRequest || code(full) == http.StatusInternalServerError {
			if code(fast) != http.StatusOK && code(fast) != http.StatusForbidden && code(fast) != code(full) {
				t.Errorf("%s: the full path answered %d %q, the trimmed path %d %q", name, code(full), full.Result.Message, code(fast), fast.Result.Message)
			}
			continue
		}
		if !assert.Equal(t, full, fast, "%s: the trimmed and the full path disagree on\n%s", name, truncate(body)) {
			return
		}
	}
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}

// rawReview wraps raw objects in an AdmissionReview of kind k.
func rawReview(k *policy.Kind, op admissionv1.Operation, sub string, obj, old []byte) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"group":%q,"version":%q,"kind":%q},`+
		`"resource":{"group":%q,"version":%q,"resource":%q},"subResource":%q,"name":"x","namespace":"shop","operation":%q,"userInfo":{"username":"alice"}`,
		k.Group, k.Version, k.Kind, k.Group, k.Version, k.Resource, sub, op)
	if obj != nil {
		b.WriteString(`,"object":`)
		b.Write(obj)
	}
	if old != nil {
		b.WriteString(`,"oldObject":`)
		b.Write(old)
	}
	b.WriteString("}}")
	return []byte(b.String())
}

// wrapPod puts a pod's metadata and spec into an object of kind k, as its
// pod template.
func wrapPod(t testing.TB, k *policy.Kind, pod []byte) []byte {
	t.Helper()
	if k.IsPod() {
		return pod
	}
	var p map[string]any
	require.NoError(t, json.Unmarshal(pod, &p))
	tmpl := map[string]any{"metadata": p["metadata"], "spec": p["spec"]}
	obj := map[string]any{"apiVersion": k.GroupVersion().String(), "kind": k.Kind, "metadata": map[string]any{"name": "x", "namespace": "shop"}}
	switch k.Kind {
	case "CronJob":
		obj["spec"] = map[string]any{"schedule": "* * * * *", "jobTemplate": map[string]any{"spec": map[string]any{"template": tmpl}}}
	case "PodTemplate":
		obj["template"] = tmpl
	default:
		obj["spec"] = map[string]any{"replicas": 1, "template": tmpl}
	}
	out, err := json.Marshal(obj)
	require.NoError(t, err)
	return out
}

// fixtures returns the pods of the policy's golden fixtures and, when the
// module cache has them, the Pod Security Admission fixtures, as JSON.
func fixtures(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	read := func(root string) {
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
				return nil
			}
			y, err := os.ReadFile(p)
			require.NoError(t, err)
			j, err := yaml.YAMLToJSON(y)
			require.NoError(t, err, p)
			out[p] = j
			return nil
		})
	}
	read(filepath.Join("..", "policy", "testdata"))
	if psa := psaFixtures(); psa != "" {
		read(psa)
	}
	return out
}

// psaFixtures is k8s.io/pod-security-admission's test/testdata in the module
// cache, or "".
func psaFixtures() string {
	gomodcache := os.Getenv("GOMODCACHE")
	if gomodcache == "" {
		home, _ := os.UserHomeDir()
		gomodcache = filepath.Join(home, "go", "pkg", "mod")
		if gp := os.Getenv("GOPATH"); gp != "" {
			gomodcache = filepath.Join(strings.Split(gp, string(os.PathListSeparator))[0], "pkg", "mod")
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(gomodcache, "k8s.io", "pod-security-admission@*", "test", "testdata"))
	if len(dirs) == 0 {
		return ""
	}
	return dirs[len(dirs)-1]
}

// TestDifferentialFixtures: every fixture, as a pod and as the template of
// every workload kind, on CREATE, on a workload UPDATE from the unset pod,
// and as an UPDATE that removes a pod's last scheduling gate.
func TestDifferentialFixtures(t *testing.T) {
	eps := differentialEndpoints()
	fx := fixtures(t)
	require.NotEmpty(t, fx)
	if psaFixtures() == "" {
		t.Log("the Pod Security Admission fixtures are not in the module cache; comparing the golden fixtures only")
	}
	plain := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"app","image":"nginx"}]}}`)
	n := 0
	for name, pod := range fx {
		var obj struct{ Kind string }
		if json.Unmarshal(pod, &obj) != nil || obj.Kind != "Pod" {
			continue
		}
		for i := range policy.Kinds() {
			k := &policy.Kinds()[i]
			if n%len(policy.Kinds()) != i && !strings.Contains(name, "policy") && !k.IsPod() {
				continue // each PSA fixture as a pod and one workload kind, in turn
			}
			compareReview(t, eps, rawReview(k, admissionv1.Create, "", wrapPod(t, k, pod), nil))
			if !k.IsPod() {
				compareReview(t, eps, rawReview(k, admissionv1.Update, "", wrapPod(t, k, pod), wrapPod(t, k, plain)))
			}
		}
		gated := bytes.Replace(pod, []byte(`"spec":{`), []byte(`"spec":{"schedulingGates":[{"name":"g"}],`), 1)
		pk, _ := policy.KindNamed("Pod")
		compareReview(t, eps, rawReview(pk, admissionv1.Update, "", pod, gated))
		compareReview(t, eps, rawReview(pk, admissionv1.Update, policy.EphemeralContainersSubresource, pod, plain))
		n++
	}
	t.Logf("compared %d pod fixtures", n)
}

// TestDifferentialKeys: reviews that try to make the trimmed path read a
// field differently from the API server (sigs.k8s.io/json, case-sensitive,
// the last duplicate key merged in), or to crash it.
func TestDifferentialKeys(t *testing.T) {
	pk, _ := policy.KindNamed("Pod")
	dk, _ := policy.KindNamed("Deployment")
	many := strings.Repeat(`{"name":"c","securityContext":{"privileged":true}},`, 5000)
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	tests := []struct {
		name     string
		kind     *policy.Kind
		obj      string
		wantCode int32 // of the validating webhook on the trimmed path
		wantMsg  string
	}{
		{name: "a capitalised key is not the field (the API server drops it)", kind: pk,
			obj: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"SecurityContext":{"seccompProfile":{"type":"Unconfined"}},"containers":[{"name":"a","securityContext":{"seccompProfile":{"type":"RuntimeDefault"}}}]}}`, wantCode: 200},
		{name: "a capitalised nested key is not the field", kind: pk,
			obj: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"securityContext":{"SeccompProfile":{"type":"Unconfined"}},"containers":[{"name":"a","securityContext":{"Privileged":true,"seccompProfile":{"type":"RuntimeDefault"}}}]}}`, wantCode: 200},
		{name: "an escaped key is the field", kind: pk,
			obj: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"securit\u0079Context":{"seccompProfile":{"type":"Unconfined"}},"containers":[{"name":"a"}]}}`, wantCode: 403},
		{name: "duplicate objects merge", kind: pk,
			obj: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"securityContext":{"seccompProfile":{"type":"Unconfined"}},"securityContext":{"runAsUser":1},"containers":[{"name":"a"}]}}`, wantCode: 403},
		{name: "the last duplicate scalar wins", kind: pk,
			obj: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"securityContext":{"seccompProfile":{"type":"RuntimeDefault","type":"Unconfined"}},"containers":[{"name":"a"}]}}`, wantCode: 403},
		{name: "a duplicate array reuses its elements, as the API server decodes it", kind: pk,
			obj: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"a","securityContext":{"privileged":true}}],"containers":[{"name":"b","securityContext":{"seccompProfile":{"type":"RuntimeDefault"}}}]}}`, wantCode: 403},
		{name: "null clears a pointer", kind: pk,
			obj: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"securityContext":{"seccompProfile":{"type":"Unconfined"}},"securityContext":null,"containers":[{"name":"a","securityContext":{"seccompProfile":{"type":"RuntimeDefault"}}}]}}`, wantCode: 200},
		{name: "thousands of containers", kind: pk,
			obj: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[` + many + `{"name":"z"}]}}`, wantCode: 403},
		{name: "deep nesting in an unread field", kind: pk,
			obj: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"volumes":` + deep + `,"containers":[{"name":"a"}]}}`, wantCode: 400,
			wantMsg: "seccomp-guard: malformed AdmissionReview: the body is not a JSON AdmissionReview: invalid character '[' exceeded max depth"},
		{name: "malformed JSON", kind: pk, obj: `{"apiVersion":"v1","kind":"Pod","spec":{"containers":[}}`, wantCode: 400,
			wantMsg: "seccomp-guard: malformed AdmissionReview: the body is not a JSON AdmissionReview: invalid character '}' looking for beginning of value"},
		{name: "a wrong type in a read field", kind: pk, obj: `{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"name":"a","securityContext":{"privileged":"yes"}}]}}`, wantCode: 400,
			wantMsg: "seccomp-guard: malformed AdmissionReview: the body is not a JSON AdmissionReview: json: cannot unmarshal string into Go struct field trimmedSecurityContext.request.object.spec.trimmedPodSpec.containers.securityContext.privileged of type bool"},
		{name: "a duplicate template is refused", kind: dk,
			obj: `{"apiVersion":"apps/v1","kind":"Deployment","spec":{"template":{"spec":{"containers":[{"name":"a","securityContext":{"privileged":true}}]}},"template":{"metadata":{}}}}`, wantCode: 400,
			wantMsg: `seccomp-guard: malformed AdmissionReview: the object gives its pod template twice (a duplicate "template" key)`},
	}
	eps := differentialEndpoints()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := rawReview(tc.kind, admissionv1.Create, "", []byte(tc.obj), nil)
			compareScan(t, body)
			got := serveReview(eps["validate"].fast, body)
			require.NotNil(t, got.Result)
			assert.Equal(t, tc.wantCode, got.Result.Code, got.Result.Message)
			if tc.wantMsg != "" {
				assert.Equal(t, tc.wantMsg, got.Result.Message)
			}
			if tc.wantCode != 400 {
				compareReview(t, eps, body)
			}
		})
	}
}

// FuzzScanReview: any body is refused by the scanner and by the API
// server's decoder with the same error, or decoded by both to equal
// values. Seeds: testdata/fuzz/FuzzScanReview (escapes, duplicate keys,
// nulls, nesting, numbers, invalid UTF-8, templates).
func FuzzScanReview(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		compareScan(t, body)
	})
}

// FuzzTrimmedDecode: any object (and old object) bytes, of any kind and
// operation, give the same answer on both paths. Seeds: testdata/fuzz.
func FuzzTrimmedDecode(f *testing.F) {
	eps := differentialEndpoints()
	ops := []admissionv1.Operation{admissionv1.Create, admissionv1.Update}
	f.Fuzz(func(t *testing.T, obj, old []byte, kind, op uint8) {
		k := &policy.Kinds()[int(kind)%len(policy.Kinds())]
		o := ops[int(op)%len(ops)]
		sub := ""
		if op >= 128 && k.IsPod() {
			sub = policy.EphemeralContainersSubresource
		}
		if len(old) == 0 {
			old = nil
		}
		compareReview(t, eps, rawReview(k, o, sub, obj, old))
	})
}
