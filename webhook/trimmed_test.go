package webhook

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/seccomp-guard/seccomp-guard/policy"
)

// TestTrimmedTypesMirror: every field of a trimmed type has the JSON name
// and the pointer-ness (so the same null and duplicate-key behaviour) of
// the field it mirrors in the Kubernetes type.
func TestTrimmedTypesMirror(t *testing.T) {
	pairs := []struct{ trimmed, full any }{
		{trimmedMeta{}, metav1.ObjectMeta{}},
		{trimmedPodSpec{}, corev1.PodSpec{}},
		{trimmedPodSecurityContext{}, corev1.PodSecurityContext{}},
		{trimmedContainer{}, corev1.Container{}},
		{trimmedContainer{}, corev1.EphemeralContainerCommon{}},
		{trimmedSecurityContext{}, corev1.SecurityContext{}},
		{trimmedAffinity{}, corev1.Affinity{}},
		{templateFields{}, corev1.PodTemplateSpec{}},
		{trimmedJobTemplate{}, batchv1.JobTemplateSpec{}},
		{trimmedJobSpec{}, batchv1.JobSpec{}},
		{trimmedUserInfo{}, struct {
			Username string `json:"username"`
		}{}},
	}
	for _, p := range pairs {
		tt, ft := reflect.TypeOf(p.trimmed), reflect.TypeOf(p.full)
		full := jsonFields(ft)
		for name, f := range jsonFields(tt) {
			g, ok := full[name]
			if !assert.True(t, ok, "%s.%s: %s has no field %q", tt.Name(), f.Name, ft.Name(), name) {
				continue
			}
			assert.Equal(t, g.Type.Kind(), f.Type.Kind(), "%s.%s mirrors %s.%s: same kind (pointer, slice, struct, ...)", tt.Name(), f.Name, ft.Name(), g.Name)
		}
	}
	// The union spec: a workload's spec field "template" is a struct, a
	// ReplicationController's a pointer; trimmedTemplate handles both.
	for _, spec := range []any{appsv1.DeploymentSpec{}, appsv1.ReplicaSetSpec{}, appsv1.StatefulSetSpec{}, appsv1.DaemonSetSpec{}, batchv1.JobSpec{}, corev1.ReplicationControllerSpec{}} {
		_, ok := jsonFields(reflect.TypeOf(spec))["template"]
		assert.True(t, ok, "%T has a template field", spec)
	}
}

// TestEveryKindConverts: each kind of policy.Kinds has a trimmed conversion.
func TestEveryKindConverts(t *testing.T) {
	for i := range policy.Kinds() {
		k := &policy.Kinds()[i]
		obj, err := (&trimmedObject{}).object(k, nil)
		if assert.NoError(t, err, k.Kind) {
			assert.IsType(t, k.New(), obj, k.Kind)
		}
	}
}

// jsonFields maps the JSON names of a struct's fields (inline and embedded
// fields flattened) to the fields.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && (name == "" || strings.Contains(opts, "inline")) && f.Type.Kind() == reflect.Struct {
			for n, g := range jsonFields(f.Type) {
				out[n] = g
			}
			continue
		}
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		out[name] = f
	}
	return out
}
