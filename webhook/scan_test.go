package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
)

// The reference the scanner is held to: the API server's decoder
// (sigs.k8s.io/json, case-sensitive) into the same trimmed types, with the
// pod template decoding itself through json.Unmarshaler as the request
// path did before scan.go.

// UnmarshalJSON implements json.Unmarshaler, for the reference decode only.
func (t *trimmedTemplate) UnmarshalJSON(data []byte) error {
	if t.raw != nil {
		return errDuplicateTemplate
	}
	t.raw = data
	if bytes.Equal(data, []byte("null")) {
		return nil // as encoding/json: a struct stays as it is, a pointer becomes nil (present stays false)
	}
	t.present = true
	return kjson.UnmarshalCaseSensitivePreserveInts(data, &t.templateFields)
}

// UnmarshalJSON implements json.Unmarshaler, for the reference decode only:
// runtime.RawExtension's rules (null leaves the value as it was, any other
// value replaces it whole), with the value decoded on its own and its error
// kept; a duplicate template still ends the decode.
func (o *rawObject) UnmarshalJSON(data []byte) error {
	if bytes.Equal(data, []byte("null")) {
		return nil
	}
	*o = rawObject{raw: data, obj: new(trimmedObject)}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(data, o.obj); err != nil {
		if errors.Is(err, errDuplicateTemplate) {
			return err
		}
		o.obj, o.err = nil, err
	}
	return nil
}

// MarshalJSON implements json.Marshaler, for TestScanEveryField: the
// decoded object.
func (o rawObject) MarshalJSON() ([]byte, error) { return json.Marshal(o.obj) }

func referenceDecode(body []byte) (*trimmedReview, error) {
	var r trimmedReview
	if err := kjson.UnmarshalCaseSensitivePreserveInts(body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// compareScan decodes body with the scanner and the reference: both
// refuse it with the same error text, or both accept it with equal values.
func compareScan(t testing.TB, body []byte) {
	t.Helper()
	want, wantErr := referenceDecode(body)
	got, err := decodeReview(body)
	if wantErr != nil || err != nil {
		if fmt.Sprint(err) != fmt.Sprint(wantErr) || errors.Is(err, errDuplicateTemplate) != errors.Is(wantErr, errDuplicateTemplate) {
			t.Fatalf("the scanner and sigs.k8s.io/json disagree on\n%s\nscanner: %v\nreference: %v", truncate(body), err, wantErr)
		}
		return
	}
	// An object's own error: the same text (the types differ: the
	// scanner's typeError, encoding/json's UnmarshalTypeError).
	for i := 0; i < 2 && want.Request != nil && got.Request != nil; i++ {
		w, g := &want.Request.Object, &got.Request.Object
		if i == 1 {
			w, g = &want.Request.OldObject, &got.Request.OldObject
		}
		if fmt.Sprint(w.err) != fmt.Sprint(g.err) {
			t.Fatalf("the scanner and sigs.k8s.io/json disagree on an object of\n%s\nscanner: %v\nreference: %v", truncate(body), g.err, w.err)
		}
		w.err, g.err = nil, nil
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("the scanner and sigs.k8s.io/json decode differently\n%s\nscanner:   %s\nreference: %s", truncate(body), dump(got), dump(want))
	}
}

// dump shows a decoded review, the templates' bytes included.
func dump(r *trimmedReview) string {
	s := fmt.Sprintf("%+v", *r)
	if q := r.Request; q != nil {
		s += fmt.Sprintf("\nrequest: %+v", *q)
		for _, o := range []*rawObject{&q.Object, &q.OldObject} {
			s += fmt.Sprintf("\nobject: %q %v", o.raw, o.err)
			if o.obj != nil {
				s += fmt.Sprintf(" %+v", *o.obj)
			}
		}
	}
	return s
}

// review is an AdmissionReview around obj, for the scanner's tests.
func review(obj string) string {
	return `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","object":` + obj + `}}`
}

// TestScanErrors: every way the scanner refuses a body, with the exact
// text, which must also be the reference's.
func TestScanErrors(t *testing.T) {
	pod := func(spec string) string { return review(`{"kind":"Pod","spec":` + spec + `}`) }
	deploy := func(template string) string {
		return review(`{"kind":"Deployment","spec":{"replicas":1,"template":` + template + `}}`)
	}
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name string
		body string
		want string
	}{
		// Syntax, in each of the scanner's states.
		{"empty body", ``, "unexpected end of JSON input"},
		{"only whitespace", " \t\r\n", "unexpected end of JSON input"},
		{"a bare word", `hello`, "invalid character 'h' looking for beginning of value"},
		{"trailing data", `{} {}`, "invalid character '{' after top-level value"},
		{"trailing data after a number", `{"request":null}x`, "invalid character 'x' after top-level value"},
		{"an unclosed object", `{"apiVersion":"v1"`, "unexpected end of JSON input"},
		{"an unclosed array", pod(`{"containers":[{"name":"a"}`)[:60], "unexpected end of JSON input"},
		{"an unclosed string", `{"apiVersion":"v1`, "unexpected end of JSON input"},
		{"a key without quotes", `{apiVersion:"v1"}`, "invalid character 'a' looking for beginning of object key string"},
		{"a trailing comma in an object", `{"apiVersion":"v1",}`, "invalid character '}' looking for beginning of object key string"},
		{"a trailing comma in an array", pod(`{"containers":[{"name":"a"},]}`), "invalid character ']' looking for beginning of value"},
		{"a missing colon", `{"apiVersion" "v1"}`, "invalid character '\"' after object key"},
		{"a missing comma in an object", `{"apiVersion":"v1" "kind":"x"}`, "invalid character '\"' after object key:value pair"},
		{"a missing comma in an array", pod(`{"containers":[{"name":"a"} {"name":"b"}]}`), "invalid character '{' after array element"},
		{"a bracket mismatch", `{"request":{"object":[}}}`, "invalid character '}' looking for beginning of value"},
		{"a control character in a string", "{\"apiVersion\":\"v\n1\"}", `invalid character '\n' in string literal`},
		{"an unknown escape", `{"apiVersion":"\x"}`, "invalid character 'x' in string escape code"},
		{"a single-quote escape", `{"apiVersion":"\'"}`, `invalid character '\'' in string escape code`},
		{"a short unicode escape", `{"apiVersion":"\u12G4"}`, `invalid character 'G' in \u hexadecimal character escape`},
		{"a body ending in an escape", `{"apiVersion":"\`, "invalid character ' ' in string escape code"},
		{"a body ending in a unicode escape", `{"apiVersion":"\u00`, `invalid character ' ' in \u hexadecimal character escape`},
		{"a lone minus", `{"x":-}`, "invalid character '}' in numeric literal"},
		{"a body ending in a minus", `-`, "invalid character ' ' in numeric literal"},
		{"a leading zero", `{"x":01}`, "invalid character '1' after object key:value pair"},
		{"a leading zero in an array", `[01]`, "invalid character '1' after array element"},
		{"a leading zero at the top", `01`, "invalid character '1' after top-level value"},
		{"a plus sign", `{"x":+1}`, "invalid character '+' looking for beginning of value"},
		{"no digit after the point", `{"x":1.}`, "invalid character '}' after decimal point in numeric literal"},
		{"a body ending after the point", `1.`, "invalid character ' ' after decimal point in numeric literal"},
		{"no digit in the exponent", `{"x":1e+}`, "invalid character '}' in exponent of numeric literal"},
		{"a misspelled true", `{"x":trie}`, "invalid character 'i' in literal true (expecting 'u')"},
		{"a misspelled false", `{"x":fals}`, "invalid character '}' in literal false (expecting 'e')"},
		{"a misspelled null", `{"x":nul}`, "invalid character '}' in literal null (expecting 'l')"},
		{"a truncated null", `nu`, "invalid character ' ' in literal null (expecting 'l')"},
		{"a capitalised literal", `{"x":True}`, "invalid character 'T' looking for beginning of value"},
		{"a non-ASCII byte", "{\"x\":\xff}", "invalid character 'ÿ' looking for beginning of value"},
		{"NaN", `{"x":NaN}`, "invalid character 'N' looking for beginning of value"},
		{"a syntax error after a type error", `{"apiVersion":1,"kind":}`, "invalid character '}' looking for beginning of value"},
		{"a syntax error after a duplicate template", review(`{"kind":"Deployment","spec":{"template":{},"template":{}}}`) + "x", "invalid character 'x' after top-level value"},
		{"a syntax error in a skipped field", pod(`{"volumes":[{"name":"a",}]}`), "invalid character '}' looking for beginning of object key string"},
		// Depth: 10,000 arrays and objects open at once, as the API server.
		{"too deep in a skipped field", pod(`{"volumes":` + deep(10000) + `}`), "invalid character '[' exceeded max depth"},
		{"too deep at the top", deep(10001), "invalid character '[' exceeded max depth"},
		{"too deep in objects", strings.Repeat(`{"a":`, 10001) + strings.Repeat("}", 10001), "invalid character '{' exceeded max depth"},

		// Types: the first wrong one, named as encoding/json names it.
		{"an array for the review", `[]`, "json: cannot unmarshal array into Go value of type webhook.trimmedReview"},
		{"a string for the review", `"x"`, "json: cannot unmarshal string into Go value of type webhook.trimmedReview"},
		{"a number for a string", `{"apiVersion":1}`, "json: cannot unmarshal number into Go struct field trimmedReview.apiVersion of type string"},
		{"the first of two type errors", `{"apiVersion":1,"kind":true}`, "json: cannot unmarshal number into Go struct field trimmedReview.apiVersion of type string"},
		{"a string for the request", `{"request":"x"}`, "json: cannot unmarshal string into Go struct field trimmedReview.request of type webhook.trimmedRequest"},
		{"an array for the uid", `{"request":{"uid":[]}}`, "json: cannot unmarshal array into Go struct field trimmedRequest.request.uid of type types.UID"},
		{"a bool for the operation", `{"request":{"operation":false}}`, "json: cannot unmarshal bool into Go struct field trimmedRequest.request.operation of type v1.Operation"},
		{"an object for a kind's group", `{"request":{"kind":{"group":{}}}}`, "json: cannot unmarshal object into Go struct field GroupVersionKind.request.kind.group of type string"},
		{"a number for a resource", `{"request":{"resource":{"resource":5}}}`, "json: cannot unmarshal number into Go struct field GroupVersionResource.request.resource.resource of type string"},
		{"a number for the username", `{"request":{"userInfo":{"username":5}}}`, "json: cannot unmarshal number into Go struct field trimmedUserInfo.request.userInfo.username of type string"},
		{"an array for the object", `{"request":{"object":[]}}`, "json: cannot unmarshal array into Go value of type webhook.trimmedObject"},
		{"a number for a label", review(`{"metadata":{"labels":{"a":1}}}`), "json: cannot unmarshal number into Go struct field trimmedMeta.metadata.labels of type string"},
		{"an array for the labels", review(`{"metadata":{"labels":[]}}`), "json: cannot unmarshal array into Go struct field trimmedMeta.metadata.labels of type map[string]string"},
		{"an object for the owner references", review(`{"metadata":{"ownerReferences":{}}}`), "json: cannot unmarshal object into Go struct field trimmedMeta.metadata.ownerReferences of type []v1.OwnerReference"},
		{"a string for an owner's controller", review(`{"metadata":{"ownerReferences":[{"controller":"true"}]}}`), "json: cannot unmarshal string into Go struct field OwnerReference.metadata.ownerReferences.controller of type bool"},
		{"a number for an owner's uid", review(`{"metadata":{"ownerReferences":[{"uid":1}]}}`), "json: cannot unmarshal number into Go struct field OwnerReference.metadata.ownerReferences.uid of type types.UID"},
		{"a string for the metadata", review(`{"metadata":"x"}`), "json: cannot unmarshal string into Go struct field trimmedObject.metadata of type webhook.trimmedMeta"},
		{"a number for a container", pod(`{"containers":[{"name":"a"},5]}`), "json: cannot unmarshal number into Go struct field trimmedSpec.spec.trimmedPodSpec.containers of type webhook.trimmedContainer"},
		{"a string for privileged", pod(`{"containers":[{"name":"a","securityContext":{"privileged":"yes"}}]}`), "json: cannot unmarshal string into Go struct field trimmedSecurityContext.spec.trimmedPodSpec.containers.securityContext.privileged of type bool"},
		{"a number for a seccomp type", pod(`{"securityContext":{"seccompProfile":{"type":1}}}`), "json: cannot unmarshal number into Go struct field SeccompProfile.spec.trimmedPodSpec.securityContext.seccompProfile.type of type v1.SeccompProfileType"},
		{"a bool for a localhost profile", pod(`{"securityContext":{"seccompProfile":{"localhostProfile":true}}}`), "json: cannot unmarshal bool into Go struct field SeccompProfile.spec.trimmedPodSpec.securityContext.seccompProfile.localhostProfile of type string"},
		{"an array for the pod's security context", pod(`{"securityContext":[]}`), "json: cannot unmarshal array into Go struct field trimmedSpec.spec.trimmedPodSpec.securityContext of type webhook.trimmedPodSecurityContext"},
		{"a number for the runtime class", pod(`{"runtimeClassName":1}`), "json: cannot unmarshal number into Go struct field trimmedSpec.spec.trimmedPodSpec.runtimeClassName of type string"},
		{"a number for the os name", pod(`{"os":{"name":1}}`), "json: cannot unmarshal number into Go struct field PodOS.spec.trimmedPodSpec.os.name of type v1.OSName"},
		{"a string for the os", pod(`{"os":"linux"}`), "json: cannot unmarshal string into Go struct field trimmedSpec.spec.trimmedPodSpec.os of type v1.PodOS"},
		{"a number for the node selector", pod(`{"nodeSelector":1}`), "json: cannot unmarshal number into Go struct field trimmedSpec.spec.trimmedPodSpec.nodeSelector of type map[string]string"},
		{"a fraction for toleration seconds", pod(`{"tolerations":[{"tolerationSeconds":1.5}]}`), "json: cannot unmarshal number 1.5 into Go struct field Toleration.spec.trimmedPodSpec.tolerations.tolerationSeconds of type int64"},
		{"an exponent for toleration seconds", pod(`{"tolerations":[{"tolerationSeconds":1e3}]}`), "json: cannot unmarshal number 1e3 into Go struct field Toleration.spec.trimmedPodSpec.tolerations.tolerationSeconds of type int64"},
		{"toleration seconds past int64", pod(`{"tolerations":[{"tolerationSeconds":9223372036854775808}]}`), "json: cannot unmarshal number 9223372036854775808 into Go struct field Toleration.spec.trimmedPodSpec.tolerations.tolerationSeconds of type int64"},
		{"toleration seconds before int64", pod(`{"tolerations":[{"tolerationSeconds":-9223372036854775809}]}`), "json: cannot unmarshal number -9223372036854775809 into Go struct field Toleration.spec.trimmedPodSpec.tolerations.tolerationSeconds of type int64"},
		{"a string for toleration seconds", pod(`{"tolerations":[{"tolerationSeconds":"300"}]}`), "json: cannot unmarshal string into Go struct field Toleration.spec.trimmedPodSpec.tolerations.tolerationSeconds of type int64"},
		{"a number for a toleration operator", pod(`{"tolerations":[{"operator":1}]}`), "json: cannot unmarshal number into Go struct field Toleration.spec.trimmedPodSpec.tolerations.operator of type v1.TolerationOperator"},
		{"a number for a taint effect", pod(`{"tolerations":[{"effect":1}]}`), "json: cannot unmarshal number into Go struct field Toleration.spec.trimmedPodSpec.tolerations.effect of type v1.TaintEffect"},
		{"an object for the tolerations", pod(`{"tolerations":{}}`), "json: cannot unmarshal object into Go struct field trimmedSpec.spec.trimmedPodSpec.tolerations of type []v1.Toleration"},
		{"a number for a scheduling gate", pod(`{"schedulingGates":[{"name":1}]}`), "json: cannot unmarshal number into Go struct field PodSchedulingGate.spec.trimmedPodSpec.schedulingGates.name of type string"},
		{"a weight past int32", pod(`{"affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":2147483648}]}}}`), "json: cannot unmarshal number 2147483648 into Go struct field PreferredSchedulingTerm.spec.trimmedPodSpec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution.weight of type int32"},
		{"a bool for a weight", pod(`{"affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":true}]}}}`), "json: cannot unmarshal bool into Go struct field PreferredSchedulingTerm.spec.trimmedPodSpec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution.weight of type int32"},
		{"a number for a selector value", pod(`{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchFields":[{"values":["a",1]}]}]}}}}`), "json: cannot unmarshal number into Go struct field NodeSelectorRequirement.spec.trimmedPodSpec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.matchFields.values of type string"},
		{"a number for a selector operator", pod(`{"affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"preference":{"matchExpressions":[{"operator":1}]}}]}}}`), "json: cannot unmarshal number into Go struct field NodeSelectorRequirement.spec.trimmedPodSpec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution.preference.matchExpressions.operator of type v1.NodeSelectorOperator"},
		{"a string for the node selector terms", pod(`{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":"x"}}}}`), "json: cannot unmarshal string into Go struct field NodeSelector.spec.trimmedPodSpec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms of type []v1.NodeSelectorTerm"},
		{"a number for the node affinity", pod(`{"affinity":{"nodeAffinity":1}}`), "json: cannot unmarshal number into Go struct field trimmedAffinity.spec.trimmedPodSpec.affinity.nodeAffinity of type v1.NodeAffinity"},
		{"an escaped key is the field", pod(`{"node\u004eame":1}`), "json: cannot unmarshal number into Go struct field trimmedSpec.spec.trimmedPodSpec.nodeName of type string"},

		// Pod templates: a second one, or a type error in one, ends the
		// reference's decode, and wins over an earlier type error.
		{"a duplicate template", review(`{"kind":"Deployment","spec":{"template":{},"template":{"spec":{}}}}`), errDuplicateTemplate.Error()},
		{"a duplicate after a null template", review(`{"kind":"ReplicationController","spec":{"template":null,"template":{}}}`), errDuplicateTemplate.Error()},
		{"a duplicate PodTemplate template", review(`{"kind":"PodTemplate","template":{},"template":null}`), errDuplicateTemplate.Error()},
		{"a duplicate template after a type error", `{"apiVersion":1,"request":{"object":{"spec":{"template":{},"template":{}}}}}`, errDuplicateTemplate.Error()},
		{"a number for a template", deploy(`5`), "json: cannot unmarshal number into Go struct field trimmedSpec.spec.template of type webhook.templateFields"},
		{"a type error in a template", deploy(`{"spec":{"containers":[{"securityContext":{"privileged":1}}]}}`), "json: cannot unmarshal number into Go struct field trimmedSpec.spec.template.spec.containers.securityContext.privileged of type bool"},
		{"a type error in the review before one in an object's template", `{"apiVersion":1,"request":{"object":{"spec":{"template":{"metadata":{"name":1}}}}}}`, "json: cannot unmarshal number into Go struct field trimmedReview.apiVersion of type string"},
		{"a type error in a template after one outside it in the object", review(`{"kind":1,"spec":{"template":{"metadata":{"name":1}}}}`), "json: cannot unmarshal number into Go struct field trimmedSpec.spec.template.metadata.name of type string"},
		{"a type error in an oldObject is its own", `{"request":{"oldObject":{"metadata":{"name":1}},"object":{"metadata":{"name":2}}}}`, "json: cannot unmarshal number into Go struct field trimmedMeta.metadata.name of type string"},
		{"a number for the object", review(`0`), "json: cannot unmarshal number into Go value of type webhook.trimmedObject"},
		{"a string for the object", review(`"Pod"`), "json: cannot unmarshal string into Go value of type webhook.trimmedObject"},
		{"a bool for the object", review(`true`), "json: cannot unmarshal bool into Go value of type webhook.trimmedObject"},
		{"a duplicate object replaces a good one", `{"request":{"object":{"kind":"Pod"},"object":[1]}}`, "json: cannot unmarshal array into Go value of type webhook.trimmedObject"},
		{"null leaves a bad object", `{"request":{"object":5,"object":null}}`, "json: cannot unmarshal number into Go value of type webhook.trimmedObject"},
		{"a duplicate template in an object that a later one replaces", `{"request":{"object":{"spec":{"template":{},"template":{}}},"object":{}}}`, errDuplicateTemplate.Error()},
		{"a duplicate template in the oldObject", `{"request":{"object":{},"oldObject":{"spec":{"template":null,"template":null}}}}`, errDuplicateTemplate.Error()},
		{"a duplicate template after a type error in the object", review(`{"kind":1,"spec":{"template":{},"template":{}}}`), errDuplicateTemplate.Error()},
		{"a type error in a template before a duplicate", `{"request":{"object":{"spec":{"template":{"metadata":{"name":1}},"template":{}}}}}`, "json: cannot unmarshal number into Go struct field trimmedSpec.spec.template.metadata.name of type string"},
		{"a type error in a CronJob's template", review(`{"kind":"CronJob","spec":{"jobTemplate":{"spec":{"template":{"spec":{"nodeName":[]}}}}}}`), "json: cannot unmarshal array into Go struct field trimmedJobSpec.spec.jobTemplate.spec.template.spec.nodeName of type string"},
		{"a type error in a PodTemplate's template", review(`{"kind":"PodTemplate","template":{"metadata":{"labels":{"a":true}}}}`), "json: cannot unmarshal bool into Go struct field trimmedObject.template.metadata.labels of type string"},
		{"a string for a job template", review(`{"kind":"CronJob","spec":{"jobTemplate":"x"}}`), "json: cannot unmarshal string into Go struct field trimmedSpec.spec.jobTemplate of type webhook.trimmedJobTemplate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := decodeReview([]byte(tc.body))
			if err == nil {
				// An error in request.object is the object's, kept for
				// when it is used (rawObject).
				err = r.Request.Object.err
				assert.Nil(t, r.Request.Object.obj, "an object that does not decode has none")
			} else {
				assert.Nil(t, r)
			}
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
			compareScan(t, []byte(tc.body))
		})
	}
}

// TestScanValues: what the scanner fills in, where encoding/json's rules
// are least obvious.
func TestScanValues(t *testing.T) {
	pod := func(spec string) string { return review(`{"kind":"Pod","spec":` + spec + `}`) }
	meta := func(m string) string { return review(`{"kind":"Pod","metadata":` + m + `}`) }
	deploy := func(template string) string {
		return review(`{"kind":"Deployment","spec":{"replicas":1,"template":` + template + `}}`)
	}
	object := func(r *trimmedReview) *trimmedObject { return r.Request.Object.obj }
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, r *trimmedReview)
	}{
		{"whitespace everywhere", " \r\n\t" + strings.ReplaceAll(meta(`{"name":"x"}`), ":", " :\n ") + "\n", func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, "x", object(r).Metadata.Name)
		}},
		{"a null review", `null`, func(t *testing.T, r *trimmedReview) { assert.Equal(t, trimmedReview{}, *r) }},
		{"escapes", meta(`{"name":"a\"b\\c\/d\be\ff\ng\rh\ti\u0041\u00e9\u20ac"}`), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, "a\"b\\c/d\be\ff\ng\rh\tiAé€", object(r).Metadata.Name)
		}},
		{"a surrogate pair", meta(`{"name":"\ud83d\ude00"}`), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, "😀", object(r).Metadata.Name)
		}},
		{"a lone high surrogate", meta(`{"name":"a\ud83db"}`), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, "a\ufffdb", object(r).Metadata.Name)
		}},
		{"a high surrogate before a non-surrogate escape", meta(`{"name":"\ud83d\u0041"}`), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, "\ufffdA", object(r).Metadata.Name)
		}},
		{"a lone low surrogate", meta(`{"name":"\ude00"}`), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, "\ufffd", object(r).Metadata.Name)
		}},
		{"invalid UTF-8, a byte at a time", meta("{\"name\":\"a\xff\xfeb\xed\xa0\x80\"}"), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, "a\ufffd\ufffdb\ufffd\ufffd\ufffd", object(r).Metadata.Name)
		}},
		{"invalid UTF-8 beside an escape", meta("{\"name\":\"\xff\\n\"}"), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, "\ufffd\n", object(r).Metadata.Name)
		}},
		{"valid UTF-8 as it is", meta(`{"labels":{"ключ":"значение"}}`), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, map[string]string{"ключ": "значение"}, object(r).Metadata.Labels)
		}},
		{"an escaped map key", meta(`{"labels":{"a\u002fb":"c"}}`), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, map[string]string{"a/b": "c"}, object(r).Metadata.Labels)
		}},
		{"a capitalised key is not the field", meta(`{"Name":"x","NAME":"y"}`), func(t *testing.T, r *trimmedReview) {
			assert.Empty(t, object(r).Metadata.Name)
		}},
		{"the last duplicate scalar wins", meta(`{"name":"a","name":"b"}`), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, "b", object(r).Metadata.Name)
		}},
		{"null leaves a string as it is", meta(`{"name":"a","name":null}`), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, "a", object(r).Metadata.Name)
		}},
		{"duplicate maps merge", meta(`{"labels":{"a":"1","b":"2"},"labels":{"b":"3","c":null}}`), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, map[string]string{"a": "1", "b": "3", "c": ""}, object(r).Metadata.Labels)
		}},
		{"null clears a map", meta(`{"labels":{"a":"1"},"labels":null}`), func(t *testing.T, r *trimmedReview) {
			assert.Nil(t, object(r).Metadata.Labels)
		}},
		{"an empty map is not nil", meta(`{"labels":{}}`), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, map[string]string{}, object(r).Metadata.Labels)
		}},
		{"duplicate structs merge", pod(`{"securityContext":{"seccompProfile":{"type":"Localhost"}},"securityContext":{"seccompProfile":{"localhostProfile":"p.json"}}}`), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, &corev1.SeccompProfile{Type: "Localhost", LocalhostProfile: new("p.json")}, object(r).Spec.SecurityContext.SeccompProfile)
		}},
		{"null clears a pointer", pod(`{"securityContext":{"seccompProfile":{"type":"Unconfined"}},"securityContext":null}`), func(t *testing.T, r *trimmedReview) {
			assert.Nil(t, object(r).Spec.SecurityContext)
		}},
		{"null leaves a struct as it is", review(`{"kind":"Pod","metadata":{"name":"x"},"metadata":null}`), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, "x", object(r).Metadata.Name)
		}},
		{"a duplicate array decodes into the first's elements", pod(`{"containers":[{"name":"a","securityContext":{"privileged":true}},{"name":"b"}],"containers":[{"name":"c"}]}`), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, []trimmedContainer{{Name: "c", SecurityContext: &trimmedSecurityContext{Privileged: new(true)}}}, object(r).Spec.Containers)
		}},
		{"a third array reuses elements left beyond the second's length", pod(`{"containers":[{"name":"a"},{"name":"b","securityContext":{"privileged":false}}],"containers":[{"name":"c"}],"containers":[{},{}]}`), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, []trimmedContainer{{Name: "c"}, {Name: "b", SecurityContext: &trimmedSecurityContext{Privileged: new(false)}}}, object(r).Spec.Containers)
		}},
		{"an empty array is not nil", pod(`{"containers":[{"name":"a"}],"containers":[]}`), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, []trimmedContainer{}, object(r).Spec.Containers)
		}},
		{"null clears a slice", pod(`{"containers":[{"name":"a"}],"containers":null}`), func(t *testing.T, r *trimmedReview) {
			assert.Nil(t, object(r).Spec.Containers)
		}},
		{"null elements", pod(`{"tolerations":[null,{"key":"k","tolerationSeconds":null}],"schedulingGates":[null]}`), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, []corev1.Toleration{{}, {Key: "k"}}, object(r).Spec.Tolerations)
			assert.Equal(t, []corev1.PodSchedulingGate{{}}, object(r).Spec.SchedulingGates)
		}},
		{"the default tolerations and an owner", review(`{"kind":"Pod","metadata":{"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web","uid":"u1","controller":true,"blockOwnerDeletion":false}]},` +
			`"spec":{"tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},{"key":"k","value":"v","tolerationSeconds":-0}]}}`), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "u1", Controller: new(true), BlockOwnerDeletion: new(false)}}, object(r).Metadata.OwnerReferences)
			assert.Equal(t, []corev1.Toleration{
				{Key: "node.kubernetes.io/not-ready", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: new(int64(300))},
				{Key: "k", Value: "v", TolerationSeconds: new(int64(0))},
			}, object(r).Spec.Tolerations)
		}},
		{"the int64 range", pod(`{"tolerations":[{"tolerationSeconds":9223372036854775807},{"tolerationSeconds":-9223372036854775808}]}`), func(t *testing.T, r *trimmedReview) {
			tol := object(r).Spec.Tolerations
			assert.Equal(t, int64(9223372036854775807), *tol[0].TolerationSeconds)
			assert.Equal(t, int64(-9223372036854775808), *tol[1].TolerationSeconds)
		}},
		{"the int32 range", pod(`{"affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":2147483647},{"weight":-2147483648},{"weight":null}]}}}`), func(t *testing.T, r *trimmedReview) {
			terms := object(r).Spec.Affinity.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution
			assert.Equal(t, []int32{2147483647, -2147483648, 0}, []int32{terms[0].Weight, terms[1].Weight, terms[2].Weight})
		}},
		{"numbers of every form in skipped fields", pod(`{"priority":-0.5e-3,"x":[0,1E+2,12.25,-7]}`), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, trimmedSpec{}, object(r).Spec)
		}},
		{"a template keeps its bytes", deploy(`{ "spec" : {"containers":[{"name":"a"}]} }`), func(t *testing.T, r *trimmedReview) {
			tmpl := object(r).Spec.Template
			assert.Equal(t, `{ "spec" : {"containers":[{"name":"a"}]} }`, string(tmpl.raw))
			assert.True(t, tmpl.present)
			assert.Equal(t, []trimmedContainer{{Name: "a"}}, tmpl.Spec.Containers)
		}},
		{"a null template is absent", deploy(`null`), func(t *testing.T, r *trimmedReview) {
			tmpl := object(r).Spec.Template
			assert.Equal(t, "null", string(tmpl.raw))
			assert.False(t, tmpl.present)
		}},
		// request.object and oldObject: runtime.RawExtension's rules.
		{"a duplicate object replaces the first whole", `{"request":{"object":{"kind":"Pod","metadata":{"name":"a"}},"object":{"metadata":{"labels":{"x":"y"}}}}}`, func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, `{"metadata":{"labels":{"x":"y"}}}`, string(r.Request.Object.raw))
			assert.Equal(t, &trimmedObject{Metadata: trimmedMeta{Labels: map[string]string{"x": "y"}}}, r.Request.Object.obj)
		}},
		{"null leaves the object as it was", `{"request":{"object":{"metadata":{"name":"a"}},"object":null}}`, func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, `{"metadata":{"name":"a"}}`, string(r.Request.Object.raw))
			assert.Equal(t, "a", r.Request.Object.obj.Metadata.Name)
		}},
		{"a null object is absent", `{"request":{"object":null,"oldObject":null}}`, func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, rawObject{}, r.Request.Object)
			assert.Equal(t, rawObject{}, r.Request.OldObject)
		}},
		{"a good object replaces a bad one", `{"request":{"oldObject":5,"oldObject":{"kind":"Pod"}}}`, func(t *testing.T, r *trimmedReview) {
			require.NoError(t, r.Request.OldObject.err)
			assert.Equal(t, "Pod", r.Request.OldObject.obj.Kind)
		}},
		{"a bad object keeps its bytes and its error", `{"request":{"oldObject": [1, 2] }}`, func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, `[1, 2]`, string(r.Request.OldObject.raw))
			assert.EqualError(t, r.Request.OldObject.err, "json: cannot unmarshal array into Go value of type webhook.trimmedObject")
		}},
		{"deep nesting within the limit", pod(`{"volumes":` + strings.Repeat("[", 9990) + strings.Repeat("]", 9990) + `}`), func(t *testing.T, r *trimmedReview) {
			assert.Equal(t, trimmedSpec{}, object(r).Spec)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := decodeReview([]byte(tc.body))
			require.NoError(t, err)
			tc.check(t, r)
			compareScan(t, []byte(tc.body))
		})
	}
}

// TestScanEveryField: a review with every field of every trimmed type set
// (pointers allocated, two elements in each slice and map, distinct
// values) decodes to itself, so no field is left out of the scanner.
func TestScanEveryField(t *testing.T) {
	var r trimmedReview
	n := 0
	fill(reflect.ValueOf(&r).Elem(), &n)
	// The objects' fields are unexported (rawObject): filled one by one.
	r.Request.Object.obj, r.Request.OldObject.obj = new(trimmedObject), new(trimmedObject)
	fill(reflect.ValueOf(r.Request.Object.obj).Elem(), &n)
	fill(reflect.ValueOf(r.Request.OldObject.obj).Elem(), &n)
	body, err := json.Marshal(&r)
	require.NoError(t, err)
	// The templates and objects marshal without their bytes; decoding sets them.
	for _, o := range []*trimmedObject{r.Request.Object.obj, r.Request.OldObject.obj} {
		for _, tmpl := range []*trimmedTemplate{&o.Template, &o.Spec.Template, &o.Spec.JobTemplate.Spec.Template} {
			tmpl.present = true
		}
	}
	got, err := decodeReview(body)
	require.NoError(t, err)
	for _, o := range []*rawObject{&got.Request.Object, &got.Request.OldObject} {
		require.NotEmpty(t, o.raw)
		o.raw = nil
		for _, tmpl := range []*trimmedTemplate{&o.obj.Template, &o.obj.Spec.Template, &o.obj.Spec.JobTemplate.Spec.Template} {
			require.NotEmpty(t, tmpl.raw)
			tmpl.raw = nil
		}
	}
	assert.Equal(t, &r, got)
	compareScan(t, body)
}

// fill sets every exported field under v to a distinct value.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", *n))
	case reflect.Bool:
		v.SetBool(*n%2 == 0)
	case reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n) * 1000003)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fill(v.Index(0), n)
		fill(v.Index(1), n)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for range 2 {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(k, n)
			fill(e, n)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() || f.Anonymous {
				fill(v.Field(i), n)
			}
		}
	default:
		panic(fmt.Sprintf("fill: no value for a %s", v.Type()))
	}
}

// TestScanIndependentDecodes: a type error never leaks into a later,
// valid decode (each decode has its own state).
func TestScanIndependentDecodes(t *testing.T) {
	_, err := decodeReview([]byte(`{"apiVersion":1}`))
	require.Error(t, err)
	r, err := decodeReview([]byte(`{"apiVersion":"admission.k8s.io/v1"}`))
	require.NoError(t, err)
	assert.Equal(t, "admission.k8s.io/v1", r.APIVersion)
}

func TestQuoteChar(t *testing.T) {
	for c, want := range map[byte]string{'a': `'a'`, '\'': `'\''`, '"': `'"'`, '\n': `'\n'`, 0: `'\x00'`, 0x7f: `'\x7f'`, 0xff: `'ÿ'`} {
		assert.Equal(t, want, quoteChar(c), "%#x", c)
	}
}

func TestParseInt(t *testing.T) {
	tests := []struct {
		lit  string
		bits int
		want int64
		ok   bool
	}{
		{"0", 64, 0, true},
		{"-0", 64, 0, true},
		{"42", 32, 42, true},
		{"9223372036854775807", 64, 9223372036854775807, true},
		{"9223372036854775808", 64, 0, false},
		{"-9223372036854775808", 64, -9223372036854775808, true},
		{"-9223372036854775809", 64, 0, false},
		{"99999999999999999999999", 64, 0, false},
		{"2147483647", 32, 2147483647, true},
		{"2147483648", 32, 0, false},
		{"-2147483648", 32, -2147483648, true},
		{"-2147483649", 32, 0, false},
		{"1.0", 64, 0, false},
		{"1e3", 64, 0, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%d", tc.lit, tc.bits), func(t *testing.T) {
			n, ok := parseInt([]byte(tc.lit), tc.bits)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, n)
		})
	}
}
