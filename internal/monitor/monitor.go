// Package monitor attributes the seccomp records of a node to the pods and
// containers that caused them and publishes them: a Prometheus counter by
// namespace, workload, container, syscall and action, and aggregated,
// rate-limited Events on the pods. The agent runs it next to the inventory
// (`seccomp-guard agent --violations-source=...`).
//
// Every path a flood can take is bounded: the queue between the source and
// the attribution (records beyond it are counted as dropped), the metric's
// label sets (MaxSeries, then an overflow series), the pending Events
// (MaxEventKeys) and the Event writes (a token bucket).
package monitor

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
	"github.com/seccomp-guard/seccomp-guard/internal/violations"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// The sources a node's records can come from.
const (
	SourceNone    = "none"
	SourceNetlink = "netlink" // the audit multicast group: complete; CAP_AUDIT_READ and the host network
	SourceKmsg    = "kmsg"    // /dev/kmsg without auditd: lossy (the kernel's rate limit); CAP_SYSLOG and the device
	SourceAuditd  = "auditd"  // auditd's log file: complete where auditd runs; read access to the file
)

// Sources lists them, the default first.
func Sources() []string { return []string{SourceNone, SourceNetlink, SourceKmsg, SourceAuditd} }

// Options configure the monitor; the agent's flags set them.
type Options struct {
	NodeName     string
	Source       string
	KmsgPath     string // /dev/kmsg
	AuditLogPath string // the host's auditd log, as mounted
	ProcRoot     string // the host's /proc, as mounted: PIDs in records are the host's
	// EventFirstDelay lets a burst coalesce into the first Event;
	// EventInterval is the least time between two writes of one Event.
	EventFirstDelay, EventInterval time.Duration
	// EventQPS and EventBurst bound the Event writes of the node.
	EventQPS   float64
	EventBurst int
	// QueueSize, MaxSeries and MaxEventKeys bound memory under a flood.
	QueueSize, MaxSeries, MaxEventKeys int
	// RecordingDir, when set, enables recording (docs/recording.md): the
	// agent's writable mount of <seccomp root>/seccomp-guard, where it
	// writes the logging profile.
	RecordingDir string
	// RecordingInterval is the least time between two writes of
	// status.recordings; RecordingRetention drops a recording nothing was
	// added to for that long (0 keeps it).
	RecordingInterval, RecordingRetention time.Duration
	// MaxRecordings bounds the recordings of the node.
	MaxRecordings int
	// ForkTracking attributes the records of processes that exited before
	// they were looked up, through the kernel's fork events
	// (violations.ForkTracker): CAP_NET_ADMIN and the host's network.
	ForkTracking bool
}

// DefaultOptions are the flags' defaults.
func DefaultOptions() Options {
	return Options{
		Source:          SourceNone,
		KmsgPath:        "/dev/kmsg",
		AuditLogPath:    "/var/log/audit/audit.log",
		ProcRoot:        "/proc",
		EventFirstDelay: 2 * time.Second,
		EventInterval:   time.Minute,
		EventQPS:        2,
		EventBurst:      10,
		QueueSize:       4096,
		MaxSeries:       MaxSeries,
		MaxEventKeys:    1000,

		RecordingInterval:  10 * time.Second,
		RecordingRetention: 7 * 24 * time.Hour,
		MaxRecordings:      MaxRecordings,
	}
}

// Validate says which flag is wrong.
func (o *Options) Validate() error {
	ok := false
	for _, s := range Sources() {
		ok = ok || o.Source == s
	}
	if !ok {
		return fmt.Errorf("--violations-source %q is not a source; use %s", o.Source, strings.Join(Sources(), ", "))
	}
	if o.EventInterval < time.Second || o.EventFirstDelay < 0 || o.EventFirstDelay > o.EventInterval {
		return fmt.Errorf("--violations-event-interval %s must be at least 1s and at least the first delay (%s)", o.EventInterval, o.EventFirstDelay)
	}
	if o.QueueSize < 1 || o.MaxSeries < 1 || o.MaxEventKeys < 1 || o.EventQPS <= 0 || o.EventBurst < 1 {
		return errors.New("the violation monitor's bounds must be positive")
	}
	if o.RecordingDir != "" {
		if o.Source == SourceNone {
			return errors.New("--recording-dir needs a --violations-source: recording collects the seccomp records of containers under the logging profile")
		}
		if o.RecordingInterval < time.Second || o.RecordingRetention < 0 || o.MaxRecordings < 1 || o.MaxRecordings > MaxRecordings {
			return fmt.Errorf("--recording-interval must be at least 1s, --recording-retention at least 0, and at most %d recordings", MaxRecordings)
		}
	}
	return nil
}

// NewSource opens the configured source.
func (o *Options) NewSource() (violations.Source, error) {
	switch o.Source {
	case SourceNetlink:
		s, err := violations.NewNetlinkSource()
		if err != nil {
			return nil, fmt.Errorf("opening the audit netlink socket (--violations-source=netlink needs CAP_AUDIT_READ and the host's network namespace: hostNetwork): %w", err)
		}
		return s, nil
	case SourceKmsg:
		return violations.NewKmsgSource(o.KmsgPath), nil
	case SourceAuditd:
		return violations.NewAuditdSource(o.AuditLogPath), nil
	}
	return nil, fmt.Errorf("no violation source %q", o.Source)
}

// Monitor attributes and publishes the records of one node.
type Monitor struct {
	Opts   Options
	Log    logr.Logger
	Pods   *violations.PodIndex
	Source violations.Source
	Clock  clock.WithTicker

	events     client.Client
	attributor *violations.Attributor
	series     *series
	agg        *aggregator
	writer     *eventWriter
	queue      chan attributed
	pids       *pidCache // used by Emit only (the source's goroutine)

	pending          *pending
	recorder         *recorder // nil unless recording is enabled
	recordingsLoaded bool
	lastRecording    time.Time
	lastProfileCheck time.Time
}

// New builds a monitor that writes Events through c.
func New(c client.Client, source violations.Source, opts Options, log logr.Logger) *Monitor {
	pods := violations.NewPodIndex()
	return &Monitor{
		Opts: opts, Log: log, Pods: pods, Source: source, Clock: clock.RealClock{},
		events:     c,
		attributor: &violations.Attributor{ProcRoot: opts.ProcRoot, Pods: pods},
		series:     newSeries(opts.MaxSeries),
		agg:        newAggregator(opts.MaxEventKeys, opts.EventFirstDelay, opts.EventInterval),
		writer:     &eventWriter{client: c, node: opts.NodeName, limiter: rate.NewLimiter(rate.Limit(opts.EventQPS), opts.EventBurst)},
		queue:      make(chan attributed, opts.QueueSize),
		pids:       newPIDCache(),
		pending:    newPending(),
		recorder:   recorderFor(opts),
	}
}

func recorderFor(opts Options) *recorder {
	if opts.RecordingDir == "" {
		return nil
	}
	return newRecorder(opts.MaxRecordings, opts.RecordingRetention)
}

// Run watches the node's pods (to attribute container IDs), reads the
// source and publishes until ctx ends.
func Run(ctx context.Context, cfg *rest.Config, opts Options, log logr.Logger) error {
	source, err := opts.NewSource()
	if err != nil {
		return err
	}
	var forks *violations.ForkTracker
	if opts.ForkTracking {
		if forks, err = violations.NewForkTracker(opts.ProcRoot); err != nil {
			return fmt.Errorf("--violations-fork-tracking: %w", err)
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		return err
	}
	m := New(c, source, opts, log)
	if forks != nil {
		m.attributor.Forks = forks
		go func() {
			if err := forks.Run(ctx); err != nil {
				log.Error(err, "fork tracking stopped: records of processes that exit at once are counted as process-exited")
			}
		}()
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 10*time.Minute,
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
			lo.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", opts.NodeName).String()
		}))
	inf := factory.Core().V1().Pods().Informer()
	if err := inf.SetTransform(toolscache.TransformFunc(func(obj any) (any, error) {
		if o, ok := obj.(metav1.Object); ok {
			o.SetManagedFields(nil)
		}
		return obj, nil
	})); err != nil {
		return err
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { m.upsert(obj) },
		UpdateFunc: func(_, obj any) { m.upsert(obj) },
		DeleteFunc: func(obj any) { m.remove(obj) },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return ctx.Err()
	}
	log.Info("monitoring seccomp records", "source", source.Name(), "complete", source.Complete())
	return m.Run(ctx)
}

func (m *Monitor) upsert(obj any) {
	if pod, ok := obj.(*corev1.Pod); ok {
		m.Pods.Upsert(pod)
	}
}

func (m *Monitor) remove(obj any) {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		m.Pods.Delete(pod)
	}
}

// attributed is a record with where it came from.
type attributed struct {
	r violations.Record
	a violations.Attribution
}

// Emit attributes a record at once, in the source's goroutine, and queues
// it; never blocks the source: a full queue drops and counts it. The
// lookup cannot wait for the queue: a short-lived process (a shell's
// child) is gone within a millisecond, and with it /proc/<pid>/cgroup. A
// process seen in the last second is not looked up again.
func (m *Monitor) Emit(r violations.Record) {
	records.WithLabelValues(m.Source.Name()).Inc()
	a := m.pids.attribute(m.attributor, r, time.Now())
	select {
	case m.queue <- attributed{r: r, a: a}:
	default:
		dropped.WithLabelValues("queue-full").Inc()
	}
}

// Run reads the source, attributes and publishes until ctx ends.
func (m *Monitor) Run(ctx context.Context) error {
	sourceInfo.WithLabelValues(m.Source.Name(), strconv.FormatBool(m.Source.Complete())).Set(1)
	counted, _ := m.Source.(violations.Counted)
	if counted != nil {
		counted.OnMalformed(func(err error) { m.Log.V(1).Info("a malformed seccomp record", "error", err.Error()) })
	}
	if m.recorder != nil {
		wrote, err := WriteLoggingProfile(m.Opts.RecordingDir)
		if err != nil {
			return err
		}
		m.lastProfileCheck = m.Clock.Now()
		m.Log.Info("recording enabled", "loggingProfile", policy.RecordingProfile, "written", wrote)
	}
	var lost, malformed, forksLost uint64
	errc := make(chan error, 1)
	go func() { errc <- m.Source.Run(ctx, m.Emit) }()
	tick := m.Clock.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading seccomp records from %s: %w", m.Source.Name(), err)
		case q := <-m.queue:
			m.handleAttributed(q.r, q.a)
		case <-tick.C():
			if f := m.attributor.Forks; f != nil {
				f.Expire(m.Clock.Now())
				if n := f.Lost(); n > forksLost {
					dropped.WithLabelValues("fork-events-lost").Add(float64(n - forksLost))
					forksLost = n
				}
			}
			m.resolvePending()
			m.flush(ctx)
			m.flushRecordings(ctx)
			if counted != nil { // what the source knows it missed, as counters
				if n := counted.Lost(); n > lost {
					dropped.WithLabelValues("source-lost").Add(float64(n - lost))
					lost = n
				}
				if n := counted.Malformed(); n > malformed {
					dropped.WithLabelValues("malformed").Add(float64(n - malformed))
					malformed = n
				}
			}
		}
	}
}

// syscallLabel bounds the syscall label: a process can ask for any
// number, and only the arch's table is a bounded set of names.
func syscallLabel(r violations.Record) string {
	if !violations.Named(r.Syscall) {
		return "unknown"
	}
	return r.Syscall
}

func actionLabel(a violations.Action) string {
	if strings.HasPrefix(string(a), "SCMP_ACT_") {
		return string(a)
	}
	return "unknown"
}

// handleAttributed publishes one attributed record: to a pod's recording
// or violations, held until the pod index knows its container, or counted
// as unattributed.
func (m *Monitor) handleAttributed(r violations.Record, a violations.Attribution) {
	sys, act := syscallLabel(r), actionLabel(r.Action)
	switch a.Origin {
	case violations.OriginPod:
		m.handlePod(a.Pod, r)
	case violations.OriginHost:
		unattributed.WithLabelValues("host-process", sys, act).Inc()
	case violations.OriginContainer:
		// A container of no pod on this node yet: its pod's status may
		// not name it yet (pending.go). Not Kubernetes' when it stays
		// unknown.
		if !m.pending.add(a.ContainerID, r, m.Clock.Now()) {
			unattributed.WithLabelValues("unknown-container", sys, act).Inc()
		}
	default:
		// Gone before it was looked up (a killed process, a short-lived
		// one), or unreadable: counted, not dropped.
		unattributed.WithLabelValues("process-exited", sys, act).Inc()
	}
}

// resolvePending attributes the held records of containers the pod index
// learned since, and counts the expired ones as unknown-container.
func (m *Monitor) resolvePending() {
	m.pending.resolve(m.Pods, m.Clock.Now(), m.handlePod, func(r violations.Record) {
		unattributed.WithLabelValues("unknown-container", syscallLabel(r), actionLabel(r.Action)).Inc()
	})
}

// handlePod publishes a record attributed to a pod's container: to its
// recording, or as a violation.
func (m *Monitor) handlePod(pc violations.PodContainer, r violations.Record) {
	sys, act := syscallLabel(r), actionLabel(r.Action)
	if m.recorder != nil && pc.Recording && r.Action == violations.ActionLog {
		// A recording, not a violation: kept out of the metric and Events.
		if m.recorder.add(pc, r, m.Clock.Now()) {
			recordingRecords.WithLabelValues("recorded").Inc()
		} else {
			recordingRecords.WithLabelValues("recordings-full").Inc()
		}
		return
	}
	m.series.inc([5]string{pc.Namespace, pc.Workload, pc.Container, sys, act})
	k := eventKey{Namespace: pc.Namespace, Pod: pc.Pod, UID: pc.UID, Container: pc.Container, Syscall: sys, Action: r.Action, Profile: pc.Profile}
	if !m.agg.add(k, m.Clock.Now()) {
		dropped.WithLabelValues("event-keys").Inc()
	}
}

// flushRecordings writes status.recordings at most every
// RecordingInterval, when they changed; the first time, it reads what an
// earlier run wrote and merges it, and writes nothing until it could.
// Every minute it puts the logging profile back if it was removed or
// changed.
func (m *Monitor) flushRecordings(ctx context.Context) {
	if m.recorder == nil {
		return
	}
	now := m.Clock.Now()
	if now.Sub(m.lastProfileCheck) >= time.Minute {
		m.lastProfileCheck = now
		if wrote, err := WriteLoggingProfile(m.Opts.RecordingDir); err != nil {
			m.Log.Error(err, "restoring the logging profile")
		} else if wrote {
			m.Log.Info("restored the logging profile, which was removed or changed", "path", policy.RecordingProfile)
		}
	}
	if now.Sub(m.lastRecording) < m.Opts.RecordingInterval {
		return
	}
	m.lastRecording = now
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if !m.recordingsLoaded {
		sts, err := readRecordings(wctx, m.events, m.Opts.NodeName)
		if err != nil {
			m.Log.Error(err, "reading the recordings of an earlier run; nothing is written until they are read")
			recordingWriteErrors.Inc()
			return
		}
		m.recorder.load(sts)
		m.recordingsLoaded = true
	}
	sts, changed := m.recorder.snapshot(now)
	if !changed {
		return
	}
	if err := writeRecordings(wctx, m.events, m.Opts.NodeName, sts); err != nil {
		m.Log.Error(err, "writing status.recordings")
		recordingWriteErrors.Inc()
		m.recorder.markDirty()
	}
}

// flush writes the Events that are due, within the write budget.
func (m *Monitor) flush(ctx context.Context) {
	now := m.Clock.Now()
	for _, f := range m.agg.due(now) {
		if !m.writer.limiter.Allow() {
			m.agg.putBack(f, now)
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := m.writer.write(wctx, f, now)
		cancel()
		if err != nil {
			m.Log.Error(err, "writing a seccomp Event", "namespace", f.key.Namespace, "pod", f.key.Pod, "syscall", f.key.Syscall)
			m.agg.putBack(f, now)
		}
	}
}
