package monitor

import (
	"time"

	"github.com/seccomp-guard/seccomp-guard/internal/violations"
)

// A container's first syscalls come before its pod's status names the
// container's ID: runc starts the process, then the kubelet reports it.
// Records of a container the pod index does not know yet wait here, by
// container ID, and are attributed when the index learns it (recording
// needs them: an application's start-up is where most of its syscalls
// are), or counted as unknown-container after pendingTTL.
const (
	pendingTTL           = 30 * time.Second
	maxPendingContainers = 256
	maxPendingPerID      = 512 // distinct (arch, syscall, action); counts repeat
)

type pendingKey struct {
	arch, syscall string
	action        violations.Action
}

type pendingRecords struct {
	first time.Time
	recs  map[pendingKey]*pendingRecord
}

type pendingRecord struct {
	r violations.Record
	n int
}

// pending holds the records of containers not in the pod index yet. Used
// only from the monitor's loop.
type pending struct {
	byID map[string]*pendingRecords
}

func newPending() *pending { return &pending{byID: map[string]*pendingRecords{}} }

// add keeps a record of containerID; false when the bounds leave no room
// (the caller counts it as unknown-container).
func (p *pending) add(containerID string, r violations.Record, now time.Time) bool {
	pr := p.byID[containerID]
	if pr == nil {
		if len(p.byID) >= maxPendingContainers {
			return false
		}
		pr = &pendingRecords{first: now, recs: map[pendingKey]*pendingRecord{}}
		p.byID[containerID] = pr
	}
	k := pendingKey{r.Arch, r.Syscall, r.Action}
	if rec := pr.recs[k]; rec != nil {
		rec.n++
		return true
	}
	if len(pr.recs) >= maxPendingPerID {
		return false
	}
	pr.recs[k] = &pendingRecord{r: r, n: 1}
	return true
}

// resolve hands each held record whose container the index now knows to
// attributed (as many times as it was seen), and each one older than
// pendingTTL to expired.
func (p *pending) resolve(pods *violations.PodIndex, now time.Time, attributed func(violations.PodContainer, violations.Record), expired func(violations.Record)) {
	for id, pr := range p.byID {
		pc, ok := pods.Lookup(id)
		if !ok && now.Sub(pr.first) < pendingTTL {
			continue
		}
		for _, rec := range pr.recs {
			for range rec.n {
				if ok {
					attributed(pc, rec.r)
				} else {
					expired(rec.r)
				}
			}
		}
		delete(p.byID, id)
	}
}
