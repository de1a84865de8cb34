package violations

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// fileSource reads records from a log file in any of the text formats.
type fileSource struct {
	counters
	name   string
	path   string
	follow bool
	poll   time.Duration // how often a followed file is checked for growth and rotation
}

// NewFileSource reads records from a file in any of ParseLine's formats: a
// saved kernel log (dmesg, journalctl -k), or auditd's log. With follow
// false it reads the file once and Run returns at its end. With follow true
// it starts at the end of the file and tails it, handling rotation: when
// the path's inode changes (rename and a new file) it reads the rest of the
// old file and opens the new one from its start; when the file shrinks
// (truncation) it reads it again from its start. Malformed records are
// reported as *LineError.
func NewFileSource(path string, follow bool) Source {
	return &fileSource{name: "file", path: path, follow: follow, poll: 250 * time.Millisecond}
}

// NewAuditdSource tails auditd's log, normally /var/log/audit/audit.log: a
// complete source where auditd runs.
func NewAuditdSource(path string) Source {
	return &fileSource{name: "auditd", path: path, follow: true, poll: 250 * time.Millisecond}
}

func (s *fileSource) Name() string { return s.name }

// Complete is true for auditd's log, which has every record; a file may be
// a saved kernel log, which the rate limit thinned.
func (s *fileSource) Complete() bool { return s.name == "auditd" }

// openFile is one open generation of the followed path.
type openFile struct {
	f     *os.File
	ino   uint64
	off   int64
	line  int
	lines lineBuffer
}

func (s *fileSource) open() (*openFile, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s is a directory; give a log file", s.path)
	}
	return &openFile{f: f, ino: inode(fi)}, nil
}

func (s *fileSource) Run(ctx context.Context, emit func(Record)) error {
	cur, err := s.open()
	if err != nil {
		return err
	}
	defer func() { cur.f.Close() }()
	buf := make([]byte, 64<<10)
	if s.follow {
		// Start at the end, counting the lines passed so that errors name
		// the right line.
		if err := skipToEnd(cur, buf); err != nil {
			return fmt.Errorf("read %s: %w", s.path, err)
		}
	}
	for ctx.Err() == nil {
		if err := s.drain(ctx, cur, buf, emit); err != nil {
			return err
		}
		if !s.follow {
			if ctx.Err() != nil {
				return nil
			}
			cur.lines.flush(s.lineHandler(cur, emit))
			return nil
		}
		if !sleep(ctx, s.poll) {
			return nil
		}
		fi, err := os.Stat(s.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Between the rename and the new file: keep reading the old one.
		case err != nil:
			return err
		case inode(fi) != cur.ino:
			// Rotated: the writer may have finished the old file after our
			// last read.
			if err := s.drain(ctx, cur, buf, emit); err != nil {
				return err
			}
			cur.lines.flush(s.lineHandler(cur, emit))
			next, err := s.open()
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return err
			}
			cur.f.Close()
			cur = next
		case fi.Size() < cur.off:
			// Truncated in place (copytruncate): read it again from the start.
			if _, err := cur.f.Seek(0, io.SeekStart); err != nil {
				return fmt.Errorf("seek to the start of truncated %s: %w", s.path, err)
			}
			cur.off, cur.line, cur.lines = 0, 0, lineBuffer{}
		}
	}
	return nil
}

// skipToEnd reads the open file to its end without parsing it, counting
// its complete lines and keeping its last partial one.
func skipToEnd(cur *openFile, buf []byte) error {
	for {
		n, err := cur.f.Read(buf)
		cur.off += int64(n)
		chunk := buf[:n]
		for {
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				break
			}
			cur.line++
			cur.lines.partial = cur.lines.partial[:0]
			chunk = chunk[i+1:]
		}
		cur.lines.feed(chunk, func(string) {})
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// drain reads the open file to its current end, or until ctx ends.
func (s *fileSource) drain(ctx context.Context, cur *openFile, buf []byte, emit func(Record)) error {
	handle := s.lineHandler(cur, emit)
	for ctx.Err() == nil {
		n, err := cur.f.Read(buf)
		cur.off += int64(n)
		cur.lines.feed(buf[:n], handle)
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", s.path, err)
		}
	}
	return nil
}

func (s *fileSource) lineHandler(cur *openFile, emit func(Record)) func(string) {
	return func(line string) {
		cur.line++
		n := cur.line
		s.handle(line, emit, func(err error) error { return &LineError{Path: s.path, Line: n, Err: err} })
	}
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
