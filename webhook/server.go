package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"time"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/certs"
	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
	"github.com/seccomp-guard/seccomp-guard/inventory"
)

// Paths the webhooks are served on.
const (
	MutatePath   = "/mutate"
	ValidatePath = "/validate"
)

// LeaderElectionID names the webhook's leader-election Lease. It is outside
// the form of an agent's heartbeat Lease (policy.LeasePrefix), so it never
// reads as the heartbeat of a node; the chart's RBAC names it.
const LeaderElectionID = "seccomp-guard-webhook-leader"

// Options configure the webhook server. Zero values take the defaults named
// on each field (DefaultOptions).
type Options struct {
	// Port of the webhook server. Default 9443.
	Port int
	// CertDir holds tls.crt and tls.key, reloaded when they change. Unused with
	// Certificates. Default /tmp/k8s-webhook-server/serving-certs.
	CertDir string
	// Certificates, when set, makes the webhook issue and rotate its own
	// certificates (--cert-mode=self-managed) instead of reading CertDir.
	Certificates *certs.Options
	// MetricsBindAddress serves Prometheus metrics ("0" disables). Default ":8080".
	MetricsBindAddress string
	// HealthProbeBindAddress serves /healthz and /readyz. Default ":8081".
	HealthProbeBindAddress string
	// TLSMinVersion is "1.2" (default) or "1.3".
	TLSMinVersion string
	// ClientCAFile, when set, makes the webhook server (not the metrics or
	// probe servers) require a client certificate signed by a CA in this PEM
	// file (RequireClientCertificates). Default "": no client certificate.
	ClientCAFile string
	// EnableHTTP2 offers h2 to clients. Off by default (HTTP/2 Rapid Reset, CVE-2023-44487).
	EnableHTTP2 bool
	// LeaderElection makes one replica the writer of the policy's status
	// and the self-managed certificates (Elector); every replica serves
	// admission. Off: this replica always writes.
	LeaderElection bool
	// LeaderElectionNamespace holds the leader-election Lease. Default: the pod's namespace.
	LeaderElectionNamespace string
	// LeaseDuration and RenewDeadline of the leader-election Lease. A
	// leader that cannot renew within RenewDeadline (an API server outage)
	// stops its leader work and campaigns again; the process goes on
	// serving. A long deadline keeps the leader through an API server
	// restart, at the cost of a slower failover of the status and
	// certificate writes when the leader dies. Defaults 60s and 45s.
	LeaseDuration, RenewDeadline time.Duration
	// InventoryNamespace holds the agents' heartbeat Leases. Default
	// v1alpha1.DefaultReleaseNamespace ("seccomp-guard").
	InventoryNamespace string
	// FallbackDefaultMode is the defaultMode served while there is no
	// ClusterSeccompPolicy "default" (FallbackPolicy): the chart sets the
	// installed mode's. Default "": the built-in default, disabled.
	FallbackDefaultMode v1alpha1.Mode
	// MaxInFlight caps the reviews read and decided at once per replica, so
	// that bodies of up to 7 MiB each stay within the memory limit; more wait
	// up to a second, then get a 429. Default 4.
	MaxInFlight int
	// GracefulShutdownTimeout bounds how long in-flight requests may drain on SIGTERM. Default 30s.
	GracefulShutdownTimeout time.Duration
	// PprofBindAddress serves net/http/pprof (/debug/pprof/) for profiling
	// the webhook's heap and CPU. Default "": off. Only a loopback address
	// is accepted (PprofAddress): a profile reveals memory contents.
	PprofBindAddress string
}

// PprofAddress checks a --pprof-bind-address: empty (off) or host:port
// with a loopback IP host (127.0.0.1, ::1) or localhost.
func PprofAddress(addr string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--pprof-bind-address %q is not host:port (%w): give a loopback address such as 127.0.0.1:6060", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--pprof-bind-address %q is not a loopback address: profiles reveal memory contents, so serve them on 127.0.0.1 or [::1] only (then kubectl port-forward to reach them)", addr)
	}
	return nil
}

// DefaultOptions returns the defaults of Options: what Run uses for a zero
// field and what the webhook command's flags default to.
func DefaultOptions() Options {
	return Options{
		Port:                    9443,
		CertDir:                 "/tmp/k8s-webhook-server/serving-certs",
		MetricsBindAddress:      ":8080",
		HealthProbeBindAddress:  ":8081",
		TLSMinVersion:           "1.2",
		InventoryNamespace:      v1alpha1.DefaultReleaseNamespace,
		GracefulShutdownTimeout: 30 * time.Second,
		MaxInFlight:             4,
		LeaseDuration:           60 * time.Second,
		RenewDeadline:           45 * time.Second,
	}
}

// LeaseTimings says what is wrong with a lease duration and renew deadline,
// which client-go's leader election requires in this order:
// LeaseDuration > RenewDeadline > 1.2 × the retry period (5s).
func LeaseTimings(leaseDuration, renewDeadline time.Duration) error {
	minRenew := time.Duration(float64(leaderRetryPeriod) * 1.2)
	if renewDeadline <= minRenew || leaseDuration <= renewDeadline {
		return fmt.Errorf("--leader-elect-lease-duration %s and --leader-elect-renew-deadline %s: the lease duration must be longer than the renew deadline, and the renew deadline longer than %s (1.2 × the %s retry period)",
			leaseDuration, renewDeadline, minRenew, leaderRetryPeriod)
	}
	return nil
}

// leaderRetryPeriod is how often a candidate tries to take or renew the
// leader Lease.
const leaderRetryPeriod = 5 * time.Second

func (o *Options) setDefaults() {
	d := DefaultOptions()
	if o.Port == 0 {
		o.Port = d.Port
	}
	if o.CertDir == "" {
		o.CertDir = d.CertDir
	}
	if o.MetricsBindAddress == "" {
		o.MetricsBindAddress = d.MetricsBindAddress
	}
	if o.HealthProbeBindAddress == "" {
		o.HealthProbeBindAddress = d.HealthProbeBindAddress
	}
	if o.TLSMinVersion == "" {
		o.TLSMinVersion = d.TLSMinVersion
	}
	if o.InventoryNamespace == "" {
		o.InventoryNamespace = d.InventoryNamespace
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = d.MaxInFlight
	}
	if o.GracefulShutdownTimeout == 0 {
		o.GracefulShutdownTimeout = d.GracefulShutdownTimeout
	}
	if o.LeaseDuration == 0 {
		o.LeaseDuration = d.LeaseDuration
	}
	if o.RenewDeadline == 0 {
		o.RenewDeadline = d.RenewDeadline
	}
	if o.Certificates != nil {
		o.Certificates.SetDefaults()
	}
}

// TLSVersion parses "1.2" or "1.3".
func TLSVersion(v string) (uint16, error) {
	switch v {
	case "1.2", "VersionTLS12":
		return tls.VersionTLS12, nil
	case "1.3", "VersionTLS13":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("--tls-min-version %q is not supported: use 1.2 or 1.3", v)
}

// Run serves the webhooks until ctx is cancelled, then drains in-flight
// requests and returns.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	opts.setDefaults()
	var source *certs.Source // self-managed certificates only; set before the webhook server starts
	mgr, err := newManager(cfg, opts, func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		return source.GetCertificate(hello)
	})
	if err != nil {
		return err
	}
	if err := registerInformers(ctx, mgr); err != nil {
		return err
	}
	leader, err := setUpLeader(cfg, mgr, opts)
	if err != nil {
		return err
	}
	if opts.Certificates != nil {
		if source, err = setUpCertificates(ctx, mgr, leader, *opts.Certificates); err != nil {
			return err
		}
	}
	index, err := inventory.NewIndex(ctx, mgr.GetCache(), opts.InventoryNamespace)
	if err != nil {
		return err
	}
	store, err := setUpPolicy(mgr, leader, opts.FallbackDefaultMode)
	if err != nil {
		return err
	}
	registerHandlers(mgr, opts.MaxInFlight, Evaluator{
		Namespaces: &CachedNamespaces{Cache: mgr.GetCache(), API: mgr.GetAPIReader()},
		Policy:     store,
		Nodes:      index,
		Metrics:    NewMetrics(metrics.Registry),
	})
	metrics.Registry.MustRegister(NewInventoryAgeCollector(index, nil))
	if err := addProbes(mgr, store, source); err != nil {
		return err
	}
	log.FromContext(ctx).Info("starting seccomp-guard webhook", "port", opts.Port, "certDir", opts.CertDir, "selfManagedCerts", opts.Certificates != nil,
		"tlsMinVersion", opts.TLSMinVersion, "http2", opts.EnableHTTP2, "clientCAFile", opts.ClientCAFile, "leaderElection", opts.LeaderElection)
	return mgr.Start(ctx)
}

// setUpLeader returns who writes the policy's status and the certificates:
// with leader election, an Elector the manager runs on every replica (nil
// leader work yet: setUpCertificates and setUpPolicy add theirs); without,
// this replica, always. The gauge seccomp_guard_webhook_leader says which.
func setUpLeader(cfg *rest.Config, mgr manager.Manager, opts Options) (Leader, error) {
	metric := NewLeaderMetric(metrics.Registry)
	if !opts.LeaderElection {
		metric.Set(1)
		return AlwaysLeader{}, nil
	}
	identity, err := candidateIdentity()
	if err != nil {
		return nil, err
	}
	elector, err := NewElector(cfg, ElectorOptions{
		Namespace:     opts.LeaderElectionNamespace,
		Identity:      identity,
		LeaseDuration: opts.LeaseDuration,
		RenewDeadline: opts.RenewDeadline,
		RetryPeriod:   leaderRetryPeriod,
		// client-go's resourcelock takes only the old events API's recorder.
		EventRecorder: mgr.GetEventRecorderFor(identity), //nolint:staticcheck // resourcelock.EventRecorder is the old events API's
		Metric:        metric,
	})
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(elector); err != nil {
		return nil, fmt.Errorf("adding the leader elector: %w", err)
	}
	return elector, nil
}

// newManager creates the manager with its webhook, metrics and probe
// servers and its cache. With self-managed certificates the webhook server
// takes its certificate from getCertificate instead of CertDir.
func newManager(cfg *rest.Config, opts Options, getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)) (manager.Manager, error) {
	minTLS, err := TLSVersion(opts.TLSMinVersion)
	if err != nil {
		return nil, err
	}
	if err := PprofAddress(opts.PprofBindAddress); err != nil {
		return nil, err
	}
	tlsOpts := []func(*tls.Config){func(c *tls.Config) {
		c.MinVersion = minTLS
		if !opts.EnableHTTP2 {
			c.NextProtos = []string{"http/1.1"}
		}
	}}
	byObject := inventory.CacheByObject(opts.InventoryNamespace)
	// Every admission request reads its namespace's labels and annotations
	// from the cache: without a deep copy (policy/ only reads them;
	// TestNamespaceNotModified), which was 4% of a small pod's CPU.
	byObject[NewNamespaceMetadata()] = cache.ByObject{UnsafeDisableDeepCopy: new(true)}
	webhookTLSOpts := tlsOpts
	if opts.Certificates != nil {
		maps.Copy(byObject, certs.CacheByObject(*opts.Certificates))
		// Instead of certwatcher.
		webhookTLSOpts = append(slices.Clone(tlsOpts), func(c *tls.Config) { c.GetCertificate = getCertificate })
	}
	if opts.ClientCAFile != "" {
		requireClientCert, err := RequireClientCertificates(opts.ClientCAFile)
		if err != nil {
			return nil, err
		}
		webhookTLSOpts = append(slices.Clone(webhookTLSOpts), requireClientCert)
	}
	mgr, err := ctrl.NewManager(cfg, manager.Options{
		Scheme:                 scheme.Scheme,
		HealthProbeBindAddress: opts.HealthProbeBindAddress,
		PprofBindAddress:       opts.PprofBindAddress,
		Metrics:                metricsserver.Options{BindAddress: opts.MetricsBindAddress, TLSOpts: tlsOpts},
		// Not controller-runtime's leader election, which ends the process
		// when the leader cannot renew in time: the Elector (setUpLeader).
		LeaderElection:          false,
		GracefulShutdownTimeout: &opts.GracefulShutdownTimeout,
		WebhookServer: NewServer(crwebhook.Options{
			Port:    opts.Port,
			CertDir: opts.CertDir,
			TLSOpts: webhookTLSOpts,
		}),
		Cache: cache.Options{
			// The request path must never start an informer and wait for it.
			ReaderFailOnMissingInformer: true,
			ByObject:                    byObject,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	return mgr, nil
}

// registerInformers registers the informers the request path reads before
// the cache starts.
func registerInformers(ctx context.Context, mgr manager.Manager) error {
	for _, obj := range []client.Object{NewNamespaceMetadata(), &v1alpha1.ClusterSeccompPolicy{}} {
		if _, err := mgr.GetCache().GetInformer(ctx, obj, cache.BlockUntilSynced(false)); err != nil {
			return fmt.Errorf("watching %T: %w", obj, err)
		}
	}
	return nil
}

// setUpPolicy returns the store the webhooks read the policy from, kept
// current by the policy reconciler it adds to the manager. Until the
// reconciler runs, and while there is no ClusterSeccompPolicy "default", the
// store serves the fallback for fallbackMode. The reconciler writes the
// status while leader leads, and at once when an Elector makes this replica
// the leader.
func setUpPolicy(mgr manager.Manager, leader Leader, fallbackMode v1alpha1.Mode) (*PolicyStore, error) {
	fallback, err := FallbackPolicy(fallbackMode)
	if err != nil {
		return nil, err
	}
	store := NewPolicyStore()
	store.Set(fallback)
	reconciler := &PolicyReconciler{Client: mgr.GetClient(), Store: store, Leader: leader, Fallback: fallback}
	if elector, ok := leader.(*Elector); ok {
		elections := make(chan event.GenericEvent, 1)
		reconciler.Elections = elections
		err := elector.Add(manager.RunnableFunc(func(context.Context) error {
			select {
			case elections <- ElectedEvent():
			default: // one is pending already
			}
			return nil
		}))
		if err != nil {
			return nil, err
		}
	}
	if err := reconciler.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the policy reconciler: %w", err)
	}
	return store, nil
}

// registerHandlers serves the two webhooks on their paths.
func registerHandlers(mgr manager.Manager, maxInFlight int, shared Evaluator) {
	server := mgr.GetWebhookServer()
	// One cap for both paths: together they share the replica's memory.
	slots := make(chan struct{}, maxInFlight)
	limit := func(h http.Handler) http.Handler { return limitInFlightSlots(slots, time.Second, h) }
	server.Register(MutatePath, limit(NewMutatingEndpoint(&MutatingHandler{shared})))
	server.Register(ValidatePath, limit(NewValidatingEndpoint(&ValidatingHandler{shared})))
}

// addProbes adds /healthz and /readyz: ready once the webhook server
// listens, the informers have synced, the policy in the cache is the one
// served and, with self-managed certificates, a certificate is loaded.
func addProbes(mgr manager.Manager, store *PolicyStore, source *certs.Source) error {
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("webhook-server", mgr.GetWebhookServer().StartedChecker()); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("informers", func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return errors.New("informer caches have not synced yet")
		}
		return store.Loaded(req.Context(), mgr.GetCache())
	}); err != nil {
		return err
	}
	if source != nil {
		if err := mgr.AddReadyzCheck("certificate", source.Loaded); err != nil {
			return err
		}
	}
	return nil
}

// setUpCertificates serves the self-managed certificate on this replica and
// adds the manager that issues it, which runs on the leader only: as the
// Elector's leader work, or, without leader election, in the manager.
func setUpCertificates(ctx context.Context, mgr manager.Manager, leader Leader, opts certs.Options) (*certs.Source, error) {
	logger := log.FromContext(ctx).WithName("certs")
	source, err := certs.NewSource(ctx, mgr.GetCache(), opts.Secret, logger)
	if err != nil {
		return nil, err
	}
	issuer := &certs.Manager{Client: mgr.GetClient(), Informers: mgr.GetCache(), Options: opts, Log: logger}
	add := mgr.Add
	if elector, ok := leader.(*Elector); ok {
		add = elector.Add
	}
	if err := add(issuer); err != nil {
		return nil, fmt.Errorf("adding the certificate manager: %w", err)
	}
	return source, nil
}
