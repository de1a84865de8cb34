package localcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seccomp-guard/seccomp-guard/internal/images"
)

func TestParseRuncVersion(t *testing.T) {
	for _, tc := range []struct {
		name      string
		out       string
		want      Runc
		wantFlags bool
		wantErr   string
	}{
		{
			name:      "make runc",
			out:       "runc version 1.3.7\ncommit: v1.3.7-module-proxy\nspec: 1.2.1\ngo: go1.26.8\nlibseccomp: 2.5.4\n",
			want:      Runc{Version: "1.3.7", Libseccomp: "2.5.4"},
			wantFlags: true,
		},
		{
			name: "Debian 12",
			out:  "runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\ngo: go1.19.8\nlibseccomp: 2.5.4\n",
			want: Runc{Version: "1.1.5+ds1", Libseccomp: "2.5.4"},
		},
		{
			name:      "first release with flags, built without seccomp",
			out:       "runc version 1.2.0\nspec: 1.2.0\ngo: go1.22.8\n",
			want:      Runc{Version: "1.2.0"},
			wantFlags: true,
		},
		{
			name:      "a release candidate of a later major",
			out:       "runc version 2.0.0-rc.1\nlibseccomp: 2.6.0\n",
			want:      Runc{Version: "2.0.0-rc.1", Libseccomp: "2.6.0"},
			wantFlags: true,
		},
		{
			name:    "not runc",
			out:     "crun version 1.8\n",
			wantErr: `no "runc version X.Y.Z" line in "crun version 1.8"`,
		},
		{
			name:    "no minor",
			out:     "runc version 1\n",
			wantErr: `no "runc version X.Y.Z" line in "runc version 1"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRuncVersion(tc.out)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.wantFlags, got.SeccompFlags())
		})
	}
}

func TestFindRunc(t *testing.T) {
	ctx := context.Background()
	if p, err := exec.LookPath("runc"); err == nil {
		t.Run("SECCOMP_GUARD_NODE_RUNC names the runc in $PATH", func(t *testing.T) {
			t.Setenv(RuncEnv, p)
			r, err := FindRunc(ctx)
			require.NoError(t, err)
			assert.Equal(t, p, r.Path)
			assert.False(t, r.Built)
			assert.Equal(t, "SECCOMP_GUARD_NODE_RUNC is set", r.Fallback)
		})
	}
	t.Run("SECCOMP_GUARD_NODE_RUNC names a missing file", func(t *testing.T) {
		t.Setenv(RuncEnv, "/nonexistent/runc")
		_, err := FindRunc(ctx)
		require.EqualError(t, err, "SECCOMP_GUARD_NODE_RUNC=/nonexistent/runc: `/nonexistent/runc --version` failed: "+
			"fork/exec /nonexistent/runc: no such file or directory (unset it to run bin/runc or Debian's runc)")
	})
	t.Run("SECCOMP_GUARD_NODE_RUNC names something that is not runc", func(t *testing.T) {
		fake := filepath.Join(t.TempDir(), "runc")
		require.NoError(t, os.WriteFile(fake, []byte("#!/bin/sh\necho crun version 1.8\n"), 0o755))
		t.Setenv(RuncEnv, fake)
		_, err := FindRunc(ctx)
		require.EqualError(t, err, RuncEnv+"="+fake+": `"+fake+` --version`+"`"+`: no "runc version X.Y.Z" line in "crun version 1.8" (unset it to run bin/runc or Debian's runc)`)
	})
}

func TestRuncString(t *testing.T) {
	for _, tc := range []struct {
		name string
		runc Runc
		want string
	}{
		{
			name: "built",
			runc: Runc{Path: "/src/bin/runc", Built: true, Version: "1.3.7", Libseccomp: "2.5.4"},
			want: "/src/bin/runc (runc 1.3.7, libseccomp 2.5.4), built by `make runc`",
		},
		{
			name: "Debian's, bin/runc missing",
			runc: Runc{Path: "/usr/sbin/runc", Version: "1.1.5+ds1", Libseccomp: "2.5.4", Fallback: "/src/bin/runc missing (run `make runc`)"},
			want: "/usr/sbin/runc (runc 1.1.5+ds1, libseccomp 2.5.4), not bin/runc: /src/bin/runc missing (run `make runc`); " +
				`runc older than 1.2: SCMP_ACT_ERRNO refusals are not logged and profiles with "flags" fail to start`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.runc.String())
		})
	}
}

// The Makefile's RUNC_VERSION and hack/runc/go.mod pin the same runc
// (hack/build-runc.sh stops when they differ; this says so before a build).
func TestRuncPinsAgree(t *testing.T) {
	makefile, err := os.ReadFile("../../Makefile")
	require.NoError(t, err)
	gomod, err := os.ReadFile("../../hack/runc/go.mod")
	require.NoError(t, err)
	inMakefile := regexp.MustCompile(`(?m)^RUNC_VERSION \?= (\S+)$`).FindSubmatch(makefile)
	inGoMod := regexp.MustCompile(`(?m)^\s*github\.com/opencontainers/runc (\S+)`).FindSubmatch(gomod)
	require.NotNil(t, inMakefile, "no RUNC_VERSION ?= line in the Makefile")
	require.NotNil(t, inGoMod, "hack/runc/go.mod does not require github.com/opencontainers/runc")
	assert.Equal(t, string(inGoMod[1]), string(inMakefile[1]),
		"the Makefile's RUNC_VERSION differs from hack/runc/go.mod's; bump both (hack/build-runc.sh says how)")
}

// mkdirSyscalls are the numbers of mkdir and mkdirat on the machine's arch,
// as the kernel's type=1326 records print them.
var mkdirSyscalls = map[string][]int{
	"amd64": {83, 258},
	"arm64": {34}, // arm64 has only mkdirat
}

// TestRuncLogsErrnoRefusals is why `make runc` exists, shown with runc alone
// (no containerd, no kubelet, no network: the container gets a new, empty
// network namespace). A container under a profile that refuses mkdir with
// SCMP_ACT_ERRNO runs `mkdir /x`: under bin/runc, with the profile flag
// SECCOMP_FILTER_FLAG_LOG, mkdir fails with EPERM and the kernel logs a
// type=1326 record for its pid; without the flag it is silent. Debian's
// runc 1.1 refuses the flag outright, and without it is silent too.
func TestRuncLogsErrnoRefusals(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: runc needs root to run a container (run the test as root)")
	}
	syscalls, ok := mkdirSyscalls[runtime.GOARCH]
	if !ok {
		t.Skipf("no mkdir syscall numbers for %s in mkdirSyscalls", runtime.GOARCH)
	}
	built, err := BuiltRuncPath()
	require.NoError(t, err)
	if _, err := os.Stat(built); err != nil {
		t.Skipf("%s missing: run `make runc` (needs gcc, pkg-config and libseccomp-dev)", built)
	}
	ctx := context.Background()
	builtRunc, err := inspectRunc(ctx, built)
	require.NoError(t, err)
	require.True(t, builtRunc.SeccompFlags(), "bin/runc is %s, older than 1.2", builtRunc.Version)
	require.NotEmpty(t, builtRunc.Libseccomp, "bin/runc was built without seccomp (no libseccomp line in --version)")
	t.Logf("bin/runc: %s", builtRunc)

	var debianRunc *Runc
	if p, err := exec.LookPath("runc"); err == nil {
		if r, err := inspectRunc(ctx, p); err == nil && !r.SeccompFlags() {
			debianRunc = &r
			t.Logf("runc in $PATH: %s", r)
		}
	}

	bundle := newMkdirBundle(t, built)
	state := t.TempDir()
	const eperm = "mkdir: can't create directory '/x': Operation not permitted"
	for _, tc := range []struct {
		name       string
		debian     bool // Debian's runc 1.1 instead of bin/runc
		logFlag    bool
		wantOutput string // in the combined output of runc run
		wantRan    bool   // mkdir ran (and failed with EPERM)
		wantRecord bool
	}{
		{name: "bin/runc with SECCOMP_FILTER_FLAG_LOG logs the errno refusal", logFlag: true, wantOutput: eperm, wantRan: true, wantRecord: true},
		{name: "bin/runc without the flag refuses silently", wantOutput: eperm, wantRan: true},
		{name: "Debian's runc 1.1 refuses to start a profile with flags", debian: true, logFlag: true, wantOutput: "seccomp flags are not yet supported by runc"},
		{name: "Debian's runc 1.1 without the flag refuses silently", debian: true, wantOutput: eperm, wantRan: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runcPath := built
			if tc.debian {
				if debianRunc == nil {
					t.Skip("no runc older than 1.2 in $PATH (apt-get install runc)")
				}
				runcPath = debianRunc.Path
			}
			writeMkdirConfig(t, bundle, tc.logFlag)
			// The kernel's audit printk is rate-limited (about 10 records per
			// 5 s without auditd): a record lost to it is retried, not failed.
			var run mkdirRun
			for attempt := 1; attempt <= 3; attempt++ {
				run = runMkdir(t, runcPath, state, bundle, fmt.Sprintf("sg-runc-test-%d-%d", os.Getpid(), time.Now().UnixNano()), syscalls, tc.wantRecord)
				if !run.suppressed || run.record != "" || !tc.wantRecord {
					break
				}
				t.Logf("attempt %d: the kernel suppressed audit messages; retrying in 5s", attempt)
				time.Sleep(5 * time.Second)
			}
			assert.Contains(t, run.output, tc.wantOutput)
			if !tc.wantRan {
				assert.Zero(t, run.pid, "the container's process ran: %s", run.output)
				return
			}
			require.NotZero(t, run.pid, "no pid file: the container did not run: %s", run.output)
			assert.Equal(t, 1, run.exitCode, "mkdir's exit status: %s", run.output)
			if tc.wantRecord {
				assert.NotEmpty(t, run.record, "no type=1326 record with pid=%d, syscall in %v and code=0x50000 (SECCOMP_RET_ERRNO) in /dev/kmsg; records seen: %q", run.pid, syscalls, run.seen)
				if run.record != "" {
					t.Logf("the kernel logged: %s", run.record)
				}
			} else {
				assert.Empty(t, run.record, "a type=1326 record for pid %d though the refusal should be silent", run.pid)
			}
		})
	}
}

// newMkdirBundle makes an OCI bundle whose rootfs is the static busybox with
// a mkdir link, and whose config.json is `runc spec`'s (written by
// writeMkdirConfig).
func newMkdirBundle(t *testing.T, runc string) string {
	t.Helper()
	busybox, err := images.FindBusybox()
	if err != nil {
		t.Skip(err.Error())
	}
	bundle := t.TempDir()
	bin := filepath.Join(bundle, "rootfs", "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	data, err := os.ReadFile(busybox)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bin, "busybox"), data, 0o755))
	require.NoError(t, os.Symlink("busybox", filepath.Join(bin, "mkdir")))
	out, err := exec.Command(runc, "spec", "--bundle", bundle).CombinedOutput()
	require.NoError(t, err, "runc spec: %s", out)
	require.NoError(t, os.Rename(filepath.Join(bundle, "config.json"), filepath.Join(bundle, "spec.json")))
	return bundle
}

// writeMkdirConfig writes config.json from runc spec's: no terminal, a
// writable rootfs, `mkdir /x`, and a profile that allows everything but
// mkdir and mkdirat, refused with SCMP_ACT_ERRNO (EPERM, runc's default), with
// or without flags: ["SECCOMP_FILTER_FLAG_LOG"].
func writeMkdirConfig(t *testing.T, bundle string, logFlag bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(bundle, "spec.json"))
	require.NoError(t, err)
	var spec map[string]any
	require.NoError(t, json.Unmarshal(data, &spec))
	process := spec["process"].(map[string]any)
	process["terminal"] = false
	process["args"] = []string{"/bin/mkdir", "/x"}
	spec["root"].(map[string]any)["readonly"] = false
	seccomp := map[string]any{
		"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls":      []map[string]any{{"names": []string{"mkdir", "mkdirat"}, "action": "SCMP_ACT_ERRNO"}},
	}
	if logFlag {
		seccomp["flags"] = []string{"SECCOMP_FILTER_FLAG_LOG"}
	}
	spec["linux"].(map[string]any)["seccomp"] = seccomp
	data, err = json.MarshalIndent(spec, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644))
}

type mkdirRun struct {
	output     string
	exitCode   int
	pid        int      // the container's process on the host; 0 if it never ran
	record     string   // its type=1326 record for mkdir, if any
	seen       []string // every type=1326 record read meanwhile
	suppressed bool     // the kernel said it suppressed messages meanwhile
}

// runMkdir runs the bundle with `runc run` and reads the kernel log written
// meanwhile: until a record of the container's pid appears when one is
// expected, else for 2 s (the kernel's audit thread prints asynchronously).
func runMkdir(t *testing.T, runc, state, bundle, id string, syscalls []int, wantRecord bool) mkdirRun {
	t.Helper()
	kmsg, err := openKmsgAtEnd()
	require.NoError(t, err)
	defer kmsg.Close()

	pidFile := filepath.Join(state, id+".pid")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, runc, "--root", state, "run", "--bundle", bundle, "--pid-file", pidFile, id)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Cleanup(func() { _ = exec.Command(runc, "--root", state, "delete", "--force", id).Run() })
	run := mkdirRun{output: out.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		run.exitCode = exit.ExitCode()
	case err != nil:
		t.Fatalf("runc run: %v: %s", err, out.String())
	}
	if b, err := os.ReadFile(pidFile); err == nil {
		run.pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}

	pidField := fmt.Sprintf(" pid=%d ", run.pid)
	deadline := time.Now().Add(2 * time.Second)
	if wantRecord {
		deadline = time.Now().Add(5 * time.Second)
	}
	for time.Now().Before(deadline) {
		for _, l := range kmsg.ReadAvailable() {
			if strings.Contains(l, "callbacks suppressed") {
				run.suppressed = true
			}
			if !strings.Contains(l, "type=1326") {
				continue
			}
			run.seen = append(run.seen, l)
			if run.pid != 0 && strings.Contains(l, pidField) && strings.Contains(l, " code=0x50000") && hasSyscall(l, syscalls) {
				run.record = l
			}
		}
		if run.record != "" && wantRecord {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return run
}

func hasSyscall(record string, syscalls []int) bool {
	for _, n := range syscalls {
		if strings.Contains(record, fmt.Sprintf(" syscall=%d ", n)) {
			return true
		}
	}
	return false
}

// kmsgReader reads /dev/kmsg from where it was opened at, without blocking.
// Not through os.File: the runtime poller would make reads at the end block
// instead of returning EAGAIN.
type kmsgReader struct{ fd int }

func openKmsgAtEnd() (*kmsgReader, error) {
	fd, err := syscall.Open("/dev/kmsg", syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening /dev/kmsg to read the kernel's seccomp records: %w", err)
	}
	if _, err := syscall.Seek(fd, 0, io.SeekEnd); err != nil {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("seeking to the end of /dev/kmsg: %w", err)
	}
	return &kmsgReader{fd: fd}, nil
}

// ReadAvailable returns the messages written since the last call (one
// record per read(2), "prio,seq,usec,flags;text").
func (k *kmsgReader) ReadAvailable() []string {
	var out []string
	buf := make([]byte, 8192)
	for {
		n, err := syscall.Read(k.fd, buf)
		switch {
		case errors.Is(err, syscall.EPIPE): // overwritten before we read it; go on
			continue
		case err != nil || n <= 0:
			return out
		}
		rec := string(buf[:n])
		if _, text, ok := strings.Cut(rec, ";"); ok {
			rec = text
		}
		out = append(out, strings.TrimRight(rec, "\n"))
	}
}

func (k *kmsgReader) Close() error { return syscall.Close(k.fd) }
