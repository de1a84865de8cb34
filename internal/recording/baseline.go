package recording

// The runtime baseline: syscalls that `runc init` (runc v1.3, the OCI
// runtime behind containerd and CRI-O) and its Go runtime make after the
// seccomp filter is loaded and before execve hands the process to the
// container's command. A recorded profile allows them even when the
// recording missed them (the agent attributes records by container, and the
// first moments of a container are easy to miss), because without them the
// container does not start: runc reports an EPERM from its own init, not
// from the application.
//
// Where the filter is loaded (libcontainer/standard_init_linux.go, the
// container's first process; setns_init_linux.go, `kubectl exec` and exec
// probes, the same steps):
//   - NoNewPrivileges false (allowPrivilegeEscalation not false, the
//     Kubernetes default): seccomp.InitSeccomp runs before finalizeNamespace,
//     because loading a filter without no_new_privs needs CAP_SYS_ADMIN, which
//     finalizeNamespace drops. Everything after it is filtered: closing
//     leaked descriptors, chdir, the user and capability switch, the parent
//     death signal, the command lookup, the exec FIFO, execve.
//   - NoNewPrivileges true: InitSeccomp runs just before execve, after
//     exec.LookPath; only the personality, the pipes, the exec FIFO, closing
//     descriptors and execve follow.
//
// The list is the union of both cases, since one recorded profile serves
// pods with either setting. Names cover the architectures runc is built for
// (amd64, arm64; 32-bit names where the call differs); a name the
// architecture lacks is skipped by libseccomp. StartContainer hooks (run by
// runc init after the filter when a node configures them) are not covered.
var runtimeBaseline = []struct {
	why   string
	names []string
}{
	{
		// Any thread of runc init at any time (runtime/sys_linux_*.s): the
		// scheduler, the allocator, signals, new OS threads, the netpoller.
		why: "Go runtime of runc init",
		names: []string{"clock_gettime", "clone", "clone3", "epoll_ctl", "epoll_pwait", "epoll_wait", "exit", "exit_group",
			"futex", "getpid", "gettid", "madvise", "mmap", "mprotect", "munmap", "nanosleep", "restart_syscall",
			"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sched_yield", "sigaltstack", "tgkill"},
	},
	{
		// The init pipe (a SOCK_SEQPACKET pair: writes are write(2), reads
		// peek the size with recvfrom(MSG_PEEK|MSG_TRUNC) then read, in
		// sync_unix.go), logrus on the log pipe, closing both, and the exec
		// FIFO reopened through /proc/thread-self/fd and written
		// (standard_init_linux.go).
		why:   "runc init's pipes and exec FIFO",
		names: []string{"close", "fcntl", "openat", "read", "recvfrom", "write"},
	},
	{
		// pathrs-lite (filepath-securejoin) opens /proc/thread-self safely:
		// openat2 with RESOLVE_* when the kernel has it (probed before the
		// filter, so an EPERM here is fatal), fstatfs/statx to verify procfs,
		// LockOSThread+gettid; UnsafeCloseFrom and CloseExecFrom read fd/.
		why:   "safe procfs access and closing descriptors",
		names: []string{"close_range", "fstat", "fstatfs", "getdents64", "newfstatat", "openat2", "readlinkat", "statx", "uname"},
	},
	{
		// finalizeNamespace, filtered only when NoNewPrivileges is false:
		// chdir to the working directory, getcwd (verifyCwd),
		// fixStdioPermissions (fstat, fchown), /proc/self/setgroups,
		// setgroups/setgid/setuid (Go runs them on every thread through
		// signals), the bounding set, keep-caps and the final capabilities.
		why: "user, working directory and capabilities (finalizeNamespace)",
		names: []string{"capget", "capset", "chdir", "fchown", "getcwd", "prctl", "setgid", "setgroups", "setuid",
			"setresgid", "setresuid", "getuid", "geteuid", "getgid", "getegid"},
	},
	{
		// pdeath.Restore (prctl), the reparenting check (getppid, kill), the
		// personality when the spec sets one.
		why:   "parent death signal, parent check and personality",
		names: []string{"getppid", "kill", "personality"},
	},
	{
		// exec.LookPath of the command (stat, then faccessat2 with
		// AT_EACCESS, falling back to faccessat), then execve itself.
		why:   "finding and starting the container's command",
		names: []string{"execve", "faccessat", "faccessat2", "fstatat64", "stat"},
	},
}

// baselineSyscalls is runtimeBaseline's names, sorted, without duplicates.
func baselineSyscalls() []string {
	seen := map[string]bool{}
	for _, g := range runtimeBaseline {
		for _, n := range g.names {
			seen[n] = true
		}
	}
	return sortedKeys(seen)
}
