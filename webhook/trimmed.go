package webhook

// The trimmed decode targets: what the request path's one pass over an
// AdmissionReview fills. That pass is a hand-written scanner (scan.go):
// it validates the body and fills these types in the same pass, with no
// reflection, where the API server's reflection decoder (sigs.k8s.io/json)
// validated the whole body first and then scanned it again, the fields it
// skips included (22% of the webhook's CPU on a small pod, 55% on a 13 KB
// one; the scanner takes about a third and a fifth of that time:
// docs/performance.md, "The JSON library"). It keeps that decoder's
// semantics exactly, and is checked against it, decoding into these same
// types, by the differential tests and by fuzzing (scan_test.go).
//
// request.object and request.oldObject are runtime.RawExtension in the API
// server's admission types, and are read by its rules (rawObject): any JSON
// value is accepted, null leaves the field as it was, a duplicate key
// replaces the earlier value whole. Each is decoded in the same pass; one
// that does not decode (not a JSON object, or a type error inside) is kept
// with its error, and only a request that uses it fails: objects() then
// decodes both objects whole, through the full path's own fullDecode, so
// the answer is the full path's, status and message. A request.object that
// is not a JSON object at all is refused as a malformed review (readReview),
// as the full path's review check refuses it, on every operation.
//
// The object types mirror the Kubernetes types field for field (same JSON
// names, same pointer-ness, so null and duplicate keys decode as the API
// server decodes them), but hold only what policy/ reads, and turn into the
// corev1/appsv1/batchv1 objects policy.Evaluate takes, with only those
// fields set. What policy/ reads (its rule files' "Reads:" headers):
//
//   - metadata: name, namespace, labels, annotations (kept whole: the mirror,
//     legacy seccomp and recording annotations), ownerReferences;
//   - the pod spec: securityContext.seccompProfile; for every init, regular
//     and ephemeral container its name and securityContext.seccompProfile
//     and privileged; runtimeClassName, os, nodeName, nodeSelector,
//     affinity.nodeAffinity, tolerations, schedulingGates;
//   - on a workload UPDATE, whether the pod template changed at all
//     (defaulting.go compares the whole template). The template's raw bytes
//     are kept for that: equal bytes are an equal template; otherwise both
//     templates are decoded whole (fullTemplates), off the hot path.
//
// TestTrimmedTypesMirror checks every field against the Kubernetes type it
// mirrors, TestScanEveryField that the scanner fills every field, and the
// differential tests (differential_test.go) check that a full decode and
// this one give the same responses on the golden fixtures, the Pod Security
// Admission fixtures and fuzzed objects, so a field a rule starts reading
// cannot be left out here unnoticed. A field added here must be added to
// the scanner too (TestScanEveryField fails until it is).

import (
	"bytes"
	"errors"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	kjson "sigs.k8s.io/json"

	"github.com/seccomp-guard/seccomp-guard/policy"
)

// trimmedReview is an admission.k8s.io/v1 AdmissionReview.
type trimmedReview struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Request    *trimmedRequest `json:"request"`
}

// trimmedRequest is the part of an AdmissionRequest the webhook reads.
type trimmedRequest struct {
	UID         types.UID                   `json:"uid"`
	Kind        metav1.GroupVersionKind     `json:"kind"`
	Resource    metav1.GroupVersionResource `json:"resource"`
	SubResource string                      `json:"subResource"`
	Name        string                      `json:"name"`
	Namespace   string                      `json:"namespace"`
	Operation   admissionv1.Operation       `json:"operation"`
	UserInfo    trimmedUserInfo             `json:"userInfo"`
	Object      rawObject                   `json:"object"`
	OldObject   rawObject                   `json:"oldObject"`
}

// rawObject is request.object or request.oldObject, read by the rules of
// the API server's admission types, where both are runtime.RawExtension:
// any JSON value is accepted (its syntax checked with the rest of the
// body), null leaves the field as it was, and a duplicate key replaces the
// earlier value whole. The value is decoded into obj in the same pass; a
// value that does not decode (not an object, or a type error inside) is
// kept, with its error, and only fails the request when the object is used
// (trimmedRequest.objects), as on the full path, where the handler decodes
// a RawExtension only when it needs it.
type rawObject struct {
	raw []byte         // the value, a slice of the body; nil when absent or null
	obj *trimmedObject // raw decoded; nil when raw is nil or err is set
	err error          // why raw does not decode into a trimmedObject
}

type trimmedUserInfo struct {
	Username string `json:"username"`
}

// trimmedObject is any kind of policy.Kinds(): a Pod (its spec is the pod
// spec), a workload (spec.template, or spec.jobTemplate.spec.template) or a
// PodTemplate (template). Which part counts is decided by request.kind.
type trimmedObject struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   trimmedMeta     `json:"metadata"`
	Spec       trimmedSpec     `json:"spec"`
	Template   trimmedTemplate `json:"template"` // PodTemplate
}

type trimmedMeta struct {
	Name            string                  `json:"name"`
	Namespace       string                  `json:"namespace"`
	Labels          map[string]string       `json:"labels"`
	Annotations     map[string]string       `json:"annotations"`
	OwnerReferences []metav1.OwnerReference `json:"ownerReferences"`
}

// trimmedSpec is the union of a Pod's spec and a workload's spec.
type trimmedSpec struct {
	trimmedPodSpec
	Template    trimmedTemplate    `json:"template"`    // Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, ReplicationController
	JobTemplate trimmedJobTemplate `json:"jobTemplate"` // CronJob
}

type trimmedJobTemplate struct {
	Spec trimmedJobSpec `json:"spec"`
}

type trimmedJobSpec struct {
	Template trimmedTemplate `json:"template"`
}

// trimmedTemplate is a PodTemplateSpec. It keeps its raw bytes (a slice of
// the request body, which lives as long as the request), and whether it was
// present and not null: a ReplicationController's template is a pointer.
type trimmedTemplate struct {
	raw     []byte
	present bool
	templateFields
}

type templateFields struct {
	Metadata trimmedMeta    `json:"metadata"`
	Spec     trimmedPodSpec `json:"spec"`
}

// errDuplicateTemplate: a pod template given twice in one object. The API
// server never sends one (it encodes the stored object); it is refused
// rather than guessed at, since the template's raw bytes decide whether a
// workload UPDATE changed it.
var errDuplicateTemplate = errors.New("the object gives its pod template twice (a duplicate \"template\" key)")

type trimmedPodSpec struct {
	SecurityContext     *trimmedPodSecurityContext `json:"securityContext"`
	InitContainers      []trimmedContainer         `json:"initContainers"`
	Containers          []trimmedContainer         `json:"containers"`
	EphemeralContainers []trimmedContainer         `json:"ephemeralContainers"`
	RuntimeClassName    *string                    `json:"runtimeClassName"`
	OS                  *corev1.PodOS              `json:"os"`
	NodeName            string                     `json:"nodeName"`
	NodeSelector        map[string]string          `json:"nodeSelector"`
	Affinity            *trimmedAffinity           `json:"affinity"`
	Tolerations         []corev1.Toleration        `json:"tolerations"`
	SchedulingGates     []corev1.PodSchedulingGate `json:"schedulingGates"`
}

type trimmedPodSecurityContext struct {
	SeccompProfile *corev1.SeccompProfile `json:"seccompProfile"`
}

type trimmedContainer struct {
	Name            string                  `json:"name"`
	SecurityContext *trimmedSecurityContext `json:"securityContext"`
}

type trimmedSecurityContext struct {
	SeccompProfile *corev1.SeccompProfile `json:"seccompProfile"`
	Privileged     *bool                  `json:"privileged"`
}

type trimmedAffinity struct {
	NodeAffinity *corev1.NodeAffinity `json:"nodeAffinity"`
}

// decodeReview decodes an AdmissionReview body in one pass (scan.go), as the
// API server's own decoder would decode it into these types.
func decodeReview(body []byte) (*trimmedReview, error) {
	var r trimmedReview
	if err := scanReview(body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func (m *trimmedMeta) objectMeta() metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, Labels: m.Labels, Annotations: m.Annotations, OwnerReferences: m.OwnerReferences}
}

func (s *trimmedPodSpec) podSpec() corev1.PodSpec {
	out := corev1.PodSpec{
		RuntimeClassName: s.RuntimeClassName,
		OS:               s.OS,
		NodeName:         s.NodeName,
		NodeSelector:     s.NodeSelector,
		Tolerations:      s.Tolerations,
		SchedulingGates:  s.SchedulingGates,
		InitContainers:   containers(s.InitContainers),
		Containers:       containers(s.Containers),
	}
	if s.SecurityContext != nil {
		out.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: s.SecurityContext.SeccompProfile}
	}
	if s.Affinity != nil {
		out.Affinity = &corev1.Affinity{NodeAffinity: s.Affinity.NodeAffinity}
	}
	if s.EphemeralContainers != nil {
		out.EphemeralContainers = make([]corev1.EphemeralContainer, len(s.EphemeralContainers))
		for i := range s.EphemeralContainers {
			c := &s.EphemeralContainers[i]
			out.EphemeralContainers[i].Name = c.Name
			out.EphemeralContainers[i].SecurityContext = c.SecurityContext.securityContext()
		}
	}
	return out
}

func containers(in []trimmedContainer) []corev1.Container {
	if in == nil {
		return nil
	}
	out := make([]corev1.Container, len(in))
	for i := range in {
		out[i].Name = in[i].Name
		out[i].SecurityContext = in[i].SecurityContext.securityContext()
	}
	return out
}

func (sc *trimmedSecurityContext) securityContext() *corev1.SecurityContext {
	if sc == nil {
		return nil
	}
	return &corev1.SecurityContext{SeccompProfile: sc.SeccompProfile, Privileged: sc.Privileged}
}

func (t *trimmedTemplate) template() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: t.Metadata.objectMeta(), Spec: t.Spec.podSpec()}
}

// templatePtr is the template of a ReplicationController: nil when absent or null.
func (t *trimmedTemplate) templatePtr() *corev1.PodTemplateSpec {
	if !t.present {
		return nil
	}
	out := t.template()
	return &out
}

// podTemplate returns the object's pod template as decoded for kind k, or
// nil for a Pod.
func (o *trimmedObject) podTemplate(k *policy.Kind) *trimmedTemplate {
	switch {
	case k.IsPod():
		return nil
	case k.Kind == "CronJob":
		return &o.Spec.JobTemplate.Spec.Template
	case k.Kind == "PodTemplate":
		return &o.Template
	}
	return &o.Spec.Template
}

// object turns the trimmed object into the typed object of kind k that
// policy.Evaluate takes. tmpl, when set, replaces the pod template (a
// workload UPDATE whose template's bytes changed: fullTemplates).
func (o *trimmedObject) object(k *policy.Kind, full *corev1.PodTemplateSpec) (runtime.Object, error) {
	tm := metav1.TypeMeta{APIVersion: o.APIVersion, Kind: o.Kind}
	meta := o.Metadata.objectMeta()
	tmpl := func() corev1.PodTemplateSpec {
		if full != nil {
			return *full
		}
		return o.podTemplate(k).template()
	}
	switch k.GroupVersionKind {
	case corev1.SchemeGroupVersion.WithKind("Pod"):
		return &corev1.Pod{TypeMeta: tm, ObjectMeta: meta, Spec: o.Spec.podSpec()}, nil
	case appsv1.SchemeGroupVersion.WithKind("Deployment"):
		return &appsv1.Deployment{TypeMeta: tm, ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Template: tmpl()}}, nil
	case appsv1.SchemeGroupVersion.WithKind("ReplicaSet"):
		return &appsv1.ReplicaSet{TypeMeta: tm, ObjectMeta: meta, Spec: appsv1.ReplicaSetSpec{Template: tmpl()}}, nil
	case appsv1.SchemeGroupVersion.WithKind("StatefulSet"):
		return &appsv1.StatefulSet{TypeMeta: tm, ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Template: tmpl()}}, nil
	case appsv1.SchemeGroupVersion.WithKind("DaemonSet"):
		return &appsv1.DaemonSet{TypeMeta: tm, ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Template: tmpl()}}, nil
	case batchv1.SchemeGroupVersion.WithKind("Job"):
		return &batchv1.Job{TypeMeta: tm, ObjectMeta: meta, Spec: batchv1.JobSpec{Template: tmpl()}}, nil
	case batchv1.SchemeGroupVersion.WithKind("CronJob"):
		return &batchv1.CronJob{TypeMeta: tm, ObjectMeta: meta, Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl()}}}}, nil
	case corev1.SchemeGroupVersion.WithKind("ReplicationController"):
		rc := &corev1.ReplicationController{TypeMeta: tm, ObjectMeta: meta}
		if full != nil {
			rc.Spec.Template = full
		} else {
			rc.Spec.Template = o.Spec.Template.templatePtr()
		}
		return rc, nil
	case corev1.SchemeGroupVersion.WithKind("PodTemplate"):
		return &corev1.PodTemplate{TypeMeta: tm, ObjectMeta: meta, Template: tmpl()}, nil
	}
	return nil, fmt.Errorf("seccomp-guard has no trimmed decoding for %s (a kind added to policy.Kinds without one in webhook/trimmed.go)", k.GroupVersionKind)
}

// objects returns the request's object and old object as policy.Evaluate
// takes them. On a workload UPDATE whose pod template's bytes differ, both
// templates are decoded whole, since defaulting asks whether anything in
// the template changed; equal bytes are an equal template. When an object
// it needs did not decode (rawObject.err), both are decoded whole, as the
// full path does (fullDecode), for the full path's answer.
func (r *trimmedRequest) objects(k *policy.Kind) (obj, old runtime.Object, code int32, err error) {
	update := r.Operation == admissionv1.Update
	if r.Object.err != nil || update && r.OldObject.err != nil {
		// An object that does not decode: the full path's answer (its
		// error, or, when the error was in a field of the trimmed union
		// that kind k does not have, the objects).
		return r.wholeObjects(k)
	}
	if r.Object.raw == nil {
		return nil, nil, 400, errors.New("the AdmissionReview request carries no object; seccomp-guard needs it to decide")
	}
	var fullNew, fullOld *corev1.PodTemplateSpec
	if update && r.OldObject.raw != nil && !k.IsPod() {
		nt, ot := r.Object.obj.podTemplate(k), r.OldObject.obj.podTemplate(k)
		if !bytes.Equal(nt.raw, ot.raw) && nt.present && ot.present {
			var errNew, errOld error
			fullNew, errNew = fullTemplate(nt.raw)
			fullOld, errOld = fullTemplate(ot.raw)
			if errNew != nil || errOld != nil {
				// A type error in a template field the trimmed types do
				// not read: the whole object does not decode either.
				return r.wholeObjects(k)
			}
		}
	}
	if obj, err = r.Object.obj.object(k, fullNew); err != nil {
		return nil, nil, 500, err
	}
	if update {
		if r.OldObject.raw == nil {
			return nil, nil, 400, errors.New("the AdmissionReview request carries no oldObject; seccomp-guard needs it to decide")
		}
		if old, err = r.OldObject.obj.object(k, fullOld); err != nil {
			return nil, nil, 500, err
		}
	}
	return obj, old, 200, nil
}

// wholeObjects decodes the request's objects whole, as the full path does
// (fullDecode), for its answer: the same objects, or the same status and
// message. Both objects, so that an UPDATE compares like with like.
func (r *trimmedRequest) wholeObjects(k *policy.Kind) (obj, old runtime.Object, code int32, err error) {
	return fullDecode(admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: r.Operation,
		Object:    runtime.RawExtension{Raw: r.Object.raw},
		OldObject: runtime.RawExtension{Raw: r.OldObject.raw},
	}})(k)
}

func fullTemplate(raw []byte) (*corev1.PodTemplateSpec, error) {
	var t corev1.PodTemplateSpec
	if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, &t); err != nil {
		return nil, err
	}
	return &t, nil
}
