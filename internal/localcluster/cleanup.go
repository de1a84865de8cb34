package localcluster

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// ownerFile in Dir holds the PID of the process that started the cluster;
// sysctlFile the kernel settings found before the kubelet started.
// ownedFile lists the directories of the run (Dir, the control plane's and
// envtest's), whose processes and files CleanStale removes.
const (
	ownerFile  = "owner.pid"
	sysctlFile = "sysctls"
	ownedFile  = "owned-paths"
)

// proc is a process on the machine.
type proc struct {
	pid     int
	cmdline string
	root    string
}

func (p proc) String() string {
	cmd := p.cmdline
	if len(cmd) > 240 {
		cmd = cmd[:240] + "..."
	}
	s := fmt.Sprintf("%d: %s", p.pid, cmd)
	if p.root != "/" && p.root != "" {
		s += " (root " + p.root + ")"
	}
	return s
}

// namesPath reports whether s mentions path as a whole path or a parent
// directory ("/tmp/x-1" is not mentioned by "/tmp/x-12").
func namesPath(s, path string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], path)
		if j < 0 {
			return false
		}
		end := i + j + len(path)
		if end == len(s) || strings.ContainsRune("/ ,:;=\"'\n\t", rune(s[end])) {
			return true
		}
		i = i + j + 1
	}
}

// ownedProcesses lists the processes (other than this one) that belong to
// the cluster of paths: those whose command line names one of paths (the
// components; containerd's shims, whose -address is the socket), those in
// the cgroup of one of its containers (found by the container IDs under
// containerd's state), and their descendants. A container's processes live
// in their own mount namespace, so their root does not show the rootfs path;
// and once a shim is gone they are no longer its children.
func ownedProcesses(paths []string, knownIDs ...string) []proc {
	ids := append(containerIDs(paths), knownIDs...)
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	var all []proc
	parent := map[int]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue // gone, a kernel thread or a zombie
		}
		p := proc{pid: pid, cmdline: strings.TrimSpace(strings.ReplaceAll(string(raw), "\x00", " "))}
		p.root, _ = os.Readlink(filepath.Join("/proc", e.Name(), "root"))
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			// pid (comm) state ppid ...: comm may contain spaces and parentheses.
			if i := strings.LastIndexByte(string(stat), ')'); i > 0 {
				if f := strings.Fields(string(stat[i+1:])); len(f) > 1 {
					parent[pid], _ = strconv.Atoi(f[1])
				}
			}
		}
		all = append(all, p)
	}
	owned := map[int]bool{}
	for _, p := range all {
		if ownsProcess(p, paths, ids) {
			owned[p.pid] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, p := range all {
			if !owned[p.pid] && owned[parent[p.pid]] {
				owned[p.pid], changed = true, true
			}
		}
	}
	var out []proc
	for _, p := range all {
		if owned[p.pid] {
			out = append(out, p)
		}
	}
	return out
}

func ownsProcess(p proc, paths, ids []string) bool {
	for _, path := range paths {
		if path != "" && (namesPath(p.cmdline, path) || strings.HasPrefix(p.root, path+"/")) {
			return true
		}
	}
	if len(ids) == 0 {
		return false
	}
	cg, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.pid), "cgroup"))
	if err != nil {
		return false
	}
	for _, id := range ids {
		if namesPath(string(cg), "/"+id) {
			return true
		}
	}
	return false
}

// containerIDs lists the IDs of the containers (and sandboxes) that the
// containerd under paths ran: the task directories in its state dir and
// runc's state directories.
func containerIDs(paths []string) []string {
	seen := map[string]bool{}
	var ids []string
	for _, p := range paths {
		for _, pattern := range []string{
			filepath.Join(p, "containerd", "state", "io.containerd.runtime.v2.task", "*", "*"),
			filepath.Join(p, "containerd", "runc", "*", "*"),
		} {
			matches, _ := filepath.Glob(pattern)
			for _, m := range matches {
				// CRI IDs are 64 hex digits: no risk of matching someone else's cgroup.
				if id := filepath.Base(m); len(id) >= 32 && !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
		}
	}
	return ids
}

// killOwned SIGKILLs every process ownedProcesses finds, until none is left
// or 15 s have passed.
func killOwned(paths []string, knownIDs ...string) error {
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 15*time.Second, true, func(context.Context) (bool, error) {
		procs := ownedProcesses(paths, knownIDs...)
		for _, p := range procs {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
		return len(procs) == 0, nil
	})
	if err == nil {
		return nil
	}
	procs := ownedProcesses(paths, knownIDs...)
	if len(procs) == 0 { // the last SIGKILL took effect
		return nil
	}
	var names []string
	for _, p := range procs {
		names = append(names, p.String())
	}
	return fmt.Errorf("still running after SIGKILL: %s", strings.Join(names, "; "))
}

// unescapeMountinfo decodes the octal escapes of /proc/self/mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountsUnder lists the mount points at or below dir, in mount order.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64*1024), 1024*1024)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out
}

// unmountUnder unmounts everything at or below dir, the most recent and
// deepest mounts first (the kubelet bind-mounts its root dir onto itself
// and mounts pod volumes under it; the shims mount container rootfs under
// containerd's state dir), lazily if a plain unmount fails.
func unmountUnder(dir string) error {
	for range 10 {
		mounts := mountsUnder(dir)
		if len(mounts) == 0 {
			return nil
		}
		// Deepest first; among equals the latest mount first.
		idx := make([]int, len(mounts))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool {
			da, db := strings.Count(mounts[idx[a]], "/"), strings.Count(mounts[idx[b]], "/")
			if da != db {
				return da > db
			}
			return idx[a] > idx[b]
		})
		for _, i := range idx {
			if err := syscall.Unmount(mounts[i], 0); err != nil {
				_ = syscall.Unmount(mounts[i], syscall.MNT_DETACH)
			}
		}
	}
	if left := mountsUnder(dir); len(left) > 0 {
		return fmt.Errorf("still mounted: %s", strings.Join(left, ", "))
	}
	return nil
}

// saveOwnedPaths writes ownedPaths into Dir, for CleanStale.
func (c *Cluster) saveOwnedPaths() error {
	return os.WriteFile(filepath.Join(c.Dir, ownedFile), []byte(strings.Join(c.ownedPaths, "\n")), 0o600)
}

// saveSysctls writes the snapshot into Dir, for CleanStale.
func (c *Cluster) saveSysctls() error {
	var b strings.Builder
	for k, v := range c.sysctls {
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	return os.WriteFile(filepath.Join(c.Dir, sysctlFile), []byte(b.String()), 0o600)
}

func readSysctls(dir string) map[string]string {
	b, err := os.ReadFile(filepath.Join(dir, sysctlFile))
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			out[k] = v
		}
	}
	return out
}

// CleanStale tears down what clusters of earlier runs left behind because
// their test process was killed before Stop: for each of this package's
// temp directories whose owner process is gone, it kills the processes that
// name it (components, shims, containers), unmounts everything below it,
// restores the kernel settings found before that run's kubelet started,
// removes its container log links and the directory. It returns the
// directories it cleaned. Start calls it. The pod network (bridge,
// nftables table, libcni cache entries) goes too, if that run had set it up.
func CleanStale() []string {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	var cleaned []string
	for _, dir := range dirs {
		if strings.HasPrefix(filepath.Base(dir), dirPrefix+"logs-") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		owned := []string{dir}
		if b, err := os.ReadFile(filepath.Join(dir, ownedFile)); err == nil {
			owned = lines(string(b))
		}
		c := &Cluster{Dir: dir, PodLogsDir: filepath.Join(dir, "pod-logs"), sysctls: readSysctls(dir), createdHostPaths: readHostPaths(dir)}
		ids := containerIDs(owned)
		errs := []error{killOwned(owned, ids...)}
		for _, p := range owned {
			errs = append(errs, unmountUnder(p))
		}
		errs = append(errs, removeShimSockets(dir))
		if _, err := os.Stat(filepath.Join(dir, networkFile)); err == nil {
			errs = append(errs, teardownNetwork(ids))
		}
		errs = append(errs, c.restoreSysctls(), c.removeLogLinks(), c.removeHostPaths())
		err = errors.Join(errs...)
		if err == nil {
			// Dir last: it holds the list.
			for i := len(owned) - 1; i >= 0; i-- {
				err = errors.Join(err, os.RemoveAll(owned[i]))
			}
		}
		if err != nil {
			cleaned = append(cleaned, fmt.Sprintf("%s (incomplete: %v)", dir, err))
			continue
		}
		cleaned = append(cleaned, dir)
	}
	return cleaned
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// hostFile in Dir lists the paths outside Dir that did not exist before the
// cluster started, for CleanStale.
const hostFile = "host-paths"

// hostPaths are the places outside Dir where containerd, runc and the
// kubelet write whatever their configuration says: the kubelet's device
// plugin socket (a fixed path), containerd's shim socket directory and ctr's
// FIFO directory, the container log links, util-linux's mount table, libcni's result cache, and
// the cgroup that the CRI plugin creates for its containers. Parents come
// before children.
func hostPaths() []string {
	paths := []string{
		"/var/lib/kubelet", "/var/lib/kubelet/device-plugins", "/var/lib/kubelet/device-plugins/kubelet.sock",
		"/run/containerd", "/run/containerd/s", "/run/containerd/fifo",
		libcniCacheDir, filepath.Join(libcniCacheDir, "results"),
		"/run/mount",
		containerLogsDir,
		"/sys/fs/cgroup/k8s.io",
	}
	controllers, _ := os.ReadDir("/sys/fs/cgroup")
	for _, c := range controllers {
		if c.IsDir() {
			paths = append(paths, filepath.Join("/sys/fs/cgroup", c.Name(), "k8s.io"))
		}
	}
	return paths
}

// recordHostPaths remembers which host paths do not exist yet.
func (c *Cluster) recordHostPaths() error {
	c.createdHostPaths = nil
	for _, p := range hostPaths() {
		if _, err := os.Lstat(p); os.IsNotExist(err) {
			c.createdHostPaths = append(c.createdHostPaths, p)
		}
	}
	return os.WriteFile(filepath.Join(c.Dir, hostFile), []byte(strings.Join(c.createdHostPaths, "\n")), 0o600)
}

func readHostPaths(dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, hostFile))
	if err != nil {
		return nil
	}
	return lines(string(b))
}

// removeHostPaths removes the host paths the cluster created, deepest first:
// directories only if empty (another cluster or runtime on the machine may
// use them), cgroups only without child cgroups or processes, the kubelet's
// device plugin socket.
func (c *Cluster) removeHostPaths() error {
	var errs []error
	for i := len(c.createdHostPaths) - 1; i >= 0; i-- {
		p := c.createdHostPaths[i]
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if strings.HasPrefix(p, "/sys/fs/cgroup/") {
			// Child cgroups first: those of containers whose shim was killed.
			if err := removeCgroup(p); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if fi.IsDir() {
			if entries, err := os.ReadDir(p); err == nil && len(entries) > 0 {
				continue
			}
		}
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// shimSocketDir is where containerd 1.6's runc shims put their sockets,
// whatever containerd's state directory (shim.SocketAddress).
const shimSocketDir = "/run/containerd/s"

// removeShimSockets removes the sockets of the shims of the containerd
// under dir, named sha256(<containerd socket>/<namespace>/<id>), which a
// killed shim leaves behind.
func removeShimSockets(dir string) error {
	socket := filepath.Join(dir, "containerd", "containerd.sock")
	tasks, _ := filepath.Glob(filepath.Join(dir, "containerd", "state", "io.containerd.runtime.v2.task", "*", "*"))
	var errs []error
	for _, task := range tasks {
		ns, id := filepath.Base(filepath.Dir(task)), filepath.Base(task)
		sum := sha256.Sum256([]byte(filepath.Join(socket, ns, id)))
		if err := os.Remove(filepath.Join(shimSocketDir, hex.EncodeToString(sum[:]))); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeCgroup removes a cgroup directory and its child cgroups, deepest
// first; the kernel refuses (EBUSY) while a process is still in one.
func removeCgroup(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			errs = append(errs, removeCgroup(filepath.Join(dir, e.Name())))
		}
	}
	if err := os.Remove(dir); err != nil && !os.IsNotExist(err) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// hostLeftovers lists the created host paths that still exist.
func (c *Cluster) hostLeftovers() []string {
	var out []string
	for _, p := range c.createdHostPaths {
		if _, err := os.Lstat(p); err == nil {
			out = append(out, "host path "+p+" (created by this cluster)")
		}
	}
	return out
}
