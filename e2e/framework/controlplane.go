// Package framework starts what the e2e tests run against: a real
// kube-apiserver and etcd (built from the Go module proxy into bin/k8s by
// hack/build-controlplane.sh), and the real seccomp-guard binary as a process.
package framework

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
	"github.com/seccomp-guard/seccomp-guard/webhook"
)

// auditPolicy logs every write to the resources the webhooks receive
// (webhook.Rules, from the table of supported kinds) at Metadata level, so
// tests can read the webhook's audit annotations from the log.
func auditPolicy() string {
	var b strings.Builder
	b.WriteString("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [\"RequestReceived\"]\nrules:\n")
	b.WriteString("- level: Metadata\n  verbs: [\"create\", \"update\", \"patch\"]\n  resources:\n")
	for _, r := range webhook.Rules() {
		fmt.Fprintf(&b, "  - group: %q\n    resources: [\"%s\"]\n", r.APIGroups[0], strings.Join(r.Resources, `", "`))
	}
	b.WriteString("- level: None\n")
	return b.String()
}

// ControlPlane is a running kube-apiserver and etcd.
type ControlPlane struct {
	Env        *envtest.Environment
	Config     *rest.Config
	Client     client.Client
	Dir        string // scratch directory, removed by Stop
	AuditLog   string
	Kubeconfig string // admin kubeconfig file for processes under test
}

// RepoRoot finds the directory holding go.mod.
func RepoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the seccomp-guard module")
	}
	return filepath.Dir(mod), nil
}

// AssetsDir is where hack/build-controlplane.sh puts kube-apiserver, etcd and kubectl.
func AssetsDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin", "k8s"), nil
}

// MissingAssets names the control-plane binaries that are not built yet.
func MissingAssets() []string {
	dir, err := AssetsDir()
	if err != nil {
		return []string{err.Error()}
	}
	var missing []string
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			missing = append(missing, filepath.Join(dir, b))
		}
	}
	return missing
}

// StartControlPlane starts etcd and kube-apiserver with an audit log, and
// installs seccomp-guard's CRDs. Each configure function, if any, may change
// the environment (kube-apiserver flags, its certificate directory) before it
// starts; internal/localcluster uses this for what a cluster with pods needs.
func StartControlPlane(configure ...func(*envtest.Environment) error) (*ControlPlane, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "seccomp-guard-e2e-")
	if err != nil {
		return nil, err
	}
	cp := &ControlPlane{Dir: dir, AuditLog: filepath.Join(dir, "audit.log")}
	policyFile := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policyFile, []byte(auditPolicy()), 0o600); err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(root, "charts", "seccomp-guard", "crds")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme.Scheme,
	}
	env.ControlPlane.GetAPIServer().Configure().
		Append("audit-policy-file", policyFile).
		Append("audit-log-path", cp.AuditLog).
		Append("audit-log-mode", "blocking")
	for _, f := range configure {
		if err := f(env); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	cfg, err := env.Start()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	cp.Env, cp.Config = env, cfg
	if cp.Client, err = client.New(cfg, client.Options{Scheme: scheme.Scheme}); err != nil {
		cp.Stop()
		return nil, err
	}
	user, err := env.AddUser(envtest.User{Name: "seccomp-guard-e2e", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		cp.Stop()
		return nil, err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		cp.Stop()
		return nil, err
	}
	cp.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(cp.Kubeconfig, kc, 0o600); err != nil {
		cp.Stop()
		return nil, err
	}
	return cp, nil
}

// Stop stops the control plane and removes its files.
func (cp *ControlPlane) Stop() {
	if cp.Env != nil {
		_ = cp.Env.Stop()
	}
	_ = os.RemoveAll(cp.Dir)
}
