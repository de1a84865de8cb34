package webhook

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// TestNewElector: the options NewElector refuses, with what to do, and
// the defaults it fills in. No API server: it only builds its client.
func TestNewElector(t *testing.T) {
	cfg := &rest.Config{Host: "https://127.0.0.1:6443"}
	_, statErr := os.Stat(inClusterNamespaceFile)
	tests := []struct {
		name    string
		opts    ElectorOptions
		skip    bool
		wantErr string
	}{
		{
			name:    "no namespace outside a pod",
			opts:    ElectorOptions{},
			skip:    statErr == nil,
			wantErr: `--leader-election-namespace is empty and the pod's namespace is unknown (open /var/run/secrets/kubernetes.io/serviceaccount/namespace: no such file or directory): set --leader-election-namespace to the namespace of the leader Lease "seccomp-guard-webhook-leader"`,
		},
		{
			name:    "renew deadline not shorter than the lease",
			opts:    ElectorOptions{Namespace: "sg", LeaseDuration: 2 * time.Second, RenewDeadline: 2 * time.Second},
			wantErr: "leader election on Lease sg/seccomp-guard-webhook-leader: leaseDuration must be greater than renewDeadline",
		},
		{
			name:    "renew deadline within 1.2 retry periods",
			opts:    ElectorOptions{Namespace: "sg", RenewDeadline: 6 * time.Second},
			wantErr: "leader election on Lease sg/seccomp-guard-webhook-leader: renewDeadline must be greater than retryPeriod*JitterFactor",
		},
		{name: "the defaults", opts: ElectorOptions{Namespace: "sg"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip {
				t.Skipf("%s exists: running in a pod", inClusterNamespaceFile)
			}
			e, err := NewElector(cfg, tc.opts)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			host, err := os.Hostname()
			require.NoError(t, err)
			assert.Regexp(t, "^"+host+"_[0-9a-f-]{36}$", e.Identity())
			assert.Equal(t, ElectorOptions{
				Namespace: "sg", Name: LeaderElectionID, Identity: e.Identity(),
				LeaseDuration: 60 * time.Second, RenewDeadline: 45 * time.Second, RetryPeriod: 5 * time.Second,
			}, e.opts)
			assert.False(t, e.Leading(), "leading before it started")
			assert.False(t, e.NeedLeaderElection(), "the elector runs on every replica")
		})
	}
}

// TestElectorAddAfterStart: leader work comes before Start.
func TestElectorAddAfterStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	e, err := NewElector(&rest.Config{Host: "https://127.0.0.1:1"}, ElectorOptions{Namespace: "sg", Identity: "me", Metric: NewLeaderMetric(reg)})
	require.NoError(t, err)
	assert.Equal(t, 0.0, testutil.ToFloat64(e.opts.Metric), "not leading yet")
	require.NoError(t, e.Add(manager.RunnableFunc(func(context.Context) error { return nil })))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Start(ctx) }()
	require.Eventually(t, func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.started
	}, 5*time.Second, 10*time.Millisecond)
	require.EqualError(t, e.Add(manager.RunnableFunc(func(context.Context) error { return nil })),
		"the elector has started: add leader work before the manager starts")
	cancel()
	require.NoError(t, <-done, "Start returns nil on shutdown")
}
