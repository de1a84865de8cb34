package monitor

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Overflow is the value of every label of the series that counts the
// records beyond MaxSeries distinct label sets.
const Overflow = "_overflow"

// MaxSeries bounds the series of seccomp_guard_violations_total on one
// node: a flood of distinct syscalls or short-lived workloads cannot grow
// the agent's memory or Prometheus' without limit.
const MaxSeries = 2000

var (
	violationsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "seccomp_guard_violations_total",
		Help: "Seccomp records attributed to a container, by namespace, workload (the top-level owner, Kind/name), container, syscall and action. Label sets beyond the agent's bound are counted under _overflow.",
	}, []string{"namespace", "workload", "container", "syscall", "action"})
	unattributed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "seccomp_guard_violations_unattributed_total",
		Help: "Seccomp records not attributed to a pod, by reason (process-exited, host-process, unknown-container), syscall and action.",
	}, []string{"reason", "syscall", "action"})
	dropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "seccomp_guard_violation_records_dropped_total",
		Help: "Seccomp records the agent could not process, by reason (queue-full: a flood outran it; event-keys: too many distinct Events pending; source-lost: the source says it missed records, e.g. the kernel log's rate limit; malformed: records that did not parse; fork-events-lost: fork tracking missed fork events, so some exited processes' records count as process-exited).",
	}, []string{"reason"})
	sourceInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "seccomp_guard_violation_source_info",
		Help: "1 for the source the agent reads seccomp records from, and whether it is complete (true) or lossy (false: the kernel log's rate limit).",
	}, []string{"source", "complete"})
	records = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "seccomp_guard_violation_records_total",
		Help: "Seccomp records read, by source (netlink, kmsg, auditd).",
	}, []string{"source"})
)

var (
	recordingRecords = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "seccomp_guard_recording_records_total",
		Help: "Seccomp records of containers under the logging profile (docs/recording.md), by result: recorded, or recordings-full when the node already holds the most recordings it may (a new recording is not started).",
	}, []string{"result"})
	recordingsHeld = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "seccomp_guard_recordings",
		Help: "Recordings (namespace, workload, container) the agent holds and writes to its NodeSeccompInventory's status.recordings.",
	})
	recordingWriteErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "seccomp_guard_recording_write_errors_total",
		Help: "Failed writes of status.recordings (retried at the next interval).",
	})
)

func init() {
	metrics.Registry.MustRegister(violationsTotal, unattributed, dropped, records, sourceInfo, recordingRecords, recordingsHeld, recordingWriteErrors)
}

// series remembers the label sets of seccomp_guard_violations_total.
type series struct {
	mu   sync.Mutex
	seen map[[5]string]struct{}
	max  int
}

func newSeries(maxSeries int) *series {
	return &series{seen: map[[5]string]struct{}{}, max: maxSeries}
}

// inc counts one record, under the overflow series once max label sets
// exist.
func (s *series) inc(labels [5]string) {
	s.mu.Lock()
	if _, ok := s.seen[labels]; !ok {
		if len(s.seen) >= s.max {
			labels = [5]string{Overflow, Overflow, Overflow, Overflow, Overflow}
		} else {
			s.seen[labels] = struct{}{}
		}
	}
	s.mu.Unlock()
	violationsTotal.WithLabelValues(labels[:]...).Inc()
}
