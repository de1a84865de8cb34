package framework

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// ReportCRDFiles are the chart's report CRDs of a reporter format
// (charts/seccomp-guard/report-crds).
func ReportCRDFiles(format string) ([]string, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "charts", "seccomp-guard", "report-crds")
	switch format {
	case "openreports":
		return []string{filepath.Join(dir, "openreports.io_reports.yaml"), filepath.Join(dir, "openreports.io_clusterreports.yaml")}, nil
	case "wgpolicyk8s":
		return []string{filepath.Join(dir, "wgpolicyk8s.io_policyreports.yaml"), filepath.Join(dir, "wgpolicyk8s.io_clusterpolicyreports.yaml")}, nil
	}
	return nil, fmt.Errorf("no report CRDs for format %q", format)
}

// InstallReportCRDs installs the report CRDs of a format and waits until
// the API server serves them.
func (cp *ControlPlane) InstallReportCRDs(format string) error {
	files, err := ReportCRDFiles(format)
	if err != nil {
		return err
	}
	_, err = envtest.InstallCRDs(cp.Config, envtest.CRDInstallOptions{Paths: files, ErrorIfPathMissing: true, Scheme: cp.Env.Scheme})
	return err
}

// Reporter is a running `seccomp-guard reporter`.
type Reporter struct {
	*Process
	ProbePort int
}

// StartReporter starts `seccomp-guard reporter` (leader-elected, in the
// release namespace, which must exist) and waits until /readyz answers.
func StartReporter(ctx context.Context, cp *ControlPlane, bin, name string, extraArgs ...string) (*Reporter, error) {
	probe, err := FreePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{"reporter",
		"--kubeconfig", cp.Kubeconfig,
		"--release-namespace", v1alpha1.DefaultReleaseNamespace,
		"--health-probe-bind-address", "127.0.0.1:" + strconv.Itoa(probe),
		"--metrics-bind-address", "0",
	}, extraArgs...)
	p, err := StartProcess(cp.Dir, name, bin, args...)
	if err != nil {
		return nil, err
	}
	r := &Reporter{Process: p, ProbePort: probe}
	if err := p.WaitReadyz(ctx, probe, 60*time.Second); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return r, nil
}
