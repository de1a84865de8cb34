package leader_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/webhook"
)

// TestWebhookBinaryLeads runs the real binary with --leader-elect: it takes
// the Lease under its host name, writes the policy's status, says so in
// seccomp_guard_webhook_leader, and on SIGTERM exits cleanly and releases
// the Lease.
func TestWebhookBinaryLeads(t *testing.T) {
	ctx := context.Background()
	const leaseNamespace = "webhook-binary"
	if err := cp.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: leaseNamespace}}); err != nil {
		t.Fatal(err)
	}
	pol := &v1alpha1.ClusterSeccompPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultPolicyName}}
	if err := cp.Client.Create(ctx, pol); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cp.Client.Delete(ctx, pol) })
	bin, err := framework.BuildBinary(cp.Dir)
	if err != nil {
		t.Fatal(err)
	}
	wh, err := framework.StartWebhook(ctx, cp, bin, "--leader-elect", "--leader-election-namespace", leaseNamespace)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = wh.Stop() }()
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	leaseHolder := func() (string, error) {
		var lease coordinationv1.Lease
		if err := cp.Client.Get(ctx, client.ObjectKey{Namespace: leaseNamespace, Name: webhook.LeaderElectionID}, &lease); err != nil {
			return "", err
		}
		if lease.Spec.HolderIdentity == nil {
			return "", nil
		}
		return *lease.Spec.HolderIdentity, nil
	}
	// The default timings: a fresh Lease is taken on the first try.
	poll(t, 10*time.Second, "the webhook to hold the Lease and write the policy's status", func(context.Context) error {
		h, err := leaseHolder()
		if err != nil {
			return err
		}
		if !strings.HasPrefix(h, host+"_") {
			return fmt.Errorf("the Lease is held by %q, want %s_<uuid>", h, host)
		}
		var got v1alpha1.ClusterSeccompPolicy
		if err := cp.Client.Get(ctx, client.ObjectKey{Name: v1alpha1.DefaultPolicyName}, &got); err != nil {
			return err
		}
		if got.Status.ObservedGeneration != got.Generation {
			return fmt.Errorf("status.observedGeneration %d, generation %d", got.Status.ObservedGeneration, got.Generation)
		}
		return nil
	})
	poll(t, 5*time.Second, "seccomp_guard_webhook_leader to be 1", func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(wh.MetricsPort)+"/metrics", http.NoBody)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if !strings.Contains(string(body), "\nseccomp_guard_webhook_leader 1\n") {
			return fmt.Errorf("/metrics has no line %q", "seccomp_guard_webhook_leader 1")
		}
		return nil
	})
	if err := wh.Stop(); err != nil {
		t.Fatalf("the webhook did not exit cleanly on SIGTERM: %v\n%s", err, wh.Log())
	}
	if h, err := leaseHolder(); err != nil || h != "" {
		t.Errorf("after SIGTERM the Lease is held by %q (%v), want released", h, err)
	}
}

func poll(t *testing.T, timeout time.Duration, what string, check func(context.Context) error) {
	t.Helper()
	if err := framework.Poll(context.Background(), 100*time.Millisecond, timeout, what, check); err != nil {
		t.Fatal(err)
	}
}
