package main

import (
	goflag "flag"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/webhook"
)

func newWebhookCommand() *cobra.Command {
	var (
		opts       = webhook.DefaultOptions()
		certFlags  certFlags
		kubeconfig string
		// fallbackMode is opts.FallbackDefaultMode, parsed in RunE.
		fallbackMode string
		zapOpts      = zap.Options{}
	)
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Serve the mutating and validating admission webhooks",
		Long: `Serve seccomp-guard's admission webhooks: /mutate defaults pods and pod
templates to a seccomp profile, /validate refuses Unconfined and Localhost
profiles that are invalid or missing on the nodes where the pod can run.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := webhook.TLSVersion(opts.TLSMinVersion); err != nil {
				return usageError{err: err}
			}
			if err := webhook.PprofAddress(opts.PprofBindAddress); err != nil {
				return usageError{err: err}
			}
			if err := webhook.LeaseTimings(opts.LeaseDuration, opts.RenewDeadline); err != nil {
				return usageError{err: err}
			}
			if opts.ClientCAFile != "" {
				if _, err := webhook.RequireClientCertificates(opts.ClientCAFile); err != nil {
					return usageError{err: err}
				}
			}
			opts.FallbackDefaultMode = v1alpha1.Mode(fallbackMode)
			if _, err := webhook.FallbackPolicy(opts.FallbackDefaultMode); err != nil {
				return usageError{err: err}
			}
			certOpts, err := certFlags.options(cmd.Flags(), opts.InventoryNamespace)
			if err != nil {
				return err
			}
			opts.Certificates = certOpts
			ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
			cfg, err := restConfig(kubeconfig)
			if err != nil {
				return err
			}
			return webhook.Run(cmd.Context(), cfg, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "Path to a kubeconfig file; in-cluster configuration when empty.")
	f.IntVar(&opts.Port, "port", opts.Port, "Port the webhook server listens on.")
	f.StringVar(&opts.CertDir, "cert-dir", opts.CertDir, "Directory with tls.crt and tls.key; reloaded when they change.")
	f.StringVar(&opts.MetricsBindAddress, "metrics-bind-address", opts.MetricsBindAddress, `Address of the Prometheus metrics endpoint; "0" disables it.`)
	f.StringVar(&opts.HealthProbeBindAddress, "health-probe-bind-address", opts.HealthProbeBindAddress, "Address of the /healthz and /readyz endpoints.")
	f.StringVar(&opts.TLSMinVersion, "tls-min-version", opts.TLSMinVersion, "Minimum TLS version: 1.2 or 1.3.")
	f.StringVar(&opts.ClientCAFile, "client-ca-file", opts.ClientCAFile,
		"PEM file of the CA(s) that sign the API server's webhook client certificate; when set, the webhook port refuses TLS clients without such a certificate (metrics and probes are unaffected). Read at start.")
	f.BoolVar(&opts.EnableHTTP2, "enable-http2", opts.EnableHTTP2, "Offer HTTP/2 to clients (off: HTTP/2 Rapid Reset, CVE-2023-44487).")
	f.BoolVar(&opts.LeaderElection, "leader-elect", opts.LeaderElection, "Elect one replica to write the ClusterSeccompPolicy status and the self-managed certificates; every replica serves admission. Off: this replica writes them.")
	f.StringVar(&opts.LeaderElectionNamespace, "leader-election-namespace", opts.LeaderElectionNamespace, "Namespace of the leader-election Lease; the pod's namespace when empty.")
	f.DurationVar(&opts.LeaseDuration, "leader-elect-lease-duration", opts.LeaseDuration, "How long a leader's Lease holds before another replica may take it.")
	f.DurationVar(&opts.RenewDeadline, "leader-elect-renew-deadline", opts.RenewDeadline, "How long the leader keeps trying to renew before it stops leading: it then stops writing status and certificates and campaigns again, and keeps serving admission. Longer than an API server restart, so that one does not move the leadership.")
	f.StringVar(&opts.InventoryNamespace, "inventory-namespace", opts.InventoryNamespace, "Namespace of the agents' heartbeat Leases (the release namespace).")
	f.StringVar(&fallbackMode, "fallback-default-mode", string(opts.FallbackDefaultMode),
		`defaultMode served while there is no ClusterSeccompPolicy "default" (disabled, audit, warn or enforce); the built-in default, disabled, when empty. The chart sets the installed mode's: enforce for cluster-wide.`)
	f.IntVar(&opts.MaxInFlight, "max-in-flight", opts.MaxInFlight, "Reviews read and decided at once on this replica (each body may be up to 7 MiB); more wait up to 1s, then get a 429.")
	f.DurationVar(&opts.GracefulShutdownTimeout, "graceful-shutdown-timeout", opts.GracefulShutdownTimeout, "How long in-flight requests may drain after SIGTERM.")
	f.StringVar(&opts.PprofBindAddress, "pprof-bind-address", opts.PprofBindAddress,
		`Loopback address (127.0.0.1:PORT) that serves net/http/pprof for profiling; empty (the default) disables it.`)
	certFlags.bind(f)
	logFlags := goflag.NewFlagSet("log", goflag.ContinueOnError)
	zapOpts.BindFlags(logFlags)
	f.AddGoFlagSet(logFlags)
	return cmd
}

// restConfig loads a kubeconfig file, or the in-cluster configuration.
func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	return ctrl.GetConfig()
}
