package monitor

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/internal/violations"
)

// eventKey is what one Event aggregates: one syscall and action of one
// container of one pod, under one profile.
type eventKey struct {
	Namespace, Pod string
	UID            types.UID
	Container      string
	Syscall        string
	Action         violations.Action
	Profile        string
}

type pendingEvent struct {
	count       int       // records since the last Event write
	windowStart time.Time // when that count started
	due         time.Time // when it may be written
	idle        int       // flushes in a row with nothing to write
}

// aggregator counts records per eventKey and says when to write each
// Event: FirstDelay after the first record (which lets a burst coalesce),
// then at most once per Interval while records keep coming. It holds at
// most MaxKeys keys.
type aggregator struct {
	mu         sync.Mutex
	pending    map[eventKey]*pendingEvent
	maxKeys    int
	firstDelay time.Duration
	interval   time.Duration
}

func newAggregator(maxKeys int, firstDelay, interval time.Duration) *aggregator {
	return &aggregator{pending: map[eventKey]*pendingEvent{}, maxKeys: maxKeys, firstDelay: firstDelay, interval: interval}
}

// add counts one record; false when the key is new and MaxKeys are held.
func (a *aggregator) add(k eventKey, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.pending[k]
	if !ok {
		if len(a.pending) >= a.maxKeys {
			return false
		}
		p = &pendingEvent{due: now.Add(a.firstDelay)}
		a.pending[k] = p
	}
	if p.count == 0 {
		p.windowStart = now
	}
	p.count++
	p.idle = 0
	return true
}

// flush is one Event to write.
type flush struct {
	key    eventKey
	count  int
	window time.Duration
}

// due returns the Events to write now and starts their next window. A key
// with nothing to write for two intervals is forgotten.
func (a *aggregator) due(now time.Time) []flush {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []flush
	for k, p := range a.pending {
		if now.Before(p.due) {
			continue
		}
		if p.count == 0 {
			if p.idle++; p.idle >= 2 {
				delete(a.pending, k)
			} else {
				p.due = now.Add(a.interval)
			}
			continue
		}
		out = append(out, flush{key: k, count: p.count, window: now.Sub(p.windowStart)})
		p.count, p.due = 0, now.Add(a.interval)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key.Pod+out[i].key.Syscall < out[j].key.Pod+out[j].key.Syscall })
	return out
}

// putBack returns a count that could not be written to the next window.
func (a *aggregator) putBack(f flush, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p, ok := a.pending[f.key]; ok {
		p.count += f.count
		p.windowStart = now.Add(-f.window)
	}
}

// maxEventMessage bounds an Event's message (events.k8s.io's limit for a
// note is 1 KiB).
const maxEventMessage = 1024

// boundMessage cuts a message to maxEventMessage bytes on a rune boundary:
// the profile path in it comes from the pod's spec.
func boundMessage(msg string) string {
	if len(msg) <= maxEventMessage {
		return msg
	}
	cut := maxEventMessage - len("...")
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "..."
}

// eventWriter writes the Events, rate-limited: a flood of distinct keys
// cannot flood the API server.
type eventWriter struct {
	client  client.Client
	node    string
	limiter *rate.Limiter
}

// verb says what the action did to the syscall.
func verb(a violations.Action) (verb, reason, eventType string) {
	switch a {
	case "SCMP_ACT_LOG":
		return "logged", "SeccompSyscallLogged", corev1.EventTypeNormal
	case "SCMP_ACT_KILL_PROCESS":
		return "refused, process killed", "SeccompProcessKilled", corev1.EventTypeWarning
	case "SCMP_ACT_KILL_THREAD":
		return "refused, thread killed", "SeccompProcessKilled", corev1.EventTypeWarning
	case "SCMP_ACT_TRAP":
		return "refused with SIGSYS", "SeccompSyscallRefused", corev1.EventTypeWarning
	case "SCMP_ACT_ERRNO":
		return "refused", "SeccompSyscallRefused", corev1.EventTypeWarning
	}
	return "reported", "SeccompSyscallReported", corev1.EventTypeNormal
}

// Message is an Event's message, e.g. `syscall mkdir refused
// (SCMP_ACT_ERRNO) by profiles/no-mkdir.json, 12 times in 1m`.
func Message(syscall string, action violations.Action, profile string, count int, window time.Duration) string {
	v, _, _ := verb(action)
	by := strings.TrimPrefix(profile, "localhost/")
	switch profile {
	case "runtime/default", "RuntimeDefault":
		by = "the container runtime's default profile"
	case "":
		by = "an unknown profile"
	}
	times := "once"
	if count > 1 {
		times = fmt.Sprintf("%d times", count)
	}
	return fmt.Sprintf("syscall %s %s (%s) by %s, %s in %s", syscall, v, action, by, times, duration.HumanDuration(window))
}

func eventName(k eventKey) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%s", k.UID, k.Container, k.Syscall, k.Action, k.Profile, k.Namespace)
	return fmt.Sprintf("%s.seccomp-%016x", k.Pod, h.Sum64())
}

// write creates the key's Event or adds to its count.
func (w *eventWriter) write(ctx context.Context, f flush, now time.Time) error {
	_, reason, eventType := verb(f.key.Action)
	msg := Message(f.key.Syscall, f.key.Action, f.key.Profile, f.count, f.window)
	msg = boundMessage(msg)
	ts := metav1.NewTime(now)
	ev := &corev1.Event{}
	key := client.ObjectKey{Namespace: f.key.Namespace, Name: eventName(f.key)}
	err := w.client.Get(ctx, key, ev)
	switch {
	case apierrors.IsNotFound(err):
		ev = &corev1.Event{
			ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
			InvolvedObject: corev1.ObjectReference{
				APIVersion: "v1", Kind: "Pod", Namespace: f.key.Namespace, Name: f.key.Pod, UID: f.key.UID,
				FieldPath: fmt.Sprintf("spec.containers{%s}", f.key.Container),
			},
			Reason: reason, Message: msg, Type: eventType, Count: int32(min(f.count, 1<<30)),
			FirstTimestamp: ts, LastTimestamp: ts,
			Source:              corev1.EventSource{Component: "seccomp-guard-agent", Host: w.node},
			ReportingController: "seccomp-guard.io/agent", ReportingInstance: w.node,
		}
		return w.client.Create(ctx, ev)
	case err != nil:
		return err
	}
	ev.Message, ev.LastTimestamp = msg, ts
	ev.Count = int32(min(int64(ev.Count)+int64(f.count), 1<<30))
	return w.client.Update(ctx, ev)
}
