package main

import (
	goflag "flag"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/seccomp-guard/seccomp-guard/internal/monitor"
	"github.com/seccomp-guard/seccomp-guard/inventory"
)

func newAgentCommand() *cobra.Command {
	var (
		opts       = inventory.DefaultAgentOptions()
		monOpts    = monitor.DefaultOptions()
		kubeconfig string
		zapOpts    = zap.Options{}
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Report this node's seccomp profiles to the cluster (run as a DaemonSet)",
		Long: `Scan the kubelet's seccomp root on this node, validate every file as the
node's container runtime will read it, and keep the node's NodeSeccompInventory
current (server-side apply, only when something changed). Renew the node's
heartbeat Lease while the inventory is current, so that the webhook can tell
a live inventory from a stale one.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.Validate(); err != nil {
				return usageError{err: err}
			}
			monOpts.NodeName = opts.NodeName
			if err := monOpts.Validate(); err != nil {
				return usageError{err: err}
			}
			ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
			cfg, err := restConfig(kubeconfig)
			if err != nil {
				return err
			}
			if monOpts.Source == monitor.SourceNone {
				return inventory.RunAgent(cmd.Context(), cfg, opts)
			}
			// The inventory and the violation monitor run side by side;
			// either failing stops both, and the pod restarts.
			g, ctx := errgroup.WithContext(cmd.Context())
			g.Go(func() error { return inventory.RunAgent(ctx, cfg, opts) })
			g.Go(func() error { return monitor.Run(ctx, cfg, monOpts, ctrl.Log.WithName("violations")) })
			return g.Wait()
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.NodeName, "node-name", os.Getenv("NODE_NAME"), "Name of this node (default from $NODE_NAME); required.")
	f.StringVar(&opts.SeccompRoot, "seccomp-root", opts.SeccompRoot, "The kubelet's seccomp root: a path on the host when --host-root is set.")
	f.StringVar(&opts.HostRoot, "host-root", "", `Where the host's directories are mounted (read-only, each at its host path below it), e.g. /host; symbolic links are resolved inside it as the host resolves them. Empty: read --seccomp-root as it is and follow links only inside it.`)
	f.StringSliceVar(&opts.MountedDirs, "mounted-dirs", nil, `Host directories mounted under --host-root besides --seccomp-root (comma-separated or repeated): where the seccomp root's links lead, e.g. /var/lib/security-profiles-operator. A link that leads elsewhere is reported as outside them, not as dangling. Empty: the whole host is mounted.`)
	f.DurationVar(&opts.Resync, "resync", opts.Resync, "Period of full rescans, which also repair the inventory in the cluster.")
	f.DurationVar(&opts.LeaseDuration, "lease-duration", opts.LeaseDuration, "Duration of the heartbeat Lease, renewed every quarter of it (at least 1s).")
	f.StringVar(&opts.Namespace, "namespace", opts.Namespace, "Namespace of the heartbeat Lease (the release namespace).")
	f.StringVar(&kubeconfig, "kubeconfig", "", "Path to a kubeconfig file; in-cluster configuration when empty.")
	f.StringVar(&opts.HealthProbeBindAddress, "health-probe-bind-address", ":8081", `Address of the /healthz and /readyz endpoints; "0" disables them.`)
	f.StringVar(&opts.MetricsBindAddress, "metrics-bind-address", "0", `Address of the Prometheus /metrics endpoint, e.g. :8080; "0" disables it.`)
	f.StringVar(&monOpts.Source, "violations-source", monOpts.Source, "Where to read the node's seccomp records: none, netlink (the audit multicast group: complete; needs CAP_AUDIT_READ and hostNetwork), kmsg (lossy: the kernel rate-limits it; needs CAP_SYSLOG and the device) or auditd (its log file, where auditd runs).")
	f.StringVar(&monOpts.ProcRoot, "violations-proc-root", monOpts.ProcRoot, "The host's /proc as mounted (record PIDs are the host's), e.g. /host/proc.")
	f.StringVar(&monOpts.KmsgPath, "violations-kmsg", monOpts.KmsgPath, "The kernel log device, for --violations-source=kmsg.")
	f.StringVar(&monOpts.AuditLogPath, "violations-audit-log", monOpts.AuditLogPath, "auditd's log file as mounted, for --violations-source=auditd.")
	f.DurationVar(&monOpts.EventInterval, "violations-event-interval", monOpts.EventInterval, "Least time between two writes of the Event of one container's syscall and action (records in between are counted into it).")
	f.BoolVar(&monOpts.ForkTracking, "violations-fork-tracking", false, "Attribute the records of processes that exit before they are looked up (a shell's refused child, a recorded container's short-lived commands) through the kernel's fork events. Needs CAP_NET_ADMIN and the host's network namespace (hostNetwork).")
	f.StringVar(&monOpts.RecordingDir, "recording-dir", "", "Enables recording (docs/recording.md): the agent's writable mount of <seccomp root>/seccomp-guard on the host, where it writes the logging profile seccomp-guard/recording.json. The records of pods that run under it go to status.recordings of the node's inventory, not to violations. Needs --violations-source.")
	f.DurationVar(&monOpts.RecordingInterval, "recording-interval", monOpts.RecordingInterval, "Least time between two writes of status.recordings.")
	f.DurationVar(&monOpts.RecordingRetention, "recording-retention", monOpts.RecordingRetention, "Drop a recording nothing was added to for this long (0 keeps it until the agent's inventory is deleted).")
	logFlags := goflag.NewFlagSet("log", goflag.ContinueOnError)
	zapOpts.BindFlags(logFlags)
	f.AddGoFlagSet(logFlags)
	return cmd
}
