package main

import (
	goflag "flag"
	"os"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/seccomp-guard/seccomp-guard/internal/reporter"
)

func newReporterCommand() *cobra.Command {
	var (
		opts       = reporter.DefaultOptions()
		format     string
		kubeconfig string
		zapOpts    = zap.Options{}
	)
	cmd := &cobra.Command{
		Use:   "reporter",
		Short: "Keep policy reports of what already runs in the cluster current (run as a Deployment)",
		Long: `reporter evaluates the cluster the way ` + "`seccomp-guard audit`" + ` does, whenever
pods, workloads, namespaces, the ClusterSeccompPolicy or the node inventories
change (debounced), and keeps these current:

  - one report per namespace, named seccomp-guard, with a result per
    top-level object (its verdict at the namespace's next step) and per
    running pod whose Localhost profile is gone or changed on its node;
  - a cluster report, named seccomp-guard, with a result per namespace:
    its next step;
  - status.ladder of ClusterSeccompPolicy "default": per mode, the
    namespaces in it and their objects that break a rule (the printer
    columns of kubectl get clusterseccomppolicy).

Reports are OpenReports (openreports.io/v1alpha1 Report, ClusterReport) or,
with --format=wgpolicyk8s, wgpolicyk8s.io/v1alpha2 PolicyReport and
ClusterPolicyReport. Their CRDs must be installed. One replica writes
(leader election); it never runs on the admission path.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := reporter.ParseFormat(format)
			if err != nil {
				return usageError{err: err}
			}
			opts.Format = f
			if err := opts.Validate(); err != nil {
				return usageError{err: err}
			}
			ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
			cfg, err := restConfig(kubeconfig)
			if err != nil {
				return err
			}
			return reporter.Run(cmd.Context(), cfg, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", string(opts.Format), "Report API: openreports (openreports.io/v1alpha1) or wgpolicyk8s (wgpolicyk8s.io/v1alpha2).")
	f.StringVar(&opts.ReleaseNamespace, "release-namespace", os.Getenv("POD_NAMESPACE"), "Namespace of the agents' heartbeat Leases and of the leader-election Lease (default from $POD_NAMESPACE).")
	f.StringSliceVar(&opts.Excluded, "excluded-namespaces", nil, "Namespaces the webhook configurations never send (comma-separated or repeated): no report, not on the ladder.")
	f.DurationVar(&opts.Debounce, "debounce", opts.Debounce, "Quiet period after a change before a rescan.")
	f.DurationVar(&opts.MaxWait, "max-wait", opts.MaxWait, "Longest wait for a quiet period when changes keep coming.")
	f.DurationVar(&opts.Resync, "resync", opts.Resync, "Period of rescans without a change (inventories go stale with time).")
	f.DurationVar(&opts.RetryAfter, "retry-after", opts.RetryAfter, "Wait after a failed rescan.")
	f.DurationVar(&opts.StatusInterval, "status-interval", opts.StatusInterval, "Least time between two writes of the ClusterSeccompPolicy's ladder status.")
	f.IntVar(&opts.MaxResults, "max-results", opts.MaxResults, "Most results in one report; the summary still counts those left out (1 to 5000).")
	f.BoolVar(&opts.LeaderElection, "leader-elect", opts.LeaderElection, "Elect one replica to write (a Lease named seccomp-guard-reporter in --release-namespace).")
	f.StringVar(&opts.MetricsBindAddress, "metrics-bind-address", opts.MetricsBindAddress, `Address of the Prometheus metrics; "0" disables them.`)
	f.StringVar(&opts.HealthProbeBindAddress, "health-probe-bind-address", opts.HealthProbeBindAddress, `Address of the /healthz and /readyz endpoints; "0" disables them.`)
	f.StringVar(&kubeconfig, "kubeconfig", "", "Path to a kubeconfig file; in-cluster configuration when empty.")
	logFlags := goflag.NewFlagSet("log", goflag.ContinueOnError)
	zapOpts.BindFlags(logFlags)
	f.AddGoFlagSet(logFlags)
	return cmd
}
