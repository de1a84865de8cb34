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

// coverage counts the candidates in each state and keeps the first
// maxNamedNodes of each for the messages: a pod that fits five thousand
// nodes must not copy five thousand entries.
type coverage struct {
	missing, invalid, allowByDefault, unknown findings
	// ok nodes are grouped by digest for the drift warning.
	ok       int
	byDigest map[string]*findings
	// last is the group of the last ok node: nodes mostly hold the same
	// file, and the digest compare is cheaper than the map's hash.
	lastDigest string
	last       *findings
}

// findings are the nodes found in one state: how many, and the first
// maxNamedNodes of them.
type findings struct {
	named []nodeFinding
	count int
}

func (f *findings) add(x nodeFinding) {
	f.count++
	if len(f.named) < maxNamedNodes {
		f.named = append(f.named, x)
	}
}

func (c *coverage) addOK(node, digest string) {
	c.ok++
	if c.last != nil && c.lastDigest == digest {
		c.last.add(nodeFinding{node: node})
		return
	}
	if c.byDigest == nil {
		c.byDigest = make(map[string]*findings, 1)
	}
	g := c.byDigest[digest]
	if g == nil {
		g = &findings{}
		c.byDigest[digest] = g
	}
	c.lastDigest, c.last = digest, g
	g.add(nodeFinding{node: node})
}

// coverages memoizes assessCoverage per profile path within one pod spec
// (one validate call, whose candidates are the same for every place): a
// pod whose hundred containers name one profile classifies each candidate
// node once, not a hundred times.
type coverages map[string]*coverage

func (cs coverages) assess(p *Policy, view NodeView, now time.Time, profilePath string, cands candidates, recording bool) *coverage {
	if c, ok := cs[profilePath]; ok {
		return c
	}
	c := assessCoverage(p, view, now, profilePath, cands, recording)
	cs[profilePath] = &c
	return &c
}

// assessCoverage classifies every candidate with classifyLookup, the
// classifier ClassifyNode wraps: from a NodeSet by position when the view
// has one, else one Profile lookup per node name.
func assessCoverage(p *Policy, view NodeView, now time.Time, profilePath string, cands candidates, recording bool) coverage {
	var c coverage
	add := func(node string, l ProfileLookup) {
		v := classifyLookup(p, l, now)
		if recording && v.State == NodeAllowByDefault && v.Detail == RecordingAction {
			// The logging profile, for an object that may record (recording.go).
			v = NodeVerdict{State: NodeOK, SHA256: l.Profile.SHA256}
		}
		f := nodeFinding{node: node, detail: v.Detail}
		switch v.State {
		case NodeUnknown:
			c.unknown.add(f)
		case NodeMissing:
			c.missing.add(f)
		case NodeInvalid:
			c.invalid.add(f)
		case NodeAllowByDefault:
			c.allowByDefault.add(f)
		default:
			c.addOK(node, v.SHA256)
		}
	}
	if cands.set != nil {
		cands.set.ProfileAt(cands.positions, profilePath, func(k int, l ProfileLookup) { add(cands.names[k], l) })
		return c
	}
	for _, node := range cands.names {
		add(node, view.Profile(node, profilePath))
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
	c := covered.assess(p, view, now, profilePath, cands, recording)
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
			fld, profilePath, ofNodes(c.unknown.count, n), nodeList(c.unknown, true), out.unknownWhy))
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
		if c.missing.count > 0 {
			rs = append(rs, ReasonProfileMissing)
		}
		if c.invalid.count > 0 {
			rs = append(rs, ReasonProfileInvalid)
		}
		if c.allowByDefault.count > 0 {
			rs = append(rs, ReasonProfileAllowByDefault)
		}
		return rs
	}
	warnUnknown := func(why string) {
		if c.unknown.count > 0 && p.UnknownNodes != v1alpha1.UnknownNodesAllow {
			out.unknownWhy = why
		}
	}
	deny := p.NodeCoverage == v1alpha1.NodeCoverageAll ||
		(c.ok == 0 && (c.unknown.count == 0 || p.UnknownNodes == v1alpha1.UnknownNodesDeny))
	if deny {
		out.deny = found()
		if c.unknown.count > 0 && p.UnknownNodes == v1alpha1.UnknownNodesDeny {
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
			profilePath, ofNodes(c.missing.count, n), nodeList(c.missing, false), ReasonProfileMissing, fix)
	},
	ReasonProfileInvalid: func(profilePath string, c *coverage, n int) string {
		return fmt.Sprintf("%q is not a valid seccomp profile on %s: %s (%s); fix or replace the file there",
			profilePath, ofNodes(c.invalid.count, n), nodeList(c.invalid, true), ReasonProfileInvalid)
	},
	ReasonProfileAllowByDefault: func(profilePath string, c *coverage, n int) string {
		return fmt.Sprintf("%q lets through every syscall it does not list (defaultAction) on %s: %s (%s); use a profile whose defaultAction refuses, such as SCMP_ACT_ERRNO, or RuntimeDefault",
			profilePath, ofNodes(c.allowByDefault.count, n), nodeList(c.allowByDefault, true), ReasonProfileAllowByDefault)
	},
	ReasonInventoryUnknown: func(profilePath string, c *coverage, n int) string {
		return fmt.Sprintf("%q cannot be checked on %s: %s (%s); make sure the seccomp-guard agent runs there, or set spec.localhost.unknownNodes to Warn",
			profilePath, ofNodes(c.unknown.count, n), nodeList(c.unknown, true), ReasonInventoryUnknown)
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

// nodeList names the first nodes found (with details) and counts the rest.
func nodeList(f findings, details bool) string {
	parts := make([]string, 0, maxNamedNodes+1)
	for _, x := range f.named {
		if details && x.detail != "" {
			parts = append(parts, fmt.Sprintf("%s (%s)", x.node, x.detail))
		} else {
			parts = append(parts, x.node)
		}
	}
	if more := f.count - len(f.named); more > 0 {
		parts = append(parts, fmt.Sprintf("and %d more", more))
	}
	return strings.Join(parts, ", ")
}

// driftWarning describes differing digests among ok nodes, or "".
func driftWarning(byDigest map[string]*findings) string {
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
		parts = append(parts, fmt.Sprintf("sha256 %s on %s", short, nodeList(*g, false)))
	}
	return strings.Join(parts, "; ")
}
