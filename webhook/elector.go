package webhook

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/util/uuid"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Leader says whether this replica is the one writer of shared state (the
// policy's status, the self-managed certificates) now.
type Leader interface {
	Leading() bool
}

// AlwaysLeader is the Leader of a replica that runs without leader
// election (--leader-elect=false): it always writes.
type AlwaysLeader struct{}

// Leading implements Leader.
func (AlwaysLeader) Leading() bool { return true }

// ElectorOptions configure an Elector. Zero durations take the defaults
// named on each field.
type ElectorOptions struct {
	// Namespace of the Lease. Default: the pod's namespace (its service
	// account's namespace file); outside a pod it must be set.
	Namespace string
	// Name of the Lease. Default LeaderElectionID.
	Name string
	// Identity of this candidate in the Lease's holderIdentity. Default, as
	// controller-runtime's: the host name, "_" and a fresh UUID.
	Identity string
	// LeaseDuration is how long a Lease not renewed holds before another
	// candidate may take it. Default 60s.
	LeaseDuration time.Duration
	// RenewDeadline is how long the leader keeps trying to renew before it
	// stops leading. Default 45s.
	RenewDeadline time.Duration
	// RetryPeriod is how often a candidate tries to take or renew the
	// Lease. Default 5s.
	RetryPeriod time.Duration
	// EventRecorder records "became leader" and "stopped leading" on the
	// Lease. Default nil: no events.
	EventRecorder resourcelock.EventRecorder
	// Metric, when set, is 1 while this replica leads and 0 otherwise
	// (NewLeaderMetric). Default nil.
	Metric prometheus.Gauge
}

func (o *ElectorOptions) setDefaults() error {
	d := DefaultOptions()
	if o.Name == "" {
		o.Name = LeaderElectionID
	}
	if o.LeaseDuration == 0 {
		o.LeaseDuration = d.LeaseDuration
	}
	if o.RenewDeadline == 0 {
		o.RenewDeadline = d.RenewDeadline
	}
	if o.RetryPeriod == 0 {
		o.RetryPeriod = leaderRetryPeriod
	}
	if o.Namespace == "" {
		ns, err := os.ReadFile(inClusterNamespaceFile)
		if err != nil {
			return fmt.Errorf("--leader-election-namespace is empty and the pod's namespace is unknown (%w): set --leader-election-namespace to the namespace of the leader Lease %q", err, o.Name)
		}
		o.Namespace = strings.TrimSpace(string(ns))
	}
	if o.Identity == "" {
		id, err := candidateIdentity()
		if err != nil {
			return err
		}
		o.Identity = id
	}
	return nil
}

// candidateIdentity names this process in the Lease as controller-runtime
// does: the host name (the pod's name), "_" and a fresh UUID.
func candidateIdentity() (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("naming this leader-election candidate after its host: %w", err)
	}
	return host + "_" + string(uuid.NewUUID()), nil
}

// inClusterNamespaceFile holds the pod's namespace, as in every pod with a
// service account token.
const inClusterNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Elector elects one replica among the webhook's to write shared state, on
// a coordination.k8s.io Lease (client-go's leaderelection). Unlike
// controller-runtime's leader election, which ends the process when the
// leader cannot renew in time, it campaigns for as long as the process
// runs: when it loses the Lease (an API server outage longer than the
// renew deadline, a partition) it stops the leader's work, logs it and
// campaigns again. Admission never depends on it: every replica serves
// reviews whether it leads or not.
//
// It is a manager.Runnable that needs no leader election itself; the work
// (Add) starts each time this replica becomes the leader, with a context
// that ends when it stops leading, and must stop when that context ends.
type Elector struct {
	opts ElectorOptions
	lock resourcelock.Interface

	mu      sync.Mutex
	work    []manager.Runnable
	started bool

	// leading is the context of the leader work while this replica
	// leads: it ends, synchronously, when the election or the process
	// does, before any work sees it end.
	leading atomic.Pointer[context.Context]
}

var _ manager.LeaderElectionRunnable = (*Elector)(nil)

// NewElector returns an elector on the Lease opts.Namespace/opts.Name,
// reached with cfg. Its requests time out after half the renew deadline
// (at least a second), as controller-runtime's do, so that one hung request
// does not use up the deadline.
func NewElector(cfg *rest.Config, opts ElectorOptions) (*Elector, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	cfg = rest.AddUserAgent(rest.CopyConfig(cfg), "leader-election")
	cfg.Timeout = max(opts.RenewDeadline/2, time.Second)
	client, err := coordinationv1client.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the leader-election client: %w", err)
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, opts.Namespace, opts.Name, nil, client,
		resourcelock.ResourceLockConfig{Identity: opts.Identity, EventRecorder: opts.EventRecorder})
	if err != nil {
		return nil, fmt.Errorf("creating the leader-election lock: %w", err)
	}
	e := &Elector{opts: opts, lock: lock}
	// client-go checks the timings when it creates an elector: fail here,
	// at start, rather than on the first campaign.
	if _, err := e.newLeaderElector(func(context.Context) {}); err != nil {
		return nil, fmt.Errorf("leader election on Lease %s/%s: %w", opts.Namespace, opts.Name, err)
	}
	if opts.Metric != nil {
		opts.Metric.Set(0)
	}
	return e, nil
}

// Add registers leader work, run each time this replica becomes the leader.
// It must be called before Start. A runnable may return early (nil); one
// that fails (an error while it still leads) makes this replica give up the
// Lease, so that another replica can take over, and campaign again after a
// lease duration.
func (e *Elector) Add(r manager.Runnable) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return errors.New("the elector has started: add leader work before the manager starts")
	}
	e.work = append(e.work, r)
	return nil
}

// Leading reports whether this replica leads now: false from the moment
// the leader work's context ends.
func (e *Elector) Leading() bool {
	ctx := e.leading.Load()
	return ctx != nil && (*ctx).Err() == nil
}

// Identity is this candidate's holderIdentity in the Lease.
func (e *Elector) Identity() string { return e.opts.Identity }

// NeedLeaderElection implements manager.LeaderElectionRunnable: the
// elector runs on every replica.
func (e *Elector) NeedLeaderElection() bool { return false }

// Start campaigns until ctx ends: it runs the leader work while this
// replica holds the Lease, and campaigns again whenever it loses it. On
// shutdown it stops the work first, then gives up the Lease so that
// another replica takes over at once. It never returns an error: losing
// the Lease is not a reason to stop serving admission.
func (e *Elector) Start(ctx context.Context) error {
	e.mu.Lock()
	e.started = true
	e.mu.Unlock()
	logger := log.FromContext(ctx).WithName("leader-election").WithValues("lease", e.opts.Namespace+"/"+e.opts.Name, "identity", e.opts.Identity)
	// client-go's leaderelection logs through the context's logger.
	ctx = logr.NewContext(ctx, logger)
	logger.Info("campaigning for the leader Lease; this replica serves admission whether it leads or not")
	for {
		err := e.campaign(ctx, logger)
		if ctx.Err() != nil {
			logger.Info("stopped campaigning: shutting down")
			return nil
		}
		wait := time.Duration(0)
		if err != nil {
			wait = e.opts.LeaseDuration
			logger.Error(err, "the leader work failed: gave up the leader Lease so that another replica can take over; this replica keeps serving admission and campaigns again after a lease duration",
				"campaignIn", wait)
		} else {
			logger.Info("lost the leader Lease: it could not be renewed within the renew deadline (is the API server reachable?); stopped the leader work (policy status, certificates); this replica keeps serving admission and campaigns again",
				"renewDeadline", e.opts.RenewDeadline)
		}
		if wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				logger.Info("stopped campaigning: shutting down")
				return nil
			case <-timer.C:
			}
		}
	}
}

// campaign runs one election: it waits for the Lease, runs the leader work
// while it holds it, and returns once it no longer holds it and the work
// has stopped. The error is the work's, when it made this replica step
// down; nil when the Lease was lost or ctx ended.
func (e *Elector) campaign(ctx context.Context, logger logr.Logger) error {
	// The election has its own context: on shutdown the work stops first,
	// and only then is the Lease released (ReleaseOnCancel).
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	t := &term{stepDown: stopRun}
	le, err := e.newLeaderElector(func(leCtx context.Context) { e.lead(ctx, leCtx, t, logger) })
	if err != nil {
		return err // checked by NewElector
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		le.Run(runCtx)
	}()
	select {
	case <-done:
		t.end()
	case <-ctx.Done():
		t.end()
		stopRun()
		<-done
	}
	return t.err
}

// lead runs the leader work from when this replica becomes the leader
// until leCtx (the election) or ctx (the process) ends, or a runnable
// fails.
func (e *Elector) lead(ctx, leCtx context.Context, t *term, logger logr.Logger) {
	if !t.begin() {
		return // the election ended before its callback ran
	}
	defer t.wg.Done()
	workCtx, cancel := context.WithCancel(leCtx)
	defer cancel()
	defer context.AfterFunc(ctx, cancel)() // shutdown: stop the work before the Lease is released
	e.startLeading(workCtx)
	logger.Info("became the leader: writing the policy's status and, when self-managed, the certificates")
	e.mu.Lock()
	work := e.work
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range work {
		wg.Go(func() {
			if err := r.Start(workCtx); err != nil && workCtx.Err() == nil {
				t.fail(fmt.Errorf("leader work %T: %w", r, err))
				cancel()
			}
		})
	}
	<-workCtx.Done()
	e.stopLeading()
	wg.Wait()
	if t.failed() {
		t.stepDown()
	}
}

// startLeading records the leader work's context: this replica leads
// until it ends.
func (e *Elector) startLeading(workCtx context.Context) {
	e.leading.Store(&workCtx)
	if e.opts.Metric != nil {
		e.opts.Metric.Set(1)
	}
}

func (e *Elector) stopLeading() {
	e.leading.Store(nil)
	if e.opts.Metric != nil {
		e.opts.Metric.Set(0)
	}
}

func (e *Elector) newLeaderElector(onStartedLeading func(context.Context)) (*leaderelection.LeaderElector, error) {
	return leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            e.lock,
		LeaseDuration:   e.opts.LeaseDuration,
		RenewDeadline:   e.opts.RenewDeadline,
		RetryPeriod:     e.opts.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            e.opts.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: onStartedLeading,
			OnStoppedLeading: func() {}, // campaign takes it from here
		},
	})
}

// term is one election: client-go starts the leader callback on its own
// goroutine, which may run after the election has already ended; begin
// and end make sure the work of a term either never starts or is waited
// for.
type term struct {
	mu       sync.Mutex
	ended    bool
	wg       sync.WaitGroup
	err      error
	stepDown context.CancelFunc
}

func (t *term) begin() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return false
	}
	t.wg.Add(1)
	return true
}

// end waits for the term's work to stop; later callbacks start nothing.
func (t *term) end() {
	t.mu.Lock()
	t.ended = true
	t.mu.Unlock()
	t.wg.Wait()
}

func (t *term) fail(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil {
		t.err = err
	}
}

func (t *term) failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err != nil
}

// NewLeaderMetric creates the gauge seccomp_guard_webhook_leader and
// registers it with reg.
func NewLeaderMetric(reg prometheus.Registerer) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "seccomp_guard",
		Name:      "webhook_leader",
		Help:      "1 while this webhook replica is the leader (it writes the policy's status and, when self-managed, the certificates), 0 otherwise; always 1 without --leader-elect. Admission does not depend on it.",
	})
	reg.MustRegister(g)
	return g
}
