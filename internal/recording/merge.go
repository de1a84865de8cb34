package recording

// Merging: every node's agent reports what it observed of a recorded
// container on that node (NodeSeccompInventory status.recordings, one entry
// per namespace, workload and container, already merged over the runs and
// replicas on that node). A profile is built from the union over nodes.

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// Recording is what the nodes observed of one container of one workload,
// merged over every node that recorded it.
type Recording struct {
	Namespace string `json:"namespace"`
	// Workload is the pods' top-level owner, "Kind/name".
	Workload  string `json:"workload"`
	Container string `json:"container"`
	// Nodes are the nodes whose inventories hold the container, sorted.
	Nodes []string `json:"nodes"`
	// Architectures are the audit architectures ("x86_64"), sorted.
	Architectures []string `json:"architectures,omitempty"`
	// Syscalls are the observed syscall names, sorted, without duplicates.
	Syscalls []string `json:"syscalls,omitempty"`
	// UnnamedSyscalls counts records of syscall numbers without a name.
	UnnamedSyscalls int64 `json:"unnamedSyscalls,omitempty"`
	Records         int64 `json:"records"`
	// Pods is the sum over nodes of the distinct pods each node saw.
	Pods      int32        `json:"pods"`
	FirstSeen *metav1.Time `json:"firstSeen,omitempty"`
	LastSeen  *metav1.Time `json:"lastSeen,omitempty"`
}

// Key is "namespace Kind/name container", how messages name a recording.
func (r *Recording) Key() string {
	return fmt.Sprintf("namespace %s, %s, container %s", r.Namespace, r.Workload, r.Container)
}

// Merge merges the recordings of every inventory (one per node) into one
// Recording per namespace, workload and container, sorted by those. Nil
// inventories are skipped.
func Merge(invs []*v1alpha1.NodeSeccompInventory) []Recording {
	type key struct{ ns, workload, container string }
	merged := map[key]*Recording{}
	syscalls := map[key]map[string]bool{}
	archs := map[key]map[string]bool{}
	for _, inv := range invs {
		if inv == nil {
			continue
		}
		for _, rs := range inv.Status.Recordings {
			k := key{rs.Namespace, rs.Workload, rs.Container}
			r := merged[k]
			if r == nil {
				r = &Recording{Namespace: rs.Namespace, Workload: rs.Workload, Container: rs.Container}
				merged[k], syscalls[k], archs[k] = r, map[string]bool{}, map[string]bool{}
			}
			if !slices.Contains(r.Nodes, inv.Name) {
				r.Nodes = append(r.Nodes, inv.Name)
			}
			for _, s := range rs.Syscalls {
				syscalls[k][s] = true
			}
			for _, a := range rs.Architectures {
				archs[k][a] = true
			}
			r.UnnamedSyscalls += rs.UnnamedSyscalls
			r.Records += rs.Records
			r.Pods += rs.Pods
			r.FirstSeen = earlier(r.FirstSeen, rs.FirstSeen)
			r.LastSeen = later(r.LastSeen, rs.LastSeen)
		}
	}
	out := make([]Recording, 0, len(merged))
	for k, r := range merged {
		sort.Strings(r.Nodes)
		r.Syscalls = sortedKeys(syscalls[k])
		r.Architectures = sortedKeys(archs[k])
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Recording) int { // the list's keys
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Workload, b.Workload), strings.Compare(a.Container, b.Container))
	})
	return out
}

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func earlier(a, b *metav1.Time) *metav1.Time {
	if a == nil || (b != nil && b.Before(a)) {
		return copyTime(b)
	}
	return a
}

func later(a, b *metav1.Time) *metav1.Time {
	if a == nil || (b != nil && a.Before(b)) {
		return copyTime(b)
	}
	return a
}

func copyTime(t *metav1.Time) *metav1.Time {
	if t == nil {
		return nil
	}
	return &metav1.Time{Time: t.Time}
}

// Selector picks the recordings of one workload.
type Selector struct {
	Namespace string
	// Workload is "Kind/name", e.g. "Deployment/web".
	Workload string
	// Container is one container's name; "" for every recorded container of
	// the workload.
	Container string
}

// Validate checks the selector's fields, naming the flags of `seccomp-guard
// profile record` that set them.
func (s Selector) Validate() error {
	if s.Namespace == "" {
		return fmt.Errorf("no namespace: give --namespace (-n) with the namespace of the recorded workload")
	}
	if s.Workload == "" {
		return fmt.Errorf("no workload: give --workload with the recorded pods' top-level owner as Kind/name, e.g. Deployment/web (seccomp-guard profile recordings lists them)")
	}
	kind, name, ok := strings.Cut(s.Workload, "/")
	if !ok || kind == "" || name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("--workload %q is not Kind/name: give the pods' top-level owner as the recordings name it, e.g. Deployment/web or Pod/debug (seccomp-guard profile recordings lists them)", s.Workload)
	}
	return nil
}

// Select returns the recordings that s picks, or an error that says what
// was recorded instead and what to check.
func Select(recs []Recording, s Selector) ([]Recording, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var ofWorkload, picked []Recording
	for _, r := range recs {
		if r.Namespace != s.Namespace || !sameWorkload(r.Workload, s.Workload) {
			continue
		}
		ofWorkload = append(ofWorkload, r)
		if s.Container == "" || r.Container == s.Container {
			picked = append(picked, r)
		}
	}
	switch {
	case len(ofWorkload) == 0:
		return nil, noRecordingError(recs, s)
	case len(picked) == 0:
		containers := make([]string, 0, len(ofWorkload))
		for _, r := range ofWorkload {
			containers = append(containers, r.Container)
		}
		return nil, fmt.Errorf("%s in namespace %s has no recording of container %q; the recorded containers are %s: give one of them to --container, or leave --container out for all",
			s.Workload, s.Namespace, s.Container, strings.Join(containers, ", "))
	}
	return picked, nil
}

// sameWorkload compares "Kind/name": the kind case-insensitively (people
// type "deployment/web"), the name exactly.
func sameWorkload(recorded, asked string) bool {
	rk, rn, _ := strings.Cut(recorded, "/")
	ak, an, _ := strings.Cut(asked, "/")
	return strings.EqualFold(rk, ak) && rn == an
}

// noRecordingError says that nothing of s's workload was recorded, what the
// namespace has instead, and the three things recording needs.
func noRecordingError(recs []Recording, s Selector) error {
	var others []string
	for _, r := range recs {
		if r.Namespace == s.Namespace && !slices.Contains(others, r.Workload) {
			others = append(others, r.Workload)
		}
	}
	where := fmt.Sprintf("no node has a recording of %s in namespace %s", s.Workload, s.Namespace)
	if len(others) > 0 {
		where += fmt.Sprintf(" (the namespace has recordings of %s)", strings.Join(others, ", "))
	} else if len(recs) == 0 {
		where += " (no NodeSeccompInventory holds any recording)"
	}
	return fmt.Errorf("%s; check that the namespace is labelled %s=%s (kubectl get namespace %s --show-labels), "+
		"that the pods are annotated %s=true and were created after the label was set (they run under localhost/%s), "+
		"that the agent runs with recording enabled, and that the workload made syscalls since; seccomp-guard profile recordings lists what is recorded",
		where, policy.RecordingLabel, policy.RecordingEnabled, s.Namespace, policy.RecordAnnotation, policy.RecordingProfile)
}

// lastSeen formats a recording's lastSeen for tables.
func lastSeen(t *metav1.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// ListInventories reads every NodeSeccompInventory (get and list only).
func ListInventories(ctx context.Context, c client.Reader) ([]*v1alpha1.NodeSeccompInventory, error) {
	list := &v1alpha1.NodeSeccompInventoryList{}
	if err := c.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing NodeSeccompInventories: %w", err)
	}
	out := make([]*v1alpha1.NodeSeccompInventory, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	return out, nil
}
