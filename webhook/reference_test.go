package webhook

import (
	"net/http"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/seccomp-guard/seccomp-guard/policy"
)

func intstrFromInt(i int) intstr.IntOrString { return intstr.FromInt(i) }

func authUser(name string) authenticationv1.UserInfo {
	return authenticationv1.UserInfo{Username: name}
}

func kindsForTest() []policy.Kind { return policy.Kinds() }

// referenceEndpoint is the full-decode path: controller-runtime's
// admission.Webhook behind guardReviews, which decodes the whole review,
// then the handler decodes the whole object (Handle).
func referenceEndpoint(h admission.Handler) http.Handler {
	return guardReviews(&admission.Webhook{Handler: h, RecoverPanic: new(true)})
}

// fastEndpoint is the path the server registers, for a handler of this
// package; nil for any other (the noop floor runs on the full path only).
func fastEndpoint(_ testing.TB, h admission.Handler) http.Handler {
	switch h := h.(type) {
	case *MutatingHandler:
		return NewMutatingEndpoint(h)
	case *ValidatingHandler:
		return NewValidatingEndpoint(h)
	}
	return nil
}
