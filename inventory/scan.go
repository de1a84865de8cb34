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
//   - With a host root (the DaemonSet mounts the host's / read-only at /host
//     and passes --host-root=/host), the seccomp root is a host path, and
//     every path is resolved with filepath-securejoin inside the host root:
//     an absolute link target /x means <host root>/x, and no link escapes.
//   - Without one, the agent reads the seccomp root as it sees it and
//     follows links only while they stay inside that root. A link leading
//     elsewhere is reported invalid rather than followed: the agent cannot
//     tell whether its own view of that place is the host's (in a container
//     it is not). Run with --host-root=/ when the agent runs on the host.
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
	// HostRoot is where the host's / is mounted; "" reads Root as it is and
	// follows links only inside it.
	HostRoot string
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
	res, err := s.newResolver()
	if err != nil {
		return ScanResult{}, err
	}
	root, err := res.root()
	if err != nil {
		return ScanResult{}, err
	}
	info, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		var dirs []string
		if anc := res.existingAncestor(); anc != "" {
			dirs = []string{anc}
		}
		return ScanResult{Dirs: dirs, RootMissing: true}, nil
	case err != nil:
		return ScanResult{}, fmt.Errorf("reading the seccomp root %s: %w", s.Root, err)
	case !info.IsDir():
		return ScanResult{}, fmt.Errorf("the seccomp root %s is not a directory", s.Root)
	}
	w := &walker{s: s, res: res}
	if err := w.dir(root, "", []fileID{idOf(info)}); err != nil {
		return ScanResult{}, fmt.Errorf("reading the seccomp root %s: %w", s.Root, err)
	}
	slices.SortFunc(w.profiles, func(a, b v1alpha1.ProfileStatus) int { return strings.Compare(a.Path, b.Path) })
	slices.Sort(w.dirs)
	return ScanResult{Profiles: w.profiles, Dirs: w.dirs}, nil
}

type walker struct {
	s        Scanner
	res      resolver
	profiles []v1alpha1.ProfileStatus
	dirs     []string
}

// dir reads the directory at agent path p (rel to the seccomp root);
// ancestors are the directories above it, to stop at link loops. An error is
// returned only for the root; below it, errors become entries.
func (w *walker) dir(p, rel string, ancestors []fileID) error {
	entries, err := os.ReadDir(p)
	switch {
	case err != nil && rel == "":
		return err
	case err != nil:
		// Not watched: inotify would refuse it too; its parent's watch
		// sees a change of its permissions.
		w.invalid(rel, "cannot read the directory: "+errText(err))
		// os.ReadDir returns what it read before the error: scan that too.
	default:
		w.dirs = append(w.dirs, p)
	}
	for _, e := range entries {
		name := e.Name()
		childRel := path.Join(rel, name)
		child := filepath.Join(p, name)
		switch t := e.Type(); {
		case t.IsDir():
			w.enter(child, childRel, ancestors)
		case t&fs.ModeSymlink != 0:
			w.link(child, childRel, ancestors)
		case t.IsRegular():
			w.file(child, childRel)
		default:
			w.invalid(childRel, "not a regular file ("+kindOf(t)+")")
		}
	}
	return nil
}

// enter descends into a directory unless it is one of its own ancestors.
func (w *walker) enter(p, rel string, ancestors []fileID) {
	info, err := os.Stat(p)
	if err != nil {
		w.invalid(rel, "cannot read the directory: "+errText(err))
		return
	}
	id := idOf(info)
	if slices.Contains(ancestors, id) {
		w.invalid(rel, "symbolic link loop: leads back to a directory that contains it; not followed")
		return
	}
	_ = w.dir(p, rel, append(ancestors[:len(ancestors):len(ancestors)], id))
}

// link follows a symbolic link as the host would.
func (w *walker) link(p, rel string, ancestors []fileID) {
	target, _ := os.Readlink(p)
	resolved, err := w.res.resolve(rel)
	if err != nil {
		var outside errOutsideRoot
		if errors.As(err, &outside) {
			w.invalid(rel, fmt.Sprintf("symbolic link to %q leads outside the seccomp root; the agent follows such links only with --host-root", target))
			return
		}
		w.invalid(rel, fmt.Sprintf("cannot resolve the symbolic link to %q: %s", target, errText(err)))
		return
	}
	info, err := os.Stat(resolved)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		w.invalid(rel, fmt.Sprintf("dangling symbolic link: %q does not exist", target))
	case err != nil:
		w.invalid(rel, fmt.Sprintf("cannot resolve the symbolic link to %q: %s", target, errText(err)))
	case info.IsDir():
		w.enter(resolved, rel, ancestors)
	case info.Mode().IsRegular():
		w.file(resolved, rel)
	default:
		w.invalid(rel, fmt.Sprintf("symbolic link to %q: not a regular file (%s)", target, kindOf(info.Mode().Type())))
	}
}

// file reads, hashes and validates one file at agent path p. It never blocks
// on a FIFO swapped in behind its back, and never follows a link that
// appears after resolution.
func (w *walker) file(p, rel string) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		w.invalid(rel, "cannot read the file: "+errText(err))
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		w.invalid(rel, "cannot read the file: "+errText(err))
		return
	}
	if !info.Mode().IsRegular() {
		w.invalid(rel, "not a regular file ("+kindOf(info.Mode().Type())+")")
		return
	}
	if info.Size() > MaxProfileSize {
		w.profiles = append(w.profiles, v1alpha1.ProfileStatus{Path: rel, Size: info.Size(), Reason: oversize(info.Size())})
		return
	}
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

// resolver maps paths relative to the seccomp root to where the agent reads
// them, with every symbolic link followed as the host follows it.
type resolver interface {
	root() (string, error)
	resolve(rel string) (string, error)
	existingAncestor() string
}

type errOutsideRoot struct{ resolved string }

func (e errOutsideRoot) Error() string { return e.resolved + " is outside the seccomp root" }

func (s Scanner) newResolver() (resolver, error) {
	if s.Root == "" {
		return nil, errors.New("no seccomp root given")
	}
	if s.HostRoot == "" {
		dir, err := filepath.Abs(s.Root)
		if err != nil {
			return nil, err
		}
		return &localResolver{dir: dir}, nil
	}
	if !path.IsAbs(s.Root) {
		return nil, fmt.Errorf("the seccomp root %q must be an absolute path on the host when --host-root is set", s.Root)
	}
	hostRoot, err := filepath.Abs(s.HostRoot)
	if err != nil {
		return nil, err
	}
	// securejoin wants a root without links of its own.
	if hostRoot, err = filepath.EvalSymlinks(hostRoot); err != nil {
		return nil, fmt.Errorf("the host root: %w", err)
	}
	return &hostResolver{hostRoot: hostRoot, seccompRoot: path.Clean(s.Root)}, nil
}

// hostResolver resolves inside the host's file system, mounted at hostRoot.
type hostResolver struct {
	hostRoot    string
	seccompRoot string // a host path
}

func (h *hostResolver) root() (string, error) {
	return securejoin.SecureJoin(h.hostRoot, h.seccompRoot)
}

func (h *hostResolver) resolve(rel string) (string, error) {
	return securejoin.SecureJoin(h.hostRoot, path.Join(h.seccompRoot, rel))
}

func (h *hostResolver) existingAncestor() string {
	for dir := path.Dir(h.seccompRoot); ; dir = path.Dir(dir) {
		if p, err := securejoin.SecureJoin(h.hostRoot, dir); err == nil {
			if info, err := os.Stat(p); err == nil && info.IsDir() {
				return p
			}
		}
		if dir == "/" {
			return ""
		}
	}
}

// localResolver reads the root as the agent sees it and refuses links that
// leave it.
type localResolver struct {
	dir  string // absolute
	real string // dir with its own links resolved, set by root()
}

func (l *localResolver) root() (string, error) {
	resolved, err := filepath.EvalSymlinks(l.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return l.dir, nil // Scan's Stat reports it missing
	}
	if err != nil {
		return "", fmt.Errorf("reading the seccomp root %s: %w", l.dir, err)
	}
	l.real = resolved
	return resolved, nil
}

func (l *localResolver) resolve(rel string) (string, error) {
	// Resolved as the kernel would (securejoin with / as the root), but
	// without failing on a missing component, so that a link leading
	// outside is reported as such whether or not its target exists here.
	resolved, err := securejoin.SecureJoin("/", path.Join(l.real, rel))
	if err != nil {
		return "", err
	}
	if r, err := filepath.Rel(l.real, resolved); err != nil || r == ".." || strings.HasPrefix(r, "../") {
		return "", errOutsideRoot{resolved: resolved}
	}
	return resolved, nil
}

func (l *localResolver) existingAncestor() string {
	for dir := filepath.Dir(l.dir); ; dir = filepath.Dir(dir) {
		if info, err := os.Stat(dir); err == nil && info.IsDir() {
			return dir
		}
		if dir == filepath.Dir(dir) {
			return ""
		}
	}
}
