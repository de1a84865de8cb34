package monitor

import (
	"time"

	"github.com/seccomp-guard/seccomp-guard/internal/violations"
)

// pidCacheTTL is how long a process's attribution is reused: long enough
// that a busy process is looked up once a second, not per syscall; short
// enough that a reused PID is looked up again.
const (
	pidCacheTTL = time.Second
	maxPIDCache = 8192
)

type cachedAttribution struct {
	a  violations.Attribution
	at time.Time
}

// pidCache remembers the attributions of processes (pod and container
// origins only: what /proc said about a live process). Not safe for
// concurrent use: Emit runs in the source's goroutine.
type pidCache struct {
	byPID map[int]cachedAttribution
}

func newPIDCache() *pidCache { return &pidCache{byPID: map[int]cachedAttribution{}} }

func (c *pidCache) attribute(at *violations.Attributor, r violations.Record, now time.Time) violations.Attribution {
	if e, ok := c.byPID[r.PID]; ok && now.Sub(e.at) < pidCacheTTL {
		return e.a
	}
	a := at.Attribute(r)
	if a.Origin == violations.OriginPod || a.Origin == violations.OriginContainer {
		if len(c.byPID) >= maxPIDCache {
			clear(c.byPID)
		}
		c.byPID[r.PID] = cachedAttribution{a: a, at: now}
	}
	return a
}
