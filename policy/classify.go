package policy

// Rule: node classification, the one verdict per (profile, node).
//
// Reads: the NodeView's entry for one profile path on one node (inventory
// present, the agent's heartbeat, the entry's valid, reason, defaultAction
// and sha256); spec.localhost.staleAfter and rejectAllowByDefault; the time
// of the request.
// Allows: a node is
//   - unknown: it has no inventory, its agent's Lease was never seen (where
//     the source tracks Leases), or the last renewal is older than staleAfter;
//   - missing: its inventory does not list the path and lists every file;
//     a truncated inventory (status condition Truncated) may have left the
//     path out, so the node is unknown;
//   - invalid: listed, but not a valid profile for the node's runtime;
//   - allow-by-default: valid, but its defaultAction lets every unlisted
//     syscall through, and rejectAllowByDefault is set;
//   - ok: otherwise.
// Admission (coverage.go), `check`, `fix` and the `inventory` report all
// classify through ClassifyNode, so they cannot disagree.

import (
	"fmt"
	"time"
)

// NodeState is the verdict for one profile on one node.
type NodeState string

// The node states, in the order reports list them.
const (
	NodeOK             NodeState = "ok"
	NodeMissing        NodeState = "missing"
	NodeInvalid        NodeState = "invalid"
	NodeAllowByDefault NodeState = "allow-by-default"
	NodeUnknown        NodeState = "unknown"
)

// allowingActions are the defaultActions under which a profile lets through
// every syscall it does not list.
var allowingActions = map[string]bool{"SCMP_ACT_ALLOW": true, "SCMP_ACT_LOG": true}

// NodeVerdict is ClassifyNode's answer.
type NodeVerdict struct {
	State NodeState
	// Detail is, for invalid, the inventory's reason; for allow-by-default,
	// the defaultAction; for unknown, why the inventory cannot be trusted.
	Detail string
	// SHA256 is the content digest, for ok nodes (profile drift).
	SHA256 string
}

// Reason is the reason code admission gives for the state ("" for ok).
func (v NodeVerdict) Reason() Reason {
	switch v.State {
	case NodeMissing:
		return ReasonProfileMissing
	case NodeInvalid:
		return ReasonProfileInvalid
	case NodeAllowByDefault:
		return ReasonProfileAllowByDefault
	case NodeUnknown:
		return ReasonInventoryUnknown
	}
	return ""
}

// ClassifyNode decides what one node holds for one profile path (already
// path.Clean'ed).
func ClassifyNode(p *Policy, view NodeView, now time.Time, node, profilePath string) NodeVerdict {
	return classifyLookup(p, view.Profile(node, profilePath), now)
}

// classifyLookup is ClassifyNode on what the view answered for the profile
// on the node (admission's coverage check gets many at once).
func classifyLookup(p *Policy, l ProfileLookup, now time.Time) NodeVerdict {
	if why := unknownReason(p, l, now); why != "" {
		return NodeVerdict{State: NodeUnknown, Detail: why}
	}
	switch {
	case !l.Found && l.Omitted > 0:
		return NodeVerdict{State: NodeUnknown, Detail: fmt.Sprintf("not listed in its inventory, which is truncated and leaves %d %s out; remove unused files from the node's seccomp root", l.Omitted, plural(l.Omitted, "file", "files"))}
	case !l.Found:
		return NodeVerdict{State: NodeMissing}
	case !l.Profile.Valid:
		return NodeVerdict{State: NodeInvalid, Detail: l.Profile.Reason}
	case p.RejectAllowByDefault && allowingActions[l.Profile.DefaultAction]:
		return NodeVerdict{State: NodeAllowByDefault, Detail: l.Profile.DefaultAction}
	}
	return NodeVerdict{State: NodeOK, SHA256: l.Profile.SHA256}
}

// NodeLiveness says why a node's inventory cannot be trusted at now, or ""
// when it is fresh: the node-level half of ClassifyNode.
func NodeLiveness(p *Policy, view NodeView, now time.Time, node string) string {
	return unknownReason(p, view.Profile(node, ""), now)
}

func unknownReason(p *Policy, l ProfileLookup, now time.Time) string {
	switch {
	case !l.HasInventory:
		return "no inventory"
	case l.NoHeartbeat:
		return "no heartbeat from its agent"
	case !l.Heartbeat.IsZero() && now.Sub(l.Heartbeat) > p.StaleAfter:
		return fmt.Sprintf("agent last seen %s ago", now.Sub(l.Heartbeat).Round(time.Second))
	}
	return ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
