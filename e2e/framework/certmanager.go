package framework

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// CertManagerDir is where `make cert-manager` (hack/build-cert-manager.sh)
// puts cert-manager: the binary cert-manager (its controllers and cainjector
// in one process) and crds/ (its CRDs, from the same module version).
func CertManagerDir() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin", "cert-manager"), nil
}

// MissingCertManager names what of bin/cert-manager is not built yet.
func MissingCertManager() []string {
	dir, err := CertManagerDir()
	if err != nil {
		return []string{err.Error()}
	}
	var missing []string
	if _, err := os.Stat(filepath.Join(dir, "cert-manager")); err != nil {
		missing = append(missing, filepath.Join(dir, "cert-manager"))
	}
	if crds, _ := filepath.Glob(filepath.Join(dir, "crds", "*.yaml")); len(crds) == 0 {
		missing = append(missing, filepath.Join(dir, "crds", "*.yaml"))
	}
	return missing
}

// CertManagerBuilt is for a TestMain, before Main: when bin/cert-manager is
// incomplete it prints why and returns false with the exit code to use: 0
// (SKIP) normally, 1 (FAIL) under CI=true, as Main does for the control plane.
func CertManagerBuilt() (ok bool, exitCode int) {
	missing := MissingCertManager()
	if len(missing) == 0 {
		return true, 0
	}
	msg := fmt.Sprintf("cert-manager not built (missing %s): run `make cert-manager`", strings.Join(missing, ", "))
	if os.Getenv("CI") == "true" {
		fmt.Fprintln(os.Stderr, "FAIL: "+msg)
		return false, 1
	}
	fmt.Fprintln(os.Stderr, "SKIP: "+msg)
	return false, 0
}

// CertManagerCRDs reads cert-manager's CRDs from bin/cert-manager/crds.
func CertManagerCRDs() ([]*unstructured.Unstructured, error) {
	dir, err := CertManagerDir()
	if err != nil {
		return nil, err
	}
	files, _ := filepath.Glob(filepath.Join(dir, "crds", "*.yaml"))
	if len(files) == 0 {
		return nil, fmt.Errorf("no CRDs in %s: run `make cert-manager`", filepath.Join(dir, "crds"))
	}
	sort.Strings(files)
	var crds []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := reader.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(doc, &obj.Object); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if len(obj.Object) == 0 {
				continue
			}
			if obj.GetKind() != "CustomResourceDefinition" {
				return nil, fmt.Errorf("%s: a %s, not a CustomResourceDefinition", f, obj.GetKind())
			}
			crds = append(crds, obj)
		}
	}
	return crds, nil
}

// InstallCertManagerCRDs applies cert-manager's CRDs (server-side, so it can
// run again) and waits until each is Established.
func InstallCertManagerCRDs(ctx context.Context, c client.Client) error {
	crds, err := CertManagerCRDs()
	if err != nil {
		return err
	}
	for _, crd := range crds {
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(crd),
			client.FieldOwner("seccomp-guard-e2e"), client.ForceOwnership); err != nil {
			return fmt.Errorf("installing the CRD %s: %w", crd.GetName(), err)
		}
	}
	for _, crd := range crds {
		name := crd.GetName()
		err := Poll(ctx, 100*time.Millisecond, 30*time.Second, "the CRD "+name+" to be Established", func(ctx context.Context) error {
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(crd.GroupVersionKind())
			if err := c.Get(ctx, client.ObjectKey{Name: name}, got); err != nil {
				return err
			}
			conditions, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, cond := range conditions {
				m, _ := cond.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return nil
				}
			}
			return fmt.Errorf("conditions %v", conditions)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// CertManager is a running bin/cert-manager/cert-manager: the issuers,
// clusterissuers, certificates and certificaterequests (SelfSigned and CA,
// with the approver) controllers and the cainjector of the pinned
// cert-manager release, against a control plane.
type CertManager struct {
	*Process
	HealthzPort int // /readyz and /livez on 127.0.0.1
}

// StartCertManager installs cert-manager's CRDs into cp, starts
// bin/cert-manager/cert-manager with cp's admin kubeconfig (its log is
// cp.Dir/cert-manager.log) and waits until its informers and caches have
// synced. extraArgs are added to its command line (e.g.
// "--namespace=<ns>" or "-v=4"; see `bin/cert-manager/cert-manager -h`).
// Stop it with Stop (SIGTERM); it exits 0.
func StartCertManager(ctx context.Context, cp *ControlPlane, extraArgs ...string) (*CertManager, error) {
	if missing := MissingCertManager(); len(missing) > 0 {
		return nil, fmt.Errorf("cert-manager not built (missing %s): run `make cert-manager`", strings.Join(missing, ", "))
	}
	dir, err := CertManagerDir()
	if err != nil {
		return nil, err
	}
	if err := InstallCertManagerCRDs(ctx, cp.Client); err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{
		"--kubeconfig", cp.Kubeconfig,
		"--healthz-address", "127.0.0.1:" + strconv.Itoa(port),
	}, extraArgs...)
	p, err := StartProcess(cp.Dir, "cert-manager", filepath.Join(dir, "cert-manager"), args...)
	if err != nil {
		return nil, err
	}
	cm := &CertManager{Process: p, HealthzPort: port}
	if err := cm.WaitReady(ctx, 2*time.Minute); err != nil {
		_ = cm.Stop()
		return nil, fmt.Errorf("%w\ncert-manager log:\n%s", err, cm.Log())
	}
	return cm, nil
}

// WaitReady polls /readyz: 200 once every controller's informers and the
// cainjector's caches have synced.
func (cm *CertManager) WaitReady(ctx context.Context, timeout time.Duration) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", cm.HealthzPort)
	return Poll(ctx, 200*time.Millisecond, timeout, "cert-manager to be ready", func(ctx context.Context) error {
		if exited, err := cm.Exited(); exited {
			if err == nil {
				err = errors.New("exit status 0")
			}
			return Abort(fmt.Errorf("cert-manager exited before it was ready: %w", err))
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz answered %s: %s", resp.Status, bytes.TrimSpace(body))
		}
		return nil
	})
}
