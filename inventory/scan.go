package inventory

// Scanning: every regular file under the kubelet's seccomp root, as the
// container runtime on the host would open it.
//
// The kubelet passes <seccomp root>/<localhostProfile> to the runtime, which
// opens it on the host, following symbolic links there. The Security
// Profiles Operator, for one, makes <root>/operator a link to
// /var/lib/security-profiles-operator. The agent reproduces that in one of
// two ways:
//
//   - With a host root (the DaemonSet mounts the seccomp root and the
//     directories its links lead into, each read-only at the same path under
//     /host, and passes --host-root=/host), the seccomp root is a host path,
//     and every path is opened inside the host root: an absolute link target
//     /x means <host root>/x, and no link escapes. A link that leads outside
//     the mounted directories (MountedDirs) is reported as such, not as a
//     dangling link: the file may well exist on the host.
//   - Without one, the agent reads the seccomp root as it sees it and
//     follows links only while they stay inside that root. A link leading
//     elsewhere is reported invalid rather than followed: the agent cannot
//     tell whether its own view of that place is the host's (in a container
//     it is not). Run with --host-root=/ when the agent runs on the host.
//
// Every file and directory is opened with filepath-securejoin's pathrs-lite
// (openat2 with RESOLVE_IN_ROOT where the kernel has it): resolution and
// open are one step, so a link swapped in while the agent walks the tree
// cannot lead it outside the root. Files are read through a reopened O_PATH
// handle whose type was checked first, so a named pipe swapped in never
// blocks the scan.
//
// Every problem with one entry (a dangling link, a file over 1 MiB, an
// unreadable file or directory) becomes an invalid entry with a reason, and
// the scan goes on. Only an unusable root is an error.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// MaxProfileSize is the largest file the agent reads: 1 MiB, far more than
// any real profile (Docker's default is about 20 KiB).
const MaxProfileSize = 1 << 20

// DefaultSeccompRoot is the kubelet's seccomp root with its default --root-dir.
const DefaultSeccompRoot = "/var/lib/kubelet/seccomp"

// Scanner reads a node's seccomp root.
type Scanner struct {
	// Root is the seccomp root: a host path when HostRoot is set, else a
	// path as the agent sees it.
	Root string
	// HostRoot is where the host's directories are mounted; "" reads Root
	// as it is and follows links only inside it.
	HostRoot string
	// MountedDirs are the host directories mounted under HostRoot besides
	// Root (the chart's agent.linkTargets). A link that leads anywhere else
	// gets a reason of its own. Empty: the whole host is mounted.
	MountedDirs []string
	// Runtime decides how files are validated.
	Runtime Runtime
}

// ScanResult is one scan of the tree.
type ScanResult struct {
	// Profiles has one entry per file (or unreadable directory or link),
	// sorted by path.
	Profiles []v1alpha1.ProfileStatus
	// Dirs are the directories the scan read, as the agent sees them, sorted:
	// what to watch for changes. When the root does not exist, it holds the
	// nearest existing ancestor, so that the root's creation is noticed.
	Dirs []string
	// RootMissing says the seccomp root does not exist (an empty inventory).
	RootMissing bool
}

// Scan walks the tree. It fails only when the root exists but cannot be
// read as a directory.
func (s Scanner) Scan() (ScanResult, error) {
	v, missing, err := s.openView()
	if err != nil {
		return ScanResult{}, err
	}
	if missing {
		return s.rootMissing(v), nil
	}
	defer v.close()
	h, err := v.open(v.seccompRoot)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return s.rootMissing(v), nil
	case err != nil:
		return ScanResult{}, fmt.Errorf("reading the seccomp root %s: %s", s.Root, errText(err))
	}
	defer h.Close()
	info, err := h.Stat()
	switch {
	case err != nil:
		return ScanResult{}, fmt.Errorf("reading the seccomp root %s: %s", s.Root, errText(err))
	case !info.IsDir():
		return ScanResult{}, fmt.Errorf("the seccomp root %s is not a directory", s.Root)
	}
	w := &walker{s: s, v: v}
	if err := w.dir(h, "", []fileID{idOf(info)}); err != nil {
		return ScanResult{}, fmt.Errorf("reading the seccomp root %s: %s", s.Root, errText(err))
	}
	slices.SortFunc(w.profiles, func(a, b v1alpha1.ProfileStatus) int { return strings.Compare(a.Path, b.Path) })
	slices.Sort(w.dirs)
	return ScanResult{Profiles: w.profiles, Dirs: w.dirs}, nil
}

func (s Scanner) rootMissing(v *view) ScanResult {
	var dirs []string
	if anc := v.existingAncestor(); anc != "" {
		dirs = []string{anc}
	}
	return ScanResult{Dirs: dirs, RootMissing: true}
}

type walker struct {
	s        Scanner
	v        *view
	profiles []v1alpha1.ProfileStatus
	dirs     []string
}

// dir reads the directory open at h (rel to the seccomp root); ancestors
// are the directories above it, to stop at link loops. An error is returned
// only for the root; below it, errors become entries.
func (w *walker) dir(h *os.File, rel string, ancestors []fileID) error {
	entries, err := w.readDir(h)
	switch {
	case err != nil && rel == "":
		return err
	case err != nil:
		// Not watched: inotify would refuse it too; its parent's watch
		// sees a change of its permissions.
		w.invalid(rel, "cannot read the directory: "+errText(err))
		// ReadDir returns what it read before the error: scan that too.
	default:
		if p, err := procfs.ProcSelfFdReadlink(h); err == nil {
			w.dirs = append(w.dirs, p)
		}
	}
	for _, e := range entries {
		childRel := path.Join(rel, e.name)
		switch t := e.typ; {
		case t.IsDir():
			w.follow(childRel, "", ancestors)
		case t&fs.ModeSymlink != 0:
			w.follow(childRel, e.target, ancestors)
		case t.IsRegular():
			w.follow(childRel, "", ancestors)
		default:
			w.invalid(childRel, "not a regular file ("+kindOf(t)+")")
		}
	}
	return nil
}

// dirEntry is one name in a directory, with its link target for a link.
type dirEntry struct {
	name   string
	typ    fs.FileMode
	target string
}

// readDir lists the directory open (O_PATH) at h, sorted by name. On an
// error it returns what it read before it.
func (w *walker) readDir(h *os.File) ([]dirEntry, error) {
	d, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	list, err := d.ReadDir(-1)
	entries := make([]dirEntry, 0, len(list))
	for _, e := range list {
		de := dirEntry{name: e.Name(), typ: e.Type()}
		if de.typ&fs.ModeSymlink != 0 {
			de.target = readlinkAt(d, de.name)
		}
		entries = append(entries, de)
	}
	slices.SortFunc(entries, func(a, b dirEntry) int { return strings.Compare(a.name, b.name) })
	return entries, err
}

// readlinkAt reads the link name in the directory d, for messages.
func readlinkAt(d *os.File, name string) string {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(int(d.Fd()), name, buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// follow opens the entry rel (a link to target when target is not "") as
// the host would, inside the root, and reads what it finds.
func (w *walker) follow(rel, target string, ancestors []fileID) {
	isLink := target != ""
	hostPath := path.Join(w.v.seccompRoot, rel)
	h, err := w.v.open(hostPath)
	if err != nil {
		switch {
		case isLink && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)):
			if dest := w.v.lexical(hostPath); !w.v.mounted(dest) {
				w.invalid(rel, w.v.outside(target, dest))
				return
			}
			w.invalid(rel, fmt.Sprintf("dangling symbolic link: %q does not exist", target))
		case isLink:
			w.invalid(rel, fmt.Sprintf("cannot resolve the symbolic link to %q: %s", target, errText(err)))
		default:
			w.invalid(rel, "cannot read the file: "+errText(err))
		}
		return
	}
	defer h.Close()
	// Where it led: a link may leave what the agent sees, and a directory
	// or file may have been replaced by a link since it was listed.
	if isLink || w.v.within != nil {
		dest, err := w.v.hostPathOf(h)
		if err != nil {
			w.invalid(rel, fmt.Sprintf("cannot resolve the path: %s", errText(err)))
			return
		}
		if !w.v.mounted(dest) {
			if !isLink {
				target = dest // replaced by a link while the agent read the tree
			}
			w.invalid(rel, w.v.outside(target, dest))
			return
		}
	}
	info, err := h.Stat()
	switch {
	case err != nil:
		w.invalid(rel, "cannot read the file: "+errText(err))
	case info.IsDir():
		id := idOf(info)
		if slices.Contains(ancestors, id) {
			w.invalid(rel, "symbolic link loop: leads back to a directory that contains it; not followed")
			return
		}
		_ = w.dir(h, rel, append(ancestors[:len(ancestors):len(ancestors)], id))
	case info.Mode().IsRegular():
		w.file(h, info, rel)
	case isLink:
		w.invalid(rel, fmt.Sprintf("symbolic link to %q: not a regular file (%s)", target, kindOf(info.Mode().Type())))
	default:
		w.invalid(rel, "not a regular file ("+kindOf(info.Mode().Type())+")")
	}
}

// file reads, hashes and validates the regular file open (O_PATH) at h.
// The handle was checked to be a regular file, and reopening it reads that
// very file: a named pipe or a link swapped in behind the agent's back is
// never opened.
func (w *walker) file(h *os.File, info fs.FileInfo, rel string) {
	if info.Size() > MaxProfileSize {
		w.profiles = append(w.profiles, v1alpha1.ProfileStatus{Path: rel, Size: info.Size(), Reason: oversize(info.Size())})
		return
	}
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC)
	if err != nil {
		w.invalid(rel, "cannot read the file: "+errText(err))
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxProfileSize+1))
	if err != nil {
		w.invalid(rel, "cannot read the file: "+errText(err))
		return
	}
	size := int64(len(data))
	if size > MaxProfileSize {
		// It grew while we read it.
		w.profiles = append(w.profiles, v1alpha1.ProfileStatus{Path: rel, Size: size, Reason: oversize(size)})
		return
	}
	sum := sha256.Sum256(data)
	v := ValidateProfile(data, w.s.Runtime)
	w.profiles = append(w.profiles, v1alpha1.ProfileStatus{
		Path:          rel,
		SHA256:        hex.EncodeToString(sum[:]),
		Size:          size,
		Valid:         v.Valid,
		Reason:        v.Reason,
		DefaultAction: v.DefaultAction,
		Warnings:      v.Warnings,
		SilentActions: v.SilentActions,
	})
}

func oversize(n int64) string {
	return fmt.Sprintf("file is %d bytes, over the 1 MiB limit for a seccomp profile", n)
}

func (w *walker) invalid(rel, reason string) {
	w.profiles = append(w.profiles, v1alpha1.ProfileStatus{Path: rel, Reason: reason})
}

// errText is the cause of a file system error without the agent's own path
// (which, under a host root, is not the path anyone on the node would use).
func errText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		err = le.Err
	}
	return err.Error()
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	default:
		return "an irregular file"
	}
}

// fileID identifies a directory, to notice link loops.
type fileID struct{ dev, ino uint64 }

func idOf(info fs.FileInfo) fileID {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return fileID{dev: uint64(st.Dev), ino: st.Ino} //nolint:unconvert // Dev is uint32 on some platforms
	}
	return fileID{}
}

// view is the host's file system as the agent opens it: every path is a
// host path, opened inside the directory rootDir.
type view struct {
	rootDir  *os.File // O_PATH: the host root, or / without one
	rootPath string   // where rootDir is, as the agent sees it, links resolved
	// seccompRoot is the seccomp root as a path inside rootDir.
	seccompRoot string
	// within are the paths inside rootDir that links may lead into; nil:
	// anywhere.
	within []string
	local  bool // no host root: links may not leave the seccomp root
}

// openView opens the root the scan resolves in. missing says that the
// seccomp root does not exist (without a host root, where its own links are
// resolved first).
func (s Scanner) openView() (v *view, missing bool, err error) {
	if s.Root == "" {
		return nil, false, errors.New("no seccomp root given")
	}
	v = &view{}
	if s.HostRoot == "" {
		dir, err := filepath.Abs(s.Root)
		if err != nil {
			return nil, false, err
		}
		v.local, v.rootPath, v.seccompRoot = true, "/", dir
		resolved, err := filepath.EvalSymlinks(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return v, true, nil
		case err != nil:
			return nil, false, fmt.Errorf("reading the seccomp root %s: %s", dir, errText(err))
		}
		v.seccompRoot, v.within = resolved, []string{resolved}
	} else {
		if !path.IsAbs(s.Root) {
			return nil, false, fmt.Errorf("the seccomp root %q must be an absolute path on the host when --host-root is set", s.Root)
		}
		hostRoot, err := filepath.Abs(s.HostRoot)
		if err != nil {
			return nil, false, err
		}
		// The host root's own links are the agent's, not the host's.
		if hostRoot, err = filepath.EvalSymlinks(hostRoot); err != nil {
			return nil, false, fmt.Errorf("the host root: %w", err)
		}
		v.rootPath, v.seccompRoot = hostRoot, path.Clean(s.Root)
		if len(s.MountedDirs) > 0 {
			v.within = append([]string{v.seccompRoot}, s.MountedDirs...)
			for i, d := range v.within {
				v.within[i] = path.Clean(d)
			}
		}
	}
	v.rootDir, err = os.OpenFile(v.rootPath, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false, fmt.Errorf("opening the host root %s: %s", v.rootPath, errText(err))
	}
	return v, false, nil
}

func (v *view) close() { _ = v.rootDir.Close() }

// open opens the host path p (O_PATH), following links inside the root.
func (v *view) open(p string) (*os.File, error) { return pathrs.OpenatInRoot(v.rootDir, p) }

// hostPathOf is the host path of what h is open at.
func (v *view) hostPathOf(h *os.File) (string, error) {
	p, err := procfs.ProcSelfFdReadlink(h)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(v.rootPath, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s is outside the host root %s", p, v.rootPath)
	}
	return path.Join("/", filepath.ToSlash(rel)), nil
}

// lexical is where the host path p leads, following the links that exist
// (for messages about a link whose target does not exist).
func (v *view) lexical(p string) string {
	joined, err := securejoin.SecureJoin(v.rootPath, p)
	if err != nil {
		return p
	}
	rel, err := filepath.Rel(v.rootPath, joined)
	if err != nil {
		return p
	}
	return path.Join("/", filepath.ToSlash(rel))
}

// mounted says whether the host path p is in a directory the agent sees.
func (v *view) mounted(p string) bool {
	if v.within == nil {
		return true
	}
	return slices.ContainsFunc(v.within, func(dir string) bool { return pathWithin(dir, p) })
}

// pathWithin says whether p is dir or below it (both clean and absolute).
func pathWithin(dir, p string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// outside is the reason for a link to target that leads to dest, outside
// what the agent sees.
func (v *view) outside(target, dest string) string {
	if v.local {
		return fmt.Sprintf("symbolic link to %q leads outside the seccomp root; the agent follows such links only with --host-root", target)
	}
	return fmt.Sprintf("symbolic link to %q leads to %s, outside the host directories mounted into the agent; add its directory to agent.linkTargets in the chart's values (the agent's --mounted-dirs)", target, dest)
}

// existingAncestor is the nearest existing directory above a missing
// seccomp root, as the agent sees it.
func (v *view) existingAncestor() string {
	for dir := path.Dir(v.seccompRoot); ; dir = path.Dir(dir) {
		p := dir
		if !v.local {
			var err error
			if p, err = securejoin.SecureJoin(v.rootPath, dir); err != nil {
				p = ""
			}
		}
		if p != "" {
			if info, err := os.Stat(p); err == nil && info.IsDir() {
				return p
			}
		}
		if dir == "/" || dir == "." {
			return ""
		}
	}
}
