package webhook

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// handledKinds maps each kind the webhooks are registered for to a
// constructor of its typed object. Everything else is answered with an
// explanation, never decoded.
var handledKinds = map[metav1.GroupVersionKind]func() runtime.Object{
	{Group: "", Version: "v1", Kind: "Pod"}:                   func() runtime.Object { return &corev1.Pod{} },
	{Group: "", Version: "v1", Kind: "PodTemplate"}:           func() runtime.Object { return &corev1.PodTemplate{} },
	{Group: "", Version: "v1", Kind: "ReplicationController"}: func() runtime.Object { return &corev1.ReplicationController{} },
	{Group: "apps", Version: "v1", Kind: "Deployment"}:        func() runtime.Object { return &appsv1.Deployment{} },
	{Group: "apps", Version: "v1", Kind: "ReplicaSet"}:        func() runtime.Object { return &appsv1.ReplicaSet{} },
	{Group: "apps", Version: "v1", Kind: "StatefulSet"}:       func() runtime.Object { return &appsv1.StatefulSet{} },
	{Group: "apps", Version: "v1", Kind: "DaemonSet"}:         func() runtime.Object { return &appsv1.DaemonSet{} },
	{Group: "batch", Version: "v1", Kind: "Job"}:              func() runtime.Object { return &batchv1.Job{} },
	{Group: "batch", Version: "v1", Kind: "CronJob"}:          func() runtime.Object { return &batchv1.CronJob{} },
}
