package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/seccomp-guard/seccomp-guard/policy"
)

// InventoryReport says which nodes have which profile: the read-only view of
// `seccomp-guard inventory`. Every (profile, node) verdict comes from
// policy.ClassifyNode, the classifier admission uses, so the report and a
// refused pod cannot disagree.
type InventoryReport struct {
	Now        time.Time `json:"now"`
	StaleAfter string    `json:"staleAfter"`
	// RejectAllowByDefault is the policy's spec.localhost.rejectAllowByDefault:
	// whether an allowing defaultAction makes a profile unusable.
	RejectAllowByDefault bool `json:"rejectAllowByDefault"`
	// HeartbeatsTracked is false for a file set without any agent Lease:
	// every node with an inventory then counts as fresh.
	HeartbeatsTracked bool            `json:"heartbeatsTracked"`
	Nodes             []NodeReport    `json:"nodes"`
	Profiles          []ProfileReport `json:"profiles"`
}

// NodeReport is one node's inventory state.
type NodeReport struct {
	Name         string `json:"name"`
	HasInventory bool   `json:"hasInventory"`
	Runtime      string `json:"runtime,omitempty"`
	Profiles     int    `json:"profiles"`
	Invalid      int    `json:"invalid"`
	// LastHeartbeat is the agent's last Lease renewal; empty when there is none.
	LastHeartbeat *time.Time `json:"lastHeartbeat,omitempty"`
	// Stale: admission treats the node as unknown (no inventory, no
	// heartbeat where Leases are tracked, or one older than staleAfter).
	Stale bool `json:"stale"`
	// Reason says why the node is unknown, in admission's words.
	Reason string `json:"reason,omitempty"`
}

// ProfileReport is one profile path on every node.
type ProfileReport struct {
	Path string `json:"path"`
	// Nodes holds admission's verdict for the profile on each node, by name.
	Nodes []ProfileVerdict `json:"nodes"`
	// Digests maps each sha256 to the ok nodes holding that content; more
	// than one is drift.
	Digests map[string][]string `json:"digests"`
	Drift   bool                `json:"drift"`
	// Silent maps the refusing actions that leave no audit record (the
	// profile lacks SECCOMP_FILTER_FLAG_LOG) to the nodes where its copy
	// has them: violation monitoring cannot see those refusals.
	Silent map[string][]string `json:"silent,omitempty"`
}

// ProfileVerdict is policy.ClassifyNode's verdict for one profile on one node.
type ProfileVerdict struct {
	Node  string           `json:"node"`
	State policy.NodeState `json:"state"`
	// Reason is the reason code admission gives a pod for this node ("" when ok).
	Reason policy.Reason `json:"reason,omitempty"`
	// Detail is the inventory's reason (invalid), the defaultAction
	// (allow-by-default) or why the node is unknown.
	Detail string `json:"detail,omitempty"`
}

// nodes returns the nodes in a state.
func (p *ProfileReport) nodes(state policy.NodeState) []string {
	var out []string
	for _, v := range p.Nodes {
		if v.State == state {
			out = append(out, v.Node)
		}
	}
	return out
}

// BuildInventoryReport classifies every profile on every node of the
// snapshot with the policy's rules, at now.
func BuildInventoryReport(src *InventorySource, p *policy.Policy, now time.Time) *InventoryReport {
	view := src.View()
	r := &InventoryReport{
		Now: now.UTC(), StaleAfter: p.StaleAfter.String(), RejectAllowByDefault: p.RejectAllowByDefault,
		HeartbeatsTracked: src.heartbeatsTracked(),
	}
	names := map[string]bool{}
	for _, n := range src.Nodes {
		names[n.Name] = true
	}
	paths := map[string]bool{}
	silent := src.Silent()
	invs := map[string]int{}
	for i, inv := range src.Inventories {
		names[inv.Name] = true // an inventory whose Node is gone still shows
		invs[inv.Name] = i
		for _, ps := range inv.Status.Profiles {
			paths[ps.Path] = true
		}
	}
	sortedNames := slices.Sorted(maps.Keys(names))
	for _, name := range sortedNames {
		nr := NodeReport{Name: name}
		if hb, ok := src.Heartbeats[name]; ok {
			t := hb.UTC()
			nr.LastHeartbeat = &t
		}
		if i, ok := invs[name]; ok {
			inv := src.Inventories[i]
			nr.HasInventory, nr.Runtime, nr.Profiles = true, inv.Status.Runtime, len(inv.Status.Profiles)
			for _, ps := range inv.Status.Profiles {
				if !ps.Valid {
					nr.Invalid++
				}
			}
		}
		if why := policy.NodeLiveness(p, view, now, name); why != "" {
			nr.Stale, nr.Reason = true, why
		}
		r.Nodes = append(r.Nodes, nr)
	}
	for _, path := range slices.Sorted(maps.Keys(paths)) {
		pr := ProfileReport{Path: path, Digests: map[string][]string{}, Silent: silent[path]}
		for _, name := range sortedNames {
			v := policy.ClassifyNode(p, view, now, name, path)
			pr.Nodes = append(pr.Nodes, ProfileVerdict{Node: name, State: v.State, Reason: v.Reason(), Detail: v.Detail})
			if v.State == policy.NodeOK {
				pr.Digests[v.SHA256] = append(pr.Digests[v.SHA256], name)
			}
		}
		pr.Drift = len(pr.Digests) > 1
		r.Profiles = append(r.Profiles, pr)
	}
	return r
}

// WriteInventoryText prints the report as two tables and the problems.
func WriteInventoryText(w io.Writer, r *InventoryReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tPROFILES\tINVALID\tRUNTIME\tHEARTBEAT\tSTATE")
	for _, n := range r.Nodes {
		hb := "-"
		if n.LastHeartbeat != nil {
			hb = r.Now.Sub(*n.LastHeartbeat).Round(time.Second).String() + " ago"
		}
		state := "fresh"
		if n.Stale {
			state = "unknown: " + n.Reason
		}
		runtime := n.Runtime
		if runtime == "" {
			runtime = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", n.Name, n.Profiles, n.Invalid, runtime, hb, state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tOK\tMISSING\tINVALID\tALLOW-BY-DEFAULT\tUNKNOWN\tDRIFT")
	for i := range r.Profiles {
		p := &r.Profiles[i]
		drift := "-"
		if p.Drift {
			drift = fmt.Sprintf("%d versions", len(p.Digests))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Path,
			listOrDash(p.nodes(policy.NodeOK)), listOrDash(p.nodes(policy.NodeMissing)), listOrDash(p.nodes(policy.NodeInvalid)),
			listOrDash(p.nodes(policy.NodeAllowByDefault)), listOrDash(p.nodes(policy.NodeUnknown)), drift)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var problems []string
	for i := range r.Profiles {
		p := &r.Profiles[i]
		for _, v := range p.Nodes {
			switch v.State {
			case policy.NodeInvalid:
				problems = append(problems, fmt.Sprintf("%s on %s is not a valid profile: %s (%s)", p.Path, v.Node, v.Detail, v.Reason))
			case policy.NodeAllowByDefault:
				problems = append(problems, fmt.Sprintf("%s on %s lets through every syscall it does not list (defaultAction %s) (%s)", p.Path, v.Node, v.Detail, v.Reason))
			}
		}
		if p.Drift {
			var parts []string
			for _, d := range slices.Sorted(maps.Keys(p.Digests)) {
				parts = append(parts, fmt.Sprintf("sha256 %s on %s", shortDigest(d), strings.Join(p.Digests[d], ", ")))
			}
			problems = append(problems, fmt.Sprintf("%s differs across nodes: %s", p.Path, strings.Join(parts, "; ")))
		}
	}
	if len(problems) > 0 {
		fmt.Fprintln(w, "\nProblems:")
		for _, p := range problems {
			fmt.Fprintln(w, "  "+p)
		}
	}
	var notes []string
	for i := range r.Profiles {
		silent := SilentProfiles{r.Profiles[i].Path: r.Profiles[i].Silent}
		if msg := silent.Message(r.Profiles[i].Path); msg != "" {
			notes = append(notes, msg)
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nNotes:")
		for _, n := range notes {
			fmt.Fprintln(w, "  "+n)
		}
	}
	return nil
}

func shortDigest(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// WriteInventoryJSON prints the report as indented JSON.
func WriteInventoryJSON(w io.Writer, r *InventoryReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func listOrDash(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	return strings.Join(l, ",")
}
