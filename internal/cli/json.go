package cli

import (
	"encoding/json"
	"io"
	"time"

	"github.com/seccomp-guard/seccomp-guard/policy"
)

// JSONSchemaVersion identifies the layout of check's JSON output. Fields
// are only ever added within one version; docs/cli.md documents them.
const JSONSchemaVersion = "seccomp-guard.io/check/v1"

// JSONReport is the output of `check -o json`.
type JSONReport struct {
	SchemaVersion string `json:"schemaVersion"`
	// Mode is the namespace mode the objects were checked in (--namespace-mode).
	Mode string `json:"mode"`
	// DefaultNamespace is the namespace of objects that name none (--namespace).
	DefaultNamespace string `json:"defaultNamespace"`
	// NamespaceDefaultProfile is --namespace-default-profile; "" when not given.
	NamespaceDefaultProfile string `json:"namespaceDefaultProfile"`
	// User is --user; "" when not given.
	User string `json:"user"`
	// Policy is "FILE:LINE" of the ClusterSeccompPolicy, or "" for the built-in defaults.
	Policy string `json:"policy"`
	// CoverageChecked is false without --inventory: Localhost profiles were
	// not checked against nodes.
	CoverageChecked bool `json:"coverageChecked"`
	// Now is the time that decided inventory staleness (RFC 3339).
	Now     string       `json:"now"`
	Notes   []string     `json:"notes"`
	Objects []JSONObject `json:"objects"`
	Summary Summary      `json:"summary"`
}

// JSONObject is one object of the input.
type JSONObject struct {
	File string `json:"file"`
	Line int    `json:"line"`
	// Document is the 0-based index of the YAML document in the file.
	Document int `json:"document"`
	// Item is the 0-based index in the enclosing List; absent otherwise.
	Item       *int   `json:"item,omitempty"`
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	// Checked is false for kinds the policy does not evaluate.
	Checked bool `json:"checked"`
	// Verdict is allowed, denied, would-deny (violations admitted in warn or
	// audit mode), skipped or not-checked.
	Verdict string `json:"verdict"`
	Allowed bool   `json:"allowed"`
	// Mode is the mode that applied; "" when not checked.
	Mode string `json:"mode"`
	// Skipped says why a checked object was not evaluated.
	Skipped string `json:"skipped,omitempty"`
	// Defaulted is the profile injected where none was set (RuntimeDefault or
	// localhost/<path>); in audit mode, the one that would be.
	Defaulted string `json:"defaulted,omitempty"`
	// Patches are the RFC 6902 operations the webhook would apply, with
	// paths from the object's root.
	Patches    []policy.Patch `json:"patches"`
	Violations []Violation    `json:"violations"`
	Warnings   []Warning      `json:"warnings"`
}

// JSON builds the JSON report.
func (r *Report) JSON() JSONReport {
	out := JSONReport{
		SchemaVersion:           JSONSchemaVersion,
		Mode:                    string(r.Env.Mode),
		DefaultNamespace:        r.Env.Namespace,
		NamespaceDefaultProfile: r.Env.DefaultProfile,
		User:                    r.Env.User,
		Policy:                  r.Env.PolicySource,
		CoverageChecked:         r.Env.CoverageChecked,
		Now:                     r.Env.Now.UTC().Format(time.RFC3339),
		Notes:                   append([]string{}, r.Env.Notes...),
		Objects:                 make([]JSONObject, 0, len(r.Results)),
		Summary:                 r.Summary,
	}
	for _, res := range r.Results {
		obj := res.Object
		o := JSONObject{
			File: obj.File.Name, Line: obj.Line, Document: obj.Document,
			APIVersion: obj.APIVersion, Kind: obj.Kind, Namespace: res.Namespace, Name: obj.Name,
			Checked: res.Checked, Verdict: res.Verdict(), Allowed: res.Allowed(),
			Patches:    append([]policy.Patch{}, res.Decision.Patches...),
			Violations: append([]Violation{}, res.Violations...),
			Warnings:   append([]Warning{}, res.Warnings...),
		}
		if obj.Item >= 0 {
			item := obj.Item
			o.Item = &item
		}
		if res.Checked {
			o.Mode = string(res.Decision.Mode)
			o.Skipped = res.Decision.Skipped
			o.Defaulted = res.Decision.Defaulted
		}
		out.Objects = append(out.Objects, o)
	}
	return out
}

// WriteJSON writes the JSON report, indented.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r.JSON())
}
