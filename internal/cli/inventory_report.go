package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// InventoryReport says which nodes have which profile: the read-only view of
// `seccomp-guard inventory`.
type InventoryReport struct {
	Now        time.Time       `json:"now"`
	StaleAfter string          `json:"staleAfter"`
	Nodes      []NodeReport    `json:"nodes"`
	Profiles   []ProfileReport `json:"profiles"`
}

// NodeReport is one node's inventory state.
type NodeReport struct {
	Name         string `json:"name"`
	HasInventory bool   `json:"hasInventory"`
	Runtime      string `json:"runtime,omitempty"`
	Profiles     int    `json:"profiles"`
	Invalid      int    `json:"invalid"`
	// LastHeartbeat is the agent's last Lease renewal; empty when the source has no Lease.
	LastHeartbeat *time.Time `json:"lastHeartbeat,omitempty"`
	// Stale: no inventory, or a heartbeat older than staleAfter. Such nodes are "unknown" at admission.
	Stale  bool   `json:"stale"`
	Reason string `json:"reason,omitempty"`
}

// ProfileReport is one profile path across the nodes that have an inventory.
type ProfileReport struct {
	Path    string            `json:"path"`
	OK      []string          `json:"ok"`
	Invalid map[string]string `json:"invalid,omitempty"` // node -> reason
	Missing []string          `json:"missing,omitempty"` // nodes with an inventory that lacks it
	// Digests maps each sha256 to the nodes holding that content; more than one is drift.
	Digests map[string][]string `json:"digests"`
	Drift   bool                `json:"drift"`
}

// BuildInventoryReport summarises a snapshot. A node without a Lease counts
// as fresh unless the source requires Leases (a live cluster, where a missing
// Lease means the agent never ran); files follow check --inventory.
func BuildInventoryReport(src *InventorySource, now time.Time, staleAfter time.Duration) *InventoryReport {
	r := &InventoryReport{Now: now.UTC(), StaleAfter: staleAfter.String()}
	invByNode := map[string]int{}
	for i, inv := range src.Inventories {
		invByNode[inv.Name] = i
	}
	names := map[string]bool{}
	for _, n := range src.Nodes {
		names[n.Name] = true
	}
	for _, inv := range src.Inventories {
		names[inv.Name] = true // an inventory whose Node is gone still shows
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)

	byPath := map[string]*ProfileReport{}
	var withInventory []string
	for _, name := range sorted {
		nr := NodeReport{Name: name}
		if hb, ok := src.Heartbeats[name]; ok {
			t := hb.UTC()
			nr.LastHeartbeat = &t
		}
		i, ok := invByNode[name]
		switch {
		case !ok:
			nr.Stale, nr.Reason = true, "no NodeSeccompInventory: is the agent running on this node?"
		case nr.LastHeartbeat != nil && now.Sub(*nr.LastHeartbeat) > staleAfter:
			nr.Stale, nr.Reason = true, fmt.Sprintf("agent last seen %s ago (staleAfter %s)", now.Sub(*nr.LastHeartbeat).Round(time.Second), staleAfter)
		case nr.LastHeartbeat == nil && src.LeaseRequired:
			nr.Stale, nr.Reason = true, "no agent Lease"
		}
		if ok {
			inv := src.Inventories[i]
			nr.HasInventory = true
			nr.Runtime = inv.Status.Runtime
			nr.Profiles = len(inv.Status.Profiles)
			withInventory = append(withInventory, name)
			for _, p := range inv.Status.Profiles {
				pr := byPath[p.Path]
				if pr == nil {
					pr = &ProfileReport{Path: p.Path, Invalid: map[string]string{}, Digests: map[string][]string{}}
					byPath[p.Path] = pr
				}
				if p.Valid {
					pr.OK = append(pr.OK, name)
					pr.Digests[p.SHA256] = append(pr.Digests[p.SHA256], name)
				} else {
					nr.Invalid++
					pr.Invalid[name] = p.Reason
				}
			}
		}
		r.Nodes = append(r.Nodes, nr)
	}
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		pr := byPath[p]
		for _, n := range withInventory {
			if _, invalid := pr.Invalid[n]; !invalid && !contains(pr.OK, n) {
				pr.Missing = append(pr.Missing, n)
			}
		}
		pr.Drift = len(pr.Digests) > 1
		if len(pr.Invalid) == 0 {
			pr.Invalid = nil
		}
		r.Profiles = append(r.Profiles, *pr)
	}
	return r
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
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
	fmt.Fprintln(tw, "PROFILE\tOK\tINVALID\tMISSING\tDRIFT")
	for _, p := range r.Profiles {
		drift := "-"
		if p.Drift {
			drift = fmt.Sprintf("%d versions", len(p.Digests))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Path, listOrDash(p.OK), listOrDash(sortedKeys(p.Invalid)), listOrDash(p.Missing), drift)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var problems []string
	for _, p := range r.Profiles {
		for _, node := range sortedKeys(p.Invalid) {
			problems = append(problems, fmt.Sprintf("%s on %s is not a valid profile: %s", p.Path, node, p.Invalid[node]))
		}
		if p.Drift {
			var parts []string
			for _, d := range sortedKeys(p.Digests) {
				short := d
				if len(short) > 12 {
					short = short[:12]
				}
				parts = append(parts, fmt.Sprintf("sha256 %s on %s", short, strings.Join(p.Digests[d], ", ")))
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
	return nil
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
