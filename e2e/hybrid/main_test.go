// Package hybrid_test checks the hybrid install of design section 10 with a
// real kube-apiserver and the real webhook binary: the native policies
// (package native) default and check every pod, and the validating webhook,
// registered with native.WebhookMatchConditions, receives only the objects
// that reference a Localhost profile.
package hybrid_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/native"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

const prefix = "e2e-hybrid"

var (
	cp       *framework.ControlPlane
	wh       *framework.Webhook
	k8s      client.Client // warnings recorded
	warnings *framework.Warnings
)

func TestMain(m *testing.M) {
	os.Exit(framework.Main(m, framework.Suite{Setup: setUp, Processes: framework.WebhookProcesses(&wh)}))
}

// setUp installs the native policies, starts the real webhook and registers
// it in hybrid mode, then waits until both take effect.
func setUp(ctx context.Context, c *framework.ControlPlane) error {
	cp = c
	var err error
	if k8s, warnings, err = framework.ClientWithWarnings(cp.Config); err != nil {
		return err
	}
	// The native bindings read the ClusterSeccompPolicy "default" as params
	// (and do nothing without it); the namespaces' mode labels decide.
	if err := cp.Client.Create(ctx, &v1alpha1.ClusterSeccompPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultPolicyName},
		Spec:       v1alpha1.ClusterSeccompPolicySpec{DefaultMode: v1alpha1.ModeDisabled},
	}); err != nil {
		return fmt.Errorf("creating the ClusterSeccompPolicy: %w", err)
	}
	for _, o := range native.Build(prefix).List() {
		if err := cp.Client.Create(ctx, o.(client.Object)); err != nil {
			return fmt.Errorf("installing %T: %w", o, err)
		}
	}
	bin, err := framework.BuildBinary(cp.Dir)
	if err != nil {
		return err
	}
	if wh, err = framework.StartWebhook(ctx, cp, bin); err != nil {
		return err
	}
	if err := framework.InstallWebhookConfigsWith(ctx, cp.Client, wh, framework.WebhookConfigOptions{Hybrid: true}); err != nil {
		return err
	}
	return waitActive(ctx)
}

// waitActive waits until, in an enforce namespace, a plain pod is defaulted
// and an Unconfined one denied by the native policies, and a Localhost pod
// reaches the webhook.
func waitActive(ctx context.Context) error {
	ns := "e2e-probe"
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{policy.ModeLabel: "enforce"}}}); err != nil {
		return err
	}
	return framework.Poll(ctx, 200*time.Millisecond, 30*time.Second, "the hybrid install to take effect", func(ctx context.Context) error {
		plain := newPod(ns)
		errD := k8s.Create(ctx, plain, client.DryRunAll)
		errU := k8s.Create(ctx, newPod(ns, podLevel(unconfined())), client.DryRunAll)
		before, errM1 := requestsTotal(ctx)
		errL := k8s.Create(ctx, newPod(ns, podLevel(localhost())), client.DryRunAll)
		after, errM2 := requestsTotal(ctx)
		warnings.Take()
		if errD == nil && plain.Spec.SecurityContext != nil && plain.Spec.SecurityContext.SeccompProfile != nil &&
			errU != nil && strings.Contains(errU.Error(), prefix+"-enforce") &&
			errL == nil && errM1 == nil && errM2 == nil && after > before {
			return nil
		}
		return errors.New(fmt.Sprint("defaulting err=", errD,
			" unconfined err=", errU, " localhost err=", errL, " metrics: ", before, errM1, after, errM2))
	})
}

// requestsTotal sums seccomp_guard_admission_requests_total over all labels.
func requestsTotal(ctx context.Context) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/metrics", wh.MetricsPort), nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/metrics answered %s", resp.Status)
	}
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "seccomp_guard_admission_requests_total{") && !strings.HasPrefix(line, "seccomp_guard_admission_requests_total ") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("parsing %q: %w", line, err)
		}
		sum += v
	}
	return sum, sc.Err()
}
