package reporter

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The wgpolicyk8s.io/v1alpha2 API, from which OpenReports was derived: its
// PolicyReport and ClusterPolicyReport have the same results and summary,
// and neither a top-level source nor a configuration.
var (
	WGPolicyGroupVersion      = schema.GroupVersion{Group: "wgpolicyk8s.io", Version: "v1alpha2"}
	wgPolicyReport            = WGPolicyGroupVersion.WithKind("PolicyReport")
	wgClusterPolicyReport     = WGPolicyGroupVersion.WithKind("ClusterPolicyReport")
	wgPolicyReportList        = WGPolicyGroupVersion.WithKind("PolicyReportList")
	wgClusterPolicyReportList = WGPolicyGroupVersion.WithKind("ClusterPolicyReportList")
)

// toWGPolicy rewrites an OpenReports Report or ClusterReport as a
// wgpolicyk8s.io PolicyReport or ClusterPolicyReport.
func toWGPolicy(obj client.Object) (client.Object, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("converting report %s to %s: %w", obj.GetName(), WGPolicyGroupVersion, err)
	}
	u := &unstructured.Unstructured{Object: m}
	delete(u.Object, "source")
	delete(u.Object, "configuration")
	if u.GetNamespace() == "" {
		u.SetGroupVersionKind(wgClusterPolicyReport)
	} else {
		u.SetGroupVersionKind(wgPolicyReport)
	}
	return u, nil
}

func wgpolicyLists() (namespaced, cluster client.ObjectList) {
	n, c := &unstructured.UnstructuredList{}, &unstructured.UnstructuredList{}
	n.SetGroupVersionKind(wgPolicyReportList)
	c.SetGroupVersionKind(wgClusterPolicyReportList)
	return n, c
}
