package framework

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// What a suite does when what it needs is missing here (the control plane
// not built, a machine that cannot run the real node): skip, saying why,
// or fail where skipping is not allowed.
const (
	// SkipDirEnv names a directory where a suite that skips leaves one
	// file saying which suite and why; `make test` sets it and prints
	// what it finds there at the end, so that a skip is never silent.
	SkipDirEnv = "SECCOMP_GUARD_SKIP_DIR"
	// RequireRealNodeEnv set to 1 (or true) turns a skip of a suite that
	// needs the control plane or the real node into a failure; .ci/run sets
	// it. CI=true does the same.
	RequireRealNodeEnv = "REQUIRE_REALNODE"
)

// mustNotSkip reports whether the environment forbids skipping, and why;
// an unreadable REQUIRE_REALNODE forbids it too (a typo must not turn CI's
// requirement off).
func mustNotSkip(getenv func(string) string) (bool, string) {
	if getenv("CI") == "true" {
		return true, "CI=true"
	}
	v := getenv(RequireRealNodeEnv)
	if v == "" {
		return false, ""
	}
	required, err := strconv.ParseBool(v)
	if err != nil {
		return true, fmt.Sprintf("%s=%q (not a boolean: 1, true, 0 or false)", RequireRealNodeEnv, v)
	}
	if required {
		return true, RequireRealNodeEnv + "=" + v
	}
	return false, ""
}

// Unavailable handles a suite that cannot run here: with CI=true or
// REQUIRE_REALNODE=1 it prints "FAIL: ..." and returns true (the caller
// fails the run); otherwise it prints "SKIP: ...", records the skip in
// $SECCOMP_GUARD_SKIP_DIR if set, and returns false. suite is the
// package's path in the repository (e2e/realnode), reason what is missing
// and what to do.
func Unavailable(suite, reason string) (fail bool) {
	return unavailable(os.Getenv, os.Stderr, suite, reason)
}

func unavailable(getenv func(string) string, stderr io.Writer, suite, reason string) bool {
	if forbidden, why := mustNotSkip(getenv); forbidden {
		fmt.Fprintf(stderr, "FAIL: %s must run (%s), but: %s\n", suite, why, reason)
		return true
	}
	fmt.Fprintf(stderr, "SKIP: %s: %s\n", suite, reason)
	if dir := getenv(SkipDirEnv); dir != "" {
		if err := recordSkip(dir, suite, reason); err != nil {
			// The skip could not be recorded, so it would go unnoticed: fail.
			fmt.Fprintf(stderr, "FAIL: recording the skip of %s in %s=%s: %v\n", suite, SkipDirEnv, dir, err)
			return true
		}
	}
	return false
}

// recordSkip writes "<suite>: <reason>" as one line into a file of its own
// in dir (one per suite: a package that runs twice records once).
func recordSkip(dir, suite, reason string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(suite) + ".skip"
	line := suite + ": " + strings.Join(strings.Fields(reason), " ") + "\n"
	return os.WriteFile(filepath.Join(dir, name), []byte(line), 0o644)
}
