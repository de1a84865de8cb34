package policy

// Rule: candidate nodes, the nodes a pod can run on.
//
// Reads: spec.nodeName, spec.nodeSelector, spec.affinity.nodeAffinity
// (requiredDuringSchedulingIgnoredDuringExecution), spec.tolerations; every
// Node's labels, name, spec.taints and spec.unschedulable.
// Candidates: {spec.nodeName} when set; else every Node that matches the
// nodeSelector and the required node affinity and whose NoSchedule and
// NoExecute taints the pod tolerates, spec.unschedulable counting as the
// node.kubernetes.io/unschedulable taint. Transient condition taints
// (not-ready, unreachable, memory/disk/pid-pressure, network-unavailable,
// cloud-provider uninitialized) do not remove a node: it will be back. A
// DaemonSet's template counts with the tolerations its controller adds to
// every daemon pod. Matching uses the scheduler's own helpers from
// k8s.io/component-helpers.

import (
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// conditionTaints are set and cleared by controllers as node conditions
// change; a node carrying one is still a place the pod may run soon.
var conditionTaints = map[string]bool{
	corev1.TaintNodeNotReady:                         true,
	corev1.TaintNodeUnreachable:                      true,
	corev1.TaintNodeMemoryPressure:                   true,
	corev1.TaintNodeDiskPressure:                     true,
	corev1.TaintNodePIDPressure:                      true,
	corev1.TaintNodeNetworkUnavailable:               true,
	"node.cloudprovider.kubernetes.io/uninitialized": true,
}

// daemonTolerations are the tolerations the DaemonSet controller adds to every daemon pod.
var daemonTolerations = []corev1.Toleration{
	{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
}

// DaemonTolerations returns a copy of the tolerations the DaemonSet
// controller adds to every daemon pod.
func DaemonTolerations() []corev1.Toleration {
	return append([]corev1.Toleration(nil), daemonTolerations...)
}

var unschedulableTaint = corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}

// candidates holds the nodes a pod can run on and how they were chosen.
// Its slices are shared (CandidateMemo) and never modified.
type candidates struct {
	names  []string // sorted as the NodeView returned them
	pinned bool     // spec.nodeName
	total  int      // nodes considered
	// set and positions are there when the nodes came from a NodeSetView:
	// positions[k] is names[k]'s index in set.Nodes().
	set       NodeSet
	positions []int32
}

func candidateNodes(view NodeView, spec *corev1.PodSpec, daemon bool) candidates {
	if spec.NodeName != "" {
		return candidates{names: []string{spec.NodeName}, pinned: true, total: 1}
	}
	if sv, ok := view.(NodeSetView); ok {
		set := sv.NodeSet()
		return set.Memo().candidates(set, spec, daemon)
	}
	return matchNodes(nil, view.Nodes(), spec, daemon)
}

// matchNodes matches the pod's scheduling constraints against every node
// (of set, when it is not nil).
func matchNodes(set NodeSet, nodes []*corev1.Node, spec *corev1.PodSpec, daemon bool) candidates {
	affinity := nodeaffinity.NewRequiredNodeAffinity(spec.NodeSelector, spec.Affinity)
	tolerations := spec.Tolerations
	if daemon {
		tolerations = append(append([]corev1.Toleration(nil), tolerations...), daemonTolerations...)
	}
	out := candidates{total: len(nodes), set: set}
	for i, node := range nodes {
		if ok, err := affinity.Match(node); err != nil || !ok {
			continue
		}
		if !toleratesNode(node, tolerations) {
			continue
		}
		out.names = append(out.names, node.Name)
		if set != nil {
			out.positions = append(out.positions, int32(i))
		}
	}
	return out
}

func toleratesNode(node *corev1.Node, tolerations []corev1.Toleration) bool {
	for i := range node.Spec.Taints {
		t := &node.Spec.Taints[i]
		if !schedulingTaint(t) {
			continue
		}
		if !corev1helpers.TolerationsTolerateTaint(logr.Discard(), tolerations, t, true) {
			return false
		}
	}
	if node.Spec.Unschedulable {
		return corev1helpers.TolerationsTolerateTaint(logr.Discard(), tolerations, &unschedulableTaint, true)
	}
	return true
}

func schedulingTaint(t *corev1.Taint) bool {
	if conditionTaints[t.Key] {
		return false
	}
	return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
}
