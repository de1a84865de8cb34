package policy

// Rule: agent heartbeats (the one Lease reader).
//
// Reads: a coordination.k8s.io/v1 Lease's namespace, name,
// spec.holderIdentity, spec.renewTime and spec.acquireTime.
// Allows: a Lease named LeasePrefix+<node> (seccomp-guard-node-<node>)
// speaks for <node> only when its spec.holderIdentity is <node>, the agent
// on that node. No other Lease is a heartbeat: not one of another name (the
// webhook's leader-election Lease, seccomp-guard-webhook-leader, does not
// take the form), not one whose holder is another node, not the kubelet's
// own Leases in kube-node-lease. Its last renewal is renewTime, else
// acquireTime; a Lease with neither is not a heartbeat. The webhook's index
// and the CLI (check --inventory, inventory) both read Leases here.

import (
	"fmt"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
)

// LeasePrefix prefixes each agent's heartbeat Lease:
// seccomp-guard-node-<node>. No other seccomp-guard Lease takes this form.
const LeasePrefix = "seccomp-guard-node-"

// LeaseName is the heartbeat Lease of a node's agent.
func LeaseName(node string) string { return LeasePrefix + node }

// kubeletLeaseNamespace holds the kubelet's own Leases, which say nothing
// about the seccomp-guard agent.
const kubeletLeaseNamespace = "kube-node-lease"

// Heartbeat is what an agent's Lease says: the node it speaks for and the
// agent's last renewal, by the agent's clock.
type Heartbeat struct {
	Node    string
	Renewed time.Time
}

// ReadLease returns the heartbeat a Lease carries, or an error that says why
// the Lease is not an agent heartbeat.
func ReadLease(l *coordinationv1.Lease) (Heartbeat, error) {
	node, err := LeaseNode(l)
	if err != nil {
		return Heartbeat{}, err
	}
	switch {
	case l.Spec.RenewTime != nil:
		return Heartbeat{Node: node, Renewed: l.Spec.RenewTime.Time}, nil
	case l.Spec.AcquireTime != nil:
		return Heartbeat{Node: node, Renewed: l.Spec.AcquireTime.Time}, nil
	}
	return Heartbeat{}, fmt.Errorf("it has neither spec.renewTime nor spec.acquireTime")
}

// LeaseNode returns the node an agent Lease speaks for, whatever its times
// (a deleted Lease still names its node), or why it is not an agent's.
func LeaseNode(l *coordinationv1.Lease) (string, error) {
	if l.Namespace == kubeletLeaseNamespace {
		return "", fmt.Errorf("it is a kubelet Lease (namespace %s), not the seccomp-guard agent's", kubeletLeaseNamespace)
	}
	node, ok := strings.CutPrefix(l.Name, LeasePrefix)
	if !ok || node == "" {
		return "", fmt.Errorf("its name does not have the form %s<node> of an agent's heartbeat", LeasePrefix)
	}
	holder := ""
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	if holder != node {
		return "", fmt.Errorf("its spec.holderIdentity is %q, not %q: only the agent on node %s holds its heartbeat Lease; delete the Lease and let that agent recreate it", holder, node, node)
	}
	return node, nil
}
