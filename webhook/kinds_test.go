package webhook

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRules spells out what the webhook configurations register, so a
// change to the kinds table shows up here as well as in the chart.
func TestRules(t *testing.T) {
	var got []string
	for _, r := range Rules() {
		for _, res := range r.Resources {
			got = append(got, r.APIGroups[0]+"/"+r.APIVersions[0]+" "+res+" "+string(*r.Scope)+" "+joinOps(r.Operations))
		}
	}
	assert.Equal(t, []string{
		"/v1 pods Namespaced CREATE",
		"/v1 pods/ephemeralcontainers Namespaced UPDATE",
		"apps/v1 deployments Namespaced CREATE,UPDATE",
		"apps/v1 replicasets Namespaced CREATE,UPDATE",
		"apps/v1 statefulsets Namespaced CREATE,UPDATE",
		"apps/v1 daemonsets Namespaced CREATE,UPDATE",
		"batch/v1 jobs Namespaced CREATE,UPDATE",
		"batch/v1 cronjobs Namespaced CREATE,UPDATE",
		"/v1 replicationcontrollers Namespaced CREATE,UPDATE",
		"/v1 podtemplates Namespaced CREATE,UPDATE",
	}, got)
}

func TestHandledKind(t *testing.T) {
	for _, tc := range []struct {
		gvk  metav1.GroupVersionKind
		want bool
	}{
		{metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, true},
		{metav1.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"}, true},
		{metav1.GroupVersionKind{Group: "batch", Version: "v1beta1", Kind: "CronJob"}, false},
		{metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, false},
	} {
		newObj, ok := handledKind(tc.gvk)
		assert.Equal(t, tc.want, ok, tc.gvk.String())
		if ok {
			assert.Equal(t, tc.gvk.Kind, kindName(newObj()), tc.gvk.String())
		}
	}
}

func joinOps[T ~string](ops []T) string {
	s := ""
	for i, o := range ops {
		if i > 0 {
			s += ","
		}
		s += string(o)
	}
	return s
}

// kindName is the Go type name of a typed object, e.g. "Pod" for *corev1.Pod.
func kindName(obj any) string {
	s := fmt.Sprintf("%T", obj)
	return s[strings.LastIndex(s, ".")+1:]
}
