package violations

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordLine is a kernel log line of a record with the given serial.
func recordLine(serial int) string {
	return fmt.Sprintf(`[  1.0] audit: type=1326 audit(1796182044.%03d:%d): auid=0 uid=0 gid=0 ses=1 pid=%d comm="mkdir" exe="/bin/busybox" sig=0 arch=c000003e syscall=83 compat=0 ip=0x1 code=0x7ffc0000`,
		serial%1000, serial, 1000+serial)
}

func serials(records []Record) []uint64 {
	out := make([]uint64, 0, len(records))
	for _, r := range records {
		out = append(out, r.Serial)
	}
	return out
}

func TestFileSourceOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kern.log")
	content := strings.Join([]string{
		recordLine(1),
		"[  1.1] eth0: link up",
		`[  1.2] audit: type=1326 audit(1796182044.100:2): pid=7 arch=c000003e syscall=mkdir code=0x7ffc0000`,
		"[  1.3] audit: type=1326 audit(1.000:3): pid=1 comm=\"" + strings.Repeat("a", MaxLineBytes) + "\"",
		recordLine(4), // the last line has no newline
	}, "\n")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	src := NewFileSource(path, false)
	assert.Equal(t, "file", src.Name())
	assert.False(t, src.Complete())
	var errs []string
	src.(Counted).OnMalformed(func(err error) {
		var le *LineError
		require.ErrorAs(t, err, &le)
		errs = append(errs, err.Error())
	})
	var got []Record
	require.NoError(t, src.Run(context.Background(), func(r Record) { got = append(got, r) }))
	assert.Equal(t, []uint64{1, 4}, serials(got))
	assert.Equal(t, []string{
		path + `:3: malformed seccomp record: field syscall="mkdir" is not a syscall number`,
		path + ":4: line is longer than 8192 bytes, the most a seccomp record takes; not parsed",
	}, errs)
	assert.Equal(t, uint64(2), src.(Counted).Malformed())
}

func TestFileSourceErrors(t *testing.T) {
	dir := t.TempDir()
	err := NewFileSource(filepath.Join(dir, "nope.log"), false).Run(context.Background(), func(Record) {})
	assert.EqualError(t, err, "open "+filepath.Join(dir, "nope.log")+": no such file or directory")
	err = NewFileSource(dir, true).Run(context.Background(), func(Record) {})
	assert.EqualError(t, err, dir+" is a directory; give a log file")
}

// follower runs a followed file source and collects what it emits.
type follower struct {
	mu      sync.Mutex
	records []Record
}

func (f *follower) emit(r Record) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.records = append(f.records, r)
}

func (f *follower) waitSerials(t *testing.T, want []uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		got := serials(f.records)
		f.mu.Unlock()
		if len(got) >= len(want) || time.Now().After(deadline) {
			assert.Equal(t, want, got)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func appendLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	require.NoError(t, err)
	defer f.Close()
	for _, l := range lines {
		_, err := f.WriteString(l + "\n")
		require.NoError(t, err)
	}
}

func TestFileSourceFollowRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	appendLines(t, path, recordLine(1)) // before the start: not read
	src := NewAuditdSource(path).(*fileSource)
	assert.Equal(t, "auditd", src.Name())
	assert.True(t, src.Complete())
	src.poll = 10 * time.Millisecond
	var mu sync.Mutex
	var errs []string
	src.OnMalformed(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err.Error())
	})
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{}
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, f.emit) }()
	defer func() {
		cancel()
		assert.NoError(t, <-done)
	}()
	// Let Run open the file and seek to its end.
	time.Sleep(50 * time.Millisecond)

	appendLines(t, path, recordLine(2), "type=SECCOMP msg=audit(1.000:1): pid=x")
	f.waitSerials(t, []uint64{2})

	// A partial line waits for its newline.
	line3 := recordLine(3)
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	_, err = fh.WriteString(line3[:40])
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond)
	_, err = fh.WriteString(line3[40:] + "\n")
	require.NoError(t, err)
	f.waitSerials(t, []uint64{2, 3})

	// Rotation: auditd renames the log, then writes the new one; the old
	// file's last record, written after the rename, is read too.
	require.NoError(t, os.Rename(path, path+".1"))
	_, err = fh.WriteString(recordLine(4) + "\n")
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	time.Sleep(50 * time.Millisecond) // the path is missing for a while
	appendLines(t, path, recordLine(5), recordLine(6), "type=SECCOMP msg=audit(1.000:1): pid=y")
	f.waitSerials(t, []uint64{2, 3, 4, 5, 6})

	// Truncation in place (copytruncate): read again from the start.
	require.NoError(t, os.Truncate(path, 0))
	time.Sleep(50 * time.Millisecond)
	appendLines(t, path, recordLine(7))
	f.waitSerials(t, []uint64{2, 3, 4, 5, 6, 7})
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{
		path + `:3: malformed seccomp record: field pid="x" is not a process ID`, // line 1 was there before the start
		path + `:3: malformed seccomp record: field pid="y" is not a process ID`, // the new file's third line
	}, errs)
}

func TestKmsgSource(t *testing.T) {
	t.Run("fifo", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "kmsg")
		require.NoError(t, syscall.Mkfifo(path, 0o600))
		src := NewKmsgSource(path)
		assert.Equal(t, "kmsg", src.Name())
		var malformed []string
		src.(Counted).OnMalformed(func(err error) { malformed = append(malformed, err.Error()) })
		ctx, cancel := context.WithCancel(context.Background())
		f := &follower{}
		done := make(chan error, 1)
		go func() { done <- src.Run(ctx, f.emit) }()

		w, err := os.OpenFile(path, os.O_WRONLY, 0) // blocks until Run opens it
		require.NoError(t, err)
		// /dev/kmsg gives one record per read, with dictionary lines after it.
		for _, rec := range []string{
			"5,4833,22173459094,-;" + strings.TrimPrefix(recordLine(1), "[  1.0] ") + "\n SUBSYSTEM=audit\n",
			"4,4834,22173459095,-;kauditd_printk_skb: 12 callbacks suppressed\n",
			"6,4835,22173459096,-;eth0: link up\n",
			"5,4836,22173459097,-;audit: type=1326 audit(1.000:2): pid=x\n",
			"5,4837,22173459098,-;" + strings.TrimPrefix(recordLine(3), "[  1.0] ") + "\n",
		} {
			_, err := w.WriteString(rec)
			require.NoError(t, err)
		}
		f.waitSerials(t, []uint64{1, 3})
		require.NoError(t, w.Close())
		time.Sleep(50 * time.Millisecond) // Run sees no writer and waits
		cancel()
		assert.NoError(t, <-done)
		assert.Equal(t, uint64(12), src.(Counted).Lost())
		assert.Equal(t, uint64(1), src.(Counted).Malformed())
		assert.Equal(t, []string{`malformed seccomp record: field pid="x" is not a process ID`}, malformed)
	})
	t.Run("regular file starts at its end", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "kmsg")
		appendLines(t, path, recordLine(1))
		src := NewKmsgSource(path)
		ctx, cancel := context.WithCancel(context.Background())
		f := &follower{}
		done := make(chan error, 1)
		go func() { done <- src.Run(ctx, f.emit) }()
		time.Sleep(50 * time.Millisecond)
		appendLines(t, path, recordLine(2))
		f.waitSerials(t, []uint64{2})
		cancel()
		assert.NoError(t, <-done)
	})
	t.Run("missing device", func(t *testing.T) {
		err := NewKmsgSource("/nonexistent/kmsg").Run(context.Background(), func(Record) {})
		assert.EqualError(t, err, "open /nonexistent/kmsg: no such file or directory; reading the kernel log needs CAP_SYSLOG and the device (or use another --source)")
	})
}

func TestLineBuffer(t *testing.T) {
	var b lineBuffer
	var got []int
	fn := func(l string) { got = append(got, len(l)) }
	b.feed([]byte("ab\ncd"), fn)
	b.feed([]byte(strings.Repeat("x", 3*MaxLineBytes)), fn)
	b.feed([]byte("\n\nz"), fn)
	b.flush(fn)
	assert.Equal(t, []int{2, MaxLineBytes + 1, 0, 1}, got, "a long line is cut at MaxLineBytes+1 so that ParseLine refuses it")
}
