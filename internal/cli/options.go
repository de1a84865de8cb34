// Package cli implements the offline commands `seccomp-guard check` and
// `seccomp-guard fix`: it stands in for the cluster (the namespace, the
// policy, the nodes and their inventories) with flags and manifest files,
// and runs every object through the same policy engine as the webhook.
package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/manifest"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// Options are the flags that check and fix share.
type Options struct {
	// PolicyFile is a file with a ClusterSeccompPolicy; "" for the built-in defaults.
	PolicyFile string
	// Inventory are files and directories with Node, NodeSeccompInventory
	// and Lease manifests; none means node coverage is not checked.
	Inventory []string
	// Now is an RFC 3339 time that decides staleness; "" for the newest
	// Lease renewTime in the inventory files, else the current time.
	Now string
	// NamespaceMode stands in for the namespace label seccomp-guard.io/mode.
	NamespaceMode string
	// NamespaceDefaultProfile stands in for the namespace annotation
	// seccomp-guard.io/default-profile; "" for none.
	NamespaceDefaultProfile string
	// Namespace is the namespace of objects that name none.
	Namespace string
	// User is the username of the request, for spec.exemptions.usernames.
	User string
}

// Defaults of Options.
const (
	DefaultNamespaceMode = v1alpha1.ModeEnforce
	DefaultNamespace     = "default"
)

// InputError is a mistake in the command line or the input files: the
// commands exit with code 2.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErrorf(format string, args ...any) error {
	return &InputError{Err: fmt.Errorf(format, args...)}
}

// Env is what every object is evaluated with: the cluster as the files and
// flags describe it.
type Env struct {
	Policy *policy.Policy
	// PolicySource is "FILE:LINE" of the policy, or "" for the built-in defaults.
	PolicySource string
	View         policy.NodeView
	// CoverageChecked is false without --inventory.
	CoverageChecked bool
	Now             time.Time
	Mode            v1alpha1.Mode
	DefaultProfile  string
	Namespace       string
	User            string
	// Notes explain choices made for the user (no inventory, the time used).
	Notes []string
	// Silent are the inventories' profiles whose refusals leave no audit
	// record (empty without --inventory).
	Silent SilentProfiles
}

// Load checks the options and reads the policy and inventory files. clock
// gives the current time when neither --now nor a Lease decides it.
func (o *Options) Load(clock func() time.Time) (*Env, error) {
	env := &Env{Namespace: o.Namespace, User: o.User, DefaultProfile: o.NamespaceDefaultProfile}
	if m := v1alpha1.Mode(o.NamespaceMode); m.IsValid() {
		env.Mode = m
	} else {
		return nil, inputErrorf("invalid --namespace-mode %q: use enforce, warn, audit or disabled", o.NamespaceMode)
	}
	if o.Namespace == "" {
		return nil, inputErrorf("--namespace must not be empty: it is the namespace of objects that name none (default %q)", DefaultNamespace)
	}
	if err := checkDefaultProfile(o.NamespaceDefaultProfile); err != nil {
		return nil, err
	}
	if o.Now != "" {
		t, err := time.Parse(time.RFC3339Nano, o.Now)
		if err != nil {
			return nil, inputErrorf("invalid --now %q: use an RFC 3339 time such as 2026-01-01T12:00:00Z", o.Now)
		}
		env.Now = t
	}

	p, source, notes, err := loadPolicy(o.PolicyFile)
	if err != nil {
		return nil, err
	}
	env.Policy, env.PolicySource = p, source
	env.Notes = append(env.Notes, notes...)

	if len(o.Inventory) == 0 {
		// A copy: the policy may be shared with other callers.
		cp := *env.Policy
		cp.NodeCoverage = v1alpha1.NodeCoverageOff
		env.Policy = &cp
		env.View = policy.EmptyNodeView{}
		env.Notes = append(env.Notes, "no --inventory given: Localhost profiles were not checked against nodes; "+
			"give --inventory with Node, NodeSeccompInventory and Lease manifests to check them")
	} else {
		inv, err := loadInventory(o.Inventory)
		if err != nil {
			return nil, err
		}
		env.View = inv.view
		env.Silent = inv.silent
		env.CoverageChecked = true
		env.Notes = append(env.Notes, inv.notes...)
		if o.Now == "" && !inv.newestLease.IsZero() {
			env.Now = inv.newestLease
			env.Notes = append(env.Notes, fmt.Sprintf("inventory staleness judged at %s, the newest Lease renewTime in the inventory files; set --now to change it",
				env.Now.UTC().Format(time.RFC3339)))
		}
	}
	if env.Now.IsZero() {
		env.Now = clock()
	}
	return env, nil
}

// checkDefaultProfile checks the value of --namespace-default-profile with
// the parser the webhook reads the annotation with.
func checkDefaultProfile(value string) error {
	if value == "" {
		return nil
	}
	if _, err := policy.ParseDefaultProfileAnnotation(value); err != nil {
		return inputErrorf("invalid --namespace-default-profile %q: it %v; use RuntimeDefault or localhost/<path relative to the kubelet's seccomp root>", value, err)
	}
	return nil
}

// InventoryPolicy is the policy the inventory report classifies nodes with:
// the ClusterSeccompPolicy in file when one is given, else the cluster's
// (src.Policy), else the built-in defaults.
func InventoryPolicy(file string, src *InventorySource) (*policy.Policy, error) {
	if file == "" && src.Policy != nil {
		p, errs := policy.Compile(src.Policy)
		if len(errs) > 0 {
			src.Notes = append(src.Notes, fmt.Sprintf("the cluster's ClusterSeccompPolicy %q is invalid (%v); the webhook serves the valid parts, and so does this report", src.Policy.Name, errs.ToAggregate()))
		}
		return p, nil
	}
	p, _, _, err := loadPolicy(file)
	return p, err
}

// loadPolicy reads and compiles the ClusterSeccompPolicy in file.
func loadPolicy(file string) (*policy.Policy, string, []string, error) {
	if file == "" {
		return policy.DefaultPolicy(), "", nil, nil
	}
	if file == "-" {
		return nil, "", nil, inputErrorf("--policy does not read stdin: give a file")
	}
	f, err := manifest.ReadFile(file)
	if err != nil {
		return nil, "", nil, &InputError{Err: fmt.Errorf("--policy: %w", err)}
	}
	var found []*manifest.Object
	for _, obj := range f.Objects {
		if _, ok := obj.Typed.(*v1alpha1.ClusterSeccompPolicy); ok {
			found = append(found, obj)
		}
	}
	var chosen *manifest.Object
	switch {
	case len(found) == 0:
		return nil, "", nil, inputErrorf("--policy: %s: no ClusterSeccompPolicy (apiVersion seccomp-guard.io/v1alpha1) in the file", file)
	case len(found) == 1:
		chosen = found[0]
	default:
		for _, obj := range found {
			if obj.Name == v1alpha1.DefaultPolicyName {
				chosen = obj
			}
		}
		if chosen == nil {
			return nil, "", nil, inputErrorf("--policy: %s: %d ClusterSeccompPolicy objects and none is named %q, the only one the webhook reads; keep one",
				file, len(found), v1alpha1.DefaultPolicyName)
		}
	}
	if len(chosen.UnknownFields) > 0 {
		var lines []string
		for _, fld := range chosen.UnknownFields {
			lines = append(lines, fmt.Sprintf("%s:%d: %s: unknown field; the CRD schema would reject or drop it, check its spelling and indentation",
				file, chosen.FieldLine(fld), fld))
		}
		return nil, "", nil, &InputError{Err: fmt.Errorf("--policy: ClusterSeccompPolicy %q has unknown fields:\n%s", chosen.Name, strings.Join(lines, "\n"))}
	}
	csp := chosen.Typed.(*v1alpha1.ClusterSeccompPolicy)
	p, errs := policy.Compile(csp)
	if len(errs) > 0 {
		lines := make([]string, 0, len(errs))
		for _, e := range errs {
			lines = append(lines, fmt.Sprintf("%s:%d: %s", file, chosen.FieldLine(e.Field), e.Error()))
		}
		return nil, "", nil, &InputError{Err: fmt.Errorf("--policy: ClusterSeccompPolicy %q is invalid:\n%s", chosen.Name, strings.Join(lines, "\n"))}
	}
	var notes []string
	if chosen.Name != v1alpha1.DefaultPolicyName {
		notes = append(notes, fmt.Sprintf("the policy at %s is named %q; the webhook reads only the ClusterSeccompPolicy named %q",
			chosen.Location(), chosen.Name, v1alpha1.DefaultPolicyName))
	}
	return p, chosen.Location(), notes, nil
}

// IsInputError reports whether err is a mistake in the command line or the input.
func IsInputError(err error) bool {
	var ie *InputError
	var me *manifest.Error
	return errors.As(err, &ie) || errors.As(err, &me)
}
