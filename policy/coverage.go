package policy

// Rules: node coverage. ProfileMissing, ProfileInvalid, ProfileAllowByDefault,
// InventoryUnknown, and the profile-drift and zero-candidate warnings.
//
// Reads: each effective, allowed Localhost profile path; the candidate nodes
// (candidates.go); for each candidate, the NodeView's inventory entry for the
// path and the node's heartbeat; spec.localhost.nodeCoverage, unknownNodes,
// staleAfter and rejectAllowByDefault; the request time.
// Each candidate is classified by ClassifyNode (classify.go): ok, missing,
// invalid, allow-by-default or unknown.
// All: denies when any candidate is missing, invalid or allow-by-default.
// Any: denies only when no candidate is ok (and, under unknownNodes Warn or
// Allow, none is unknown either, since an unknown node may have it); the
// rest earn warnings. Off: nodes are not consulted. Unknown nodes follow
// unknownNodes: Deny denies with InventoryUnknown, Warn warns, Allow is
// silent. Zero candidates warn and never deny (an autoscaler may add a node).
// Different sha256 digests across ok nodes warn (profile drift). Messages
// name up to 5 nodes and count the rest.

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// maxNamedNodes is how many nodes a message names before it counts the rest.
const maxNamedNodes = 5

type nodeFinding struct {
	node   string
	detail string // reason for invalid, defaultAction, or why unknown
}

type coverage struct {
	missing, invalid, allowByDefault, unknown []nodeFinding
	// ok nodes are only counted, and grouped by digest for the drift
	// warning with at most maxNamedNodes names each: a pod that fits a
	// thousand nodes must not copy a thousand entries.
	ok       int
	byDigest map[string]*digestGroup
}

type digestGroup struct {
	named []nodeFinding
	count int
}

func (c *coverage) addOK(node, digest string) {
	c.ok++
	if c.byDigest == nil {
		c.byDigest = make(map[string]*digestGroup, 1)
	}
	g := c.byDigest[digest]
	if g == nil {
		g = &digestGroup{}
		c.byDigest[digest] = g
	}
	g.count++
	if len(g.named) < maxNamedNodes {
		g.named = append(g.named, nodeFinding{node: node})
	}
}

// coverages memoizes assessCoverage per profile path within one pod spec
// (one validate call, whose candidates are the same for every place): a
// pod whose hundred containers name one profile classifies each candidate
// node once, not a hundred times.
type coverages map[string]*coverage

func (cs coverages) assess(p *Policy, view NodeView, now time.Time, profilePath string, nodes []string, recording bool) *coverage {
	if c, ok := cs[profilePath]; ok {
		return c
	}
	c := assessCoverage(p, view, now, profilePath, nodes, recording)
	cs[profilePath] = &c
	return &c
}

func assessCoverage(p *Policy, view NodeView, now time.Time, profilePath string, nodes []string, recording bool) coverage {
	var c coverage
	for _, node := range nodes {
		v := ClassifyNode(p, view, now, node, profilePath)
		if recording && v.State == NodeAllowByDefault && v.Detail == RecordingAction {
			// The logging profile, for an object that may record (recording.go).
			v = NodeVerdict{State: NodeOK, SHA256: view.Profile(node, profilePath).Profile.SHA256}
		}
		f := nodeFinding{node: node, detail: v.Detail}
		switch v.State {
		case NodeUnknown:
			c.unknown = append(c.unknown, f)
		case NodeMissing:
			c.missing = append(c.missing, f)
		case NodeInvalid:
			c.invalid = append(c.invalid, f)
		case NodeAllowByDefault:
			c.allowByDefault = append(c.allowByDefault, f)
		default:
			c.addOK(node, v.SHA256)
		}
	}
	return c
}

// checkCoverage returns the violations and warnings for one Localhost place:
// the nodes are classified (assessCoverage), the policy decides what counts
// (decideCoverage), and coverageMessages words each reason.
func checkCoverage(p *Policy, view NodeView, now time.Time, covered coverages, pl profilePlace, profilePath string, cands candidates, recording bool) ([]Violation, []string) {
	if p.NodeCoverage == v1alpha1.NodeCoverageOff {
		return nil, nil
	}
	fld := pl.path.Child("localhostProfile").String()
	if len(cands.names) == 0 {
		why := fmt.Sprintf("none of the %d nodes can run this pod now (nodeSelector, affinity, taints or cordons)", cands.total)
		if cands.total == 0 {
			why = "the cluster has no nodes yet"
		}
		return nil, []string{fmt.Sprintf("%s: %q was not checked against any node: %s; admitted, since a node added later may have it", fld, profilePath, why)}
	}
	c := covered.assess(p, view, now, profilePath, cands.names, recording)
	n := len(cands.names)
	out := decideCoverage(p, c)

	var vs []Violation
	var ws []string
	for _, r := range out.deny {
		vs = append(vs, Violation{Reason: r, Field: fld, Message: coverageMessages[r](profilePath, c, n), container: pl.container, profile: profilePath})
	}
	for _, r := range out.warn {
		ws = append(ws, fld+": "+coverageMessages[r](profilePath, c, n)+"; "+out.warnWhy)
	}
	if out.unknownWhy != "" {
		ws = append(ws, fmt.Sprintf("%s: %q could not be checked on %s: %s; %s",
			fld, profilePath, ofNodes(len(c.unknown), n), nodeList(c.unknown, true), out.unknownWhy))
	}
	if drift := driftWarning(c.byDigest); drift != "" {
		ws = append(ws, fmt.Sprintf("%s: %q differs across nodes (profile drift): %s; pods behave differently depending on where they run", fld, profilePath, drift))
	}
	return vs, ws
}

// coverageOutcome is what the policy makes of a coverage: the reasons that
// deny, the reasons only warned about (and why), and why unknown nodes are
// only warned about ("" when they are not, or not at all).
type coverageOutcome struct {
	deny       []Reason
	warn       []Reason
	warnWhy    string
	unknownWhy string
}

// decideCoverage applies spec.localhost.nodeCoverage and unknownNodes.
// All denies whatever any candidate lacks; Any denies only when no candidate
// is ok and no unknown node may have it (unless unknownNodes is Deny), and
// otherwise warns.
func decideCoverage(p *Policy, c *coverage) coverageOutcome {
	var out coverageOutcome
	found := func() []Reason {
		var rs []Reason
		if len(c.missing) > 0 {
			rs = append(rs, ReasonProfileMissing)
		}
		if len(c.invalid) > 0 {
			rs = append(rs, ReasonProfileInvalid)
		}
		if len(c.allowByDefault) > 0 {
			rs = append(rs, ReasonProfileAllowByDefault)
		}
		return rs
	}
	warnUnknown := func(why string) {
		if len(c.unknown) > 0 && p.UnknownNodes != v1alpha1.UnknownNodesAllow {
			out.unknownWhy = why
		}
	}
	deny := p.NodeCoverage == v1alpha1.NodeCoverageAll ||
		(c.ok == 0 && (len(c.unknown) == 0 || p.UnknownNodes == v1alpha1.UnknownNodesDeny))
	if deny {
		out.deny = found()
		if len(c.unknown) > 0 && p.UnknownNodes == v1alpha1.UnknownNodesDeny {
			out.deny = append(out.deny, ReasonInventoryUnknown)
		} else {
			warnUnknown("not held against the pod because spec.localhost.unknownNodes is Warn")
		}
		return out
	}
	// nodeCoverage Any, and some node has it (or may have it).
	out.warn = found()
	out.warnWhy = fmt.Sprintf("admitted because spec.localhost.nodeCoverage is Any and %s it; pods placed on the others fail with CreateContainerError", haveIt(c.ok))
	if c.ok == 0 {
		out.warnWhy = "admitted because spec.localhost.nodeCoverage is Any and the unknown nodes may have it"
	}
	warnUnknown("admitted because spec.localhost.nodeCoverage is Any")
	return out
}

// coverageMessages words each coverage reason for a profile on n candidates.
var coverageMessages = map[Reason]func(profilePath string, c *coverage, n int) string{
	ReasonProfileMissing: func(profilePath string, c *coverage, n int) string {
		fix := "install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity"
		if isRecordingProfile(profilePath) {
			fix = "the seccomp-guard agent writes the logging profile where recording is enabled (chart value agent.recording.enabled); enable it, or keep the pod off those nodes with a nodeSelector or node affinity"
		}
		return fmt.Sprintf("%q is missing on %s: %s (%s); %s",
			profilePath, ofNodes(len(c.missing), n), nodeList(c.missing, false), ReasonProfileMissing, fix)
	},
	ReasonProfileInvalid: func(profilePath string, c *coverage, n int) string {
		return fmt.Sprintf("%q is not a valid seccomp profile on %s: %s (%s); fix or replace the file there",
			profilePath, ofNodes(len(c.invalid), n), nodeList(c.invalid, true), ReasonProfileInvalid)
	},
	ReasonProfileAllowByDefault: func(profilePath string, c *coverage, n int) string {
		return fmt.Sprintf("%q lets through every syscall it does not list (defaultAction) on %s: %s (%s); use a profile whose defaultAction refuses, such as SCMP_ACT_ERRNO, or RuntimeDefault",
			profilePath, ofNodes(len(c.allowByDefault), n), nodeList(c.allowByDefault, true), ReasonProfileAllowByDefault)
	},
	ReasonInventoryUnknown: func(profilePath string, c *coverage, n int) string {
		return fmt.Sprintf("%q cannot be checked on %s: %s (%s); make sure the seccomp-guard agent runs there, or set spec.localhost.unknownNodes to Warn",
			profilePath, ofNodes(len(c.unknown), n), nodeList(c.unknown, true), ReasonInventoryUnknown)
	},
}

func haveIt(n int) string {
	if n == 1 {
		return "1 node has"
	}
	return fmt.Sprintf("%d nodes have", n)
}

// ofNodes is "the only node ...", "all 3 nodes ..." or "2 of 3 nodes ...".
func ofNodes(k, n int) string {
	switch {
	case n == 1:
		return "the only node this pod can run on"
	case k == n:
		return fmt.Sprintf("all %d nodes this pod can run on", n)
	default:
		return fmt.Sprintf("%d of %d nodes this pod can run on", k, n)
	}
}

// nodeList names up to maxNamedNodes nodes (with details) and counts the rest.
func nodeList(fs []nodeFinding, details bool) string {
	parts := make([]string, 0, maxNamedNodes+1)
	for i, f := range fs {
		if i == maxNamedNodes {
			parts = append(parts, fmt.Sprintf("and %d more", len(fs)-maxNamedNodes))
			break
		}
		if details && f.detail != "" {
			parts = append(parts, fmt.Sprintf("%s (%s)", f.node, f.detail))
		} else {
			parts = append(parts, f.node)
		}
	}
	return strings.Join(parts, ", ")
}

// driftWarning describes differing digests among ok nodes, or "".
func driftWarning(byDigest map[string]*digestGroup) string {
	if len(byDigest) < 2 {
		return ""
	}
	digests := make([]string, 0, len(byDigest))
	for d := range byDigest {
		digests = append(digests, d)
	}
	sort.Strings(digests)
	parts := make([]string, 0, len(digests))
	for _, d := range digests {
		short := d
		if len(short) > 12 {
			short = short[:12]
		}
		if short == "" {
			short = "unknown"
		}
		g := byDigest[d]
		parts = append(parts, fmt.Sprintf("sha256 %s on %s", short, countedList(g.named, g.count)))
	}
	return strings.Join(parts, "; ")
}

// countedList names the given nodes and counts the rest of total.
func countedList(named []nodeFinding, total int) string {
	list := nodeList(named, false)
	if total > len(named) {
		list += fmt.Sprintf(", and %d more", total-len(named))
	}
	return list
}
