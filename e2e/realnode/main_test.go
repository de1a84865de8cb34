// Package realnode_test shows on a real node what seccomp-guard exists for:
// a kubelet, containerd and runc run the pods (internal/localcluster), so a missing
// Localhost profile really ends in CreateContainerError without
// seccomp-guard, and is refused at admission with it; a defaulted pod really
// runs under a seccomp filter.
//
// The tests need root, cgroups, containerd, runc, Debian's busybox-static,
// containernetworking-plugins and nftables (docs/testing.md). Elsewhere they
// skip, saying why (and `make test` says so at the end); under CI=true or
// REQUIRE_REALNODE=1 they fail instead. At the end the cluster is torn down
// and the run fails if anything of it is left on the machine.
package realnode_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/internal/localcluster"
)

var (
	// node is the running cluster; nil when the tests skip.
	node *localcluster.Cluster
	// skipReason says why the cluster cannot run here.
	skipReason string
	// guard is seccomp-guard wired into node, started by the first test that needs it.
	guard guardState
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if err := localcluster.Check(); err != nil {
		// Each test skips with this reason, so that `go test -v` shows it;
		// `make test` names the suite at the end; CI=true and
		// REQUIRE_REALNODE=1 fail instead.
		skipReason = "the local cluster cannot run on this machine: " + err.Error()
		if framework.Unavailable("e2e/realnode", skipReason) {
			return 1
		}
		return m.Run()
	}

	ctx := context.Background()
	var err error
	node, err = localcluster.Start(ctx, localcluster.Options{Progress: os.Stderr})
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: starting the local cluster: %v\n", err)
		return 1
	}

	// Ctrl-C or SIGTERM: tear down before exiting, so that no container,
	// mount or process outlives the run.
	var teardownOnce sync.Once
	teardown := func() {
		teardownOnce.Do(func() {
			guard.stop()
			if err := node.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "stopping the local cluster: %v\n", err)
			}
		})
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "\n%s: tearing down the local cluster (logs in %s)\n", sig, node.LogDir)
		teardown()
		os.Exit(130)
	}()

	code := m.Run()
	signal.Stop(sigs)
	teardown()
	if left := node.Leftovers(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the local cluster left behind:\n  %s\n", strings.Join(left, "\n  "))
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "component logs kept in %s:\n  %s\n", node.LogDir, strings.Join(node.LogFiles(), "\n  "))
		return code
	}
	_ = node.RemoveLogs()
	return code
}

// needNode skips the test when the cluster cannot run here.
func needNode(t *testing.T) {
	t.Helper()
	if node == nil {
		t.Skip(skipReason)
	}
}
