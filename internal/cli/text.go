package cli

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/manifest"
)

// WriteText writes one line per finding, "FILE:LINE kind/namespace/name:
// message", then the notes and a summary line. forFix words the defaults as
// done rather than to be done.
func WriteText(w io.Writer, r *Report, forFix bool) error {
	var b strings.Builder
	for _, res := range r.Results {
		writeFindings(&b, res, forFix)
	}
	for _, n := range r.Env.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if forFix {
		b.WriteString(r.fixSummary() + "\n")
	} else {
		b.WriteString(r.checkSummary() + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeFindings writes the findings of one object, in the order of their lines.
func writeFindings(b *strings.Builder, res *Result, forFix bool) {
	if !res.Checked {
		return
	}
	obj := res.Object
	type finding struct {
		line int
		text string
	}
	var fs []finding
	d := &res.Decision
	if d.Skipped != "" {
		fs = append(fs, finding{obj.Line, "skipped: " + d.Skipped})
	}
	for _, v := range res.Violations {
		fs = append(fs, finding{v.Line, joinField(v.Field, v.Message)})
	}
	for _, w := range res.Warnings {
		fs = append(fs, finding{w.Line, "warning: " + w.Message})
	}
	if res.Defaults() {
		field := res.DefaultedField()
		var msg string
		switch {
		case d.Mode == v1alpha1.ModeAudit:
			msg = fmt.Sprintf("not set; would be set to %s in warn or enforce mode (audit mode changes nothing)", d.Defaulted)
		case forFix && res.FixError != "":
			msg = fmt.Sprintf("not set, and fix cannot write it: %s; set it to %s by hand", res.FixError, d.Defaulted)
		case forFix:
			msg = fmt.Sprintf("set to %s", d.Defaulted)
		default:
			msg = fmt.Sprintf("not set; the webhook sets it to %s (run seccomp-guard fix to write it into the file)", d.Defaulted)
		}
		fs = append(fs, finding{obj.FieldLine(field), field + ": " + msg})
	}
	slices.SortStableFunc(fs, func(a, b finding) int { return cmp.Compare(a.line, b.line) })
	id := fmt.Sprintf("%s/%s/%s", obj.Kind, res.Namespace, obj.DisplayName())
	for _, f := range fs {
		fmt.Fprintf(b, "%s:%d %s: %s\n", obj.File.Name, f.line, id, f.text)
	}
}

func joinField(field, msg string) string {
	if field == "" {
		return msg
	}
	return field + ": " + msg
}

// checkSummary is the last line of check's text output.
func (r *Report) checkSummary() string {
	s := r.Summary
	defaulted := "defaulted"
	if r.Env.Mode == v1alpha1.ModeAudit {
		defaulted = "would be defaulted"
	}
	parts := []string{fmt.Sprintf("%d admitted", s.Admitted), fmt.Sprintf("%d denied", s.Denied)}
	if s.WouldDeny > 0 {
		parts = append(parts, fmt.Sprintf("%d admitted with violations that enforce mode would deny", s.WouldDeny))
	}
	parts = append(parts, fmt.Sprintf("%d skipped", s.Skipped))
	line := fmt.Sprintf("checked %s in %s (namespace mode %s): %s; %d %s",
		plural(s.Checked, "object"), plural(s.Files, "file"), r.Env.Mode, strings.Join(parts, ", "), s.Defaulted, defaulted)
	return line + r.notCheckedSuffix()
}

// fixSummary is the last line of fix's report.
func (r *Report) fixSummary() string {
	files := map[*manifest.File]bool{}
	fixed, failed := 0, 0
	for _, res := range r.Results {
		switch {
		case res.Fixed:
			fixed++
			files[res.Object.File] = true
		case res.FixError != "":
			failed++
		}
	}
	parts := []string{fmt.Sprintf("defaulted %s in %s", plural(fixed, "object"), plural(len(files), "file"))}
	if failed > 0 {
		parts = append(parts, fmt.Sprintf("could not write the default of %s (see above)", plural(failed, "object")))
	}
	if r.Summary.Denied > 0 {
		parts = append(parts, fmt.Sprintf("left %s that would be denied unchanged (see above)", plural(r.Summary.Denied, "object")))
	}
	line := fmt.Sprintf("fix (namespace mode %s): %s", r.Env.Mode, strings.Join(parts, "; "))
	return line + r.notCheckedSuffix()
}

// FixFailures counts the objects whose default fix could not write.
func (r *Report) FixFailures() int {
	n := 0
	for _, res := range r.Results {
		if res.FixError != "" {
			n++
		}
	}
	return n
}

func (r *Report) notCheckedSuffix() string {
	s := r.Summary
	if s.NotChecked == 0 {
		return ""
	}
	return fmt.Sprintf("; not checked: %s of other kinds (%s)", plural(s.NotChecked, "object"), countList(s.NotCheckedKinds))
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
