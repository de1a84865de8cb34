package manifest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "sigs.k8s.io/json"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// Kinds are the kinds decoded into typed objects: the workload kinds the
// policy engine evaluates (policy.Kinds), and the Node, inventory, Lease and
// policy objects that stand in for a cluster. Objects of other kinds and
// versions are kept with Typed nil.
var Kinds = func() map[schema.GroupVersionKind]func() runtime.Object {
	m := map[schema.GroupVersionKind]func() runtime.Object{
		corev1.SchemeGroupVersion.WithKind("Node"):                   func() runtime.Object { return &corev1.Node{} },
		coordinationv1.SchemeGroupVersion.WithKind("Lease"):          func() runtime.Object { return &coordinationv1.Lease{} },
		v1alpha1.SchemeGroupVersion.WithKind("NodeSeccompInventory"): func() runtime.Object { return &v1alpha1.NodeSeccompInventory{} },
		v1alpha1.SchemeGroupVersion.WithKind("ClusterSeccompPolicy"): func() runtime.Object { return &v1alpha1.ClusterSeccompPolicy{} },
	}
	for _, k := range policy.Kinds() {
		m[k.GroupVersionKind] = k.New
	}
	return m
}()

// decode fills o.Typed (and o.UnknownFields) for the kinds of Kinds.
func (o *Object) decode() error {
	newObj, ok := Kinds[o.GroupVersionKind()]
	if !ok {
		return nil
	}
	data, err := json.Marshal(o.Value)
	if err != nil {
		return errorf(o.File.Name, o.Line, "%s %q cannot be converted to JSON: %v", o.Kind, o.DisplayName(), err)
	}
	obj := newObj()
	strict, err := kjson.UnmarshalStrict(data, obj, kjson.DisallowUnknownFields)
	if err != nil {
		return o.decodeError(err)
	}
	for _, s := range strict {
		if f, ok := unknownField(s); ok {
			o.UnknownFields = append(o.UnknownFields, f)
		}
	}
	o.Typed = obj
	return nil
}

// unknownField extracts the path from a strict decoding error of
// sigs.k8s.io/json: `unknown field "spec.foo"`.
func unknownField(err error) (string, bool) {
	const prefix = `unknown field "`
	s := err.Error()
	if !strings.HasPrefix(s, prefix) || !strings.HasSuffix(s, `"`) {
		return "", false
	}
	return strings.TrimSuffix(strings.TrimPrefix(s, prefix), `"`), true
}

// typeErrorRE matches the type errors of sigs.k8s.io/json, whose error
// type is internal: "json: cannot unmarshal string into Go struct field
// PodSpec.spec.containers of type []v1.Container".
var typeErrorRE = regexp.MustCompile(`^json: cannot unmarshal (.+) into Go struct field [A-Za-z0-9_]+\.(.+) of type (.+)$`)

// decodeError says which field has the wrong type, at its line.
func (o *Object) decodeError(err error) error {
	if m := typeErrorRE.FindStringSubmatch(err.Error()); m != nil {
		hint := ""
		if strings.HasPrefix(m[1], "bool") && m[3] == "string" {
			hint = " (kubectl reads unquoted yes, no, on, off, y and n as booleans: quote the value)"
		}
		return errorf(o.File.Name, o.FieldLine(m[2]), "%s %q: %s: found %s, but it must be %s%s",
			o.Kind, o.DisplayName(), m[2], articled(m[1]), describeType(m[3]), hint)
	}
	return errorf(o.File.Name, o.Line, "%s %q cannot be decoded: %s", o.Kind, o.DisplayName(), strings.TrimPrefix(err.Error(), "json: "))
}

// articled turns the JSON value kind of a type error into words.
func articled(jsonValue string) string {
	switch {
	case strings.HasPrefix(jsonValue, "array"):
		return "a list"
	case strings.HasPrefix(jsonValue, "object"):
		return "a mapping"
	case strings.HasPrefix(jsonValue, "bool"):
		return "a boolean"
	}
	return "a " + jsonValue
}

// describeType turns the Go type of a type error into words.
func describeType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return fmt.Sprintf("a list (%s)", goType)
	case strings.HasPrefix(goType, "map["):
		return fmt.Sprintf("a mapping (%s)", goType)
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean (true or false)"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	}
	return "of type " + goType
}
