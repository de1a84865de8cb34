package violations

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// kmsgSource reads the kernel log device. Without auditd, the kernel prints
// audit records there through printk_ratelimit (10 per 5 s by default), so
// it loses records under load.
type kmsgSource struct {
	counters
	path string
}

// NewKmsgSource reads new records from path, normally "/dev/kmsg" (needs
// CAP_SYSLOG, or root with kernel.dmesg_restrict=0, and the device). It
// starts at the end of the ring buffer: only records written after Run
// starts. It is lossy: see Counted.Lost.
func NewKmsgSource(path string) Source { return &kmsgSource{path: path} }

func (s *kmsgSource) Name() string   { return "kmsg" }
func (s *kmsgSource) Complete() bool { return false }

// kmsgReadBytes holds the longest /dev/kmsg record (about 1 KiB of text
// plus its dictionary); a read with a shorter buffer fails with EINVAL.
const kmsgReadBytes = 16 << 10

// kmsgIdle is how long Run waits for data before it checks ctx again.
const kmsgIdle = 250 * time.Millisecond

// suppressed is the kernel's note that the rate limit dropped audit records.
var suppressed = regexp.MustCompile(`kauditd_printk_skb: (\d+) callbacks suppressed`)

func (s *kmsgSource) Run(ctx context.Context, emit func(Record)) error {
	fd, err := unix.Open(s.path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w; reading the kernel log needs CAP_SYSLOG and the device (or use another --source)", s.path, err)
	}
	defer unix.Close(fd)
	// /dev/kmsg: SEEK_END moves to the record after the newest. A FIFO
	// standing in for it cannot seek.
	if _, err := unix.Seek(fd, 0, unix.SEEK_END); err != nil && !errors.Is(err, unix.ESPIPE) {
		return fmt.Errorf("seek to the end of %s: %w", s.path, err)
	}
	buf := make([]byte, kmsgReadBytes)
	var lines lineBuffer
	onLine := func(line string) {
		if m := suppressed.FindStringSubmatch(line); m != nil {
			if n, err := strconv.ParseUint(m[1], 10, 32); err == nil {
				s.lost.Add(n)
			}
			return
		}
		s.handle(line, emit, nil)
	}
	for ctx.Err() == nil {
		n, err := unix.Read(fd, buf)
		switch {
		case errors.Is(err, unix.EPIPE):
			// The ring buffer overwrote records before they were read; the
			// next read returns the oldest one left.
			s.lost.Add(1)
		case errors.Is(err, unix.EAGAIN):
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			if _, err := unix.Poll(fds, int(kmsgIdle/time.Millisecond)); err != nil && !errors.Is(err, unix.EINTR) {
				return fmt.Errorf("poll %s: %w", s.path, err)
			}
		case errors.Is(err, unix.EINTR):
		case err != nil:
			return fmt.Errorf("read %s: %w", s.path, err)
		case n == 0:
			// A regular file or a FIFO without a writer: wait for more.
			if !sleep(ctx, kmsgIdle) {
				return nil
			}
		default:
			lines.feed(buf[:n], onLine)
		}
	}
	return nil
}
