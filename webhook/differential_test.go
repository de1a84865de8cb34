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
// (compareScan). The answers must be equal (decision, status code and
// message, patch, warnings, audit annotations) but for the differences
// allowedDifference names.
func compareReview(t testing.TB, eps map[string]endpoints, body []byte) {
	t.Helper()
	compareScan(t, body)
	for name, ep := range eps {
		full, fast := serveReview(ep.full, body), serveReview(ep.fast, body)
		if assert.ObjectsAreEqual(full, fast) || allowedDifference(full, fast) != "" {
			continue
		}
		if !assert.Equal(t, full, fast, "%s: the trimmed and the full path disagree on\n%s", name, truncate(body)) {
			return
		}
	}
}

const malformed = "seccomp-guard: malformed AdmissionReview: "

// allowedDifference names why the full and the trimmed path may answer a
// review differently, or returns "" if they may not. Each difference is a
// review the API server never sends.
func allowedDifference(full, fast *admissionv1.AdmissionResponse) string {
	msg := func(r *admissionv1.AdmissionResponse) string {
		if r.Result == nil {
			return ""
		}
		return r.Result.Message
	}
	fastDecided := code(fast) == http.StatusOK || code(fast) == http.StatusForbidden
	switch {
	case code(fast) == http.StatusBadRequest && msg(fast) == malformed+errDuplicateTemplate.Error():
		// The trimmed path keeps a template's raw bytes to tell whether a
		// workload UPDATE changed it, so it refuses two; the full path
		// decodes the last one into the first.
		return "a duplicate pod template"
	case code(full) == http.StatusBadRequest && strings.HasPrefix(msg(full), malformed) &&
		(fastDecided || code(fast) == http.StatusBadRequest):
		// The reference's review check (reviewProblem) decodes its header
		// with encoding/json: keys case-insensitive, duplicate objects
		// merged, a type error anywhere in it (request.object's kind
		// included) refused, worded with its own anonymous types. The
		// trimmed path reads the review as the API server's decoder does:
		// it refuses such a review in its own words, as malformed or, when
		// the object does not decode, with the full decode's error (so it
		// does not check the kind of an object that does not decode), or
		// decides it.
		return "the reference's encoding/json review check"
	case code(full) == http.StatusBadRequest && !strings.HasPrefix(msg(full), malformed) && !strings.Contains(msg(full), " does not decode as ") &&
		code(fast) == http.StatusBadRequest && strings.HasPrefix(msg(fast), malformed):
		// A type error in a request field: controller-runtime answers its
		// decoder's bare error, the trimmed path says where it is.
		return "controller-runtime's decode error, in its decoder's words"
	case strings.Contains(msg(full)+strings.Join(full.Warnings, "\n"), " does not decode as ") && fastDecided &&
		!strings.Contains(msg(fast)+strings.Join(fast.Warnings, "\n"), " does not decode as "):
		// A type error in a field the trimmed types do not have (one the
		// policy never reads): only the full path's whole decode meets it.
		return "a type error in a field the policy never reads"
	}
	return ""
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
			obj: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"securit\u0079Context":{"seccompProfile":{"type":"Unconfined"}},"containers":[{"name":"a"}]}}`, wantCode: 403,
			wantMsg: `pod "x" is forbidden by seccomp-guard: spec.securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`},
		{name: "duplicate objects merge", kind: pk,
			obj: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"securityContext":{"seccompProfile":{"type":"Unconfined"}},"securityContext":{"runAsUser":1},"containers":[{"name":"a"}]}}`, wantCode: 403,
			wantMsg: `pod "x" is forbidden by seccomp-guard: spec.securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`},
		{name: "the last duplicate scalar wins", kind: pk,
			obj: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"securityContext":{"seccompProfile":{"type":"RuntimeDefault","type":"Unconfined"}},"containers":[{"name":"a"}]}}`, wantCode: 403,
			wantMsg: `pod "x" is forbidden by seccomp-guard: spec.securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`},
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
			wantMsg: "the request's object does not decode as *v1.Pod: json: cannot unmarshal string into Go struct field SecurityContext.spec.containers.securityContext.privileged of type bool"},
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

// TestDifferentialRawObjects: request.object and request.oldObject follow
// runtime.RawExtension's rules on both paths: any JSON value is accepted,
// null leaves the field as it was, a duplicate key replaces the earlier
// value whole, and a value that does not decode fails the request only when
// the object is used, with the full path's status and message.
func TestDifferentialRawObjects(t *testing.T) {
	pk, _ := policy.KindNamed("Pod")
	dk, _ := policy.KindNamed("Deployment")
	const (
		pod       = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"a","securityContext":{"seccompProfile":{"type":"RuntimeDefault"}}}]}}`
		unconfPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"securityContext":{"seccompProfile":{"type":"Unconfined"}},"containers":[{"name":"a","securityContext":{"seccompProfile":{"type":"RuntimeDefault"}}}]}}`
		deploy    = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"template":{"spec":{"containers":[{"name":"a","securityContext":{"seccompProfile":{"type":"RuntimeDefault"}}}]}}}}`
	)
	tests := []struct {
		name     string
		kind     *policy.Kind
		op       admissionv1.Operation
		obj, old string // raw JSON after "object": and "oldObject":; "" leaves the key out
		wantCode int32  // of the validating webhook on the trimmed path
		wantMsg  string
	}{
		{name: "a number for oldObject on a pod CREATE (the fuzzer's find)", kind: pk, op: admissionv1.Create, obj: pod, old: `0`, wantCode: 200},
		{name: "a string for oldObject on a Deployment CREATE", kind: dk, op: admissionv1.Create, obj: deploy, old: `"x"`, wantCode: 200},
		{name: "a number for oldObject on a pod UPDATE", kind: pk, op: admissionv1.Update, obj: pod, old: `0`, wantCode: 400,
			wantMsg: "the request's oldObject does not decode as *v1.Pod: json: cannot unmarshal number into Go value of type v1.Pod"},
		{name: "an array for oldObject on a Deployment UPDATE", kind: dk, op: admissionv1.Update, obj: deploy, old: `[1]`, wantCode: 400,
			wantMsg: "the request's oldObject does not decode as *v1.Deployment: json: cannot unmarshal array into Go value of type v1.Deployment"},
		{name: "a number for object on a pod CREATE", kind: pk, op: admissionv1.Create, obj: `0`, wantCode: 400,
			wantMsg: malformed + "request.object is a number, not a JSON object; it must be the object under review"},
		{name: "a bool for object on a Deployment UPDATE", kind: dk, op: admissionv1.Update, obj: `true`, old: deploy, wantCode: 400,
			wantMsg: malformed + "request.object is a boolean, not a JSON object; it must be the object under review"},
		{name: "a string for object on a pod DELETE", kind: pk, op: admissionv1.Delete, obj: `"x"`, old: pod, wantCode: 400,
			wantMsg: malformed + "request.object is a string, not a JSON object; it must be the object under review"},
		{name: "a number for oldObject on a pod DELETE", kind: pk, op: admissionv1.Delete, old: `5`, wantCode: 200,
			wantMsg: "operation DELETE does not change seccomp profiles"},
		{name: "null leaves the object as it was", kind: pk, op: admissionv1.Create, obj: unconfPod + `,"object":null`, wantCode: 403,
			wantMsg: `pod "x" is forbidden by seccomp-guard: spec.securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`},
		{name: "null leaves a bad oldObject as it was", kind: dk, op: admissionv1.Update, obj: deploy, old: `5,"oldObject":null`, wantCode: 400,
			wantMsg: "the request's oldObject does not decode as *v1.Deployment: json: cannot unmarshal number into Go value of type v1.Deployment"},
		{name: "a null oldObject on an UPDATE is none", kind: pk, op: admissionv1.Update, obj: pod, old: `null`, wantCode: 400,
			wantMsg: "the AdmissionReview request carries no oldObject; seccomp-guard needs it to decide"},
		{name: "a duplicate object replaces the first whole (no merge)", kind: pk, op: admissionv1.Create, obj: unconfPod + `,"object":` + pod, wantCode: 200},
		{name: "a duplicate object replaces a good one", kind: pk, op: admissionv1.Create, obj: pod + `,"object":` + unconfPod, wantCode: 403,
			wantMsg: `pod "x" is forbidden by seccomp-guard: spec.securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`},
		{name: "a duplicate object replaces a bad one", kind: dk, op: admissionv1.Create, obj: `{"metadata":5},"object":` + deploy, wantCode: 200},
		{name: "a duplicate oldObject replaces a good one with a bad one", kind: dk, op: admissionv1.Update, obj: deploy, old: deploy + `,"oldObject":{"spec":"x"}`, wantCode: 400,
			wantMsg: "the request's oldObject does not decode as *v1.Deployment: json: cannot unmarshal string into Go struct field Deployment.spec of type v1.DeploymentSpec"},
		{name: "a type error in a pod's metadata", kind: pk, op: admissionv1.Create, obj: `{"apiVersion":"v1","kind":"Pod","metadata":5}`, wantCode: 400,
			wantMsg: "the request's object does not decode as *v1.Pod: json: cannot unmarshal number into Go struct field Pod.metadata of type v1.ObjectMeta"},
		{name: "a type error deep in a Deployment's template", kind: dk, op: admissionv1.Create,
			obj: `{"apiVersion":"apps/v1","kind":"Deployment","spec":{"template":{"spec":{"containers":[{"name":"a","securityContext":{"seccompProfile":{"type":["Unconfined"]}}}]}}}}`, wantCode: 400,
			wantMsg: "the request's object does not decode as *v1.Deployment: json: cannot unmarshal array into Go struct field SeccompProfile.spec.template.spec.containers.securityContext.seccompProfile.type of type v1.SeccompProfileType"},
		{name: "a type error deep in a Deployment's oldObject", kind: dk, op: admissionv1.Update, obj: deploy,
			old: `{"apiVersion":"apps/v1","kind":"Deployment","spec":{"template":{"metadata":{"labels":{"a":1}}}}}`, wantCode: 400,
			wantMsg: "the request's oldObject does not decode as *v1.Deployment: json: cannot unmarshal number into Go struct field ObjectMeta.spec.template.metadata.labels of type string"},
		{name: "a type error in an unread template field on a Deployment UPDATE that changes the template", kind: dk, op: admissionv1.Update,
			obj: `{"apiVersion":"apps/v1","kind":"Deployment","spec":{"template":{"spec":{"volumes":5,"containers":[{"name":"a"}]}}}}`, old: deploy, wantCode: 400,
			wantMsg: "the request's object does not decode as *v1.Deployment: json: cannot unmarshal number into Go struct field PodSpec.spec.template.spec.volumes of type []v1.Volume"},
		{name: "a type error in the object before one in the oldObject", kind: pk, op: admissionv1.Update, obj: `{"metadata":{"name":1}}`, old: `{"metadata":{"name":2}}`, wantCode: 400,
			wantMsg: "the request's object does not decode as *v1.Pod: json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string"},
		{name: "a type error hides a contradicting kind: refused when used", kind: pk, op: admissionv1.Create,
			obj: `{"apiVersion":"apps/v1","kind":"Deployment","metadata":5}`, wantCode: 400,
			wantMsg: "the request's object does not decode as *v1.Pod: json: cannot unmarshal number into Go struct field Pod.metadata of type v1.ObjectMeta"},
		{name: "a type error only the trimmed union has: a pod's template", kind: pk, op: admissionv1.Create,
			obj: `{"apiVersion":"v1","kind":"Pod","template":5,"spec":{"securityContext":{"seccompProfile":{"type":"Unconfined"}},"containers":[{"name":"a"}]}}`, wantCode: 403,
			wantMsg: `pod "x" is forbidden by seccomp-guard: spec.securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`},
		{name: "a type error only the trimmed union has: a Deployment's containers", kind: dk, op: admissionv1.Update, obj: deploy,
			old: `{"apiVersion":"apps/v1","kind":"Deployment","spec":{"containers":5,"template":{"spec":{"containers":[{"name":"a"}]}}}}`, wantCode: 200},
	}
	eps := differentialEndpoints()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var obj, old []byte
			if tc.obj != "" {
				obj = []byte(tc.obj)
			}
			if tc.old != "" {
				old = []byte(tc.old)
			}
			body := rawReview(tc.kind, tc.op, "", obj, old)
			got := serveReview(eps["validate"].fast, body)
			require.NotNil(t, got.Result)
			assert.Equal(t, tc.wantCode, got.Result.Code, got.Result.Message)
			assert.Equal(t, tc.wantMsg, got.Result.Message)
			compareReview(t, eps, body)
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
// operation, give the same answer on both paths, but for the differences
// allowedDifference names. Seeds: testdata/fuzz/FuzzTrimmedDecode
// (oldobject-number-on-create: the RawExtension rules, TestDifferentialRawObjects).
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
