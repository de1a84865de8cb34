//go:build soak

package soak_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/internal/localcluster"
)

const suite = "e2e/soak"

var (
	// node is the running cluster; nil when the tests skip.
	node *localcluster.Cluster
	// skipReason says why the suite cannot run here.
	skipReason string
	// image is the reference of the built image (the chart's default).
	image    string
	helmBin  string
	chartDir string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// unavailable makes every test skip with reason, or fails the run where
// skipping is not allowed.
func unavailable(m *testing.M, reason string) int {
	skipReason = reason
	if framework.Unavailable(suite, reason) {
		return 1
	}
	return m.Run()
}

func run(m *testing.M) int {
	if err := localcluster.Check(); err != nil {
		return unavailable(m, "the local cluster cannot run on this machine: "+err.Error())
	}
	if missing := framework.MissingAssets(); len(missing) > 0 {
		return unavailable(m, "control plane not built (missing "+strings.Join(missing, ", ")+"): run `make controlplane`")
	}
	root, err := framework.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	helmBin, chartDir = filepath.Join(root, "bin", "helm"), filepath.Join(root, "charts", "seccomp-guard")
	if _, err := os.Stat(helmBin); err != nil {
		return unavailable(m, "bin/helm is missing: run `make tools`")
	}
	if _, err := soakDuration(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	if _, err := soakRate(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}

	ctx := context.Background()
	node, err = localcluster.Start(ctx, localcluster.Options{Progress: os.Stderr})
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: starting the local cluster: %v\n", err)
		return 1
	}
	var teardownOnce sync.Once
	teardown := func() {
		teardownOnce.Do(func() {
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

	code := func() int {
		if code := buildImage(ctx); code != 0 {
			return code
		}
		return m.Run()
	}()
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

// buildImage builds the image and imports it into the node.
func buildImage(ctx context.Context) int {
	dir, err := os.MkdirTemp("", "seccomp-guard-soak-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	archive, ref, err := framework.BuildImage(ctx, dir, "")
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: building the image: %v\n", err)
		return 1
	}
	if _, err := node.ImportImage(ctx, archive); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: importing %s into the node: %v\n", ref, err)
		return 1
	}
	image = ref
	return 0
}

// needNode skips the test when the suite cannot run here.
func needNode(t *testing.T) {
	t.Helper()
	if node == nil {
		t.Skip(skipReason)
	}
}
