package recording

// Writers: a built profile goes to a file (or stdout), to a ConfigMap, or to
// a Security Profiles Operator SeccompProfile, for distribution to the
// nodes' seccomp root.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FileName is the name of a container's profile in a directory and its key
// in a ConfigMap: "<container>.json".
func FileName(p *Profile) string { return p.Recording.Container + ".json" }

// WriteFiles writes the profiles to output: "-" writes the one profile to
// stdout; an existing directory (or a path ending in "/", created) gets
// one FileName per profile; anything else is the file of the one profile.
// It returns where each profile went, in order.
func WriteFiles(profiles []*Profile, output string, stdout io.Writer) ([]string, error) {
	if len(profiles) == 0 {
		return nil, nil
	}
	if err := CheckFileOutput(profiles, output); err != nil {
		return nil, err
	}
	dir := isDir(output)
	if output == "-" {
		if _, err := stdout.Write(profiles[0].JSON); err != nil {
			return nil, err
		}
		return []string{"stdout"}, nil
	}
	if dir {
		if err := os.MkdirAll(output, 0o755); err != nil {
			return nil, fmt.Errorf("creating the --output directory: %w", err)
		}
	}
	var wrote []string
	for _, p := range profiles {
		path := output
		if dir {
			path = filepath.Join(output, FileName(p))
		}
		if err := os.WriteFile(path, p.JSON, 0o644); err != nil {
			return wrote, fmt.Errorf("writing the profile of %s: %w", p.Recording.Key(), err)
		}
		wrote = append(wrote, path)
	}
	return wrote, nil
}

// CheckFileOutput says whether output can take the profiles: several need
// a directory.
func CheckFileOutput(profiles []*Profile, output string) error {
	if len(profiles) <= 1 || isDir(output) {
		return nil
	}
	what := fmt.Sprintf("--output %q is one file", output)
	if output == "-" {
		what = "stdout takes one profile"
	}
	return fmt.Errorf("%s has recordings of %d containers (%s), and %s: give --container for one of them, or a directory to --output (one <container>.json each)",
		profiles[0].Recording.Workload, len(profiles), containerList(profiles), what)
}

// isDir: output is an existing directory or ends with "/".
func isDir(output string) bool {
	if strings.HasSuffix(output, "/") {
		return true
	}
	fi, err := os.Stat(output)
	return err == nil && fi.IsDir()
}

func containerList(profiles []*Profile) string {
	names := make([]string, 0, len(profiles))
	for _, p := range profiles {
		names = append(names, p.Recording.Container)
	}
	return strings.Join(names, ", ")
}

// WriteConfigMap puts the profiles into the ConfigMap namespace/name, one
// key each: key when given (then there must be one profile), else
// FileName. It creates the ConfigMap, or updates it keeping its other keys,
// labels and annotations. It returns the keys written.
func WriteConfigMap(ctx context.Context, c client.Client, namespace, name, key string, profiles []*Profile) ([]string, error) {
	if key != "" && len(profiles) > 1 {
		return nil, fmt.Errorf("--configmap-key %q names one key, and %s has recordings of %d containers (%s): give --container, or leave --configmap-key out (one <container>.json each)",
			key, profiles[0].Recording.Workload, len(profiles), containerList(profiles))
	}
	data := map[string]string{}
	keys := make([]string, 0, len(profiles))
	for _, p := range profiles {
		k := key
		if k == "" {
			k = FileName(p)
		}
		data[k] = string(p.JSON)
		keys = append(keys, k)
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm := &corev1.ConfigMap{}
		err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, cm)
		if apierrors.IsNotFound(err) {
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Data: data}
			return c.Create(ctx, cm)
		}
		if err != nil {
			return err
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		for k, v := range data {
			cm.Data[k] = v
		}
		return c.Update(ctx, cm)
	})
	if err != nil {
		return nil, fmt.Errorf("writing ConfigMap %s/%s: %w", namespace, name, err)
	}
	return keys, nil
}

// The Security Profiles Operator's SeccompProfile
// (sigs.k8s.io/security-profiles-operator api/seccompprofile/v1beta1),
// written as unstructured so that seccomp-guard does not import the
// operator. SPO v0.8 serves it namespaced, v0.9 cluster-scoped; the writer
// asks the API server which.
var SeccompProfileGVK = schema.GroupVersionKind{Group: "security-profiles-operator.x-k8s.io", Version: "v1beta1", Kind: "SeccompProfile"}

// ErrNoSeccompProfileKind: the cluster serves no SeccompProfile kind.
var ErrNoSeccompProfileKind = errors.New("the cluster has no SeccompProfile kind (security-profiles-operator.x-k8s.io/v1beta1): the Security Profiles Operator is not installed; " +
	"install it (https://github.com/kubernetes-sigs/security-profiles-operator), or write the profile with --configmap or --output instead")

// SeccompProfileName is the SeccompProfile name of p: name for a single
// profile, "<name>-<container>" when a workload has several.
func SeccompProfileName(name string, p *Profile, several bool) string {
	if several {
		return name + "-" + p.Recording.Container
	}
	return name
}

// SeccompProfileObject is p as an SPO SeccompProfile named name (in
// namespace, "" when the kind is cluster-scoped). The operator's schema
// has no defaultErrnoRet: SCMP_ACT_ERRNO refuses with EPERM anyway (runc's
// default), which the file and ConfigMap profiles spell out.
func SeccompProfileObject(namespace, name string, p *Profile) *unstructured.Unstructured {
	s := p.Seccomp
	spec := map[string]any{"defaultAction": string(s.DefaultAction)}
	if len(s.Architectures) > 0 {
		archs := make([]any, 0, len(s.Architectures))
		for _, a := range s.Architectures {
			archs = append(archs, string(a))
		}
		spec["architectures"] = archs
	}
	if len(s.Flags) > 0 {
		flags := make([]any, 0, len(s.Flags))
		for _, f := range s.Flags {
			flags = append(flags, string(f))
		}
		spec["flags"] = flags
	}
	syscalls := make([]any, 0, len(s.Syscalls))
	for _, sc := range s.Syscalls {
		names := make([]any, 0, len(sc.Names))
		for _, n := range sc.Names {
			names = append(names, n)
		}
		syscalls = append(syscalls, map[string]any{"action": string(sc.Action), "names": names})
	}
	spec["syscalls"] = syscalls
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetGroupVersionKind(SeccompProfileGVK)
	u.SetNamespace(namespace)
	u.SetName(name)
	u.SetAnnotations(map[string]string{"description": "Recorded by seccomp-guard profile record: " + p.Recording.Key()})
	return u
}

// SeccompProfileResult is where WriteSeccompProfiles put a profile.
type SeccompProfileResult struct {
	// Namespace is "" for a cluster-scoped SeccompProfile.
	Namespace, Name string
	// LocalhostProfile is the path the operator writes the profile to under
	// the kubelet's seccomp root, for a pod's localhostProfile.
	LocalhostProfile string
}

// WriteSeccompProfiles creates or updates an SPO SeccompProfile per profile
// (named by SeccompProfileName; in namespace when the operator's kind is
// namespaced). It fails with ErrNoSeccompProfileKind when the cluster does
// not serve the kind.
func WriteSeccompProfiles(ctx context.Context, c client.Client, namespace, name string, profiles []*Profile) ([]SeccompProfileResult, error) {
	namespaced, err := seccompProfileNamespaced(c)
	if err != nil {
		return nil, err
	}
	if !namespaced {
		namespace = ""
	}
	var out []SeccompProfileResult
	for _, p := range profiles {
		n := SeccompProfileName(name, p, len(profiles) > 1)
		want := SeccompProfileObject(namespace, n, p)
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(SeccompProfileGVK)
			err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: n}, got)
			if apierrors.IsNotFound(err) {
				return c.Create(ctx, want.DeepCopy())
			}
			if err != nil {
				return err
			}
			got.Object["spec"] = want.Object["spec"]
			ann := got.GetAnnotations()
			if ann == nil {
				ann = map[string]string{}
			}
			for k, v := range want.GetAnnotations() {
				ann[k] = v
			}
			got.SetAnnotations(ann)
			return c.Update(ctx, got)
		})
		if err != nil {
			return out, fmt.Errorf("writing SeccompProfile %s: %w", objectName(namespace, n), err)
		}
		// The operator writes <root>/operator/<namespace>/<name>.json;
		// path.Join drops the empty namespace of a cluster-scoped profile.
		lp := "operator/" + n + ".json"
		if namespace != "" {
			lp = "operator/" + namespace + "/" + n + ".json"
		}
		out = append(out, SeccompProfileResult{Namespace: namespace, Name: n, LocalhostProfile: lp})
	}
	return out, nil
}

// CheckSeccompProfileKind fails with ErrNoSeccompProfileKind when the
// cluster does not serve the operator's SeccompProfile, so that a command
// can stop before it writes anything else.
func CheckSeccompProfileKind(c client.Client) error {
	_, err := seccompProfileNamespaced(c)
	return err
}

// seccompProfileNamespaced asks the API server whether the SeccompProfile
// kind is namespaced.
func seccompProfileNamespaced(c client.Client) (bool, error) {
	mapping, err := c.RESTMapper().RESTMapping(SeccompProfileGVK.GroupKind(), SeccompProfileGVK.Version)
	if meta.IsNoMatchError(err) {
		return false, ErrNoSeccompProfileKind
	}
	if err != nil {
		return false, fmt.Errorf("looking up the SeccompProfile kind: %w", err)
	}
	return mapping.Scope.Name() == meta.RESTScopeNameNamespace, nil
}

func objectName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}
