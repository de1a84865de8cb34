package policy

// The table of supported kinds: the one list of what seccomp-guard
// evaluates (design section 5). The webhook decodes by it, the webhook
// configurations (e2e and the chart, generated), the native policies, the
// CLI's manifest reader and the e2e audit policy are all derived from it.

import (
	"reflect"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kind is one resource the engine evaluates.
type Kind struct {
	schema.GroupVersionKind
	// Resource is the plural resource name, e.g. "deployments".
	Resource string
	// PodSpecPath is the field path of the pod spec inside the object:
	// "spec", "spec.template.spec", ...
	PodSpecPath string
	// New returns an empty typed object of the kind.
	New func() runtime.Object

	// pod extracts the object's metadata, the pod (template) metadata and
	// the pod spec; the last two are nil when the object has no template.
	pod func(runtime.Object) (objMeta, podMeta *metav1.ObjectMeta, spec *corev1.PodSpec)
	// daemon: the kind's pods get the daemon controller's tolerations.
	daemon bool
	// specPath and metaPath are PodSpecPath and PodMetaPath, parsed once.
	specPath, metaPath *field.Path
	pointer            string
}

// IsPod reports whether the kind is Pod itself rather than a workload.
func (k *Kind) IsPod() bool { return k.Kind == "Pod" && k.Group == "" }

// PodSpecPointer is the JSON pointer of the pod spec, e.g. /spec/template/spec.
func (k *Kind) PodSpecPointer() string {
	if k.pointer != "" {
		return k.pointer
	}
	return "/" + strings.ReplaceAll(k.PodSpecPath, ".", "/")
}

// Template returns the object's pod (template) metadata and pod spec, both nil
// when the object has no template (a ReplicationController may have none).
// obj must be of the kind; the result aliases it.
func (k *Kind) Template(obj runtime.Object) (*metav1.ObjectMeta, *corev1.PodSpec) {
	_, podMeta, spec := k.pod(obj)
	return podMeta, spec
}

// IsDaemon reports whether the kind's pods get the tolerations the DaemonSet
// controller adds to every daemon pod (DaemonTolerations).
func (k *Kind) IsDaemon() bool { return k.daemon }

// PodMetaPath is the field path of the pod (template) metadata, e.g.
// spec.template.metadata.
func (k *Kind) PodMetaPath() string { return strings.TrimSuffix(k.PodSpecPath, "spec") + "metadata" }

func template[T any](get func(*T) (*metav1.ObjectMeta, *corev1.PodTemplateSpec)) func(runtime.Object) (*metav1.ObjectMeta, *metav1.ObjectMeta, *corev1.PodSpec) {
	return func(obj runtime.Object) (*metav1.ObjectMeta, *metav1.ObjectMeta, *corev1.PodSpec) {
		meta, t := get(any(obj).(*T))
		if t == nil {
			return meta, nil, nil
		}
		return meta, &t.ObjectMeta, &t.Spec
	}
}

var supportedKinds = []Kind{
	{
		GroupVersionKind: corev1.SchemeGroupVersion.WithKind("Pod"), Resource: "pods", PodSpecPath: "spec",
		New: func() runtime.Object { return &corev1.Pod{} },
		pod: func(obj runtime.Object) (*metav1.ObjectMeta, *metav1.ObjectMeta, *corev1.PodSpec) {
			p := obj.(*corev1.Pod)
			return &p.ObjectMeta, &p.ObjectMeta, &p.Spec
		},
	},
	{
		GroupVersionKind: appsv1.SchemeGroupVersion.WithKind("Deployment"), Resource: "deployments", PodSpecPath: "spec.template.spec",
		New: func() runtime.Object { return &appsv1.Deployment{} },
		pod: template(func(o *appsv1.Deployment) (*metav1.ObjectMeta, *corev1.PodTemplateSpec) {
			return &o.ObjectMeta, &o.Spec.Template
		}),
	},
	{
		GroupVersionKind: appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), Resource: "replicasets", PodSpecPath: "spec.template.spec",
		New: func() runtime.Object { return &appsv1.ReplicaSet{} },
		pod: template(func(o *appsv1.ReplicaSet) (*metav1.ObjectMeta, *corev1.PodTemplateSpec) {
			return &o.ObjectMeta, &o.Spec.Template
		}),
	},
	{
		GroupVersionKind: appsv1.SchemeGroupVersion.WithKind("StatefulSet"), Resource: "statefulsets", PodSpecPath: "spec.template.spec",
		New: func() runtime.Object { return &appsv1.StatefulSet{} },
		pod: template(func(o *appsv1.StatefulSet) (*metav1.ObjectMeta, *corev1.PodTemplateSpec) {
			return &o.ObjectMeta, &o.Spec.Template
		}),
	},
	{
		GroupVersionKind: appsv1.SchemeGroupVersion.WithKind("DaemonSet"), Resource: "daemonsets", PodSpecPath: "spec.template.spec",
		New: func() runtime.Object { return &appsv1.DaemonSet{} },
		pod: template(func(o *appsv1.DaemonSet) (*metav1.ObjectMeta, *corev1.PodTemplateSpec) {
			return &o.ObjectMeta, &o.Spec.Template
		}),
		daemon: true,
	},
	{
		GroupVersionKind: batchv1.SchemeGroupVersion.WithKind("Job"), Resource: "jobs", PodSpecPath: "spec.template.spec",
		New: func() runtime.Object { return &batchv1.Job{} },
		pod: template(func(o *batchv1.Job) (*metav1.ObjectMeta, *corev1.PodTemplateSpec) {
			return &o.ObjectMeta, &o.Spec.Template
		}),
	},
	{
		GroupVersionKind: batchv1.SchemeGroupVersion.WithKind("CronJob"), Resource: "cronjobs", PodSpecPath: "spec.jobTemplate.spec.template.spec",
		New: func() runtime.Object { return &batchv1.CronJob{} },
		pod: template(func(o *batchv1.CronJob) (*metav1.ObjectMeta, *corev1.PodTemplateSpec) {
			return &o.ObjectMeta, &o.Spec.JobTemplate.Spec.Template
		}),
	},
	{
		GroupVersionKind: corev1.SchemeGroupVersion.WithKind("ReplicationController"), Resource: "replicationcontrollers", PodSpecPath: "spec.template.spec",
		New: func() runtime.Object { return &corev1.ReplicationController{} },
		pod: template(func(o *corev1.ReplicationController) (*metav1.ObjectMeta, *corev1.PodTemplateSpec) {
			return &o.ObjectMeta, o.Spec.Template // may be nil
		}),
	},
	{
		GroupVersionKind: corev1.SchemeGroupVersion.WithKind("PodTemplate"), Resource: "podtemplates", PodSpecPath: "template.spec",
		New: func() runtime.Object { return &corev1.PodTemplate{} },
		pod: template(func(o *corev1.PodTemplate) (*metav1.ObjectMeta, *corev1.PodTemplateSpec) {
			return &o.ObjectMeta, &o.Template
		}),
	},
}

var (
	kindsByType = map[reflect.Type]*Kind{}
	kindsByGVK  = map[schema.GroupVersionKind]*Kind{}
)

func init() {
	for i := range supportedKinds {
		k := &supportedKinds[i]
		k.specPath, k.metaPath = fieldPath(k.PodSpecPath), fieldPath(k.PodMetaPath())
		k.pointer = k.PodSpecPointer()
		kindsByType[reflect.TypeOf(k.New())] = k
		kindsByGVK[k.GroupVersionKind] = k
	}
}

// Kinds returns the supported kinds, in documentation order. The caller
// must not modify them.
func Kinds() []Kind { return supportedKinds }

// KindFor returns the supported kind with this group, version and kind.
func KindFor(gvk schema.GroupVersionKind) (*Kind, bool) {
	k, ok := kindsByGVK[gvk]
	return k, ok
}

// kindOf returns the supported kind of a typed object.
// KindIndex is a kind's place in Kinds() by its name (Pod, Deployment,
// ...), or len(Kinds()) for a kind not listed: the order reports list
// kinds in.
func KindIndex(kind string) int {
	for i := range supportedKinds {
		if supportedKinds[i].Kind == kind {
			return i
		}
	}
	return len(supportedKinds)
}

// KindNamed returns the listed kind of that name.
func KindNamed(kind string) (*Kind, bool) {
	if i := KindIndex(kind); i < len(supportedKinds) {
		return &supportedKinds[i], true
	}
	return nil, false
}

func kindOf(obj runtime.Object) (*Kind, bool) {
	if obj == nil {
		return nil, false
	}
	k, ok := kindsByType[reflect.TypeOf(obj)]
	return k, ok
}

// fieldPath turns "spec.template.spec" into a field.Path.
func fieldPath(dotted string) *field.Path {
	parts := strings.Split(dotted, ".")
	return field.NewPath(parts[0], parts[1:]...)
}
