package reporter

import (
	"context"
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
)

// LeaderElectionID names the reporter's leader-election Lease.
const LeaderElectionID = "seccomp-guard-reporter"

// Run starts the reporter's manager and blocks until ctx ends.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, manager.Options{
		Scheme:                        scheme.Scheme,
		HealthProbeBindAddress:        opts.HealthProbeBindAddress,
		Metrics:                       metricsserver.Options{BindAddress: opts.MetricsBindAddress},
		LeaderElection:                opts.LeaderElection,
		LeaderElectionID:              LeaderElectionID,
		LeaderElectionNamespace:       opts.ReleaseNamespace,
		LeaderElectionReleaseOnCancel: true,
		Cache: cache.Options{
			// Every pod and workload of the cluster is cached: keep only
			// what the audit reads.
			DefaultTransform: cache.TransformStripManagedFields(),
			ByObject: map[client.Object]cache.ByObject{
				// Only the agents' heartbeats.
				&coordinationv1.Lease{}: {Namespaces: map[string]cache.Config{opts.ReleaseNamespace: {}}},
			},
		},
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.Add(New(mgr.GetClient(), mgr.GetClient(), mgr.GetCache(), opts)); err != nil {
		return err
	}
	return mgr.Start(ctx)
}
