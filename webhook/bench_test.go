package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// largePod is a pod of about 13 KB as a Deployment's controller creates it:
// three containers with env, probes, resources and mounts, volumes,
// affinity, tolerations, and managed-fields-free metadata.
func largePod(sp *corev1.SeccompProfile) *corev1.Pod {
	container := func(name string) corev1.Container {
		c := corev1.Container{
			Name: name, Image: "registry.example.com/team/" + name + ":v1.2.3@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			Command: []string{"/bin/" + name}, Args: []string{"--port=8080", "--log-level=info", "--config=/etc/" + name + "/config.yaml"},
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}, {Name: "metrics", ContainerPort: 9090, Protocol: corev1.ProtocolTCP}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("512Mi")},
			},
			VolumeMounts:    []corev1.VolumeMount{{Name: "config", MountPath: "/etc/" + name}, {Name: "data", MountPath: "/var/lib/" + name}, {Name: "kube-api-access", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}},
			LivenessProbe:   &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstrFromInt(8080)}}, PeriodSeconds: 10},
			ReadinessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstrFromInt(8080)}}, PeriodSeconds: 5},
			SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: new(false), RunAsNonRoot: new(true), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			ImagePullPolicy: corev1.PullIfNotPresent, TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		}
		for i := range 25 {
			c.Env = append(c.Env, corev1.EnvVar{Name: fmt.Sprintf("%s_SETTING_%02d", name, i), Value: fmt.Sprintf("value-of-setting-%02d-for-%s", i, name)})
		}
		c.Env = append(c.Env, corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}})
		return c
	}
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "web-5d8f7c9b6-", Name: "web-5d8f7c9b6-x2k4p", Namespace: "shop",
			Labels:      map[string]string{"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "web", "app.kubernetes.io/version": "1.2.3", "pod-template-hash": "5d8f7c9b6"},
			Annotations: map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9090", "kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-5d8f7c9b6", UID: "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
				Controller: new(true), BlockOwnerDeletion: new(true)}},
		},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{container("migrate")},
			Containers:     []corev1.Container{container("web"), container("sidecar")},
			Volumes: []corev1.Volume{
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"}}}},
				{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
			ServiceAccountName: "web", NodeSelector: map[string]string{"kubernetes.io/os": "linux"},
			Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "node.kubernetes.io/instance-type", Operator: corev1.NodeSelectorOpIn, Values: []string{"m5.large", "m5.xlarge"}}},
			}}}}},
			Tolerations: []corev1.Toleration{
				{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(int64(300))},
				{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(int64(300))},
			},
			RestartPolicy: corev1.RestartPolicyAlways, DNSPolicy: corev1.DNSClusterFirst, SchedulerName: "default-scheduler",
			SecurityContext: &corev1.PodSecurityContext{RunAsUser: new(int64(1000)), FSGroup: new(int64(2000)), SeccompProfile: sp},
		},
	}
	return pod
}

// smallPod is a pod of one container, about 0.5 KB as a review.
func smallPod(sp *corev1.SeccompProfile) *corev1.Pod {
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
	}
	if sp != nil {
		pod.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: sp}
	}
	return pod
}

// reviewBody is the AdmissionReview the API server sends for obj.
func reviewBody(tb testing.TB, op admissionv1.Operation, obj, old runtime.Object) []byte {
	tb.Helper()
	req := admissionv1.AdmissionRequest{UID: "3f0e1a6c-0000-4000-8000-000000000001", Operation: op,
		UserInfo: authUser("system:serviceaccount:kube-system:replicaset-controller")}
	for i, o := range []runtime.Object{obj, old} {
		if o == nil {
			continue
		}
		raw, err := json.Marshal(o)
		if err != nil {
			tb.Fatal(err)
		}
		if i == 0 {
			req.Object.Raw = raw
		} else {
			req.OldObject.Raw = raw
		}
	}
	src := obj
	if src == nil {
		src = old
	}
	gvk := src.GetObjectKind().GroupVersionKind()
	req.Kind = metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind}
	req.RequestKind = &req.Kind
	if a, ok := src.(metav1.Object); ok {
		req.Name, req.Namespace = a.GetName(), a.GetNamespace()
	}
	for _, k := range kindsForTest() {
		if k.Kind == gvk.Kind && k.Group == gvk.Group {
			req.Resource = metav1.GroupVersionResource{Group: k.Group, Version: k.Version, Resource: k.Resource}
		}
	}
	req.RequestResource = &req.Resource
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request:  &req,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// BenchmarkServeHTTP measures a whole admission round trip inside the
// process: the AdmissionReview is decoded, the pod evaluated, and the
// response encoded, by the path the server registers (Endpoint) and by the
// full-decode path it replaced (controller-runtime's admission.Webhook
// behind guardReviews, which decodes the whole review, then the whole Pod).
// The "noop" case, a handler that allows without looking, is the floor.
func BenchmarkServeHTTP(b *testing.B) {
	mut, val := newHandlers(prometheus.NewRegistry())
	noop := admission.HandlerFunc(func(context.Context, admission.Request) admission.Response { return admission.Allowed("") })
	unconfined := &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
	small := smallPod
	paths := []struct {
		name    string
		handler func(admission.Handler) http.Handler
	}{
		{"full", referenceEndpoint},
		{"trimmed", func(h admission.Handler) http.Handler { return fastEndpoint(b, h) }},
	}
	cases := []struct {
		name    string
		handler admission.Handler
		pod     *corev1.Pod
	}{
		{"noop/small", noop, small(nil)},
		{"mutate/small", mut, small(nil)},
		{"validate/small", val, small(nil)},
		{"validate/small-denied", val, small(unconfined)},
		{"noop/13KB", noop, largePod(nil)},
		{"mutate/13KB", mut, largePod(nil)},
		{"validate/13KB", val, largePod(nil)},
	}
	for _, path := range paths {
		for _, tc := range cases {
			h := path.handler(tc.handler)
			if h == nil {
				continue
			}
			b.Run(path.name+"/"+tc.name, func(b *testing.B) {
				body := reviewBody(b, admissionv1.Create, tc.pod, nil)
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					r := httptest.NewRequest(http.MethodPost, ValidatePath, bytes.NewReader(body))
					r.Header.Set("Content-Type", "application/json")
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Fatal(w.Code, w.Body.String())
					}
				}
			})
		}
	}
}

// BenchmarkDecodeReview measures the decode alone, into the trimmed types:
// the API server's decoder (sigs.k8s.io/json, the request path's decoder
// before scan.go) and the scanner that replaced it.
func BenchmarkDecodeReview(b *testing.B) {
	decoders := []struct {
		name   string
		decode func([]byte) (*trimmedReview, error)
	}{
		{"kjson", referenceDecode},
		{"scan", decodeReview},
	}
	pods := []struct {
		name string
		pod  *corev1.Pod
	}{
		{"small", smallPod(nil)},
		{"13KB", largePod(nil)},
	}
	for _, d := range decoders {
		for _, p := range pods {
			b.Run(d.name+"/"+p.name, func(b *testing.B) {
				body := reviewBody(b, admissionv1.Create, p.pod, nil)
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := d.decode(body); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
