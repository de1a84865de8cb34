package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// WriteAuditJSON prints the report as indented JSON (docs/cli.md documents the schema).
func WriteAuditJSON(w io.Writer, r *AuditReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteAuditText prints the report for people: per namespace, the objects
// grouped by their verdict at the next step, the Localhost profiles of its
// running pods, and the recommendation.
func WriteAuditText(w io.Writer, r *AuditReport) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "policy: %s\n", r.Policy)
	for _, na := range r.Namespaces {
		fmt.Fprintf(b, "\nnamespace %s: mode %s, next %s\n", na.Name, na.Mode, na.NextMode)
		if na.Warning != "" {
			fmt.Fprintf(b, "  warning: %s\n", na.Warning)
		}
		writeAuditGroup(b, denyHeading(na.NextMode), na.Objects, AuditDeny, func(o ObjectAudit) []string {
			return append([]string{o.Message}, warningLines(o.Warnings)...)
		})
		writeAuditGroup(b, "would be defaulted:", na.Objects, AuditDefault, func(o ObjectAudit) []string {
			return append([]string{"to " + o.Defaulted}, warningLines(o.Warnings)...)
		})
		writeAuditGroup(b, "exempt:", na.Objects, AuditExempt, func(o ObjectAudit) []string { return []string{o.Detail} })
		writeAuditGroup(b, "not applicable:", na.Objects, AuditNotApplicable, func(o ObjectAudit) []string {
			return append([]string{o.Detail}, o.Warnings...)
		})
		writeAuditGroup(b, "admitted as they are:", na.Objects, AuditOK, func(o ObjectAudit) []string { return warningLines(o.Warnings) })
		if len(na.Profiles) > 0 {
			b.WriteString("  Localhost profiles of running pods:\n")
			for _, rp := range na.Profiles {
				owner := ""
				if rp.Owner != "" {
					owner = " (" + rp.Owner + ")"
				}
				fmt.Fprintf(b, "    pod %s%s, container %s: %s on node %s: %s\n", rp.Pod, owner, rp.Container, rp.Profile, rp.Node, rp.State)
				if rp.Detail != "" {
					fmt.Fprintf(b, "      %s\n", rp.Detail)
				}
			}
		}
		fmt.Fprintf(b, "  recommendation: %s\n", na.Recommendation)
	}
	s := r.Summary
	fmt.Fprintf(b, "\nsummary: %s, %s; %d break a rule at their namespace's next step, %d of them denied there (next step enforce); Localhost profiles of running pods: %d gone, %d changed\n",
		plural(s.Namespaces, "namespace"), plural(s.Objects, "top-level object"), s.Violating, s.Denied, s.ProfilesGone, s.ProfilesChanged)
	for _, n := range r.Notes {
		fmt.Fprintf(b, "note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// warningLines prefixes each warning with "warning: ".
func warningLines(ws []string) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = "warning: " + w
	}
	return out
}

// denyHeading says what the next step does with an object that breaks a rule.
func denyHeading(next v1alpha1.Mode) string {
	switch next {
	case v1alpha1.ModeAudit:
		return "would be recorded in the audit log at audit, and denied at enforce:"
	case v1alpha1.ModeWarn:
		return "would get warnings at warn, and be denied at enforce:"
	}
	return "would be denied at enforce:"
}

// writeAuditGroup prints the objects with status under heading, each with
// the lines details returns.
func writeAuditGroup(b *strings.Builder, heading string, objs []ObjectAudit, status string, details func(ObjectAudit) []string) {
	var group []ObjectAudit
	for _, o := range objs {
		if o.Status == status {
			group = append(group, o)
		}
	}
	if len(group) == 0 {
		return
	}
	fmt.Fprintf(b, "  %s\n", heading)
	for _, o := range group {
		fmt.Fprintf(b, "    %s %s%s", o.Kind, o.Name, ownsString(o.Owns))
		if len(o.Reasons) > 0 {
			fmt.Fprintf(b, " [%s]", reasonList(o.Reasons))
		}
		b.WriteString("\n")
		for _, line := range details(o) {
			if line != "" {
				fmt.Fprintf(b, "      %s\n", line)
			}
		}
	}
}

// ownsString is " (1 ReplicaSet, 3 Pods)", or "".
func ownsString(owns map[string]int) string {
	if len(owns) == 0 {
		return ""
	}
	kinds := make([]string, 0, len(owns))
	for k := range owns {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = plural(owns[k], k)
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
