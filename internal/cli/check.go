package cli

import (
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/seccomp-guard/seccomp-guard/internal/manifest"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// Report is the outcome of evaluating every object of the input files.
type Report struct {
	Env     *Env
	Files   []*manifest.File
	Results []*Result
	Summary Summary
}

// Result is the evaluation of one object.
type Result struct {
	Object *manifest.Object
	// Namespace is the object's namespace, or --namespace when it names none.
	Namespace string
	// Checked is false for kinds the policy does not evaluate.
	Checked  bool
	Decision policy.Decision
	// Violations and Warnings are the decision's, with the line of the field
	// concerned; Warnings also name fields the typed decoding did not know.
	Violations []Violation
	Warnings   []Warning
	// Fixed is set by Fix when it wrote the object's default; FixError says
	// why it could not.
	Fixed    bool
	FixError string
}

// Violation is a policy.Violation with the line of its field.
type Violation struct {
	Reason  policy.Reason `json:"reason"`
	Field   string        `json:"field"`
	Line    int           `json:"line"`
	Message string        `json:"message"`
}

// Warning is a message for the user, at a line.
type Warning struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// Summary counts the results.
type Summary struct {
	Files   int `json:"files"`
	Objects int `json:"objects"`
	// Checked objects are of the kinds the policy evaluates; each is
	// exactly one of Admitted, Denied, WouldDeny or Skipped.
	Checked   int `json:"checked"`
	Admitted  int `json:"admitted"`
	Denied    int `json:"denied"`
	WouldDeny int `json:"wouldDeny"`
	Skipped   int `json:"skipped"`
	// Defaulted objects are admitted (with or without violations) and get a
	// default profile; in audit mode, would get one.
	Defaulted int `json:"defaulted"`
	// NotChecked objects are of other kinds or versions, counted by
	// "apiVersion kind" in NotCheckedKinds.
	NotChecked      int            `json:"notChecked"`
	NotCheckedKinds map[string]int `json:"notCheckedKinds"`
}

// Verdict is the decision's verdict (allowed, denied, would-deny, skipped),
// or not-checked.
func (r *Result) Verdict() string {
	if !r.Checked {
		return "not-checked"
	}
	return r.Decision.Verdict()
}

// Allowed reports whether the webhook would admit the object.
func (r *Result) Allowed() bool {
	return !r.Checked || r.Decision.Allowed()
}

// Defaults reports whether the object is admitted and gets a default
// profile (in audit mode: would get one).
func (r *Result) Defaults() bool {
	return r.Checked && r.Decision.Allowed() && r.Decision.Skipped == "" && r.Decision.Defaulted != ""
}

// DefaultedField is the field path of the profile that is defaulted, e.g.
// spec.template.spec.securityContext.seccompProfile.
func (r *Result) DefaultedField() string {
	p := podSpecPointer(r.Object.Typed)
	return strings.ReplaceAll(strings.TrimPrefix(p, "/"), "/", ".") + ".securityContext.seccompProfile"
}

// podSpecPointer is where the pod spec of a workload is.
func podSpecPointer(obj runtime.Object) string {
	p, _ := policy.PodSpecPointer(obj)
	return p
}

// evaluated reports whether the policy evaluates objects of this type.
func evaluated(obj runtime.Object) bool {
	_, ok := policy.PodSpecPointer(obj)
	return ok
}

// Check evaluates every object of files as a CREATE request.
func Check(env *Env, files []*manifest.File) *Report {
	r := &Report{Env: env, Files: files, Summary: Summary{Files: len(files), NotCheckedKinds: map[string]int{}}}
	ns := policy.Namespace{Labels: map[string]string{policy.ModeLabel: string(env.Mode)}, Annotations: map[string]string{}}
	if env.DefaultProfile != "" {
		ns.Annotations[policy.DefaultProfileAnnotation] = env.DefaultProfile
	}
	for _, f := range files {
		for _, obj := range f.Objects {
			res := &Result{Object: obj, Namespace: obj.Namespace, Checked: evaluated(obj.Typed)}
			if res.Namespace == "" && res.Checked {
				res.Namespace = env.Namespace
			}
			if res.Checked {
				req := ns
				req.Name = res.Namespace
				res.Decision = policy.Evaluate(env.Policy, env.View, policy.Request{
					Operation: admissionv1.Create,
					Namespace: req,
					Username:  env.User,
					Object:    obj.Typed,
					Now:       env.Now,
				})
				for _, v := range res.Decision.Violations {
					res.Violations = append(res.Violations, Violation{Reason: v.Reason, Field: v.Field, Line: obj.FieldLine(v.Field), Message: v.Message})
				}
				for _, w := range res.Decision.Warnings {
					res.Warnings = append(res.Warnings, Warning{Line: warningLine(obj, w), Message: w})
				}
				for _, pl := range policy.LocalhostProfiles(obj.Typed) {
					if msg := env.Silent.Message(pl.Path); msg != "" {
						res.Warnings = append(res.Warnings, Warning{Line: obj.FieldLine(pl.Field), Message: pl.Field + ": " + msg})
					}
				}
				for _, fld := range obj.UnknownFields {
					res.Warnings = append(res.Warnings, Warning{Line: obj.FieldLine(fld),
						Message: fld + ": unknown field, ignored here and rejected by kubectl apply (strict field validation); check its spelling and indentation"})
				}
			}
			r.Results = append(r.Results, res)
			r.Summary.add(res)
		}
	}
	return r
}

func (s *Summary) add(r *Result) {
	s.Objects++
	if !r.Checked {
		s.NotChecked++
		s.NotCheckedKinds[r.Object.APIVersion+" "+r.Object.Kind]++
		return
	}
	s.Checked++
	switch r.Decision.Verdict() {
	case "skipped":
		s.Skipped++
	case "denied":
		s.Denied++
	case "would-deny":
		s.WouldDeny++
	default:
		s.Admitted++
	}
	if r.Defaults() {
		s.Defaulted++
	}
}

// warningLine is the line of the field a warning starts with ("<field>: ..."),
// else the object's.
func warningLine(obj *manifest.Object, w string) int {
	field, _, ok := strings.Cut(w, ": ")
	if !ok || field == "" || strings.ContainsAny(field, " \"") {
		return obj.Line
	}
	return obj.FieldLine(field)
}
