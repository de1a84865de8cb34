// Package chart_test renders charts/seccomp-guard with the pinned helm
// (bin/helm, built by `make tools`) and checks what it produces; when the
// control plane is built (bin/k8s), a real kube-apiserver also validates every
// rendered object with a server-side dry-run apply.
package chart_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
)

const (
	release   = "sg"
	namespace = "seccomp-guard"
	// fullname is what the chart names its objects after for release "sg".
	fullname = "sg-seccomp-guard"
)

// skipOrFail skips the test, or fails it when CI=true: CI must run everything.
func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// helm returns bin/helm and the chart directory.
func helm(t *testing.T) (bin, chart string) {
	t.Helper()
	root, err := framework.RepoRoot()
	require.NoError(t, err)
	bin = filepath.Join(root, "bin", "helm")
	if _, err := os.Stat(bin); err != nil {
		skipOrFail(t, bin+" is missing: run `make tools`")
	}
	return bin, filepath.Join(root, "charts", "seccomp-guard")
}

// helmTemplate renders the chart, skipping (or failing under CI=true) when bin/helm is missing.
func helmTemplate(t *testing.T, values map[string]any) ([]*unstructured.Unstructured, error) {
	t.Helper()
	objs, err := framework.RenderChart(release, namespace, values)
	if errors.Is(err, framework.ErrNoHelm) {
		skipOrFail(t, err.Error())
	}
	return objs, err
}

// render renders the chart and decodes its objects.
func render(t *testing.T, values map[string]any) []*unstructured.Unstructured {
	t.Helper()
	objs, err := helmTemplate(t, values)
	require.NoError(t, err, "helm template")
	return objs
}

// find returns the object of that kind and name, or nil.
func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// get finds an object and converts it to its Go type.
func get[T any](t *testing.T, objs []*unstructured.Unstructured, kind, name string) *T {
	t.Helper()
	o := find(objs, kind, name)
	require.NotNil(t, o, "%s %s is not rendered", kind, name)
	var typed T
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, &typed, true),
		"%s %s does not decode strictly into %T", kind, name, typed)
	return &typed
}

// kindNames lists "Kind name" for every object.
func kindNames(objs []*unstructured.Unstructured) []string {
	var names []string
	for _, o := range objs {
		names = append(names, o.GetKind()+" "+o.GetName())
	}
	return names
}

// values builds nested values from dotted paths: values("a.b", 1) = {a: {b: 1}}.
func values(kv ...any) map[string]any {
	root := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		path := kv[i].(string)
		m := root
		start := 0
		for j := 0; j <= len(path); j++ {
			if j < len(path) && path[j] != '.' {
				continue
			}
			key := path[start:j]
			start = j + 1
			if j == len(path) {
				m[key] = kv[i+1]
				break
			}
			next, ok := m[key].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[key] = next
			}
			m = next
		}
	}
	return root
}

func unstructuredSlice(obj map[string]any, fields ...string) ([]any, bool, error) {
	return unstructured.NestedSlice(obj, fields...)
}

func unstructuredString(obj map[string]any, fields ...string) (string, bool, error) {
	return unstructured.NestedString(obj, fields...)
}

func unstructuredBool(obj map[string]any, fields ...string) (bool, bool, error) {
	return unstructured.NestedBool(obj, fields...)
}
