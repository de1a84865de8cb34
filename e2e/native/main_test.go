// Package native_test is the parity test of design section 10: one corpus of
// admission requests through two executors, policy.Evaluate in-process and a
// real kube-apiserver running only seccomp-guard's native policies (package
// native; no webhook), asserting the same verdict, messages and stored
// seccomp fields, or an explicitly stated known difference.
package native_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/native"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

const (
	prefix      = "e2e-native"
	testUser    = "e2e-user"
	exemptUser  = "exempt-user"
	exemptClass = "gvisor"
	exemptNS    = "native-exempt"
)

var (
	cp       *framework.ControlPlane
	k8s      client.Client // as testUser, warnings recorded
	warnings *framework.Warnings
	exempt   client.Client // as exemptUser, to store non-compliant objects
	params   *v1alpha1.ClusterSeccompPolicy
)

func TestMain(m *testing.M) {
	os.Exit(framework.Main(m, framework.Suite{Setup: func(ctx context.Context, c *framework.ControlPlane) error {
		cp = c
		return setUp(ctx)
	}}))
}

func impersonating(user string) *rest.Config {
	cfg := rest.CopyConfig(cp.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:masters"}}
	return cfg
}

func setUp(ctx context.Context) error {
	var err error
	if k8s, warnings, err = framework.ClientWithWarnings(impersonating(testUser)); err != nil {
		return err
	}
	if exempt, _, err = framework.ClientWithWarnings(impersonating(exemptUser)); err != nil {
		return err
	}
	params = &v1alpha1.ClusterSeccompPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultPolicyName},
		Spec: v1alpha1.ClusterSeccompPolicySpec{
			DefaultMode: v1alpha1.ModeDisabled,
			Exemptions: v1alpha1.Exemptions{
				Namespaces:        []string{exemptNS},
				Usernames:         []string{exemptUser},
				RuntimeClassNames: []string{exemptClass},
			},
			// The native path has no node inventory: node coverage stays with
			// the webhook, so the corpus is evaluated without it by both.
			Localhost: v1alpha1.LocalhostPolicy{NodeCoverage: v1alpha1.NodeCoverageOff},
		},
	}
	if err := cp.Client.Create(ctx, params); err != nil {
		return fmt.Errorf("creating the ClusterSeccompPolicy: %w", err)
	}
	if err := cp.Client.Create(ctx, &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: exemptClass}, Handler: "runsc"}); err != nil {
		return err
	}
	for _, o := range native.Build(prefix).List() {
		if err := cp.Client.Create(ctx, o.(client.Object)); err != nil {
			return fmt.Errorf("installing %T: %w", o, err)
		}
	}
	// Wait until every binding takes effect (the API server loads policies,
	// bindings and params asynchronously): a probe pod is defaulted in enforce
	// mode, an Unconfined one is denied there and warned about in warn mode.
	probe := func(ns string, sp *corev1.SeccompProfile) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-", Namespace: ns},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
		if sp != nil {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: sp}
		}
		return p
	}
	for _, ns := range []string{"probe-enforce", "probe-warn"} {
		mode := strings.TrimPrefix(ns, "probe-")
		if err := cp.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{policy.ModeLabel: mode}}}); err != nil {
			return err
		}
	}
	unconfined := &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
	return framework.Poll(ctx, 200*time.Millisecond, 30*time.Second, "the native policies to take effect", func(ctx context.Context) error {
		defaulted := probe("probe-enforce", nil)
		errD := k8s.Create(ctx, defaulted, client.DryRunAll)
		errE := k8s.Create(ctx, probe("probe-enforce", unconfined), client.DryRunAll)
		warnings.Take()
		errW := k8s.Create(ctx, probe("probe-warn", unconfined), client.DryRunAll)
		ws := warnings.Take()
		if errD == nil && defaulted.Spec.SecurityContext != nil && defaulted.Spec.SecurityContext.SeccompProfile != nil &&
			errE != nil && strings.Contains(errE.Error(), prefix+"-enforce") &&
			errW == nil && len(ws) > 0 {
			return nil
		}
		return errors.New(fmt.Sprint("defaulting err=", errD,
			" enforce err=", errE, " warn err=", errW, " warnings=", ws))
	})
}
