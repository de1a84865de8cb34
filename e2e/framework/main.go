package framework

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Suite is what an e2e package sets up against its control plane.
type Suite struct {
	// Setup runs once the control plane is up: start processes, install objects.
	Setup func(ctx context.Context, cp *ControlPlane) error
	// Processes lists what the package runs (asked again after the tests,
	// which may have restarted some); each is stopped at the end and must
	// exit cleanly on SIGTERM, or the run fails.
	Processes func() []*Process
}

// Main is the TestMain of an e2e package: it checks that the control plane
// is built (skipping, or failing under CI=true or REQUIRE_REALNODE=1, when
// it is not: see Unavailable), starts it, runs Setup and the tests, stops
// what Setup started, and keeps every log (and says where) when anything
// failed.
func Main(m *testing.M, s Suite) int {
	if missing := MissingAssets(); len(missing) > 0 {
		msg := fmt.Sprintf("control plane not built (missing %s): run `make controlplane`", strings.Join(missing, ", "))
		if Unavailable(SuiteName(), msg) {
			return 1
		}
		return 0
	}
	cp, err := StartControlPlane()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	code := run(m, s, cp)
	if code != 0 {
		fmt.Fprintf(os.Stderr, "logs kept in %s:\n", cp.Dir)
		logs, _ := filepath.Glob(filepath.Join(cp.Dir, "*.log"))
		for _, l := range logs {
			fmt.Fprintf(os.Stderr, "  %s\n", l)
		}
		_ = cp.Env.Stop()
		return code
	}
	cp.Stop()
	return 0
}

// SuiteName is the running test package's directory relative to the
// repository (go test runs a test binary in its package's directory), e.g.
// e2e/webhook; the binary's name if that fails.
func SuiteName() string {
	if wd, err := os.Getwd(); err == nil {
		if root, err := RepoRoot(); err == nil {
			if rel, err := filepath.Rel(root, wd); err == nil && !strings.HasPrefix(rel, "..") {
				return filepath.ToSlash(rel)
			}
		}
	}
	return strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
}

func run(m *testing.M, s Suite, cp *ControlPlane) (code int) {
	defer func() {
		if s.Processes == nil {
			return
		}
		for _, p := range s.Processes() {
			if p == nil {
				continue
			}
			if err := p.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "FAIL: %s did not exit cleanly on SIGTERM: %v\n", p.Name, err)
				code = 1
			}
		}
	}()
	if s.Setup != nil {
		if err := s.Setup(context.Background(), cp); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			return 1
		}
	}
	return m.Run()
}
