package policy

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// Audit annotation keys. The API server prefixes them with the webhook's
// name, so they carry no prefix of their own.
const (
	AuditMode       = "mode"
	AuditDecision   = "decision"
	AuditSkipped    = "skipped"
	AuditDefaulted  = "defaulted"
	AuditWouldDflt  = "would-default"
	AuditViolations = "violations"
	AuditWarnings   = "warnings"
	AuditNotDflt    = "not-defaulted"
	AuditPolicy     = "policy-generation"
)

// Evaluate decides one admission request. It never fails: an object of a
// kind it does not handle is skipped with the reason.
func Evaluate(p *Policy, view NodeView, req Request) Decision {
	if p == nil {
		p = DefaultPolicy()
	}
	if view == nil {
		view = EmptyNodeView{}
	}
	src, ok := extractPodSource(req.Object)
	if !ok {
		return finish(p, Decision{Mode: v1alpha1.ModeDisabled, Skipped: "object is not a Pod or a workload with a pod template"})
	}
	mode, modeWarning := namespaceMode(p, req.Namespace)
	d := Decision{Mode: mode}
	if modeWarning != "" {
		d.Warnings = append(d.Warnings, modeWarning)
	}
	if mode == v1alpha1.ModeDisabled {
		d.Skipped = "namespace mode is disabled"
		return finish(p, d)
	}
	if reason := skipReason(p, &req, &src); reason != "" {
		d.Skipped = reason
		return finish(p, d)
	}

	spec := src.spec
	var defaultViolation *Violation
	if needsDefault(&req, &src) {
		sp, problem := defaultProfile(p, req.Namespace)
		if recordingOf(req.Namespace, &src).permitted() {
			sp, problem = recordingProfile(), "" // recording.go
		}
		switch {
		case problem != "":
			defaultViolation = &Violation{
				Reason:  ReasonInvalidDefaultProfile,
				Field:   src.specPath.Child("securityContext", "seccompProfile").String(),
				Message: problem,
			}
		case req.Final && mode != v1alpha1.ModeAudit:
			// The mutating webhook should have set it. It was skipped (it
			// is down or too slow and its failurePolicy is Ignore) or
			// another mutating webhook removed the field.
			d.notDefaulted = profileString(sp)
			if containersWithoutProfile(spec) {
				defaultViolation = profileNotSetViolation(&src, sp)
			} else {
				d.Warnings = append(d.Warnings, fmt.Sprintf("%s: not set although seccomp-guard would have set it to %s: its mutating webhook did not run (is it available? its failurePolicy Ignore lets requests through without it); without a profile the containers run Unconfined unless the kubelet runs with --seccomp-default; set it in the manifest",
					src.specPath.Child("securityContext", "seccompProfile"), profileString(sp)))
			}
		default:
			d.Defaulted = profileString(sp)
			if mode != v1alpha1.ModeAudit {
				d.Patches = defaultPatches(&src, sp)
			}
			// Validate what will be stored (in audit mode, what would be).
			spec = withPodProfile(spec, sp)
		}
	}

	if req.DefaultOnly {
		return finish(p, d)
	}

	var only func(string) bool
	if req.SubResource == EphemeralContainersSubresource {
		only = newEphemeralContainers(req.OldObject)
	}
	vs, ws := validate(p, view, req.Now, &src, spec, req.Namespace, only)
	if defaultViolation != nil {
		vs = append(vs, *defaultViolation)
	}
	d.Warnings = append(d.Warnings, ws...)
	if req.Operation == admissionv1.Create && req.SubResource == "" {
		d.Warnings = append(d.Warnings, legacyAnnotationWarnings(&src)...)
	}

	if req.Operation == admissionv1.Update && (!src.isPod || ungates(&req)) && len(vs) > 0 {
		if old, ok := extractPodSource(req.OldObject); ok && old.spec != nil {
			oldVs, _ := validate(p, view, req.Now, &old, old.spec, req.Namespace, nil)
			if containersWithoutProfile(old.spec) {
				oldVs = append(oldVs, Violation{Reason: ReasonProfileNotSet})
			}
			var kept []string
			vs, kept = ratchet(vs, oldVs)
			d.Warnings = append(d.Warnings, kept...)
		}
	}
	if isMirrorPod(&src) {
		d.Warnings = append(d.Warnings, mirrorWarnings(&src, vs)...)
		vs = nil
	}
	d.Violations = vs
	return finish(p, d)
}

// validate runs every validation rule over one pod spec. only, when set,
// limits the check to the containers it accepts (and leaves out the pod level).
// Each profile path's coverage is computed once, however many containers
// name it.
func validate(p *Policy, view NodeView, now time.Time, src *podSource, spec *corev1.PodSpec, ns Namespace, only func(string) bool) ([]Violation, []string) {
	namespace := ns.Name
	places := explicitProfiles(spec, src.specPath, only)
	vs := checkUnconfined(places, namespace)
	rec := recordingOf(ns, src)
	if only != nil {
		rec.asked, rec.odd = false, "" // ephemeral containers: the pod's annotation was checked when it was created
	}
	rvs, ws := checkRecording(rec, places, namespace)
	vs = append(vs, rvs...)
	var cands *candidates
	covered := coverages{}
	for _, pl := range places {
		if pl.profile.Type != corev1.SeccompProfileTypeLocalhost {
			continue
		}
		if v := checkLocalhostPath(pl); v != nil {
			vs = append(vs, *v)
			continue
		}
		cleaned := path.Clean(*pl.profile.LocalhostProfile)
		recorded := isRecordingProfile(cleaned)
		if recorded && !rec.permitted() {
			continue // RecordingNotAllowed (checkRecording)
		}
		if v := checkAllowedProfile(p, pl, cleaned, namespace); v != nil && !recorded {
			vs = append(vs, *v)
			continue
		}
		if p.NodeCoverage == v1alpha1.NodeCoverageOff {
			continue
		}
		if cands == nil {
			c := candidateNodes(view, spec, src.daemon)
			cands = &c
		}
		cvs, cws := checkCoverage(p, view, now, covered, pl, cleaned, *cands, recorded)
		vs = append(vs, cvs...)
		ws = append(ws, cws...)
	}
	pvs, pws := checkPrivileged(p, spec, src.specPath, only, namespace)
	return append(vs, pvs...), append(ws, pws...)
}

// newEphemeralContainers accepts the ephemeral containers the old pod did not have.
func newEphemeralContainers(oldObj runtime.Object) func(string) bool {
	existing := sets.New[string]()
	if old, ok := oldObj.(*corev1.Pod); ok {
		for _, ec := range old.Spec.EphemeralContainers {
			existing.Insert(ec.Name)
		}
	}
	return func(name string) bool { return !existing.Has(name) }
}

// finish records the decision in audit annotations.
func finish(p *Policy, d Decision) Decision {
	a := map[string]string{
		AuditMode:     string(d.Mode),
		AuditDecision: d.Verdict(),
	}
	if p.Name != "" {
		a[AuditPolicy] = p.Name + "/" + strconv.FormatInt(p.Generation, 10)
	}
	if d.Skipped != "" {
		a[AuditSkipped] = d.Skipped
	}
	if d.Defaulted != "" {
		if d.Mode == v1alpha1.ModeAudit {
			a[AuditWouldDflt] = d.Defaulted
		} else {
			a[AuditDefaulted] = d.Defaulted
		}
	}
	if d.notDefaulted != "" {
		a[AuditNotDflt] = d.notDefaulted
	}
	if len(d.Violations) > 0 {
		a[AuditViolations] = strings.Join(CapList(d.Messages()), "\n")
	}
	if len(d.Warnings) > 0 {
		a[AuditWarnings] = strings.Join(CapList(d.Warnings), "\n")
	}
	d.AuditAnnotations = a
	return d
}

// MaxListed is how many violations or warnings a denial message or an audit
// annotation lists before it counts the rest: an object with thousands of
// containers must not make a response or an audit event that large.
const MaxListed = 20

// CapList returns the first MaxListed messages and, when there are more,
// "and N more".
func CapList(msgs []string) []string {
	if len(msgs) <= MaxListed {
		return msgs
	}
	return append(slices.Clone(msgs[:MaxListed]), fmt.Sprintf("and %d more", len(msgs)-MaxListed))
}
