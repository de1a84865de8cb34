package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Fixture names (-pods).
const (
	PodSmall     = "small"
	PodLarge     = "large"
	PodLocalhost = "localhost"
)

// LocalhostProfile is the Localhost profile of the localhost fixture; the
// harness lists it in every node's inventory.
const LocalhostProfile = "profiles/load.json"

// uidPlaceholder stands for a request's uid in a review template; every uid
// has its length (a UUID).
const uidPlaceholder = "00000000-0000-0000-0000-000000000000"

// restrictedContainer is a container that passes Pod Security's restricted
// level and seccomp-guard's enforce mode, so that every server takes its
// allow path, the common case.
func restrictedContainer(name, image string) corev1.Container {
	return corev1.Container{
		Name:  name,
		Image: image,
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: new(false),
			RunAsNonRoot:             new(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
}

// Pod returns a fixture by name: small (one container, about 0.5 KB of
// JSON), large (about 13 KB: six containers with environment, mounts,
// probes and resources, and twelve volumes) and localhost (small, with the
// pod-level Localhost profile LocalhostProfile, whose coverage the webhook
// checks across every node).
func Pod(name, namespace string) (*corev1.Pod, error) {
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "load-" + name, Namespace: namespace, Labels: map[string]string{"app": "load"}},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   new(true),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{restrictedContainer("app", "registry.example/app:1.0")},
		},
	}
	switch name {
	case PodSmall:
	case PodLarge:
		largeSpec(&pod.Spec)
	case PodLocalhost:
		pod.Spec.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: new(LocalhostProfile)}
	default:
		return nil, fmt.Errorf("unknown pod fixture %q: use %s, %s or %s", name, PodSmall, PodLarge, PodLocalhost)
	}
	return pod, nil
}

// largeSpec fills a spec the size of a real workload with sidecars.
func largeSpec(s *corev1.PodSpec) {
	s.Containers = nil
	for c := range 6 {
		ctr := restrictedContainer(fmt.Sprintf("container-%d", c), fmt.Sprintf("registry.example/team/service-%d:v1.2.%d", c, c))
		ctr.Args = []string{"--config=/etc/app/config.yaml", "--log-level=info", fmt.Sprintf("--port=%d", 8080+c)}
		for e := range 18 {
			ctr.Env = append(ctr.Env, corev1.EnvVar{Name: fmt.Sprintf("SETTING_%02d", e), Value: fmt.Sprintf("value-of-setting-%02d-for-container-%d", e, c)})
		}
		ctr.Env = append(ctr.Env, corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}})
		ctr.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: int32(8080 + c)}, {Name: "metrics", ContainerPort: int32(9090 + c)}}
		ctr.Resources = corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
		}
		probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intOrString(8080 + c)}}, PeriodSeconds: 10}
		ctr.LivenessProbe, ctr.ReadinessProbe = probe, probe
		for v := range 2 {
			ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: fmt.Sprintf("vol-%d", 2*c+v), MountPath: fmt.Sprintf("/mnt/data-%d", v)})
		}
		s.Containers = append(s.Containers, ctr)
	}
	for v := range 12 {
		s.Volumes = append(s.Volumes, corev1.Volume{Name: fmt.Sprintf("vol-%d", v), VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: fmt.Sprintf("config-%d", v)}},
		}})
	}
}

// Review is a pod CREATE AdmissionReview, encoded once; Body gives it a uid.
type Review struct {
	prefix, suffix []byte
	ObjectBytes    int // the size of the pod's JSON
}

// NewReview encodes a CREATE review of pod, as the API server sends it
// (admission.k8s.io/v1, uid first).
func NewReview(pod *corev1.Pod) (*Review, error) {
	obj, err := json.Marshal(pod)
	if err != nil {
		return nil, err
	}
	gvk := metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}
	gvr := metav1.GroupVersionResource{Version: "v1", Resource: "pods"}
	opts, err := json.Marshal(metav1.CreateOptions{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "CreateOptions"}})
	if err != nil {
		return nil, err
	}
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: uidPlaceholder, Kind: gvk, Resource: gvr, RequestKind: &gvk, RequestResource: &gvr,
			Name: pod.Name, Namespace: pod.Namespace, Operation: admissionv1.Create,
			UserInfo: authenticationv1.UserInfo{Username: "system:serviceaccount:load:deployer", UID: "5b5a0c58-1c9f-4c3b-a8c1-6d5a2b3c4d5e",
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:load", "system:authenticated"}},
			Object:  runtime.RawExtension{Raw: obj},
			DryRun:  new(false),
			Options: runtime.RawExtension{Raw: opts},
		},
	}
	body, err := json.Marshal(review)
	if err != nil {
		return nil, err
	}
	i := bytes.Index(body, []byte(uidPlaceholder))
	if i < 0 || bytes.Count(body, []byte(uidPlaceholder)) != 1 {
		return nil, fmt.Errorf("the review of pod %s does not hold its uid placeholder exactly once", pod.Name)
	}
	return &Review{prefix: body[:i], suffix: body[i+len(uidPlaceholder):], ObjectBytes: len(obj)}, nil
}

// Len is the size of every body of the review.
func (r *Review) Len() int { return len(r.prefix) + len(uidPlaceholder) + len(r.suffix) }

// AppendBody appends the review with uid to dst; uid must be a UUID.
func (r *Review) AppendBody(dst []byte, uid string) []byte {
	dst = append(dst, r.prefix...)
	dst = append(dst, uid...)
	return append(dst, r.suffix...)
}

// UID formats the n-th request's uid as a UUID.
func UID(n uint64) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", uint32(n>>48), n&0xffffffffffff)
}
