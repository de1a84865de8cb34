package violations

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Audit netlink constants (linux/audit.h).
const (
	auditSeccomp      = 1326 // AUDIT_SECCOMP
	auditNlgrpReadlog = 1    // AUDIT_NLGRP_READLOG: every record, read-only
)

// netlinkSource reads the audit netlink multicast group, which receives
// every audit record whether or not auditd runs.
type netlinkSource struct {
	counters
	fd int
}

// netlinkRecvBytes is the socket receive buffer asked for: records queue
// there while Run attributes earlier ones; a full buffer drops them
// (ENOBUFS, counted as lost).
const netlinkRecvBytes = 4 << 20

// netlinkIdle is how long a receive waits before Run checks ctx again.
const netlinkIdle = 250 * time.Millisecond

// NewNetlinkSource binds a NETLINK_AUDIT socket to the multicast group
// AUDIT_NLGRP_READLOG. It needs CAP_AUDIT_READ, and the host's network
// namespace: the kernel multicasts audit records only in the initial one,
// so a socket in another namespace binds but receives nothing.
func NewNetlinkSource() (Source, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return nil, fmt.Errorf("open a NETLINK_AUDIT socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (auditNlgrpReadlog - 1)}); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("bind the audit netlink multicast group: %w; it needs CAP_AUDIT_READ", err)
		}
		return nil, fmt.Errorf("bind the audit netlink multicast group: %w", err)
	}
	// SO_RCVBUFFORCE passes the rmem_max limit with CAP_NET_ADMIN; else take
	// what SO_RCVBUF gives.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, netlinkRecvBytes) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, netlinkRecvBytes)
	}
	tv := unix.NsecToTimeval(netlinkIdle.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set a receive timeout on the audit netlink socket: %w", err)
	}
	return &netlinkSource{fd: fd}, nil
}

func (s *netlinkSource) Name() string   { return "netlink" }
func (s *netlinkSource) Complete() bool { return true }

func (s *netlinkSource) Run(ctx context.Context, emit func(Record)) error {
	defer unix.Close(s.fd)
	buf := make([]byte, 64<<10)
	for ctx.Err() == nil {
		n, _, err := unix.Recvfrom(s.fd, buf, 0)
		switch {
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOBUFS):
			// The receive buffer overflowed: records were dropped.
			s.lost.Add(1)
			continue
		case err != nil:
			return fmt.Errorf("receive from the audit netlink socket: %w", err)
		}
		s.messages(buf[:n], emit)
	}
	return nil
}

// messages handles the netlink messages in one datagram.
func (s *netlinkSource) messages(b []byte, emit func(Record)) {
	for len(b) >= unix.NLMSG_HDRLEN {
		length := int(binary.NativeEndian.Uint32(b[0:4]))
		typ := binary.NativeEndian.Uint16(b[4:6])
		if length < unix.NLMSG_HDRLEN || length > len(b) {
			return
		}
		if typ == auditSeccomp {
			s.handle(string(b[unix.NLMSG_HDRLEN:length]), emit, nil)
		}
		aligned := (length + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1)
		if aligned >= len(b) {
			return
		}
		b = b[aligned:]
	}
}
