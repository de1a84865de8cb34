package framework

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// ErrNoHelm is returned when bin/helm (built by `make tools`) is missing.
var ErrNoHelm = errors.New("bin/helm is missing: run `make tools`")

// RenderChart renders charts/seccomp-guard with the pinned helm (bin/helm)
// and values (nil for the defaults; written to a values file so that types
// survive), and returns its objects. A refused value returns helm's message.
func RenderChart(release, namespace string, values map[string]any) ([]*unstructured.Unstructured, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	helm := filepath.Join(root, "bin", "helm")
	if _, err := os.Stat(helm); err != nil {
		return nil, ErrNoHelm
	}
	args := []string{"template", release, filepath.Join(root, "charts", "seccomp-guard"), "--namespace", namespace}
	if values != nil {
		// Not under a test's TempDir: helm splits --values at commas, and test names have them.
		dir, err := os.MkdirTemp("", "seccomp-guard-chart-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		data, err := yaml.Marshal(values)
		if err != nil {
			return nil, err
		}
		file := filepath.Join(dir, "values.yaml")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			return nil, err
		}
		args = append(args, "--values", file)
	}
	cmd := exec.Command(helm, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("helm template: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(out)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &obj.Object); err != nil {
			return nil, fmt.Errorf("helm template output: %w\n%s", err, doc)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}
