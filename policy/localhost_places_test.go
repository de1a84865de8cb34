package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestLocalhostProfiles(t *testing.T) {
	lh := func(p string) *corev1.SeccompProfile {
		return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr(p)}
	}
	spec := corev1.PodSpec{
		SecurityContext: &corev1.PodSecurityContext{SeccompProfile: lh("profiles/../profiles/pod.json")},
		InitContainers:  []corev1.Container{{Name: "init", SecurityContext: &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}}},
		Containers:      []corev1.Container{{Name: "a"}, {Name: "b", SecurityContext: &corev1.SecurityContext{SeccompProfile: lh("b.json")}}},
	}
	cases := []struct {
		name string
		obj  runtime.Object
		want []LocalhostPlace
	}{
		{"pod", &corev1.Pod{Spec: spec}, []LocalhostPlace{
			{Field: "spec.securityContext.seccompProfile.localhostProfile", Path: "profiles/pod.json"},
			{Field: "spec.containers[1].securityContext.seccompProfile.localhostProfile", Path: "b.json"},
		}},
		{"cronjob", &batchv1.CronJob{Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: spec}}}}}, []LocalhostPlace{
			{Field: "spec.jobTemplate.spec.template.spec.securityContext.seccompProfile.localhostProfile", Path: "profiles/pod.json"},
			{Field: "spec.jobTemplate.spec.template.spec.containers[1].securityContext.seccompProfile.localhostProfile", Path: "b.json"},
		}},
		{"not a supported kind", &corev1.ConfigMap{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, LocalhostProfiles(tc.obj))
		})
	}
}
