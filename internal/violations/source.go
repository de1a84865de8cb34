package violations

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Source yields records.
type Source interface {
	// Name is "netlink", "kmsg", "auditd" or "file".
	Name() string
	// Complete reports whether the source sees every record: false for kmsg,
	// which the kernel rate-limits, and for a file, which may be a saved
	// kernel log.
	Complete() bool
	// Run calls emit with each record, from one goroutine, until ctx ends
	// (then it returns nil), a file read once ends (nil), or a fatal error.
	// A Source runs once.
	Run(ctx context.Context, emit func(Record)) error
}

// Counted is implemented by every Source of this package.
type Counted interface {
	// Lost is how many times the source knows it missed records: kmsg's
	// overwritten ring buffer (EPIPE) and the kernel's "kauditd_printk_skb: N
	// callbacks suppressed" (N each), netlink's full receive buffer (ENOBUFS).
	Lost() uint64
	// Malformed is how many seccomp records did not parse; they are not
	// emitted.
	Malformed() uint64
	// OnMalformed sets a function that Run calls, from its goroutine, with
	// the error of each malformed record: a *LineError for files. Call it
	// before Run.
	OnMalformed(func(error))
}

// LineError is a malformed record at a line of a file.
type LineError struct {
	Path string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// counters implements Counted.
type counters struct {
	lost, malformed atomic.Uint64
	mu              sync.Mutex
	onMalformed     func(error)
}

func (c *counters) Lost() uint64      { return c.lost.Load() }
func (c *counters) Malformed() uint64 { return c.malformed.Load() }
func (c *counters) OnMalformed(fn func(error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onMalformed = fn
}

// handle parses a line and emits its record, counting and reporting the
// malformed ones.
func (c *counters) handle(line string, emit func(Record), wrap func(error) error) {
	r, ok, err := ParseLine(line)
	if err != nil {
		c.malformed.Add(1)
		c.mu.Lock()
		fn := c.onMalformed
		c.mu.Unlock()
		if fn != nil {
			if wrap != nil {
				err = wrap(err)
			}
			fn(err)
		}
		return
	}
	if ok {
		emit(r)
	}
}

// lineBuffer splits a byte stream into lines, holding at most MaxLineBytes+1
// bytes of a line: a longer one is cut there, and ParseLine refuses it.
type lineBuffer struct {
	partial []byte
}

// feed calls fn with each complete line in data, without its newline.
func (b *lineBuffer) feed(data []byte, fn func(string)) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		chunk := data
		if i >= 0 {
			chunk = data[:i]
		}
		if room := MaxLineBytes + 1 - len(b.partial); room > 0 {
			b.partial = append(b.partial, chunk[:min(room, len(chunk))]...)
		}
		if i < 0 {
			return
		}
		fn(string(b.partial))
		b.partial = b.partial[:0]
		data = data[i+1:]
	}
}

// flush calls fn with the last line when it has no newline.
func (b *lineBuffer) flush(fn func(string)) {
	if len(b.partial) > 0 {
		fn(string(b.partial))
		b.partial = b.partial[:0]
	}
}

// sleep waits d or until ctx ends, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
