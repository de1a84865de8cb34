package cli

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// ChartHookFieldManager owns the fields `chart-hook crds` applies.
const ChartHookFieldManager = "seccomp-guard-chart-hook"

// ApplyCRDs server-side applies every CRD in crds (*.yaml at its root) and
// waits until each is Established: the chart's pre-upgrade hook, since
// Helm never upgrades crds/. It writes one line per CRD to out.
func ApplyCRDs(ctx context.Context, c client.Client, crds fs.FS, out io.Writer) error {
	files, err := fs.Glob(crds, "*.yaml")
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no CRDs embedded in this binary (crds/*.yaml); it was built without them")
	}
	for _, f := range files {
		data, err := fs.ReadFile(crds, f)
		if err != nil {
			return err
		}
		crd := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &crd.Object); err != nil {
			return fmt.Errorf("%s: not a CRD: %w", f, err)
		}
		if crd.GetKind() != "CustomResourceDefinition" {
			return fmt.Errorf("%s: kind %q, want CustomResourceDefinition", f, crd.GetKind())
		}
		crd.SetManagedFields(nil)
		unstructured.RemoveNestedField(crd.Object, "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(crd.Object, "status")
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(crd), client.FieldOwner(ChartHookFieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("applying CRD %s (%s): %w", crd.GetName(), path.Base(f), err)
		}
		if err := waitEstablished(ctx, c, crd.GetName()); err != nil {
			return err
		}
		fmt.Fprintf(out, "customresourcedefinition %s applied and established\n", crd.GetName())
	}
	return nil
}

func waitEstablished(ctx context.Context, c client.Client, name string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		crd := &unstructured.Unstructured{}
		crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
		err := c.Get(ctx, client.ObjectKey{Name: name}, crd)
		if err == nil && established(crd) {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("CRD %s is not Established after a minute: %w; see `kubectl describe crd %s`", name, err, name)
			}
			return fmt.Errorf("CRD %s is not Established after a minute; see `kubectl describe crd %s`", name, name)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// AdmissionKinds are the cluster-scoped admission objects a release of the
// chart creates: what must not outlive it. A webhook configuration left
// behind with failurePolicy Fail refuses every pod in the namespaces it
// selects once its Service is gone.
var AdmissionKinds = []schema.GroupVersionKind{
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingWebhookConfiguration"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "MutatingWebhookConfiguration"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingAdmissionPolicyBinding"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingAdmissionPolicy"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "MutatingAdmissionPolicyBinding"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "MutatingAdmissionPolicy"},
}

// RemoveAdmission deletes, in AdmissionKinds' order (webhooks first), every
// admission object labelled app.kubernetes.io/instance=release and
// app.kubernetes.io/part-of=seccomp-guard: the chart's pre-delete hook, so
// that `helm uninstall` never leaves a webhook configuration pointing at a
// Service it has already deleted. Kinds the cluster does not serve (e.g.
// MutatingAdmissionPolicy before 1.36) are skipped.
func RemoveAdmission(ctx context.Context, c client.Client, release string, out io.Writer) error {
	if release == "" {
		return fmt.Errorf("no release name: pass --release")
	}
	sel := client.MatchingLabels{"app.kubernetes.io/instance": release, "app.kubernetes.io/part-of": "seccomp-guard"}
	for _, gvk := range AdmissionKinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(ctx, list, sel); err != nil {
			if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("listing %ss of release %q: %w", gvk.Kind, release, err)
		}
		names := make([]string, 0, len(list.Items))
		for i := range list.Items {
			names = append(names, list.Items[i].GetName())
		}
		slices.Sort(names)
		for _, name := range names {
			obj := &unstructured.Unstructured{}
			obj.SetGroupVersionKind(gvk)
			obj.SetName(name)
			err := c.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground))
			if client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("deleting %s %s: %w", gvk.Kind, name, err)
			}
			fmt.Fprintf(out, "%s %s deleted\n", gvk.Kind, name)
		}
	}
	return nil
}
