package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// workloads wraps a pod's template in every supported workload kind.
func workloads(p *corev1.Pod) map[string]runtime.Object {
	t := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}, Annotations: p.Annotations}, Spec: p.Spec}
	meta := metav1.ObjectMeta{Name: "web", Namespace: "shop"}
	return map[string]runtime.Object{
		"Deployment":            &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Template: t}},
		"ReplicaSet":            &appsv1.ReplicaSet{ObjectMeta: meta, Spec: appsv1.ReplicaSetSpec{Template: t}},
		"StatefulSet":           &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Template: t}},
		"DaemonSet":             &appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Template: t}},
		"Job":                   &batchv1.Job{ObjectMeta: meta, Spec: batchv1.JobSpec{Template: t}},
		"CronJob":               &batchv1.CronJob{ObjectMeta: meta, Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: t}}}},
		"ReplicationController": &corev1.ReplicationController{ObjectMeta: meta, Spec: corev1.ReplicationControllerSpec{Template: &t}},
		"PodTemplate":           &corev1.PodTemplate{ObjectMeta: meta, Template: t},
	}
}

var kindPrefix = map[string]struct{ pointer, field string }{
	"Pod":                   {"/spec", "spec"},
	"Deployment":            {"/spec/template/spec", "spec.template.spec"},
	"ReplicaSet":            {"/spec/template/spec", "spec.template.spec"},
	"StatefulSet":           {"/spec/template/spec", "spec.template.spec"},
	"DaemonSet":             {"/spec/template/spec", "spec.template.spec"},
	"Job":                   {"/spec/template/spec", "spec.template.spec"},
	"CronJob":               {"/spec/jobTemplate/spec/template/spec", "spec.jobTemplate.spec.template.spec"},
	"ReplicationController": {"/spec/template/spec", "spec.template.spec"},
	"PodTemplate":           {"/template/spec", "template.spec"},
}

func TestDefaultingEveryKind(t *testing.T) {
	for _, k := range Kinds() {
		kind := k.Kind
		t.Run(kind, func(t *testing.T) {
			objs := workloads(basePod())
			objs["Pod"] = basePod()
			obj := objs[kind]
			prefix := kindPrefix[kind]
			p := compile(t, nil)

			d := Evaluate(p, nil, create(obj, namespace("enforce")))
			assert.Equal(t, `[{"op":"add","path":"`+prefix.pointer+`/securityContext","value":{"seccompProfile":{"type":"RuntimeDefault"}}}]`, patchJSON(t, d.Patches))

			// An existing securityContext gets only the seccompProfile.
			withSC := basePod()
			withSC.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr(true)}
			objs = workloads(withSC)
			objs["Pod"] = withSC
			d = Evaluate(p, nil, create(objs[kind], namespace("enforce")))
			assert.Equal(t, `[{"op":"add","path":"`+prefix.pointer+`/securityContext/seccompProfile","value":{"type":"RuntimeDefault"}}]`, patchJSON(t, d.Patches))

			// Violations name the field under the kind's prefix.
			bad := tweakPod(containerProfile(1, unconfined()))
			objs = workloads(bad)
			objs["Pod"] = bad
			d = Evaluate(p, nil, create(objs[kind], namespace("enforce")))
			assert.Equal(t, []string{prefix.field + `.containers[1].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`}, d.Messages())
			assert.False(t, d.Allowed())
		})
	}
}

func TestDefaulting(t *testing.T) {
	owned := func(kind string) runtime.Object {
		obj := workloads(basePod())[kind]
		obj.(metav1.Object).SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "1", Controller: ptr(true)}})
		return obj
	}
	deployment := func(tweak func(*corev1.Pod), labels map[string]string) *appsv1.Deployment {
		d := workloads(tweakPod(tweak))["Deployment"].(*appsv1.Deployment)
		d.Labels = labels
		return d
	}
	update := func(newObj, oldObj runtime.Object) Request {
		r := create(newObj, namespace("enforce"))
		r.Operation = admissionv1.Update
		r.OldObject = oldObj
		return r
	}
	annotated := func(value string) Namespace {
		ns := namespace("enforce")
		ns.Annotations[DefaultProfileAnnotation] = value
		return ns
	}
	runCases(t, []evalCase{
		{
			name:          "pod without profile gets RuntimeDefault",
			req:           create(basePod(), namespace("enforce")),
			wantPatches:   `[{"op":"add","path":"/spec/securityContext","value":{"seccompProfile":{"type":"RuntimeDefault"}}}]`,
			wantDefaulted: "RuntimeDefault",
			wantAllowed:   true,
		},
		{
			name:          "warn mode defaults too",
			req:           create(basePod(), namespace("warn")),
			wantPatches:   `[{"op":"add","path":"/spec/securityContext","value":{"seccompProfile":{"type":"RuntimeDefault"}}}]`,
			wantDefaulted: "RuntimeDefault",
			wantAllowed:   true,
		},
		{
			name:          "audit mode records what it would inject and patches nothing",
			req:           create(basePod(), namespace("audit")),
			wantDefaulted: "RuntimeDefault",
			wantAllowed:   true,
		},
		{
			name:        "explicit pod-level choice is kept (idempotent)",
			req:         create(tweakPod(podProfile(runtimeDefault())), namespace("enforce")),
			wantAllowed: true,
		},
		{
			name:          "container-level profiles are never touched, the pod level is still set",
			req:           create(tweakPod(containerProfile(0, runtimeDefault())), namespace("enforce")),
			wantPatches:   `[{"op":"add","path":"/spec/securityContext","value":{"seccompProfile":{"type":"RuntimeDefault"}}}]`,
			wantDefaulted: "RuntimeDefault",
			wantAllowed:   true,
		},
		{
			name: "policy default profile",
			policy: func(s *v1alpha1.ClusterSeccompPolicySpec) {
				offCoverage(s)
				s.DefaultProfile = &v1alpha1.SeccompProfileRef{Type: v1alpha1.ProfileTypeLocalhost, LocalhostProfile: ptr("profiles/default.json")}
			},
			req:           create(basePod(), namespace("enforce")),
			wantPatches:   `[{"op":"add","path":"/spec/securityContext","value":{"seccompProfile":{"type":"Localhost","localhostProfile":"profiles/default.json"}}}]`,
			wantDefaulted: "localhost/profiles/default.json",
			wantAllowed:   true,
		},
		{
			name:          "namespace annotation wins over the policy",
			policy:        offCoverage,
			req:           create(basePod(), annotated("localhost/./profiles/shop.json")),
			wantPatches:   `[{"op":"add","path":"/spec/securityContext","value":{"seccompProfile":{"type":"Localhost","localhostProfile":"profiles/shop.json"}}}]`,
			wantDefaulted: "localhost/profiles/shop.json",
			wantAllowed:   true,
		},
		{
			name: "namespace annotation RuntimeDefault",
			policy: func(s *v1alpha1.ClusterSeccompPolicySpec) {
				s.DefaultProfile = &v1alpha1.SeccompProfileRef{Type: v1alpha1.ProfileTypeLocalhost, LocalhostProfile: ptr("p.json")}
			},
			req:           create(basePod(), annotated("RuntimeDefault")),
			wantPatches:   `[{"op":"add","path":"/spec/securityContext","value":{"seccompProfile":{"type":"RuntimeDefault"}}}]`,
			wantDefaulted: "RuntimeDefault",
			wantAllowed:   true,
		},
		{
			name:           "namespace annotation that is not a profile",
			req:            create(basePod(), annotated("runtime/default")),
			wantViolations: []string{`spec.securityContext.seccompProfile: not set, and the default of namespace "shop" cannot be injected: annotation seccomp-guard.io/default-profile="runtime/default" is neither "RuntimeDefault" nor "localhost/<path>" (InvalidDefaultProfile); set the annotation to RuntimeDefault or localhost/<path relative to the kubelet's seccomp root>, or set spec.securityContext.seccompProfile in the pod yourself`},
		},
		{
			name:           "namespace annotation Unconfined",
			req:            create(basePod(), annotated("Unconfined")),
			wantViolations: []string{`spec.securityContext.seccompProfile: not set, and the default of namespace "shop" cannot be injected: annotation seccomp-guard.io/default-profile="Unconfined" would make pods Unconfined, which is forbidden (InvalidDefaultProfile); set the annotation to RuntimeDefault or localhost/<path relative to the kubelet's seccomp root>, or set spec.securityContext.seccompProfile in the pod yourself`},
		},
		{
			name:           "namespace annotation with an absolute path",
			req:            create(basePod(), annotated("localhost//etc/p.json")),
			wantViolations: []string{`spec.securityContext.seccompProfile: not set, and the default of namespace "shop" cannot be injected: annotation seccomp-guard.io/default-profile="localhost//etc/p.json" names a path that is absolute (InvalidDefaultProfile); set the annotation to RuntimeDefault or localhost/<path relative to the kubelet's seccomp root>, or set spec.securityContext.seccompProfile in the pod yourself`},
		},
		{
			name:           "namespace annotation outside allowedProfiles",
			policy:         func(s *v1alpha1.ClusterSeccompPolicySpec) { s.Localhost.AllowedProfiles = []string{"operator/*"} },
			req:            create(basePod(), annotated("localhost/mine.json")),
			wantViolations: []string{`spec.securityContext.seccompProfile: not set, and the default of namespace "shop" cannot be injected: annotation seccomp-guard.io/default-profile="localhost/mine.json" names a profile that matches none of spec.localhost.allowedProfiles ["operator/*"] (InvalidDefaultProfile); set the annotation to RuntimeDefault or localhost/<path relative to the kubelet's seccomp root>, or set spec.securityContext.seccompProfile in the pod yourself`},
		},
		{
			name:        "a bad annotation does not matter when the pod sets its profile",
			req:         create(tweakPod(podProfile(runtimeDefault())), annotated("bogus")),
			wantAllowed: true,
		},
		{
			name:        "ReplicaSet owned by a Deployment is validated, not defaulted",
			req:         create(owned("ReplicaSet"), namespace("enforce")),
			wantAllowed: true,
		},
		{
			name:        "Job owned by a CronJob is validated, not defaulted",
			req:         create(owned("Job"), namespace("enforce")),
			wantAllowed: true,
		},
		{
			name: "Pod owned by a ReplicaSet is defaulted",
			req: create(tweakPod(func(p *corev1.Pod) {
				p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-1", UID: "2", Controller: ptr(true)}}
			}), namespace("enforce")),
			wantPatches:   `[{"op":"add","path":"/spec/securityContext","value":{"seccompProfile":{"type":"RuntimeDefault"}}}]`,
			wantDefaulted: "RuntimeDefault",
			wantAllowed:   true,
		},
		{
			name:        "Deployment UPDATE that leaves the template alone gets no patch (no rollout)",
			req:         update(deployment(nil, map[string]string{"team": "b"}), deployment(nil, map[string]string{"team": "a"})),
			wantAllowed: true,
		},
		{
			name: "Deployment UPDATE that changes the template is defaulted",
			req: update(deployment(func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:2" }, nil),
				deployment(nil, nil)),
			wantPatches:   `[{"op":"add","path":"/spec/template/spec/securityContext","value":{"seccompProfile":{"type":"RuntimeDefault"}}}]`,
			wantDefaulted: "RuntimeDefault",
			wantAllowed:   true,
		},
	})
}

// TestKindsTable checks the table against the paths the tests above spell
// out by hand, so a wrong PodSpecPath cannot hide behind its own derivation.
func TestKindsTable(t *testing.T) {
	require.Len(t, Kinds(), len(kindPrefix))
	var gvks []string
	for _, k := range Kinds() {
		want, ok := kindPrefix[k.Kind]
		require.True(t, ok, k.Kind)
		assert.Equal(t, want.pointer, k.PodSpecPointer(), k.Kind)
		assert.Equal(t, want.field, k.PodSpecPath, k.Kind)
		got, ok := KindFor(k.GroupVersionKind)
		require.True(t, ok)
		assert.Same(t, &Kinds()[len(gvks)], got)
		gvks = append(gvks, k.GroupVersion().String()+" "+k.Kind+" "+k.Resource)
	}
	assert.Equal(t, []string{
		"v1 Pod pods", "apps/v1 Deployment deployments", "apps/v1 ReplicaSet replicasets", "apps/v1 StatefulSet statefulsets",
		"apps/v1 DaemonSet daemonsets", "batch/v1 Job jobs", "batch/v1 CronJob cronjobs",
		"v1 ReplicationController replicationcontrollers", "v1 PodTemplate podtemplates",
	}, gvks)
	metaPaths := map[string]string{}
	for _, k := range Kinds() {
		metaPaths[k.Kind] = k.PodMetaPath()
	}
	assert.Equal(t, "metadata", metaPaths["Pod"])
	assert.Equal(t, "spec.template.metadata", metaPaths["Deployment"])
	assert.Equal(t, "spec.jobTemplate.spec.template.metadata", metaPaths["CronJob"])
	assert.Equal(t, "template.metadata", metaPaths["PodTemplate"])
	_, ok := KindFor(corev1.SchemeGroupVersion.WithKind("Node"))
	assert.False(t, ok)
}
