package localcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
)

// Runc is the runc binary the node's containerd runs containers with.
type Runc struct {
	// Path is the binary: $SECCOMP_GUARD_NODE_RUNC when set, else
	// <repo>/bin/runc when `make runc` built one that runs, else Debian's
	// runc from $PATH (/usr/sbin/runc).
	Path string
	// Built is true for bin/runc.
	Built bool
	// Version is what `runc --version` reports ("1.3.7", "1.1.5+ds1").
	Version string
	// Libseccomp is the libseccomp it is linked with ("2.5.4"); empty for a
	// runc built without seccomp support.
	Libseccomp string
	// Fallback says why bin/runc is not used; empty when it is.
	Fallback string
}

// SeccompFlags says whether this runc loads a profile's "flags" (runc 1.2
// and later). With it, a profile with flags: ["SECCOMP_FILTER_FLAG_LOG"]
// makes the kernel log its SCMP_ACT_ERRNO refusals (type=1326). Without it,
// errno refusals are silent, and runc 1.1 refuses to start a container
// whose profile has flags ("seccomp flags are not yet supported by runc").
func (r Runc) SeccompFlags() bool {
	major, minor, ok := majorMinor(r.Version)
	return ok && (major > 1 || major == 1 && minor >= 2)
}

// String names the binary and its version, and why it is the fallback.
func (r Runc) String() string {
	s := fmt.Sprintf("%s (runc %s", r.Path, r.Version)
	if r.Libseccomp != "" {
		s += ", libseccomp " + r.Libseccomp
	}
	s += ")"
	switch {
	case r.Built:
		s += ", built by `make runc`"
	case r.Fallback != "":
		s += ", not bin/runc: " + r.Fallback
	}
	if !r.SeccompFlags() {
		s += "; runc older than 1.2: SCMP_ACT_ERRNO refusals are not logged and profiles with \"flags\" fail to start"
	}
	return s
}

// BuiltRuncPath is where `make runc` puts runc: <repo>/bin/runc.
func BuiltRuncPath() (string, error) {
	root, err := framework.RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin", "runc"), nil
}

// RuncEnv, when set, is the path of the runc the cluster runs instead of
// bin/runc (e.g. /usr/sbin/runc, to compare with Debian's).
const RuncEnv = "SECCOMP_GUARD_NODE_RUNC"

// FindRunc chooses the cluster's runc: $SECCOMP_GUARD_NODE_RUNC when set;
// else bin/runc when it exists and `bin/runc --version` works; else the runc
// in $PATH (Debian's), with Fallback saying why. It fails when none runs.
func FindRunc(ctx context.Context) (Runc, error) {
	if p := os.Getenv(RuncEnv); p != "" {
		r, err := inspectRunc(ctx, p)
		if err != nil {
			return Runc{}, fmt.Errorf("%s=%s: %w (unset it to run bin/runc or Debian's runc)", RuncEnv, p, err)
		}
		r.Fallback = RuncEnv + " is set"
		return r, nil
	}
	var why string
	if built, err := BuiltRuncPath(); err != nil {
		why = "cannot locate bin/runc: " + err.Error()
	} else if _, err := os.Stat(built); err != nil {
		why = built + " missing (run `make runc`)"
	} else if r, err := inspectRunc(ctx, built); err != nil {
		why = err.Error() + " (rebuild it: FORCE=1 make runc)"
	} else {
		r.Built = true
		return r, nil
	}
	debian, err := exec.LookPath("runc")
	if err != nil {
		return Runc{}, fmt.Errorf("no runc to run containers with: %s, and runc not found in $PATH (apt-get install runc)", why)
	}
	r, err := inspectRunc(ctx, debian)
	if err != nil {
		return Runc{}, fmt.Errorf("no runc to run containers with: %s, and %w", why, err)
	}
	r.Fallback = why
	return r, nil
}

// inspectRunc runs `<path> --version`.
func inspectRunc(ctx context.Context, path string) (Runc, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").CombinedOutput()
	if err != nil {
		if msg := strings.TrimSpace(string(out)); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return Runc{}, fmt.Errorf("`%s --version` failed: %w", path, err)
	}
	r, err := parseRuncVersion(string(out))
	if err != nil {
		return Runc{}, fmt.Errorf("`%s --version`: %w", path, err)
	}
	r.Path = path
	return r, nil
}

// parseRuncVersion reads `runc --version`:
//
//	runc version 1.3.7
//	commit: ...
//	spec: 1.2.1
//	go: go1.26.8
//	libseccomp: 2.5.4
func parseRuncVersion(out string) (Runc, error) {
	var r Runc
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "runc version "); ok {
			r.Version = strings.TrimSpace(v)
		} else if v, ok := strings.CutPrefix(strings.TrimSpace(l), "libseccomp: "); ok {
			r.Libseccomp = strings.TrimSpace(v)
		}
	}
	if _, _, ok := majorMinor(r.Version); !ok {
		return Runc{}, fmt.Errorf("no \"runc version X.Y.Z\" line in %q", strings.TrimSpace(out))
	}
	return r, nil
}

// majorMinor reads the leading "X.Y" of a version such as "1.1.5+ds1".
func majorMinor(v string) (major, minor int, ok bool) {
	v = strings.TrimPrefix(v, "v")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, false
	}
	return major, minor, true
}
