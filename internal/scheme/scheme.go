// Package scheme holds seccomp-guard's one runtime.Scheme: the built-in
// Kubernetes types and seccomp-guard's API. It is not in api/v1alpha1 because
// the built-in types come from client-go, which policy/ (an importer of
// api/v1alpha1) must not pull in.
package scheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	openreportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	wgpolicyk8sv1alpha2 "github.com/seccomp-guard/seccomp-guard/api/wgpolicyk8s/v1alpha2"
)

// Scheme knows the built-in types, api/v1alpha1 and the report types the
// reporter writes (OpenReports). Every client, manager,
// cache and test fake of seccomp-guard uses it; nothing adds to it.
var Scheme = newScheme()

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	utilruntime.Must(openreportsv1alpha1.Install(s))
	utilruntime.Must(wgpolicyk8sv1alpha2.AddToScheme(s))
	return s
}
