package native_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/policy"
)

// parityCase is one admission request of the corpus.
type parityCase struct {
	name string
	// mode is the namespace's mode label ("" for none); annotations its annotations.
	mode        string
	annotations map[string]string
	namespace   string // a fixed namespace name (the exempt one); else generated
	exemptUser  bool   // send the request as the exempt user
	// obj is created (dry run); with update set, obj is first stored by the
	// exempt user and update changes it before a dry-run UPDATE.
	obj    func(ns string) client.Object
	update func(client.Object)
	// known, when set, is a known difference between the executors, stated
	// here and in docs/native.md; nativeDeniedWith is then what the API
	// server's denial says instead of the engine's message.
	known            string
	nativeDeniedWith string
	// noNativeWarnings: the engine's warnings are a known difference.
	noNativeWarnings bool
}

var nsCounter atomic.Int32

func sp(t corev1.SeccompProfileType, lp ...string) *corev1.SeccompProfile {
	p := &corev1.SeccompProfile{Type: t}
	if len(lp) > 0 {
		p.LocalhostProfile = &lp[0]
	}
	return p
}

type podTweak func(*corev1.PodSpec)

// privileged makes container i privileged (-1: the init container).
func privileged(i int) podTweak {
	return func(s *corev1.PodSpec) {
		c := &s.InitContainers[0]
		if i >= 0 {
			c = &s.Containers[i]
		}
		if c.SecurityContext == nil {
			c.SecurityContext = &corev1.SecurityContext{}
		}
		c.SecurityContext.Privileged = ptr(true)
	}
}

// mirrorPod is a pod with the kubelet's mirror annotation.
func mirrorPod(tweaks ...podTweak) func(string) client.Object {
	return func(ns string) client.Object {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns, Annotations: map[string]string{corev1.MirrorPodAnnotationKey: "mirror"}},
			Spec: podSpec(append([]podTweak{func(s *corev1.PodSpec) { s.NodeName = "node-a" }}, tweaks...)...)}
	}
}

func podLevel(p *corev1.SeccompProfile) podTweak {
	return func(s *corev1.PodSpec) { s.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: p} }
}

func container(i int, p *corev1.SeccompProfile) podTweak {
	return func(s *corev1.PodSpec) { s.Containers[i].SecurityContext = &corev1.SecurityContext{SeccompProfile: p} }
}

func initContainer(p *corev1.SeccompProfile) podTweak {
	return func(s *corev1.PodSpec) {
		s.InitContainers[0].SecurityContext = &corev1.SecurityContext{SeccompProfile: p}
	}
}

func podSpec(tweaks ...podTweak) corev1.PodSpec {
	s := corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
		Containers:     []corev1.Container{{Name: "app", Image: "nginx"}, {Name: "sidecar", Image: "envoy"}},
		RestartPolicy:  corev1.RestartPolicyAlways,
	}
	for _, t := range tweaks {
		t(&s)
	}
	return s
}

func pod(tweaks ...podTweak) func(string) client.Object {
	return func(ns string) client.Object {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns}, Spec: podSpec(tweaks...)}
	}
}

var selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}

func template(tweaks ...podTweak) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}}, Spec: podSpec(tweaks...)}
}

func deployment(tweaks ...podTweak) func(string) client.Object {
	return func(ns string) client.Object {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: ns},
			Spec: appsv1.DeploymentSpec{Selector: selector, Template: template(tweaks...)}}
	}
}

func jobSpec(tweaks ...podTweak) batchv1.JobSpec {
	t := template(tweaks...)
	t.Spec.RestartPolicy = corev1.RestartPolicyNever
	return batchv1.JobSpec{Template: t}
}

func cronJob(tweaks ...podTweak) func(string) client.Object {
	return func(ns string) client.Object {
		return &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "cj", Namespace: ns},
			Spec: batchv1.CronJobSpec{Schedule: "@hourly", JobTemplate: batchv1.JobTemplateSpec{Spec: jobSpec(tweaks...)}}}
	}
}

func corpus() []parityCase {
	unconfined := sp(corev1.SeccompProfileTypeUnconfined)
	runtimeDefault := sp(corev1.SeccompProfileTypeRuntimeDefault)
	return []parityCase{
		{name: "unset is defaulted to RuntimeDefault", mode: "enforce", obj: pod()},
		{name: "explicit RuntimeDefault is kept", mode: "enforce", obj: pod(podLevel(runtimeDefault))},
		{name: "Unconfined at pod level", mode: "enforce", obj: pod(podLevel(unconfined))},
		{name: "Unconfined in a container", mode: "enforce", obj: pod(container(1, unconfined))},
		{name: "Unconfined in an initContainer", mode: "enforce", obj: pod(initContainer(unconfined))},
		{name: "Unconfined in three places", mode: "enforce", obj: pod(podLevel(unconfined), container(0, unconfined), container(1, unconfined))},
		{name: "Localhost with an empty path", mode: "enforce", obj: pod(container(0, sp(corev1.SeccompProfileTypeLocalhost, "")))},
		{
			name: "Localhost with an absolute path", mode: "enforce",
			obj:              pod(container(0, sp(corev1.SeccompProfileTypeLocalhost, "/var/lib/kubelet/seccomp/profiles/a.json"))),
			known:            "the API server's own validation rejects absolute paths before validating admission runs, so the denial carries its message, not InvalidLocalhostPath's",
			nativeDeniedWith: "must be a relative path",
		},
		{
			name: "Localhost with ..", mode: "enforce",
			obj:              pod(podLevel(sp(corev1.SeccompProfileTypeLocalhost, "profiles/../../etc/x.json"))),
			known:            `the API server's own validation rejects ".." before validating admission runs, so the denial carries its message, not InvalidLocalhostPath's`,
			nativeDeniedWith: "must not contain '..'",
		},
		{name: "valid Localhost in a container, pod level defaulted", mode: "enforce", obj: pod(container(0, sp(corev1.SeccompProfileTypeLocalhost, "profiles/a.json")))},
		{
			name: "namespace annotation localhost/ is injected, cleaned", mode: "enforce",
			annotations: map[string]string{policy.DefaultProfileAnnotation: " localhost/./profiles//ns.json"}, obj: pod(),
		},
		{name: "namespace annotation RuntimeDefault", mode: "warn", annotations: map[string]string{policy.DefaultProfileAnnotation: "RuntimeDefault"}, obj: pod()},
		{name: "invalid namespace annotation denies", mode: "enforce", annotations: map[string]string{policy.DefaultProfileAnnotation: "Unconfined"}, obj: pod()},
		{name: "invalid namespace annotation warns", mode: "warn", annotations: map[string]string{policy.DefaultProfileAnnotation: "localhost/../x"}, obj: pod()},
		{name: "exempt namespace", mode: "enforce", namespace: exemptNS, obj: pod(podLevel(unconfined))},
		{name: "exempt user", mode: "enforce", exemptUser: true, obj: pod(podLevel(unconfined))},
		{name: "exempt runtimeClass", mode: "enforce", obj: pod(podLevel(unconfined), func(s *corev1.PodSpec) { s.RuntimeClassName = ptr(exemptClass) })},
		{name: "Windows pod is not defaulted", mode: "enforce", obj: pod(func(s *corev1.PodSpec) { s.OS = &corev1.PodOS{Name: corev1.Windows} })},
		{name: "warn mode: Unconfined is admitted with warnings", mode: "warn", obj: pod(container(0, unconfined), initContainer(sp(corev1.SeccompProfileTypeLocalhost, "")))},
		{name: "audit mode: nothing changes", mode: "audit", obj: pod(podLevel(unconfined))},
		{name: "audit mode: no defaulting", mode: "audit", obj: pod()},
		{name: "disabled mode", mode: "disabled", obj: pod(podLevel(unconfined))},
		{name: "no label: params defaultMode disabled", mode: "", obj: pod()},
		{name: "invalid mode label is enforced", mode: "off", obj: pod(podLevel(unconfined)),
			known:            "the engine also warns that the label is not a mode; the native policies do not",
			noNativeWarnings: true},
		{name: "Deployment template is defaulted", mode: "enforce", obj: deployment()},
		{name: "Deployment template with Unconfined", mode: "enforce", obj: deployment(container(0, unconfined))},
		{name: "CronJob template is defaulted", mode: "enforce", obj: cronJob()},
		{name: "CronJob template with Unconfined", mode: "warn", obj: cronJob(initContainer(unconfined))},
		{name: "StatefulSet", mode: "enforce", obj: func(ns string) client.Object {
			return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: ns}, Spec: appsv1.StatefulSetSpec{Selector: selector, Template: template()}}
		}},
		{name: "DaemonSet with Unconfined", mode: "enforce", obj: func(ns string) client.Object {
			return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "ds", Namespace: ns}, Spec: appsv1.DaemonSetSpec{Selector: selector, Template: template(container(1, unconfined))}}
		}},
		{name: "Job", mode: "enforce", obj: func(ns string) client.Object {
			return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: ns}, Spec: jobSpec()}
		}},
		{name: "ReplicationController", mode: "enforce", obj: func(ns string) client.Object {
			t := template()
			return &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "rc", Namespace: ns}, Spec: corev1.ReplicationControllerSpec{Selector: map[string]string{"app": "x"}, Template: &t}}
		}},
		{name: "PodTemplate with Unconfined", mode: "enforce", obj: func(ns string) client.Object {
			return &corev1.PodTemplate{ObjectMeta: metav1.ObjectMeta{Name: "pt", Namespace: ns}, Template: template(podLevel(unconfined))}
		}},
		{name: "ReplicaSet with a controller ownerReference is not defaulted", mode: "enforce", obj: func(ns string) client.Object {
			return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "rs", Namespace: ns, OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "Deployment", Name: "d", UID: types.UID("00000000-0000-0000-0000-000000000001"), Controller: ptr(true),
			}}}, Spec: appsv1.ReplicaSetSpec{Selector: selector, Template: template()}}
		}},
		{
			name: "Deployment UPDATE without template change is not defaulted", mode: "enforce", obj: deployment(),
			update: func(o client.Object) { o.SetLabels(map[string]string{"touched": "yes"}) },
		},
		{
			name: "Deployment UPDATE with a template change is defaulted", mode: "enforce", obj: deployment(),
			update: func(o client.Object) { o.(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Image = "nginx:2" },
		},
		{
			name: "Deployment UPDATE keeps an old violation as a warning", mode: "enforce", obj: deployment(container(0, unconfined)),
			update: func(o client.Object) { o.SetLabels(map[string]string{"touched": "yes"}) },
		},
		{
			name: "Deployment UPDATE adding a violation is denied", mode: "enforce", obj: deployment(container(0, unconfined)),
			update: func(o client.Object) {
				o.(*appsv1.Deployment).Spec.Template.Spec.Containers[1].SecurityContext = &corev1.SecurityContext{SeccompProfile: unconfined}
			},
		},
		{name: "privileged container with RuntimeDefault is denied", mode: "enforce", obj: pod(podLevel(runtimeDefault), container(0, runtimeDefault), privileged(0))},
		{name: "privileged container without a profile: defaulted and denied", mode: "enforce", obj: pod(privileged(1))},
		{name: "privileged init container in warn mode", mode: "warn", obj: pod(privileged(-1), container(0, unconfined))},
		{name: "privileged in a Deployment template", mode: "enforce", obj: deployment(privileged(0))},
		{
			name: "Deployment UPDATE keeps an old privileged container as a warning", mode: "enforce", obj: deployment(privileged(0)),
			update: func(o client.Object) { o.(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Image = "nginx:2" },
		},
		{
			name: "Deployment UPDATE making a container privileged is denied", mode: "enforce", obj: deployment(privileged(0)),
			update: func(o client.Object) {
				o.(*appsv1.Deployment).Spec.Template.Spec.Containers[1].SecurityContext = &corev1.SecurityContext{Privileged: ptr(true)}
			},
		},
		{name: "mirror pod is not defaulted, and warned", mode: "enforce", obj: mirrorPod()},
		{name: "mirror pod with Unconfined and privileged is warned, not denied", mode: "enforce", obj: mirrorPod(podLevel(runtimeDefault), container(0, unconfined), privileged(1))},
		{
			name: "pod UPDATE of labels on a non-compliant pod", mode: "enforce", obj: pod(podLevel(unconfined)),
			update: func(o client.Object) { o.SetLabels(map[string]string{"touched": "yes"}) },
		},
	}
}

func ptr[T any](v T) *T { return &v }

func TestParity(t *testing.T) {
	for _, tc := range corpus() {
		t.Run(tc.name, func(t *testing.T) { runCase(t, tc) })
	}
}

func runCase(t *testing.T, tc parityCase) {
	ctx := context.Background()
	nsName := tc.namespace
	if nsName == "" {
		nsName = fmt.Sprintf("parity-%d", nsCounter.Add(1))
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsName, Labels: map[string]string{}, Annotations: tc.annotations}}
	if tc.mode != "" {
		ns.Labels[policy.ModeLabel] = tc.mode
	}
	if err := cp.Client.Create(ctx, ns); err != nil {
		require.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(ns), ns))
	}
	if tc.known != "" {
		t.Logf("known difference: %s", tc.known)
	}

	c, user := k8s, testUser
	if tc.exemptUser {
		c, user = exempt, exemptUser
	}
	obj := tc.obj(nsName)
	req := policy.Request{
		Operation: admissionv1.Create, Username: user,
		Namespace: policy.Namespace{Name: nsName, Labels: ns.Labels, Annotations: ns.Annotations},
	}
	var old client.Object
	if tc.update != nil {
		// Store the old object unchanged (the exempt user is skipped by both executors).
		old = obj
		require.NoError(t, exempt.Create(ctx, old))
		obj = old.DeepCopyObject().(client.Object)
		tc.update(obj)
		req.Operation, req.OldObject = admissionv1.Update, old
	}
	req.Object = obj

	// Executor 1: the engine.
	p, errs := policy.Compile(params)
	require.Empty(t, errs)
	d := policy.Evaluate(p, nil, req)
	want := obj.DeepCopyObject()
	if len(d.Patches) > 0 {
		want = applyPatches(t, want, d.Patches)
	}

	// Executor 2: the API server with the native policies.
	got := obj.DeepCopyObject().(client.Object)
	warnings.Take()
	var err error
	if tc.update != nil {
		err = c.Update(ctx, got, client.DryRunAll)
	} else {
		err = c.Create(ctx, got, client.DryRunAll)
	}
	var ws []string
	if c == k8s {
		ws = nativeWarnings(warnings.Take())
	}
	t.Logf("engine: allowed=%v mode=%s skipped=%q patches=%v messages=%q warnings=%q", d.Allowed(), d.Mode, d.Skipped, d.Patches, d.Messages(), d.ResponseWarnings())
	t.Logf("native: err=%v warnings=%q", err, ws)

	// Same warnings, allowed or denied (the API server prefixes each with
	// the policy and binding; nativeWarnings strips that).
	engineWarnings := d.ResponseWarnings()
	if tc.noNativeWarnings {
		engineWarnings = nil
	}
	if c == k8s {
		assert.ElementsMatch(t, engineWarnings, ws, "warnings")
	}
	// Same verdict.
	require.Equal(t, d.Allowed(), err == nil, "verdict: engine allowed=%v, API server error=%v", d.Allowed(), err)
	if err != nil {
		if tc.nativeDeniedWith != "" {
			assert.Contains(t, err.Error(), tc.nativeDeniedWith)
			return
		}
		assert.Contains(t, err.Error(), fmt.Sprintf("ValidatingAdmissionPolicy '%s-enforce'", prefix))
		for _, m := range d.Messages() {
			assert.Contains(t, err.Error(), m)
		}
		return
	}
	// Same stored seccomp fields.
	assert.Equal(t, podSecurityContext(t, want), podSecurityContext(t, got), "pod-level securityContext")
}

// nativeWarnings strips the API server's prefix from the warnings of the
// native policies and drops every other warning.
func nativeWarnings(ws []string) []string {
	out := []string{}
	for _, w := range ws {
		pfx := fmt.Sprintf("Validation failed for ValidatingAdmissionPolicy '%s-warn' with binding '%s-warn': ", prefix, prefix)
		if rest, ok := strings.CutPrefix(w, pfx); ok {
			out = append(out, rest)
		}
	}
	return out
}

func toMap(t *testing.T, obj any) map[string]any {
	t.Helper()
	b, err := json.Marshal(obj)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func applyPatches(t *testing.T, obj runtime.Object, patches []policy.Patch) runtime.Object {
	t.Helper()
	raw, err := json.Marshal(obj)
	require.NoError(t, err)
	pb, err := json.Marshal(patches)
	require.NoError(t, err)
	patch, err := jsonpatch.DecodePatch(pb)
	require.NoError(t, err)
	out, err := patch.Apply(raw)
	require.NoError(t, err)
	res := obj.DeepCopyObject()
	require.NoError(t, json.Unmarshal(out, res))
	return res
}

// podSecurityContext is the pod-level securityContext of a pod or template,
// with its seccompProfile (nil when unset).
func podSecurityContext(t *testing.T, obj runtime.Object) any {
	t.Helper()
	pointer, ok := policy.PodSpecPointer(obj)
	require.True(t, ok)
	var cur any = toMap(t, obj)
	for _, seg := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		m, _ := cur.(map[string]any)
		cur = m[seg]
	}
	spec, _ := cur.(map[string]any)
	sc, _ := spec["securityContext"].(map[string]any)
	if len(sc) == 0 {
		return nil // the API server defaults a Pod's securityContext to {}
	}
	return sc
}
