package cli

// `seccomp-guard audit`: what is already in the cluster, evaluated at each
// namespace's mode and one step up the ladder (disabled, audit, warn,
// enforce). Workload UPDATEs are ratcheted, so raising a namespace's mode
// breaks no stored workload: what breaks is the next Pod CREATE its
// controller sends. So every top-level workload's pod template is evaluated
// as that Pod CREATE, and every bare pod as it is. Objects that a controller
// owns are counted under their top-level owner, not evaluated again.

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
	"github.com/seccomp-guard/seccomp-guard/internal/violations"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// AuditOptions say what Audit reads.
type AuditOptions struct {
	// Namespace limits the audit to one namespace; "" for all.
	Namespace string
	// Selector selects the top-level objects by their labels; nil for all.
	Selector labels.Selector
	// PolicyFile is a file with the ClusterSeccompPolicy to apply; "" for
	// the cluster's ClusterSeccompPolicy "default", else the built-in defaults.
	PolicyFile string
	// ReleaseNamespace is the namespace of the agents' Leases.
	ReleaseNamespace string
	// Now judges the inventories' staleness.
	Now time.Time
}

// The status of an object at the next step of the ladder.
const (
	AuditDeny          = "deny"           // it breaks a rule: enforce denies its next Pod CREATE
	AuditDefault       = "default"        // admitted, with a profile defaulted
	AuditOK            = "ok"             // admitted as it is
	AuditExempt        = "exempt"         // not evaluated: Decision.Skipped says why
	AuditNotApplicable = "not-applicable" // a mirror pod or a Windows pod
)

// The state of a Localhost profile on the node where a running pod runs.
const (
	ProfileStateOK      = "ok"
	ProfileStateChanged = "changed" // its sha256 differs from the most common one on the other nodes
	ProfileStateGone    = "gone"    // missing on the node: the pod's next restart fails
)

// AuditReport is the output of `seccomp-guard audit -o json`.
type AuditReport struct {
	// Policy names the policy applied: `ClusterSeccompPolicy "default"`,
	// a file, or "built-in defaults".
	Policy string `json:"policy"`
	// Now is when the inventories' staleness was judged.
	Now        time.Time        `json:"now"`
	Namespaces []NamespaceAudit `json:"namespaces"`
	Summary    AuditSummary     `json:"summary"`
	// Notes explain what was read and what was assumed.
	Notes []string `json:"notes,omitempty"`
}

// AuditSummary counts over every namespace.
type AuditSummary struct {
	Namespaces int `json:"namespaces"`
	// Objects counts the top-level objects evaluated.
	Objects int `json:"objects"`
	// Violating counts the objects that break a rule at their namespace's next step.
	Violating int `json:"violating"`
	// Denied counts the objects whose namespace's next step is enforce and
	// that it would deny. audit exits 1 when it is not zero.
	Denied          int `json:"denied"`
	ProfilesGone    int `json:"profilesGone"`
	ProfilesChanged int `json:"profilesChanged"`
}

// NamespaceAudit is one namespace.
type NamespaceAudit struct {
	Name string        `json:"name"`
	Mode v1alpha1.Mode `json:"mode"`
	// NextMode is the next step up the ladder (enforce stays enforce).
	NextMode v1alpha1.Mode `json:"nextMode"`
	// Exempt is true for a namespace in spec.exemptions.namespaces.
	Exempt bool `json:"exempt,omitempty"`
	// Warning is the namespace's own problem, such as an invalid mode label.
	Warning        string        `json:"warning,omitempty"`
	Recommendation string        `json:"recommendation"`
	Objects        []ObjectAudit `json:"objects"`
	// Profiles are the Localhost profiles of the namespace's running pods.
	Profiles []RunningProfile `json:"profiles,omitempty"`
}

// ObjectAudit is one top-level object: a workload, evaluated as the Pod
// CREATE its controller will send, or a pod that no controller owns.
type ObjectAudit struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// UID is the object's uid (absent for an object read from a file).
	UID types.UID `json:"uid,omitempty"`
	// Owns counts, by kind, the objects its controllers made (its
	// ReplicaSets, Jobs and pods), which are reported through it.
	Owns map[string]int `json:"owns,omitempty"`
	// Status is the verdict at the next step: deny, default, ok, exempt or not-applicable.
	Status string `json:"status"`
	// Now and Next are the engine's verdicts at the mode and at the next
	// mode: allowed, skipped, would-deny (audit, warn) or denied (enforce).
	Now  string `json:"now"`
	Next string `json:"next"`
	// Defaulted is the profile admission would set.
	Defaulted string `json:"defaulted,omitempty"`
	// Detail says why the object is exempt or not applicable.
	Detail     string             `json:"detail,omitempty"`
	Reasons    []policy.Reason    `json:"reasons,omitempty"`
	Violations []policy.Violation `json:"violations,omitempty"`
	// Message is the exact message enforce denies the Pod CREATE with.
	Message  string   `json:"message,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// RunningProfile is one container of a running pod with a Localhost profile.
type RunningProfile struct {
	Pod string `json:"pod"`
	// Owner is the pod's top-level owner, "Kind/name", when not the pod itself.
	Owner     string `json:"owner,omitempty"`
	Container string `json:"container"`
	// Profile is the container's effective profile, "localhost/<path>".
	Profile string `json:"profile"`
	Node    string `json:"node"`
	// State is ok, changed, gone, or the node's other states: invalid,
	// allow-by-default, unknown.
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
}

// auditObject is one listed object.
type auditObject struct {
	kind *policy.Kind
	obj  client.Object
	top  *auditObject // the top-level owner; itself when top-level
	owns map[string]int
}

// Audit reads the cluster through c (list and get only) and evaluates it.
func Audit(ctx context.Context, c client.Reader, opts AuditOptions) (*AuditReport, error) {
	src, err := ClusterInventoryFrom(ctx, c, opts.ReleaseNamespace)
	if err != nil {
		return nil, err
	}
	p, err := InventoryPolicy(opts.PolicyFile, src)
	if err != nil {
		return nil, err
	}
	r := &AuditReport{Now: opts.Now.UTC(), Notes: src.Notes}
	switch {
	case opts.PolicyFile != "":
		r.Policy = opts.PolicyFile
	case src.Policy != nil:
		r.Policy = fmt.Sprintf("ClusterSeccompPolicy %q", src.Policy.Name)
	default:
		r.Policy = "built-in defaults"
	}
	view := src.View()
	if len(src.Nodes) == 0 {
		r.Notes = append(r.Notes, "the cluster has no Node: Localhost profiles cannot be checked against nodes")
	}

	namespaces, err := listNamespaces(ctx, c, opts.Namespace)
	if err != nil {
		return nil, err
	}
	objects, err := listObjects(ctx, c, opts.Namespace)
	if err != nil {
		return nil, err
	}
	byNamespace := map[string][]*auditObject{}
	for _, o := range objects {
		if o.top != o {
			continue
		}
		if opts.Selector != nil && !opts.Selector.Matches(labels.Set(o.obj.GetLabels())) {
			continue
		}
		byNamespace[o.obj.GetNamespace()] = append(byNamespace[o.obj.GetNamespace()], o)
	}
	running := runningProfiles(p, view, opts, objects)

	for _, ns := range namespaces {
		tops := byNamespace[ns.Name]
		if opts.Selector != nil && !opts.Selector.Empty() && len(tops) == 0 {
			continue
		}
		na := auditNamespace(p, view, opts.Now, ns, tops)
		na.Profiles = running[ns.Name]
		r.Namespaces = append(r.Namespaces, na)
		r.Summary.Namespaces++
		r.Summary.Objects += len(na.Objects)
		for _, o := range na.Objects {
			if o.Status == AuditDeny {
				r.Summary.Violating++
				if na.NextMode == v1alpha1.ModeEnforce {
					r.Summary.Denied++
				}
			}
		}
		for _, rp := range na.Profiles {
			switch rp.State {
			case ProfileStateGone:
				r.Summary.ProfilesGone++
			case ProfileStateChanged:
				r.Summary.ProfilesChanged++
			}
		}
	}
	return r, nil
}

// listNamespaces returns the namespace named, or every namespace, sorted.
func listNamespaces(ctx context.Context, c client.Reader, name string) ([]policy.Namespace, error) {
	var items []corev1.Namespace
	if name != "" {
		ns := corev1.Namespace{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, inputErrorf("namespace %q does not exist; check --namespace (kubectl get namespaces)", name)
			}
			return nil, fmt.Errorf("reading namespace %q: %w", name, err)
		}
		items = []corev1.Namespace{ns}
	} else {
		list := &corev1.NamespaceList{}
		if err := c.List(ctx, list); err != nil {
			return nil, fmt.Errorf("listing namespaces: %w", err)
		}
		items = list.Items
	}
	out := make([]policy.Namespace, 0, len(items))
	for _, ns := range items {
		out = append(out, policy.Namespace{Name: ns.Name, Labels: ns.Labels, Annotations: ns.Annotations})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// listObjects lists every object of the supported kinds and links each to
// its top-level owner: the end of its chain of controller references among
// the listed objects. An object whose controller is not listed (a Node for
// a mirror pod, a custom resource's operator, an owner already deleted) is
// top-level itself.
func listObjects(ctx context.Context, c client.Reader, namespace string) ([]*auditObject, error) {
	var out []*auditObject
	byUID := map[types.UID]*auditObject{}
	for i := range policy.Kinds() {
		k := &policy.Kinds()[i]
		gvk := k.GroupVersionKind
		gvk.Kind += "List"
		obj, err := scheme.Scheme.New(gvk)
		if err != nil {
			return nil, fmt.Errorf("no list type for %s: %w", k.GroupVersionKind, err)
		}
		list := obj.(client.ObjectList)
		if err := c.List(ctx, list, client.InNamespace(namespace)); err != nil {
			return nil, fmt.Errorf("listing %s: %w; audit needs get and list on %s", k.Resource, err, k.Resource)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return nil, err
		}
		for _, item := range items {
			o := &auditObject{kind: k, obj: item.(client.Object)}
			out = append(out, o)
			byUID[o.obj.GetUID()] = o
		}
	}
	for _, o := range out {
		o.top = topOwner(o, byUID)
		if o.top != o {
			if o.top.owns == nil {
				o.top.owns = map[string]int{}
			}
			o.top.owns[o.kind.Kind]++
		}
	}
	return out, nil
}

// topOwner follows controller references up to the top-level object.
func topOwner(o *auditObject, byUID map[types.UID]*auditObject) *auditObject {
	cur := o
	for range 10 { // a cycle of controller references cannot exist; bound it anyway
		ref := metav1.GetControllerOf(cur.obj)
		if ref == nil {
			return cur
		}
		owner, ok := byUID[ref.UID]
		if !ok || owner.obj.GetNamespace() != cur.obj.GetNamespace() {
			return cur
		}
		cur = owner
	}
	return cur
}

// auditNamespace evaluates a namespace's top-level objects at its mode and
// at the next one.
func auditNamespace(p *policy.Policy, view policy.NodeView, now time.Time, ns policy.Namespace, tops []*auditObject) NamespaceAudit {
	mode, warning := policy.NamespaceMode(p, ns)
	na := NamespaceAudit{Name: ns.Name, Mode: mode, NextMode: policy.NextMode(mode), Exempt: p.ExemptNamespaces[ns.Name], Warning: warning, Objects: []ObjectAudit{}}
	next := ns
	next.Labels = make(map[string]string, len(ns.Labels)+1)
	for k, v := range ns.Labels {
		next.Labels[k] = v
	}
	next.Labels[policy.ModeLabel] = string(na.NextMode)
	sort.Slice(tops, func(i, j int) bool {
		if tops[i].kind.Kind != tops[j].kind.Kind {
			return policy.KindIndex(tops[i].kind.Kind) < policy.KindIndex(tops[j].kind.Kind)
		}
		return tops[i].obj.GetName() < tops[j].obj.GetName()
	})
	for _, o := range tops {
		na.Objects = append(na.Objects, auditOne(p, view, now, ns, next, o))
	}
	na.Recommendation = Recommendation(na)
	return na
}

// auditOne evaluates one top-level object at both steps.
func auditOne(p *policy.Policy, view policy.NodeView, now time.Time, ns, next policy.Namespace, o *auditObject) ObjectAudit {
	obj, kind, name := podCreate(o)
	eval := func(n policy.Namespace) policy.Decision {
		return policy.Evaluate(p, view, policy.Request{Operation: admissionv1.Create, Namespace: n, Object: obj.DeepCopyObject(), Now: now})
	}
	dNow, dNext := eval(ns), eval(next)
	oa := ObjectAudit{
		Kind: o.kind.Kind, Name: o.obj.GetName(), UID: o.obj.GetUID(), Owns: o.owns,
		Now: dNow.Verdict(), Next: dNext.Verdict(),
		Defaulted: dNext.Defaulted, Warnings: dNext.Warnings,
	}
	pod, isPod := obj.(*corev1.Pod)
	_, mirror := o.obj.GetAnnotations()[corev1.MirrorPodAnnotationKey]
	switch {
	case isPod && o.kind.IsPod() && mirror:
		oa.Status = AuditNotApplicable
		oa.Detail = "a mirror pod: the kubelet runs its static pod from a manifest file on its node whatever admission says, so seccomp-guard neither defaults nor denies it; fix the static pod's manifest"
	case isPod && pod.Spec.OS != nil && pod.Spec.OS.Name == corev1.Windows:
		oa.Status = AuditNotApplicable
		oa.Detail = dNext.Skipped
	case dNext.Skipped != "":
		oa.Status = AuditExempt
		oa.Detail = dNext.Skipped
	case len(dNext.Violations) > 0:
		oa.Status = AuditDeny
		oa.Reasons = dNext.Reasons()
		oa.Violations = dNext.Violations
		oa.Message = dNext.DenialMessage(kind, name, "")
	case dNext.Defaulted != "":
		oa.Status = AuditDefault
	default:
		oa.Status = AuditOK
	}
	return oa
}

// podCreate is what admission will see of a top-level object: a bare pod as
// it is, a workload as the Pod CREATE its controller sends (the template's
// labels, annotations and spec, a generated name; a DaemonSet's pods with
// the tolerations its controller adds). A workload without a pod template is
// evaluated itself. It returns the object, its kind and name for the
// denial message.
func podCreate(o *auditObject) (client.Object, string, string) {
	if o.kind.IsPod() {
		return o.obj, "Pod", o.obj.GetName()
	}
	podMeta, spec := o.kind.Template(o.obj)
	if spec == nil {
		return o.obj, o.kind.Kind, o.obj.GetName()
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: o.obj.GetName() + "-",
			Namespace:    o.obj.GetNamespace(),
		},
		Spec: *spec.DeepCopy(),
	}
	if podMeta != nil {
		pod.Labels, pod.Annotations = podMeta.Labels, podMeta.Annotations
	}
	if o.kind.IsDaemon() {
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, policy.DaemonTolerations()...)
	}
	return pod, "Pod", ""
}

// Recommendation is a namespace's next step.
func Recommendation(na NamespaceAudit) string {
	if na.Exempt {
		return fmt.Sprintf("exempt (spec.exemptions.namespaces): seccomp-guard evaluates nothing in namespace %q at any mode", na.Name)
	}
	var names []string
	for _, o := range na.Objects {
		if o.Status == AuditDeny {
			names = append(names, fmt.Sprintf("%s %s (%s)", o.Kind, o.Name, reasonList(o.Reasons)))
		}
	}
	switch {
	case len(names) == 0 && na.Mode == v1alpha1.ModeEnforce:
		return "at enforce: nothing would be denied"
	case len(names) == 0:
		return "ready for " + string(na.NextMode)
	}
	denied := fmt.Sprintf("%s would be denied at enforce: %s", plural(len(names), "object"), strings.Join(policy.CapList(names), ", "))
	if na.NextMode == v1alpha1.ModeEnforce {
		return denied
	}
	return fmt.Sprintf("ready for %s, which denies nothing; %s", na.NextMode, denied)
}

func reasonList(rs []policy.Reason) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// runningProfiles classifies, per namespace, the effective Localhost profile
// of every container of every running pod on the node it runs on.
func runningProfiles(p *policy.Policy, view policy.NodeView, opts AuditOptions, objects []*auditObject) map[string][]RunningProfile {
	out := map[string][]RunningProfile{}
	fleet := map[string]map[string]string{} // profile path -> node -> sha256 of ok nodes
	fleetOf := func(profilePath string) map[string]string {
		if f, ok := fleet[profilePath]; ok {
			return f
		}
		f := map[string]string{}
		for _, n := range view.Nodes() {
			if v := policy.ClassifyNode(p, view, opts.Now, n.Name, profilePath); v.State == policy.NodeOK && v.SHA256 != "" {
				f[n.Name] = v.SHA256
			}
		}
		fleet[profilePath] = f
		return f
	}
	for _, o := range objects {
		pod, ok := o.obj.(*corev1.Pod)
		if !ok || pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		if opts.Selector != nil && !opts.Selector.Matches(labels.Set(o.top.obj.GetLabels())) {
			continue
		}
		owner := ""
		if o.top != o {
			owner = o.top.kind.Kind + "/" + o.top.obj.GetName()
		}
		for _, c := range append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...) {
			// The agent attributes violations to the same profile.
			lp, ok := strings.CutPrefix(violations.EffectiveProfile(pod, c.SecurityContext), "localhost/")
			if !ok || lp == "" {
				continue
			}
			cleaned := path.Clean(lp)
			node := pod.Spec.NodeName
			rp := RunningProfile{Pod: pod.Name, Owner: owner, Container: c.Name, Profile: "localhost/" + cleaned, Node: node}
			v := policy.ClassifyNode(p, view, opts.Now, node, cleaned)
			switch v.State {
			case policy.NodeOK:
				rp.State = ProfileStateOK
				if common, n := mostCommon(fleetOf(cleaned), node); n > 0 && common != v.SHA256 {
					rp.State = ProfileStateChanged
					rp.Detail = fmt.Sprintf("sha256 %s on node %s, %s on %s: the pod runs the profile it loaded at its start; its next restart loads this node's copy; copy the fleet's version to the node or roll the change out everywhere",
						shortDigest(v.SHA256), node, shortDigest(common), plural(n, "other node"))
				}
			case policy.NodeMissing:
				rp.State = ProfileStateGone
				rp.Detail = fmt.Sprintf("gone from node %s: the pod keeps running, but its next restart fails with CreateContainerError; put the profile back on the node or move the pod", node)
			default:
				rp.State = string(v.State)
				rp.Detail = v.Detail
			}
			out[pod.Namespace] = append(out[pod.Namespace], rp)
		}
	}
	for ns := range out {
		rs := out[ns]
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].Pod < rs[j].Pod })
	}
	return out
}

// mostCommon returns the most common sha256 among the nodes other than
// node (the smallest on a tie) and how many nodes have it.
func mostCommon(byNode map[string]string, node string) (string, int) {
	counts := map[string]int{}
	for n, d := range byNode {
		if n != node {
			counts[d]++
		}
	}
	best, bestN := "", 0
	for d, n := range counts {
		if n > bestN || (n == bestN && d < best) {
			best, bestN = d, n
		}
	}
	return best, bestN
}
