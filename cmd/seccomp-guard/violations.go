package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
	"github.com/seccomp-guard/seccomp-guard/internal/violations"
)

// The sources of the violations command.
const (
	sourceNetlink = "netlink"
	sourceKmsg    = "kmsg"
	sourceAuditd  = "auditd"
	sourceFile    = "file"

	defaultAuditLog = "/var/log/audit/audit.log"
	defaultKmsg     = "/dev/kmsg"
)

// podRelistEvery bounds how often a container ID that no listed pod has
// makes the command list the node's pods again.
const podRelistEvery = 5 * time.Second

// violationsPods lists the pods on a node; tests replace it.
var violationsPods = func(ctx context.Context, kubeconfig, node string) ([]corev1.Pod, error) {
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		return nil, err
	}
	var list corev1.PodList
	if err := c.List(ctx, &list, client.MatchingFields{"spec.nodeName": node}); err != nil {
		return nil, fmt.Errorf("list the pods on node %s: %w", node, err)
	}
	return list.Items, nil
}

// violationsNetlink opens the netlink source; tests replace it.
var violationsNetlink = violations.NewNetlinkSource

type violationsOptions struct {
	source, file, proc, kubeconfig, node, output string
	follow                                       bool
	since                                        time.Duration
	limit                                        int
}

func newViolationsCommand() *cobra.Command {
	var o violationsOptions
	cmd := &cobra.Command{
		Use:   "violations",
		Short: "Show the seccomp actions the kernel logged on this node, attributed to pods (read-only)",
		Long: `violations reads the kernel's seccomp audit records (type 1326: SCMP_ACT_LOG,
SCMP_ACT_KILL_*, SCMP_ACT_TRAP, and SCMP_ACT_ERRNO where the profile has the
log flag) and attributes each to its container through the host's
/proc/<pid>/cgroup, and with --node, to its pod, workload and seccomp profile
through the pods on that node.

Sources (--source):
  netlink  the audit netlink multicast group: complete; needs root
           (CAP_AUDIT_READ) in the host's network namespace. The default.
  kmsg     /dev/kmsg: lossy, the kernel rate-limits audit lines to about 10
           per 5 s, and prints them only when auditd does not run; needs
           CAP_SYSLOG.
  auditd   auditd's log (--file, default /var/log/audit/audit.log):
           complete where auditd runs.
  file     a saved kernel log (dmesg, journalctl -k), journal export or
           audit.log (--file), read once; a summary by workload, syscall and
           action ends the output.

Live sources print each record as it comes, until interrupted. PIDs are
looked up when a record is read: a process that has exited is shown as
"process exited", one outside any container as "host process".

Exit codes: 0 when every record parsed, 1 when a file had malformed seccomp
records (each listed as FILE:LINE after the records that parsed) or a
source failed, 2 for a mistake in the command line or an unreadable file.`,
		Example: `  # Live, on a node, attributed to the node's pods.
  seccomp-guard violations --node "$(hostname)"

  # Where netlink is not allowed: the kernel log (lossy).
  seccomp-guard violations --source kmsg

  # The records of the last hour in a saved kernel log, as JSON.
  dmesg > kern.log
  seccomp-guard violations --file kern.log --since 1h -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.complete(cmd); err != nil {
				return err
			}
			return runViolations(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.source, "source", "", "where to read records: netlink, kmsg, auditd or file (default: file with --file, else netlink)")
	f.StringVar(&o.file, "file", "", "for --source file or auditd: a saved kernel log, journal export or audit.log (auditd's default: "+defaultAuditLog+")")
	f.BoolVar(&o.follow, "follow", false, "keep reading as records come (default: true for netlink, kmsg and auditd, false for --file)")
	f.StringVar(&o.proc, "proc", "/proc", "the host's /proc, where PIDs are looked up")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file for --node (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)")
	f.StringVar(&o.node, "node", "", "attribute container IDs to the pods on this node (lists pods with spec.nodeName=NODE); without it, records show container IDs")
	f.StringVarP(&o.output, "output", "o", outputText, "output format: text or json (one object per line when following; an array and a summary for a file)")
	f.DurationVar(&o.since, "since", 0, "for a file read once: only records newer than this, e.g. 1h (default: all)")
	f.IntVar(&o.limit, "limit", 0, "stop after this many records (default: no limit)")
	return cmd
}

// complete checks the flags and fills in the defaults that depend on others.
func (o *violationsOptions) complete(cmd *cobra.Command) error {
	if o.output != outputText && o.output != outputJSON {
		return newUsageError("unknown output format %q for --output: use %s or %s", o.output, outputText, outputJSON)
	}
	switch o.source {
	case "":
		o.source = sourceNetlink
		if o.file != "" {
			o.source = sourceFile
		}
	case sourceNetlink, sourceKmsg:
		if o.file != "" {
			return newUsageError("--file is for --source file or auditd; --source %s reads the live kernel", o.source)
		}
	case sourceFile:
		if o.file == "" {
			return newUsageError("--source file needs --file PATH, e.g. a saved kernel log (dmesg > kern.log)")
		}
	case sourceAuditd:
		if o.file == "" {
			o.file = defaultAuditLog
		}
	default:
		return newUsageError("unknown --source %q: use %s, %s, %s or %s", o.source, sourceNetlink, sourceKmsg, sourceAuditd, sourceFile)
	}
	if !cmd.Flags().Changed("follow") {
		o.follow = o.source != sourceFile
	}
	if !o.follow && (o.source == sourceNetlink || o.source == sourceKmsg) {
		return newUsageError("--source %s reads only new records and needs --follow; to read the kernel log so far, save it (dmesg > kern.log) and use --file kern.log", o.source)
	}
	if o.since < 0 {
		return newUsageError("--since %s is negative: give how far back to read, e.g. 1h", o.since)
	}
	if o.since != 0 && o.follow {
		return newUsageError("--since filters a file read once; drop --follow, or drop --since to see only new records")
	}
	if o.limit < 0 {
		return newUsageError("--limit %d is negative: give how many records to show, or 0 for all", o.limit)
	}
	if o.kubeconfig != "" && o.node == "" {
		return newUsageError("--kubeconfig needs --node NODE, the node whose pods the records are attributed to (kubectl get nodes)")
	}
	return nil
}

// openSource opens the source the options name.
func (o *violationsOptions) openSource() (violations.Source, error) {
	switch o.source {
	case sourceNetlink:
		src, err := violationsNetlink()
		if err != nil {
			return nil, fmt.Errorf("cannot read the audit netlink multicast group: %w; run as root (CAP_AUDIT_READ) in the host's network namespace, or use --source kmsg (lossy) or --source auditd", err)
		}
		return src, nil
	case sourceKmsg:
		return violations.NewKmsgSource(defaultKmsg), nil
	}
	if _, err := os.Stat(o.file); err != nil {
		return nil, usageError{err: err}
	}
	if o.source == sourceAuditd && o.follow {
		return violations.NewAuditdSource(o.file), nil
	}
	return violations.NewFileSource(o.file, o.follow), nil
}

func runViolations(ctx context.Context, stdout, stderr io.Writer, o violationsOptions) error {
	attr := &violations.Attributor{ProcRoot: o.proc}
	if o.node != "" {
		pods, err := newNodePods(ctx, o.kubeconfig, o.node)
		if err != nil {
			return err
		}
		attr.Pods, attr.Refresh = pods.index, pods.refresh
	}
	src, err := o.openSource()
	if err != nil {
		return err
	}
	var malformed []error
	src.(violations.Counted).OnMalformed(func(err error) {
		if o.follow {
			fmt.Fprintf(stderr, "warning: %v\n", err)
			return
		}
		malformed = append(malformed, err)
	})
	if o.follow && o.output == outputText {
		completeness := "complete"
		if !src.Complete() {
			completeness = "lossy"
		}
		fmt.Fprintf(stderr, "reading seccomp records from %s (%s); interrupt to stop\n", src.Name(), completeness)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var notAfter time.Time
	if o.since > 0 {
		notAfter = clock().Add(-o.since)
	}
	var (
		shown    []violationJSON
		summary  = newViolationSummary()
		writeErr error
	)
	emit := func(r violations.Record) {
		if writeErr != nil || (o.limit > 0 && summary.Records >= o.limit) || r.Time.Before(notAfter) {
			return
		}
		v := newViolationJSON(r, attr.Attribute(r))
		summary.add(v)
		switch {
		case o.output == outputText:
			_, writeErr = fmt.Fprintln(stdout, v.text())
		case o.follow:
			writeErr = json.NewEncoder(stdout).Encode(v)
		default:
			shown = append(shown, v)
		}
		if o.limit > 0 && summary.Records >= o.limit {
			cancel()
		}
	}
	runErr := src.Run(ctx, emit)
	if writeErr != nil {
		return writeErr
	}
	if runErr != nil {
		if !o.follow {
			return usageError{err: runErr}
		}
		return runErr
	}
	summary.Malformed = len(malformed)
	if !o.follow {
		if err := writeViolationsReport(stdout, o.output, o.file, shown, summary, malformed); err != nil {
			return err
		}
		for _, err := range malformed {
			fmt.Fprintln(stderr, err)
		}
		if len(malformed) > 0 {
			return fmt.Errorf("%d malformed seccomp %s in %s (listed above); the records that parsed are shown",
				len(malformed), pick(len(malformed), "record", "records"), o.file)
		}
	}
	return nil
}

// nodePods keeps an index of the pods on one node, listed again (at most
// every podRelistEvery) when a container ID is not in it.
type nodePods struct {
	ctx              context.Context
	kubeconfig, node string
	index            *violations.PodIndex
	mu               sync.Mutex
	listed           time.Time
	pods             map[types.UID]*corev1.Pod // as last listed
}

func newNodePods(ctx context.Context, kubeconfig, node string) (*nodePods, error) {
	p := &nodePods{ctx: ctx, kubeconfig: kubeconfig, node: node, index: violations.NewPodIndex()}
	if err := p.list(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *nodePods) list() error {
	pods, err := violationsPods(p.ctx, p.kubeconfig, p.node)
	if err != nil {
		return err
	}
	p.listed = time.Now()
	listed := make(map[types.UID]*corev1.Pod, len(pods))
	for i := range pods {
		p.index.Upsert(&pods[i])
		listed[pods[i].UID] = &pods[i]
	}
	// Pods deleted since the last list leave the index: a long --follow
	// holds only the node's current pods.
	for uid, pod := range p.pods {
		if _, ok := listed[uid]; !ok {
			p.index.Delete(pod)
		}
	}
	p.pods = listed
	return nil
}

func (p *nodePods) refresh() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.listed) < podRelistEvery {
		return
	}
	// A failed list keeps the index as it was: the record is still shown,
	// with its container ID.
	_ = p.list()
}

// violationJSON is one attributed record in the command's output; its
// fields are documented in docs/violations.md.
type violationJSON struct {
	Time             time.Time `json:"time"`
	Serial           uint64    `json:"serial"`
	Origin           string    `json:"origin"`
	Namespace        string    `json:"namespace,omitempty"`
	Pod              string    `json:"pod,omitempty"`
	Container        string    `json:"container,omitempty"`
	Workload         string    `json:"workload,omitempty"`
	Profile          string    `json:"profile,omitempty"`
	ContainerID      string    `json:"containerID,omitempty"`
	Syscall          string    `json:"syscall"`
	SyscallNr        int       `json:"syscallNr"`
	Arch             string    `json:"arch"`
	Action           string    `json:"action"`
	Errno            string    `json:"errno,omitempty"`
	PID              int       `json:"pid"`
	Comm             string    `json:"comm"`
	Exe              string    `json:"exe"`
	AttributionError string    `json:"attributionError,omitempty"`
}

func newViolationJSON(r violations.Record, a violations.Attribution) violationJSON {
	v := violationJSON{Time: r.Time, Serial: r.Serial, Origin: string(a.Origin), ContainerID: a.ContainerID,
		Namespace: a.Pod.Namespace, Pod: a.Pod.Pod, Container: a.Pod.Container, Workload: a.Pod.Workload, Profile: a.Pod.Profile,
		Syscall: r.Syscall, SyscallNr: r.SyscallNr, Arch: r.Arch, Action: string(r.Action), PID: r.PID, Comm: r.Comm, Exe: r.Exe}
	if r.Action == violations.ActionErrno && r.Errno != 0 {
		v.Errno = violations.ErrnoName(r.Errno)
	}
	if a.Err != nil {
		v.AttributionError = a.Err.Error()
	}
	return v
}

// where is the text form of the record's origin.
func (v violationJSON) where() string {
	switch violations.Origin(v.Origin) {
	case violations.OriginPod:
		return v.Namespace + "/" + v.Pod + "/" + v.Container
	case violations.OriginContainer:
		return "container " + shortID(v.ContainerID)
	case violations.OriginHost:
		return "host process"
	case violations.OriginExited:
		return "process exited"
	}
	return "unattributed (" + v.AttributionError + ")"
}

// workloadKey is what the summary counts the record under.
func (v violationJSON) workloadKey() string {
	if v.Origin == string(violations.OriginPod) {
		return v.Namespace + "/" + v.Workload
	}
	return v.where()
}

func (v violationJSON) text() string {
	action := v.Action
	if v.Errno != "" {
		action += "(" + v.Errno + ")"
	}
	line := fmt.Sprintf("%s %s", v.Time.Format("2006-01-02T15:04:05.000Z07:00"), v.where())
	if v.Workload != "" {
		line += " workload=" + v.Workload
	}
	line += fmt.Sprintf(" syscall=%s action=%s comm=%s exe=%s pid=%d", v.Syscall, action, strconv.Quote(v.Comm), strconv.Quote(v.Exe), v.PID)
	if v.Origin == string(violations.OriginPod) {
		profile := v.Profile
		if profile == "" {
			profile = "unset"
		}
		line += " profile=" + profile
	}
	return line
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// violationSummary counts the records shown.
type violationSummary struct {
	Records    int            `json:"records"`
	Malformed  int            `json:"malformed"`
	ByWorkload map[string]int `json:"byWorkload"`
	BySyscall  map[string]int `json:"bySyscall"`
	ByAction   map[string]int `json:"byAction"`
}

func newViolationSummary() *violationSummary {
	return &violationSummary{ByWorkload: map[string]int{}, BySyscall: map[string]int{}, ByAction: map[string]int{}}
}

func (s *violationSummary) add(v violationJSON) {
	s.Records++
	s.ByWorkload[v.workloadKey()]++
	s.BySyscall[v.Syscall]++
	s.ByAction[v.Action]++
}

// malformedJSON is a malformed record of a file in the JSON report.
type malformedJSON struct {
	File  string `json:"file"`
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// writeViolationsReport writes what a file read once holds: the records
// (already printed as text), then the summary.
func writeViolationsReport(w io.Writer, output, file string, shown []violationJSON, s *violationSummary, malformed []error) error {
	if output == outputJSON {
		report := struct {
			Records   []violationJSON   `json:"records"`
			Summary   *violationSummary `json:"summary"`
			Malformed []malformedJSON   `json:"malformed"`
		}{Records: shown, Summary: s, Malformed: []malformedJSON{}}
		if report.Records == nil {
			report.Records = []violationJSON{}
		}
		for _, err := range malformed {
			m := malformedJSON{File: file, Error: err.Error()}
			var le *violations.LineError
			if errors.As(err, &le) {
				m.Line, m.Error = le.Line, le.Err.Error()
			}
			report.Malformed = append(report.Malformed, m)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	fmt.Fprintf(w, "\n%d seccomp %s in %s", s.Records, pick(s.Records, "record", "records"), file)
	if s.Malformed > 0 {
		fmt.Fprintf(w, ", %d malformed", s.Malformed)
	}
	fmt.Fprintln(w)
	for _, c := range []struct {
		title  string
		counts map[string]int
	}{{"by workload", s.ByWorkload}, {"by syscall", s.BySyscall}, {"by action", s.ByAction}} {
		if len(c.counts) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s:\n", c.title)
		for _, k := range byCount(c.counts) {
			fmt.Fprintf(w, "  %6d  %s\n", c.counts[k], k)
		}
	}
	return nil
}

// byCount sorts the keys by count, largest first, then by name.
func byCount(counts map[string]int) []string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}
