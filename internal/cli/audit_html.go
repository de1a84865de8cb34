package cli

// `seccomp-guard audit -o html`: one self-contained page for the people who
// review a rollout rather than run it. The template (audit.html.tmpl) has
// its CSS inline and no script, image, font or link to anything outside the
// page, so it can be mailed, attached to a change request or opened from
// disk. html/template escapes every string from the cluster (names,
// messages, notes) for the context it lands in.

import (
	_ "embed"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

//go:embed audit.html.tmpl
var auditHTMLSource string

var auditHTMLTemplate = template.Must(template.New("audit.html.tmpl").Funcs(template.FuncMap{
	"owns": func(owns map[string]int) string {
		return strings.TrimSuffix(strings.TrimPrefix(ownsString(owns), " ("), ")")
	},
	"reasons": reasonList,
	"heading": func(next v1alpha1.Mode) string { return strings.TrimSuffix(denyHeading(next), ":") },
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}).Parse(auditHTMLSource))

// auditPage is what the template renders.
type auditPage struct {
	*AuditReport
	Rows  []auditRow
	Nodes []nodeProfiles
}

// auditRow is a namespace's line in the summary table, with its objects
// split by status.
type auditRow struct {
	NamespaceAudit
	Counts map[string]int // by status: deny, default, ok, exempt, not-applicable
	Denied []ObjectAudit  // the objects that break a rule at the next step
	Others []ObjectAudit  // the rest, in the report's order
	Gone   int
	Change int
}

// nodeProfiles are the Localhost profiles of the running pods on one node.
type nodeProfiles struct {
	Node     string
	Profiles []nodeProfile
	Gone     int
	Changed  int
}

type nodeProfile struct {
	Namespace string
	RunningProfile
}

// WriteAuditHTML prints the report as one self-contained HTML page: the
// summary, a table with a row per namespace, per namespace the objects that
// break a rule at the next step with the exact admission message, and the
// Localhost profiles of running pods grouped by node.
func WriteAuditHTML(w io.Writer, r *AuditReport) error {
	page := auditPage{AuditReport: r}
	byNode := map[string]*nodeProfiles{}
	for _, na := range r.Namespaces {
		row := auditRow{NamespaceAudit: na, Counts: map[string]int{}}
		for _, o := range na.Objects {
			row.Counts[o.Status]++
			if o.Status == AuditDeny {
				row.Denied = append(row.Denied, o)
			} else {
				row.Others = append(row.Others, o)
			}
		}
		for _, rp := range na.Profiles {
			n := byNode[rp.Node]
			if n == nil {
				n = &nodeProfiles{Node: rp.Node}
				byNode[rp.Node] = n
			}
			n.Profiles = append(n.Profiles, nodeProfile{Namespace: na.Name, RunningProfile: rp})
			switch rp.State {
			case ProfileStateGone:
				row.Gone++
				n.Gone++
			case ProfileStateChanged:
				row.Change++
				n.Changed++
			}
		}
		page.Rows = append(page.Rows, row)
	}
	for _, n := range byNode {
		sort.SliceStable(n.Profiles, func(i, j int) bool {
			a, b := n.Profiles[i], n.Profiles[j]
			if a.Namespace != b.Namespace {
				return a.Namespace < b.Namespace
			}
			if a.Pod != b.Pod {
				return a.Pod < b.Pod
			}
			return a.Container < b.Container
		})
		page.Nodes = append(page.Nodes, *n)
	}
	sort.Slice(page.Nodes, func(i, j int) bool { return page.Nodes[i].Node < page.Nodes[j].Node })
	return auditHTMLTemplate.Execute(w, page)
}
