package native

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// The CEL of the native policies. Every expression mirrors one function of
// policy/ and names it; the parity test (e2e/native) runs both on one corpus.

// kindSwitch is a CEL conditional over root.kind that picks, for each
// supported kind (policy.Kinds), the expression value(kind); kinds whose
// value equals the most common one share the final else branch.
func kindSwitch(root string, value func(k *policy.Kind) string) string {
	counts := map[string]int{}
	for i := range policy.Kinds() {
		counts[value(&policy.Kinds()[i])]++
	}
	common, n := "", 0
	for i := range policy.Kinds() { // table order: deterministic
		if v := value(&policy.Kinds()[i]); counts[v] > n {
			common, n = v, counts[v]
		}
	}
	var b strings.Builder
	for i := range policy.Kinds() {
		k := &policy.Kinds()[i]
		if v := value(k); v != common {
			fmt.Fprintf(&b, "%s.kind == '%s' ? %s : ", root, k.Kind, v)
		}
	}
	return b.String() + common
}

// guarded is root.<dotted path>, or absent when an optional field on the
// way is unset (a ReplicationController may have no template, a PodTemplate
// no template). A top-level spec is required by the API and not checked, nor
// are the required links of a CronJob's jobTemplate.spec.template.
func guarded(root, dotted, absent string) string {
	parts := strings.Split(dotted, ".")
	if len(parts) == 1 {
		return root + "." + dotted
	}
	var checks []string
	for i := 1; i <= len(parts); i++ {
		if i == 1 && parts[0] == "spec" {
			continue
		}
		checks = append(checks, fmt.Sprintf("has(%s.%s)", root, strings.Join(parts[:i], ".")))
	}
	if len(parts) > 3 {
		checks = checks[len(checks)-1:]
	}
	return fmt.Sprintf("(%s ? %s.%s : %s)", strings.Join(checks, " && "), root, dotted, absent)
}

// podSpecExpr is the pod spec inside root (object or oldObject), null when the
// object has none (a ReplicationController without a template), at each
// kind's policy.Kind.PodSpecPath (policy/objects.go extractPodSource).
func podSpecExpr(root string) string {
	return fmt.Sprintf("(%s == null ? null : %s)", root, kindSwitch(root, func(k *policy.Kind) string {
		return guarded(root, k.PodSpecPath, "null")
	}))
}

// podMetaExpr is the pod's or template's metadata ({} when absent).
func podMetaExpr(root string) string {
	return fmt.Sprintf("(%s == null ? {} : %s)", root, kindSwitch(root, func(k *policy.Kind) string {
		return guarded(root, k.PodMetaPath(), "{}")
	}))
}

// celList is a CEL list literal of strings.
func celList[T ~string](values []T) string {
	quoted := make([]string, 0, len(values))
	for _, v := range values {
		quoted = append(quoted, "'"+string(v)+"'")
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// localhostProblemExpr is policy/localhost_path.go localhostPathProblem for
// the string expression x.
func localhostProblemExpr(x string) string {
	return fmt.Sprintf(`(%[1]s == '' ? 'is empty' : %[1]s.startsWith('/') ? 'is absolute' : %[1]s.split('/').exists(e, e == '..') ? 'contains ".."' : '')`, x)
}

// cleanExpr is path.Clean for a relative path without ".." elements (the
// only paths it is applied to).
func cleanExpr(x string) string {
	return fmt.Sprintf(`(%[1]s.split('/').filter(e, e != '' && e != '.').join('/') == '' ? '.' : %[1]s.split('/').filter(e, e != '' && e != '.').join('/'))`, x)
}

// quote is Go's %q for strings without quotes, backslashes or control
// characters (see docs/native.md, known differences).
func quote(x string) string { return `'"' + ` + x + ` + '"'` }

// variable is one named CEL variable.
type variable struct{ name, expr string }

// commonVariables are shared by the mutating and the validating policies.
func commonVariables() []variable {
	return []variable{
		{"isPod", `request.kind.kind == 'Pod'`}, // the core group's Pod is the only kind named Pod in policy.Kinds
		{"subResource", `has(request.subResource) ? request.subResource : ''`},
		{"spec", podSpecExpr("object")},
		// policy/mirror.go isMirrorPod.
		{"isMirror", `variables.isPod && has(object.metadata.annotations) && '` + corev1.MirrorPodAnnotationKey + `' in object.metadata.annotations`},
		{"podMeta", podMetaExpr("object")},
		{"specPath", kindSwitch("object", func(k *policy.Kind) string { return "'" + k.PodSpecPath + "'" })},
		{"pointer", kindSwitch("object", func(k *policy.Kind) string { return "'" + k.PodSpecPointer() + "'" })},
		{"nsName", `namespaceObject.metadata.name`},
		{"nsLabels", `has(namespaceObject.metadata.labels) ? namespaceObject.metadata.labels : {}`},
		{"nsAnnotations", `has(namespaceObject.metadata.annotations) ? namespaceObject.metadata.annotations : {}`},
		// params == null: no ClusterSeccompPolicy "default"; the built-in defaults apply (policy/config.go Compile(nil)).
		{"ps", `params != null && has(params.spec) ? params.spec : {}`},
		{"exempt", `has(variables.ps.exemptions) ? variables.ps.exemptions : {}`},
		// policy/mode.go namespaceMode.
		{"mode", fmt.Sprintf(`'%[1]s' in variables.nsLabels ? `+
			`(variables.nsLabels['%[1]s'] in %[2]s ? variables.nsLabels['%[1]s'] : '%[3]s') : `+
			`(has(variables.ps.defaultMode) && variables.ps.defaultMode in %[2]s ? variables.ps.defaultMode : '%[4]s')`,
			policy.ModeLabel, celList(v1alpha1.Modes()), v1alpha1.ModeEnforce, v1alpha1.DefaultMode)},
		// policy/skip.go skipReason (operations, subresources and pod UPDATE are in matchConstraints).
		{"skip", `variables.mode == '` + string(v1alpha1.ModeDisabled) + `' ||
(!variables.isPod && has(variables.ps.workloads) && variables.ps.workloads == false) ||
(has(variables.exempt.namespaces) && variables.nsName in variables.exempt.namespaces) ||
(request.userInfo.username != '' && has(variables.exempt.usernames) && request.userInfo.username in variables.exempt.usernames) ||
variables.spec == null ||
(has(variables.spec.runtimeClassName) && has(variables.exempt.runtimeClassNames) && variables.spec.runtimeClassName in variables.exempt.runtimeClassNames) ||
(has(variables.spec.os) && has(variables.spec.os.name) && variables.spec.os.name == 'windows')`},
		// policy/defaulting.go needsDefault.
		{"oldSpec", `request.operation == 'UPDATE' ? ` + podSpecExpr("oldObject") + ` : null`},
		{"needsDefault", `!(has(variables.spec.securityContext) && has(variables.spec.securityContext.seccompProfile)) &&
variables.subResource == '' && !variables.isMirror &&
!(!variables.isPod && has(object.metadata.ownerReferences) && object.metadata.ownerReferences.exists(r, has(r.controller) && r.controller)) &&
(request.operation == 'CREATE' ||
 (request.operation == 'UPDATE' && (variables.oldSpec == null || variables.oldSpec != variables.spec || ` + podMetaExpr("oldObject") + ` != variables.podMeta)))`},
		// policy/defaulting.go defaultProfile: the namespace annotation, else spec.defaultProfile, else RuntimeDefault.
		{"dpSet", fmt.Sprintf(`'%s' in variables.nsAnnotations`, policy.DefaultProfileAnnotation)},
		{"dpValue", fmt.Sprintf(`variables.dpSet ? variables.nsAnnotations['%s'].trim() : ''`, policy.DefaultProfileAnnotation)},
		{"dpPath", fmt.Sprintf(`variables.dpValue.startsWith('%s') ? variables.dpValue.substring(%d) : ''`, v1alpha1.LocalhostPrefix, len(v1alpha1.LocalhostPrefix))},
		{"dpProblem", `!variables.dpSet || variables.dpValue == 'RuntimeDefault' ? '' :
variables.dpValue.startsWith('localhost/') ? (` + localhostProblemExpr("variables.dpPath") + ` == '' ? '' : 'names a path that ' + ` + localhostProblemExpr("variables.dpPath") + `) :
variables.dpValue.lowerAscii() == 'unconfined' ? 'would make pods Unconfined, which is forbidden' :
'is neither "RuntimeDefault" nor "localhost/<path>"'`},
		{"paramsProfile", `has(variables.ps.defaultProfile) && has(variables.ps.defaultProfile.type) && variables.ps.defaultProfile.type == 'Localhost' &&
has(variables.ps.defaultProfile.localhostProfile) && ` + localhostProblemExpr("variables.ps.defaultProfile.localhostProfile") + ` == '' ?
{'type': 'Localhost', 'localhostProfile': ` + cleanExpr("variables.ps.defaultProfile.localhostProfile") + `} : {'type': 'RuntimeDefault'}`},
		{"defaultProfile", `!variables.dpSet ? variables.paramsProfile :
variables.dpValue == 'RuntimeDefault' ? {'type': 'RuntimeDefault'} :
{'type': 'Localhost', 'localhostProfile': ` + cleanExpr("variables.dpPath") + `}`},
	}
}

// mutationExpr is the JSONPatch of policy/defaulting.go defaultPatches, for
// modes warn and enforce.
var mutationExpr = `!variables.skip && variables.mode in ` + celList([]v1alpha1.Mode{v1alpha1.ModeWarn, v1alpha1.ModeEnforce}) + ` && variables.needsDefault && variables.dpProblem == '' ?
  (has(variables.spec.securityContext) ?
    [JSONPatch{op: 'add', path: variables.pointer + '/securityContext/seccompProfile', value: variables.defaultProfile}] :
    [JSONPatch{op: 'add', path: variables.pointer + '/securityContext', value: {'seccompProfile': variables.defaultProfile}}]) :
  []`

// placesExpr is policy/objects.go explicitProfiles over spec (a variable
// name), with field paths below specPath; only is a CEL predicate on a
// container c (true for all).
func placesExpr(spec, only string, podLevel string) string {
	sp := func(c string) string {
		return fmt.Sprintf(`has(%[1]s.securityContext) && has(%[1]s.securityContext.seccompProfile)`, c)
	}
	entry := func(c, name, pth string) string {
		prof := c + ".securityContext.seccompProfile"
		return fmt.Sprintf(`{'c': %s, 'p': %s, 't': string(%s.type), 'lp': has(%s.localhostProfile) ? string(%s.localhostProfile) : ''}`, name, pth, prof, prof, prof)
	}
	list := func(field string) string {
		return fmt.Sprintf(`(has(%[1]s.%[2]s) ? %[1]s.%[2]s.transformList(i, c, %[3]s && (%[4]s), %[5]s) : [])`,
			spec, field, sp("c"), only,
			entry("c", "string(c.name)", fmt.Sprintf(`variables.specPath + '.%s[' + string(i) + '].securityContext.seccompProfile'`, field)))
	}
	pod := fmt.Sprintf(`(%s && %s ? [%s] : [])`, podLevel, sp(spec),
		entry(spec, "''", `variables.specPath + '.securityContext.seccompProfile'`))
	return "(" + strings.Join([]string{pod, list("initContainers"), list("containers"), list("ephemeralContainers")}, " +\n") + ")"
}

// violationsExpr turns a list of places into violations {k: ratchet key, m:
// message}, in the engine's order: every UnconfinedForbidden
// (policy/unconfined.go), then every InvalidLocalhostPath
// (policy/localhost_path.go).
func violationsExpr(places string) string {
	ns := quote("variables.nsName")
	unconfined := fmt.Sprintf(`%s.filter(p, p.t == 'Unconfined').map(p, {'k': 'UnconfinedForbidden|' + p.c + '|Unconfined', 'm': p.p + '.type: "Unconfined" is forbidden in namespace ' + %s + ' (UnconfinedForbidden); remove it or use RuntimeDefault'})`, places, ns)
	lh := fmt.Sprintf(`%s.filter(p, p.t == 'Localhost' && %s != '').map(p, {'k': 'InvalidLocalhostPath|' + p.c + '|' + p.lp, 'm': p.p + '.localhostProfile: ' + (
  p.lp == '' ? 'required when type is "Localhost" (InvalidLocalhostPath); set it to a path relative to the kubelet\'s seccomp root, e.g. "profiles/audit.json"' :
  p.lp.startsWith('/') ? %s + ' is absolute (InvalidLocalhostPath); write it relative to the kubelet\'s seccomp root, e.g. "' + (p.lp.lastIndexOf('/seccomp/') >= 0 ? p.lp.substring(p.lp.lastIndexOf('/seccomp/') + 9) : p.lp.find('[^/].*')) + '"' :
  %s + ' contains ".." (InvalidLocalhostPath); name a file under the kubelet\'s seccomp root, e.g. "profiles/audit.json"')})`,
		places, localhostProblemExpr("p.lp"), quote("p.lp"), quote("p.lp"))
	return unconfined + " +\n" + lh
}

// unsetExpr is policy/defaulting.go containersWithoutProfile for the pod
// spec s (never null): the pod-level profile is unset and some container
// sets none of its own.
func unsetExpr(s string) string {
	set := func(x string) string {
		return fmt.Sprintf(`(has(%[1]s.securityContext) && has(%[1]s.securityContext.seccompProfile))`, x)
	}
	parts := make([]string, 0, 3)
	for _, f := range []string{"initContainers", "containers", "ephemeralContainers"} {
		parts = append(parts, fmt.Sprintf(`(has(%[1]s.%[2]s) && %[1]s.%[2]s.exists(c, !%[3]s))`, s, f, set("c")))
	}
	return fmt.Sprintf("(!%s && (%s))", set(s), strings.Join(parts, " || "))
}

// privilegedExpr is policy/privileged.go checkPrivileged over the pod spec
// s: a violation {k, m} per privileged container, in the engine's order.
// onlyEphemeral is a CEL predicate on an ephemeral container c; others is
// true when the other containers are checked (not the ephemeralcontainers
// subresource).
func privilegedExpr(s, onlyEphemeral, others string) string {
	msg := `'true runs the container with no seccomp filter, whatever its seccompProfile says (the container runtime skips seccomp for privileged containers) (PrivilegedForbidden); drop privileged: true and add only the capabilities the container needs, or, if namespace ' + ` +
		quote("variables.nsName") + ` + ' needs privileged pods, exempt it: add it to spec.exemptions.namespaces of ClusterSeccompPolicy "default", or label it seccomp-guard.io/mode=disabled'`
	parts := make([]string, 0, 3)
	for _, f := range []string{"initContainers", "containers", "ephemeralContainers"} {
		only := others
		if f == "ephemeralContainers" {
			only = onlyEphemeral
		}
		parts = append(parts, fmt.Sprintf(`(has(%[1]s.%[2]s) ? %[1]s.%[2]s.transformList(i, c, has(c.securityContext) && has(c.securityContext.privileged) && c.securityContext.privileged == true && (%[3]s), `+
			`{'k': 'PrivilegedForbidden|' + string(c.name) + '|', 'm': variables.specPath + '.%[2]s[' + string(i) + '].securityContext.privileged: ' + %[4]s}) : [])`, s, f, only, msg))
	}
	return "(" + strings.Join(parts, " +\n") + ")"
}

// validationVariables extend commonVariables for the validating policies.
func validationVariables() []variable {
	return []variable{
		{"ephemeralOnly", `variables.subResource == 'ephemeralcontainers'`},
		{"oldEphemeral", `variables.ephemeralOnly && oldObject != null && has(oldObject.spec.ephemeralContainers) ? oldObject.spec.ephemeralContainers.map(c, c.name) : []`},
		{"places", `variables.skip ? [] : ` + placesExpr("variables.spec", "!variables.ephemeralOnly || !(c.name in variables.oldEphemeral)", "!variables.ephemeralOnly")},
		{"found", violationsExpr("variables.places")},
		// policy/privileged.go: violations under spec.privileged Deny, warnings under Warn.
		{"privilegedWarn", `has(variables.ps.privileged) && variables.ps.privileged == '` + string(v1alpha1.PrivilegedWarn) + `'`},
		{"privileged", `variables.skip ? [] : ` + privilegedExpr("variables.spec", "!variables.ephemeralOnly || !(c.name in variables.oldEphemeral)", "!variables.ephemeralOnly")},
		// policy/evaluate.go: the namespace default that cannot be injected.
		{"defaultViolation", `!variables.skip && variables.needsDefault && variables.dpProblem != '' ?
[{'k': 'InvalidDefaultProfile||', 'm': variables.specPath + '.securityContext.seccompProfile: not set, and the default of namespace ' + ` + quote("variables.nsName") + ` + ' cannot be injected: annotation ` + policy.DefaultProfileAnnotation + `=' + ` + quote("variables.nsAnnotations['"+policy.DefaultProfileAnnotation+"']") + ` + ' ' + variables.dpProblem + ' (InvalidDefaultProfile); set the annotation to RuntimeDefault or localhost/<path relative to the kubelet\'s seccomp root>, or set spec.securityContext.seccompProfile in the pod yourself'}] : []`},
		// policy/evaluate.go: at the validating stage, an unset profile where the
		// mutating policy would have set it means it did not run (ProfileNotSet).
		{"notSet", `!variables.skip && variables.mode in ` + celList([]v1alpha1.Mode{v1alpha1.ModeWarn, v1alpha1.ModeEnforce}) + ` && variables.needsDefault && variables.dpProblem == '' && ` + unsetExpr("variables.spec") + ` ?
[{'k': 'ProfileNotSet||', 'm': variables.specPath + '.securityContext.seccompProfile: not set, and seccomp-guard\'s mutating webhook, which would have set it to ' + (variables.defaultProfile.type == 'Localhost' ? 'localhost/' + variables.defaultProfile.localhostProfile : 'RuntimeDefault') + ', was skipped (ProfileNotSet): it was unavailable or too slow and its failurePolicy Ignore let the request through, or another mutating webhook removed the field; containers without a profile of their own would run Unconfined unless the kubelet runs with --seccomp-default; set it in the manifest, or retry when the mutating webhook is available'}] : []`},
		{"violations", `variables.found + (variables.privilegedWarn ? [] : variables.privileged) + variables.defaultViolation + variables.notSet`},
		// policy/ratchet.go: a workload UPDATE is denied only for violations the old object did not have.
		{"oldKeys", `!variables.skip && !variables.isPod && request.operation == 'UPDATE' && size(variables.violations) > 0 && variables.oldSpec != null ?
(` + violationsExpr(placesExpr("variables.oldSpec", "true", "true")) + ` + ` + privilegedExpr("variables.oldSpec", "true", "true") + `).map(v, v.k) +
(` + unsetExpr("variables.oldSpec") + ` ? ['ProfileNotSet||'] : []) : []`},
		{"counted", `variables.isMirror ? [] : variables.violations.filter(v, !(v.k in variables.oldKeys)).map(v, v.m)`},
		{"kept", `variables.isMirror ? [] : variables.violations.filter(v, v.k in variables.oldKeys).map(v, v.m + ' [already present before this update, so not denied]')`},
		// Warnings that are never violations: privileged containers under
		// spec.privileged Warn, and policy/mirror.go mirrorWarnings.
		{"warned", `(variables.privilegedWarn ? variables.privileged.map(v, v.m + ' [spec.privileged is Warn, so not denied]') : []) +
(!variables.skip && variables.isMirror ? (` + unsetExpr("variables.spec") + ` ? [variables.specPath + '.securityContext.seccompProfile: not set on the mirror pod of a static pod, and seccomp-guard does not default mirror pods (the kubelet runs the static pod from its manifest file, so a default here would show a profile the pod does not run with); containers without a profile of their own run Unconfined unless the kubelet runs with --seccomp-default; set the profile in the static pod\'s manifest on the node'] : []) +
  variables.violations.map(v, v.m + ' [a mirror pod: the kubelet runs its static pod anyway, so not denied; fix the static pod\'s manifest on the node]') : [])`},
	}
}
