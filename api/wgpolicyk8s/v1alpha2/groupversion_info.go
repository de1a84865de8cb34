// Package v1alpha2 contains the wgpolicyk8s.io/v1alpha2 PolicyReport API of
// the Kubernetes Policy Working Group (kubernetes-sigs/wg-policy-prototypes,
// policy-report/apis/wgpolicyk8s.io/v1alpha2), which no Go module serves
// here. The field names, JSON tags, short names and printer columns are
// upstream's, so that the CRDs generated from these types (the chart's
// report-crds/) accept what Kyverno's and Policy Reporter's do, and the
// reporter's objects read the same in every tool. OpenReports
// (openreports.io/v1alpha1) is its successor; the reporter writes this API
// only with --format=wgpolicyk8s.
//
// +kubebuilder:object:generate=true
// +groupName=wgpolicyk8s.io
package v1alpha2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of the policy reports.
const GroupName = "wgpolicyk8s.io"

// GroupVersion is the group version of these types.
var GroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha2"}

var (
	// SchemeBuilder collects the functions that add this API to a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds this API to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion,
		&PolicyReport{},
		&PolicyReportList{},
		&ClusterPolicyReport{},
		&ClusterPolicyReportList{},
	)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
