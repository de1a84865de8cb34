// Package native builds seccomp-guard's native fast path (design section 10):
// a MutatingAdmissionPolicy and ValidatingAdmissionPolicies, served by the
// API server itself at admissionregistration.k8s.io/v1, that apply the
// static rules of policy/ with no webhook round trip: defaulting,
// UnconfinedForbidden, InvalidLocalhostPath, PrivilegedForbidden,
// ProfileNotSet (the mutating policy did not run), mirror pods, exemptions,
// modes, the Windows skip and workload templates. They read the ClusterSeccompPolicy "default"
// as params and the namespace through namespaceObject.
//
// Everything that needs path.Match globs (ProfileNotAllowed, including a
// namespace default-profile annotation outside allowedProfiles) or the node
// inventory (ProfileMissing, ProfileInvalid, ProfileAllowByDefault,
// InventoryUnknown) stays with the webhook. docs/native.md lists the known
// differences from policy/; e2e/native checks the rest for parity.
package native

import (
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// DefaultNamePrefix prefixes the objects' names unless told otherwise (the release name).
const DefaultNamePrefix = "seccomp-guard"

// Annotations on every object.
const (
	// CoversAnnotation lists the rules the object implements.
	CoversAnnotation = "seccomp-guard.io/covers"
	// WebhookOnlyAnnotation lists the rules that stay with the webhook.
	WebhookOnlyAnnotation = "seccomp-guard.io/webhook-only"
)

// WebhookOnly is the value of WebhookOnlyAnnotation.
const WebhookOnly = "ProfileNotAllowed (path.Match globs of spec.localhost.allowedProfiles, also for a namespace default-profile annotation), " +
	"ProfileMissing, ProfileInvalid, ProfileAllowByDefault, InventoryUnknown (the node inventory), legacy-annotation and invalid-mode-label warnings: " +
	"install the seccomp-guard webhook for these"

// Modes with a validating policy of their own, and the action of its binding.
var modeActions = []struct {
	mode   v1alpha1.Mode
	action admissionregistrationv1.ValidationAction
}{
	{v1alpha1.ModeEnforce, admissionregistrationv1.Deny},
	{v1alpha1.ModeWarn, admissionregistrationv1.Warn},
	{v1alpha1.ModeAudit, admissionregistrationv1.Audit},
}

// maxListed is how many violations a Warn or Audit policy reports as separate
// warnings; the rest go into the last one.
const maxListed = 8

// Objects are the native policies and their bindings.
type Objects struct {
	MutatingPolicies         []*admissionregistrationv1.MutatingAdmissionPolicy
	MutatingPolicyBindings   []*admissionregistrationv1.MutatingAdmissionPolicyBinding
	ValidatingPolicies       []*admissionregistrationv1.ValidatingAdmissionPolicy
	ValidatingPolicyBindings []*admissionregistrationv1.ValidatingAdmissionPolicyBinding
}

// List returns every object, policies before their bindings.
func (o *Objects) List() []runtime.Object {
	var out []runtime.Object
	for _, p := range o.MutatingPolicies {
		out = append(out, p)
	}
	for _, b := range o.MutatingPolicyBindings {
		out = append(out, b)
	}
	for _, p := range o.ValidatingPolicies {
		out = append(out, p)
	}
	for _, b := range o.ValidatingPolicyBindings {
		out = append(out, b)
	}
	return out
}

// Build returns the native objects named after prefix: "<prefix>-default"
// (mutating) and "<prefix>-enforce", "<prefix>-warn", "<prefix>-audit"
// (validating), each with a binding of the same name.
func Build(prefix string) *Objects {
	if prefix == "" {
		prefix = DefaultNamePrefix
	}
	fail := admissionregistrationv1.Fail
	paramKind := &admissionregistrationv1.ParamKind{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "ClusterSeccompPolicy"}
	allow := admissionregistrationv1.AllowAction
	paramRef := func() *admissionregistrationv1.ParamRef {
		return &admissionregistrationv1.ParamRef{Name: v1alpha1.DefaultPolicyName, ParameterNotFoundAction: &allow}
	}
	labels := map[string]string{"app.kubernetes.io/name": "seccomp-guard", "app.kubernetes.io/component": "native-policy"}
	meta := func(name, covers string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Labels: labels, Annotations: map[string]string{
			CoversAnnotation: covers, WebhookOnlyAnnotation: WebhookOnly,
		}}
	}
	o := &Objects{}

	mName := prefix + "-default"
	o.MutatingPolicies = append(o.MutatingPolicies, &admissionregistrationv1.MutatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "MutatingAdmissionPolicy"},
		ObjectMeta: meta(mName, "defaulting of spec.securityContext.seccompProfile (modes warn and enforce)"),
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			ParamKind:        paramKind,
			MatchConstraints: matchResources(false),
			Variables:        toVariables(commonVariables()),
			Mutations: []admissionregistrationv1.Mutation{{
				PatchType: admissionregistrationv1.PatchTypeJSONPatch,
				JSONPatch: &admissionregistrationv1.JSONPatch{Expression: mutationExpr},
			}},
			FailurePolicy:      &fail,
			ReinvocationPolicy: admissionregistrationv1.IfNeededReinvocationPolicy,
		},
	})
	o.MutatingPolicyBindings = append(o.MutatingPolicyBindings, &admissionregistrationv1.MutatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "MutatingAdmissionPolicyBinding"},
		ObjectMeta: meta(mName, "defaulting"),
		Spec:       admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{PolicyName: mName, ParamRef: paramRef()},
	})

	vars := toVariables(append(commonVariables(), validationVariables()...))
	for _, ma := range modeActions {
		name := fmt.Sprintf("%s-%s", prefix, ma.mode)
		o.ValidatingPolicies = append(o.ValidatingPolicies, &admissionregistrationv1.ValidatingAdmissionPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
			ObjectMeta: meta(name, fmt.Sprintf("UnconfinedForbidden, InvalidLocalhostPath, InvalidDefaultProfile, PrivilegedForbidden, ProfileNotSet, mirror pods in namespaces of mode %s", ma.mode)),
			Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
				ParamKind:        paramKind,
				MatchConstraints: matchResources(true),
				Variables:        vars,
				Validations:      validations(ma.mode),
				FailurePolicy:    &fail,
			},
		})
		o.ValidatingPolicyBindings = append(o.ValidatingPolicyBindings, &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicyBinding"},
			ObjectMeta: meta(name, string(ma.action)),
			Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
				PolicyName:        name,
				ParamRef:          paramRef(),
				ValidationActions: []admissionregistrationv1.ValidationAction{ma.action},
			},
		})
	}
	return o
}

// validations report the messages of one mode. Enforce denies with every
// counted violation in one message (the API server reports only the first
// failing validation of a denying binding). Warn and audit report each
// violation as its own warning or audit entry, and warn also returns the
// violations the ratchet kept in enforce mode, as the engine does.
func validations(mode v1alpha1.Mode) []admissionregistrationv1.Validation {
	active := fmt.Sprintf("variables.mode == '%s'", mode)
	if mode == v1alpha1.ModeEnforce {
		return []admissionregistrationv1.Validation{{
			Expression: fmt.Sprintf("!(%s) || size(variables.counted) == 0", active),
			MessageExpression: `size(variables.counted) == 1 ? variables.counted[0] : ` +
				`'(' + string(size(variables.counted)) + ' violations): ' + variables.counted.join('; ')`,
			Reason: ptr.To(metav1.StatusReasonForbidden),
		}}
	}
	msgs := "(variables.counted + variables.kept + variables.warned)"
	if mode == v1alpha1.ModeWarn {
		msgs = fmt.Sprintf("(variables.mode == '%s' ? variables.counted + variables.kept + variables.warned : variables.mode == '%s' ? variables.kept + variables.warned : [])", v1alpha1.ModeWarn, v1alpha1.ModeEnforce)
		active = "variables.mode in " + celList([]v1alpha1.Mode{v1alpha1.ModeWarn, v1alpha1.ModeEnforce})
	}
	var out []admissionregistrationv1.Validation
	for i := range maxListed {
		msg := fmt.Sprintf("%s[%d]", msgs, i)
		if i == maxListed-1 {
			msg = fmt.Sprintf("%s.slice(%d, size(%s)).join('; ')", msgs, i, msgs)
		}
		out = append(out, admissionregistrationv1.Validation{
			Expression:        fmt.Sprintf("!(%s) || size(%s) <= %d", active, msgs, i),
			MessageExpression: msg,
		})
	}
	return out
}

func toVariables(vs []variable) []admissionregistrationv1.Variable {
	out := make([]admissionregistrationv1.Variable, 0, len(vs))
	for _, v := range vs {
		out = append(out, admissionregistrationv1.Variable{Name: v.name, Expression: v.expr})
	}
	return out
}

// matchResources selects the supported kinds (policy.Kinds) on CREATE and
// UPDATE, and for validation the pods/ephemeralcontainers subresource.
func matchResources(ephemeral bool) *admissionregistrationv1.MatchResources {
	ops := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
	var rules []admissionregistrationv1.NamedRuleWithOperations
	rule := func(group, version string, ops ...admissionregistrationv1.OperationType) int {
		rules = append(rules, admissionregistrationv1.NamedRuleWithOperations{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
			Operations: ops,
			Rule: admissionregistrationv1.Rule{
				APIGroups: []string{group}, APIVersions: []string{version},
				Scope: ptr.To(admissionregistrationv1.NamespacedScope),
			},
		}})
		return len(rules) - 1
	}
	byGroup := map[string]int{}
	pods := -1
	for _, k := range policy.Kinds() {
		if k.Kind == "Pod" {
			// Pods are matched on CREATE only (a pod UPDATE is never
			// denied: policy/skip.go), and, for the validating
			// policies, the UPDATE of their ephemeralcontainers
			// subresource. Written as rules rather than a match
			// condition, which would cost a CEL evaluation (with its own
			// inputs: params converted again) on every request.
			pods = rule(k.Group, k.Version, admissionregistrationv1.Create)
			rules[pods].Resources = []string{k.Resource}
			continue
		}
		i, ok := byGroup[k.Group]
		if !ok {
			i = rule(k.Group, k.Version, ops...)
			byGroup[k.Group] = i
		}
		rules[i].Resources = append(rules[i].Resources, k.Resource)
	}
	if ephemeral && pods >= 0 { // adding ephemeral containers is an UPDATE of the subresource
		i := rule(rules[pods].APIGroups[0], rules[pods].APIVersions[0], admissionregistrationv1.Update)
		rules[i].Resources = []string{"pods/" + policy.EphemeralContainersSubresource}
	}
	equivalent := admissionregistrationv1.Equivalent
	return &admissionregistrationv1.MatchResources{MatchPolicy: &equivalent, ResourceRules: rules}
}
