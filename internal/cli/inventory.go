package cli

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/manifest"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

type inventory struct {
	view        *policy.StaticNodeView
	newestLease time.Time
	notes       []string
	silent      SilentProfiles
}

// loadInventory builds the NodeView from Node, NodeSeccompInventory and
// Lease manifests. A Lease gives its node's heartbeat (the newest wins); see
// InventorySource.View for the liveness rule.
func loadInventory(paths []string) (*inventory, error) {
	src, err := LoadInventorySource(paths)
	if err != nil {
		return nil, err
	}
	return &inventory{view: src.View(), newestLease: src.NewestLease, notes: src.Notes, silent: src.Silent()}, nil
}

// SilentProfiles maps a profile path to its refusing actions that leave no
// audit record, each to the nodes whose copy has them (sorted).
type SilentProfiles map[string]map[string][]string

// Silent collects the inventories' silentActions.
func (s *InventorySource) Silent() SilentProfiles {
	out := SilentProfiles{}
	for _, inv := range s.Inventories {
		for _, ps := range inv.Status.Profiles {
			for _, a := range ps.SilentActions {
				if out[ps.Path] == nil {
					out[ps.Path] = map[string][]string{}
				}
				out[ps.Path][a] = append(out[ps.Path][a], inv.Name)
			}
		}
	}
	for _, byAction := range out {
		for _, nodes := range byAction {
			slices.Sort(nodes)
		}
	}
	return out
}

// Message says a profile's refusals are silent, and what to do.
func (s SilentProfiles) Message(path string) string {
	byAction := s[path]
	if len(byAction) == 0 {
		return ""
	}
	var parts []string
	for _, a := range slices.Sorted(maps.Keys(byAction)) {
		parts = append(parts, fmt.Sprintf("its %s refusals leave no audit record on %s", a, strings.Join(byAction[a], ", ")))
	}
	return fmt.Sprintf("%q: %s, so violation monitoring cannot see them; add \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"] to the profile (runc 1.2 or later, or crun; docs/violations.md#4-silent-refusals)", path, strings.Join(parts, "; "))
}

// InventorySource is a snapshot of the cluster's nodes, their inventories
// and the agents' last Lease renewals.
type InventorySource struct {
	Nodes       []*corev1.Node
	Inventories []*v1alpha1.NodeSeccompInventory
	Heartbeats  map[string]time.Time
	NewestLease time.Time
	Notes       []string
	// Policy is the cluster's ClusterSeccompPolicy "default", when read from
	// a cluster that has one.
	Policy *v1alpha1.ClusterSeccompPolicy
	// Leases counts the agent Leases read.
	Leases int
	// LeaseRequired makes a node without a Lease unknown even when no Lease
	// was read: a live cluster, where a missing Lease means the agent never ran.
	LeaseRequired bool
}

// View is the snapshot as the policy engine sees it. Liveness has one rule
// for every source: a node whose agent Lease was never seen is unknown, in
// the cluster and in files that hold any agent Lease. Only a file set with
// no Lease at all counts every node with an inventory as fresh (and
// LoadInventorySource says so in a note).
func (s *InventorySource) View() *policy.StaticNodeView {
	v := policy.NewStaticNodeView(s.Nodes, s.Inventories, s.Heartbeats)
	if s.heartbeatsTracked() {
		v.RequireHeartbeats()
	}
	return v
}

func (s *InventorySource) heartbeatsTracked() bool { return s.LeaseRequired || s.Leases > 0 }

// LoadInventorySource reads Node, NodeSeccompInventory and Lease manifests.
func LoadInventorySource(paths []string) (*InventorySource, error) {
	for _, p := range paths {
		if p == "-" {
			return nil, inputErrorf("--inventory does not read stdin: give a file or directory")
		}
	}
	files, err := manifest.ReadPaths(paths, nil)
	if err != nil {
		return nil, &InputError{Err: fmt.Errorf("--inventory: %w", err)}
	}
	var (
		nodes      []*corev1.Node
		invs       []*v1alpha1.NodeSeccompInventory
		heartbeats = map[string]time.Time{}
		inv        = &InventorySource{}
		ignored    = map[string]int{}
	)
	for _, f := range files {
		for _, obj := range f.Objects {
			switch o := obj.Typed.(type) {
			case *corev1.Node:
				nodes = append(nodes, o)
			case *v1alpha1.NodeSeccompInventory:
				invs = append(invs, o)
			case *coordinationv1.Lease:
				hb, err := policy.ReadLease(o)
				if err != nil {
					inv.Notes = append(inv.Notes, fmt.Sprintf("Lease %s/%s at %s is not used: %v", o.Namespace, o.Name, obj.Location(), err))
					continue
				}
				inv.Leases++
				if hb.Renewed.After(heartbeats[hb.Node]) {
					heartbeats[hb.Node] = hb.Renewed
				}
				if hb.Renewed.After(inv.NewestLease) {
					inv.NewestLease = hb.Renewed
				}
			default:
				ignored[obj.APIVersion+" "+obj.Kind]++
			}
		}
	}
	if len(nodes) == 0 {
		inv.Notes = append(inv.Notes, "the --inventory files hold no Node: only pods with spec.nodeName can be checked against nodes")
	}
	if inv.Leases == 0 && len(invs) > 0 {
		inv.Notes = append(inv.Notes, "the --inventory files hold no agent Lease, so every node with a NodeSeccompInventory counts as fresh; "+
			"add the agents' Leases (kubectl get leases -n <release namespace> -o yaml) to judge staleness as admission does")
	}
	if len(ignored) > 0 {
		inv.Notes = append(inv.Notes, "the --inventory files hold objects that are not Node, NodeSeccompInventory or Lease, which were ignored: "+countList(ignored))
	}
	inv.Nodes, inv.Inventories, inv.Heartbeats = nodes, invs, heartbeats
	return inv, nil
}

// countList is "a: 2, b: 1", sorted by key.
func countList(counts map[string]int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}
