// Command cert-manager runs, in one process against a kubeconfig, the parts of
// cert-manager that a chart using cert-manager Certificates needs:
//
//   - the controller: the issuers and clusterissuers controllers, the
//     certificates controllers (trigger, keymanager, requestmanager,
//     readiness, issuing, revisionmanager, metrics), the CertificateRequest
//     approver and the CertificateRequest signers for SelfSigned and CA
//     issuers;
//   - the cainjector: caBundle injection into ValidatingWebhookConfigurations,
//     MutatingWebhookConfigurations, APIServices and CRD conversion webhooks
//     from the cert-manager.io/inject-ca-from(-secret) annotations.
//
// The binaries cert-manager ships (cmd/controller, cmd/cainjector) are nested,
// untagged modules that the Go module proxy does not serve. Everything they
// run lives in the root module, which is served: this main wires those
// packages the way cmd/controller/app and cmd/cainjector/app of the same
// release do, and nothing else. The controllers are the ones registered in
// controller.Known() by the packages imported below, built by the real
// controller.ContextFactory, started with the real informer factories; the
// injectors are registered by cainjector.RegisterAllInjectors on a
// controller-runtime manager configured like cmd/cainjector's. Leader
// election is off (one instance per test cluster). The ACME, Vault and
// Venafi issuers are not compiled in.
//
// The process is ready (GET /readyz on --healthz-address answers 200) once
// every controller's informers and the cainjector's caches have synced.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiext "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	kscheme "k8s.io/client-go/kubernetes/scheme"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	apireg "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmscheme "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned/scheme"
	"github.com/cert-manager/cert-manager/pkg/controller"
	"github.com/cert-manager/cert-manager/pkg/controller/cainjector"
	crapprover "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	crca "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	crselfsigned "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	certificatesmetrics "github.com/cert-manager/cert-manager/pkg/controller/certificates/metrics"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	"github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	"github.com/cert-manager/cert-manager/pkg/controller/issuers"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"

	// The issuer implementations the issuers, clusterissuers and
	// certificaterequests controllers look up by type (cmd/controller/app
	// imports these the same way, plus ACME, Vault and Venafi).
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

// defaultControllers are the controllers of cert-manager's
// DefaultEnabledControllers (internal/apis/config/controller/v1alpha1) that
// this binary compiles in: all but the ACME, Vault and Venafi ones and the
// ingress shim.
var defaultControllers = []string{
	issuers.ControllerName,
	clusterissuers.ControllerName,
	certificatesmetrics.ControllerName,
	crapprover.ControllerName,
	crca.CRControllerName,
	crselfsigned.CRControllerName,
	trigger.ControllerName,
	issuing.ControllerName,
	keymanager.ControllerName,
	requestmanager.ControllerName,
	readiness.ControllerName,
	revisionmanager.ControllerName,
}

// Defaults of cert-manager's controller configuration
// (internal/apis/config/controller/v1alpha1/defaults.go of the same release)
// that the context factory takes.
const (
	defaultKubernetesAPIQPS                         = 20
	defaultKubernetesAPIBurst                       = 50
	defaultNumberOfConcurrentWorkers                = 5
	defaultMaxConcurrentChallenges                  = 60
	defaultCertificateRequestMinimumBackoffDuration = time.Hour
	defaultCertificateRequestMaximumBackoffDuration = 32 * time.Hour
)

// defaultCopiedAnnotationPrefixes is cert-manager's default for
// --copied-annotation-prefixes: every annotation but kubectl's, Flux's and
// Argo CD's is copied from a Certificate to its CertificateRequests.
var defaultCopiedAnnotationPrefixes = []string{"*", "-kubectl.kubernetes.io/", "-fluxcd.io/", "-argocd.argoproj.io/"}

type options struct {
	kubeconfig                string
	namespace                 string
	clusterResourceNamespace  string
	controllers               string
	featureGates              string
	healthzAddress            string
	metricsAddress            string
	cainjectorMetricsAddress  string
	cainjector                bool
	enableCertificateOwnerRef bool
}

func main() {
	var o options
	fs := flag.NewFlagSet(os.Args[0], flag.ContinueOnError)
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster to run against (required)")
	fs.StringVar(&o.namespace, "namespace", "", "only watch this namespace (default: all namespaces; a namespace disables the clusterissuers controller, as in cert-manager)")
	fs.StringVar(&o.clusterResourceNamespace, "cluster-resource-namespace", "kube-system", "namespace of the Secrets ClusterIssuers refer to")
	fs.StringVar(&o.controllers, "controllers", strings.Join(defaultControllers, ","), "comma-separated controllers to run; known: "+strings.Join(known(), ","))
	fs.StringVar(&o.featureGates, "feature-gates", "", "cert-manager controller feature gates, e.g. SecretsFilteredCaching=false")
	fs.StringVar(&o.healthzAddress, "healthz-address", "127.0.0.1:9403", "address of /readyz and /livez (loopback only)")
	fs.StringVar(&o.metricsAddress, "metrics-address", "0", "address of the controller's Prometheus metrics (loopback only), \"0\" to disable")
	fs.StringVar(&o.cainjectorMetricsAddress, "cainjector-metrics-address", "0", "address of the cainjector's Prometheus metrics (loopback only), \"0\" to disable")
	fs.BoolVar(&o.cainjector, "cainjector", true, "also run the cainjector")
	fs.BoolVar(&o.enableCertificateOwnerRef, "enable-certificate-owner-ref", false, "make each Certificate the owner of its Secret, as cert-manager's flag of the same name")
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	// cert-manager's chart runs its components at --v=2 (logf.InfoLevel):
	// at 0 they log errors only.
	_ = klogFlags.Set("v", "2")
	klogFlags.VisitAll(func(f *flag.Flag) { fs.Var(f.Value, f.Name, f.Usage) })
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "cert-manager: %v\n", err)
		os.Exit(1)
	}
}

// known lists the controllers registered by the imported packages.
func known() []string {
	var names []string
	for n := range controller.Known() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (o options) validate() ([]string, error) {
	if o.kubeconfig == "" {
		return nil, errors.New("--kubeconfig is required: the kubeconfig of the cluster cert-manager should run against")
	}
	if err := loopbackOnly("--healthz-address", o.healthzAddress); err != nil {
		return nil, err
	}
	for flagName, addr := range map[string]string{"--metrics-address": o.metricsAddress, "--cainjector-metrics-address": o.cainjectorMetricsAddress} {
		if addr == "0" {
			continue
		}
		if err := loopbackOnly(flagName, addr); err != nil {
			return nil, err
		}
	}
	var enabled []string
	for n := range strings.SplitSeq(o.controllers, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if _, ok := controller.Known()[n]; !ok {
			return nil, fmt.Errorf("--controllers: unknown controller %q; this binary has: %s", n, strings.Join(known(), ", "))
		}
		if o.namespace != "" && n == clusterissuers.ControllerName {
			continue // as cmd/controller: ClusterIssuers are not watched in a single namespace
		}
		enabled = append(enabled, n)
	}
	return enabled, nil
}

// loopbackOnly refuses listen addresses that are not on a loopback interface:
// this binary is for test clusters on this machine.
func loopbackOnly(flagName, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: %w (want host:port, e.g. 127.0.0.1:9403)", flagName, addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%s %q: listen on a loopback address only, e.g. 127.0.0.1:%s", flagName, addr, port)
	}
	return nil
}

func run(o options) error {
	enabled, err := o.validate()
	if err != nil {
		return err
	}
	if o.featureGates != "" {
		if err := utilfeature.DefaultMutableFeatureGate.Set(o.featureGates); err != nil {
			return fmt.Errorf("--feature-gates: %w", err)
		}
	}
	logf.InitLogs()
	ctrl.SetLogger(logf.Log)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, logf.Log)
	log := logf.FromContext(ctx)
	g, ctx := errgroup.WithContext(ctx)

	var controllerReady, injectorReady atomic.Bool
	injectorReady.Store(!o.cainjector)
	healthz, err := net.Listen("tcp", o.healthzAddress)
	if err != nil {
		return fmt.Errorf("--healthz-address: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/livez", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		var waiting []string
		if !controllerReady.Load() {
			waiting = append(waiting, "controller informers")
		}
		if !injectorReady.Load() {
			waiting = append(waiting, "cainjector caches")
		}
		if len(waiting) > 0 {
			http.Error(w, "waiting for "+strings.Join(waiting, " and ")+" to sync", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	g.Go(func() error {
		if err := srv.Serve(healthz); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown) //nolint:contextcheck // ctx is already done
	})

	g.Go(func() error { return runController(ctx, o, enabled, &controllerReady) })
	if o.cainjector {
		g.Go(func() error { return runCAInjector(ctx, o, &injectorReady) })
	}
	log.Info("starting", "version", util.AppVersion, "controllers", enabled, "cainjector", o.cainjector)
	err = g.Wait()
	logf.FlushLogs()
	return err
}

// runController does what cmd/controller/app.Run does with leader election
// off: build the ContextFactory, construct every enabled controller from
// controller.Known(), run each with the configured number of workers, and
// start the shared informer factories.
func runController(ctx context.Context, o options, enabled []string, ready *atomic.Bool) error {
	log := logf.FromContext(ctx, "controller")
	ctx = logf.NewContext(ctx, log)
	factory, err := controller.NewContextFactory(ctx, controller.ContextOptions{
		Kubeconfig:         o.kubeconfig,
		KubernetesAPIQPS:   defaultKubernetesAPIQPS,
		KubernetesAPIBurst: defaultKubernetesAPIBurst,
		Namespace:          o.namespace,
		IssuerOptions: controller.IssuerOptions{
			ClusterResourceNamespace:        o.clusterResourceNamespace,
			ClusterIssuerAmbientCredentials: true,
		},
		SchedulerOptions: controller.SchedulerOptions{MaxConcurrentChallenges: defaultMaxConcurrentChallenges},
		CertificateOptions: controller.CertificateOptions{
			EnableOwnerRef:                           o.enableCertificateOwnerRef,
			CopiedAnnotationPrefixes:                 defaultCopiedAnnotationPrefixes,
			CertificateRequestMinimumBackoffDuration: defaultCertificateRequestMinimumBackoffDuration,
			CertificateRequestMaximumBackoffDuration: defaultCertificateRequestMaximumBackoffDuration,
		},
	})
	if err != nil {
		return fmt.Errorf("building the controller context: %w", err)
	}
	cctx, err := factory.Build()
	if err != nil {
		return fmt.Errorf("building the controller context: %w", err)
	}

	if o.metricsAddress != "0" {
		ln, err := net.Listen("tcp", o.metricsAddress)
		if err != nil {
			return fmt.Errorf("--metrics-address: %w", err)
		}
		// The collectors of cert-manager's resource metrics
		// (certmanager_certificate_*, certmanager_issuer_*, ...), which
		// read the shared informers' listers; their Setup functions are
		// called by cmd/controller only (no caller in the root module).
		// The ACME challenge collector is left out with the ACME controllers.
		cmInformers := cctx.SharedInformerFactory.Certmanager().V1()
		cctx.Metrics.SetupCertificateCollector(cmInformers.Certificates().Lister())
		cctx.Metrics.SetupIssuerCollector(cmInformers.Issuers().Lister())
		if o.namespace == "" {
			cctx.Metrics.SetupClusterIssuerCollector(cmInformers.ClusterIssuers().Lister())
		}
		metrics := cctx.Metrics.NewServer(ln)
		go func() { _ = metrics.Serve(ln) }()
		go func() {
			<-ctx.Done()
			_ = metrics.Close()
		}()
	}

	g, ctx := errgroup.WithContext(ctx)
	for _, name := range enabled {
		iface, err := controller.Known()[name](factory)
		if err != nil {
			return fmt.Errorf("starting controller %s: %w", name, err)
		}
		g.Go(func() error {
			log.V(logf.InfoLevel).Info("starting controller", "controller", name)
			return iface.Run(defaultNumberOfConcurrentWorkers, ctx)
		})
	}
	cctx.SharedInformerFactory.Start(ctx.Done())
	cctx.KubeSharedInformerFactory.Start(ctx.Done())
	cctx.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())
	g.Go(func() error {
		for _, synced := range []map[string]bool{
			typeNames(cctx.SharedInformerFactory.WaitForCacheSync(ctx.Done())),
			cctx.KubeSharedInformerFactory.WaitForCacheSync(ctx.Done()),
		} {
			for informer, ok := range synced {
				if !ok {
					if ctx.Err() != nil {
						return nil
					}
					return fmt.Errorf("the %s informer did not sync", informer)
				}
			}
		}
		log.Info("informers synced; controllers ready")
		ready.Store(true)
		return nil
	})
	err = g.Wait()
	cctx.HTTP01ResourceMetadataInformersFactory.Shutdown()
	cctx.KubeSharedInformerFactory.Shutdown()
	cctx.SharedInformerFactory.Shutdown()
	if err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	return nil
}

func typeNames(m map[reflect.Type]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k.String()] = v
	}
	return out
}

// runCAInjector does what cmd/cainjector/app.Run does with leader election,
// pprof and the metrics TLS options off: a controller-runtime manager that
// does not cache Secrets, the wait for the Certificate CRD, and
// cainjector.RegisterAllInjectors for all four injectable kinds with the
// Certificate data source on.
func runCAInjector(ctx context.Context, o options, ready *atomic.Bool) error {
	log := logf.FromContext(ctx, "cainjector")
	ctx = logf.NewContext(ctx, log)
	cfg, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return fmt.Errorf("cainjector: reading --kubeconfig: %w", err)
	}
	cfg = util.RestConfigWithUserAgent(cfg, "cainjector")

	var defaultNamespaces map[string]cache.Config
	if o.namespace != "" {
		defaultNamespaces = map[string]cache.Config{o.namespace: {}}
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(kscheme.AddToScheme(scheme))
	utilruntime.Must(cmscheme.AddToScheme(scheme))
	utilruntime.Must(apiext.AddToScheme(scheme))
	utilruntime.Must(apireg.AddToScheme(scheme))
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme,
		Cache: cache.Options{
			ReaderFailOnMissingInformer: true,
			DefaultNamespaces:           defaultNamespaces,
		},
		// As cmd/cainjector: Secrets are read from the API server, their
		// metadata watched, never their data cached.
		Client:                 client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		LeaderElection:         false,
		Metrics:                metricsserver.Options{BindAddress: o.cainjectorMetricsAddress},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		return fmt.Errorf("cainjector: creating the manager: %w", err)
	}

	// As cmd/cainjector with the Certificate data source on (its default):
	// wait up to 5 minutes for the Certificate CRD.
	direct, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
	if err != nil {
		return fmt.Errorf("cainjector: creating a client: %w", err)
	}
	err = wait.PollUntilContextTimeout(ctx, time.Second, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		err := direct.Get(ctx, types.NamespacedName{Name: "certificates.cert-manager.io"}, &apiext.CustomResourceDefinition{})
		if apierrors.IsNotFound(err) {
			log.Info("the certificates.cert-manager.io CRD is not installed yet; retrying")
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("cainjector: waiting for the certificates.cert-manager.io CRD (install the CRDs from bin/cert-manager/crds): %w", err)
	}

	if err := cainjector.RegisterAllInjectors(ctx, mgr, cainjector.SetupOptions{
		Namespace:                    o.namespace,
		EnableCertificatesDataSource: true,
		EnabledReconcilersFor: map[string]bool{
			cainjector.MutatingWebhookConfigurationName:   true,
			cainjector.ValidatingWebhookConfigurationName: true,
			cainjector.APIServiceName:                     true,
			cainjector.CustomResourceDefinitionName:       true,
		},
	}); err != nil {
		return fmt.Errorf("cainjector: registering the injectors: %w", err)
	}
	// Ready once the informers the injectors read from have synced: the
	// four injectable kinds, Certificates and the metadata of Secrets (the
	// same shared informers the controllers' watches use).
	secretMeta := &metav1.PartialObjectMetadata{}
	secretMeta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	watched := []client.Object{
		&admissionregistrationv1.ValidatingWebhookConfiguration{}, &admissionregistrationv1.MutatingWebhookConfiguration{},
		&apireg.APIService{}, &apiext.CustomResourceDefinition{}, &cmapi.Certificate{}, secretMeta,
	}
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		var synced []toolscache.InformerSynced
		for _, obj := range watched {
			informer, err := mgr.GetCache().GetInformer(ctx, obj)
			if err != nil {
				return fmt.Errorf("cainjector: informer for %T: %w", obj, err)
			}
			synced = append(synced, informer.HasSynced)
		}
		if toolscache.WaitForCacheSync(ctx.Done(), synced...) {
			log.Info("caches synced; cainjector ready")
			ready.Store(true)
		}
		return nil
	})); err != nil {
		return fmt.Errorf("cainjector: %w", err)
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("cainjector: %w", err)
	}
	return nil
}
