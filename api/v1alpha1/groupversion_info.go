// Package v1alpha1 contains the seccomp-guard.io/v1alpha1 API: the cluster-wide
// ClusterSeccompPolicy and the per-node NodeSeccompInventory.
//
// The package registers with apimachinery's runtime.SchemeBuilder rather than
// controller-runtime's scheme package, so that the pure policy engine can
// import these types without pulling in controller-runtime.
//
// +kubebuilder:object:generate=true
// +groupName=seccomp-guard.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of every seccomp-guard resource.
const GroupName = "seccomp-guard.io"

// SchemeGroupVersion is the group version used to register these objects.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

var (
	// SchemeBuilder collects the functions that add this API to a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds this API to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Resource takes an unqualified resource and returns a group-qualified GroupResource.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion,
		&ClusterSeccompPolicy{},
		&ClusterSeccompPolicyList{},
		&NodeSeccompInventory{},
		&NodeSeccompInventoryList{},
	)
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}
