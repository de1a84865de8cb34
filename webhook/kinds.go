package webhook

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/seccomp-guard/seccomp-guard/policy"
)

// handledKind returns the constructor of the typed object for a kind the
// webhooks handle (policy.Kinds); everything else is answered with an
// explanation, never decoded.
func handledKind(gvk metav1.GroupVersionKind) (func() runtime.Object, bool) {
	k, ok := policy.KindFor(schema.GroupVersionKind(gvk))
	if !ok {
		return nil, false
	}
	return k.New, true
}

// Rules are the resources and operations both webhook configurations
// register, derived from policy.Kinds: pods on CREATE (the seccomp fields of
// a pod are immutable, so a pod UPDATE has nothing to check) and their
// ephemeralcontainers subresource on UPDATE (the only way ephemeral
// containers arrive), and every workload kind on CREATE and UPDATE. The e2e
// suites register them, and `make generate` writes them into the chart
// (charts/seccomp-guard/templates/_rules.tpl).
func Rules() []admissionregistrationv1.RuleWithOperations {
	create := []admissionregistrationv1.OperationType{admissionregistrationv1.Create}
	update := []admissionregistrationv1.OperationType{admissionregistrationv1.Update}
	createUpdate := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
	scope := admissionregistrationv1.NamespacedScope
	rule := func(group string, ops []admissionregistrationv1.OperationType, resources ...string) admissionregistrationv1.RuleWithOperations {
		return admissionregistrationv1.RuleWithOperations{
			Operations: ops,
			Rule:       admissionregistrationv1.Rule{APIGroups: []string{group}, APIVersions: []string{"v1"}, Resources: resources, Scope: &scope},
		}
	}
	var out []admissionregistrationv1.RuleWithOperations
	byGroup := map[string]int{} // group -> index of its CREATE+UPDATE rule in out
	for _, k := range policy.Kinds() {
		if k.IsPod() {
			out = append(out,
				rule(k.Group, create, k.Resource),
				rule(k.Group, update, k.Resource+"/"+policy.EphemeralContainersSubresource))
			continue
		}
		if i, ok := byGroup[k.Group]; ok {
			out[i].Resources = append(out[i].Resources, k.Resource)
			continue
		}
		byGroup[k.Group] = len(out)
		out = append(out, rule(k.Group, createUpdate, k.Resource))
	}
	return out
}

// GatedWebhookName names the validating webhook that receives the pod
// UPDATEs removing a pod's last scheduling gate.
const GatedWebhookName = "validate-gated.seccomp-guard.io"

// GatedPodRules are the rules of that webhook: pods on UPDATE. Its
// matchConditions (GatedPodMatchConditions) let through only the UPDATE that
// removes the last scheduling gate, so other pod UPDATEs never reach the
// webhook and never wait for it (policy/scheduling_gates.go).
func GatedPodRules() []admissionregistrationv1.RuleWithOperations {
	scope := admissionregistrationv1.NamespacedScope
	for _, k := range policy.Kinds() {
		if k.IsPod() {
			return []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{k.Group}, APIVersions: []string{k.Version}, Resources: []string{k.Resource}, Scope: &scope},
			}}
		}
	}
	return nil
}

// GatedPodMatchConditions are the matchConditions of the gated-pod webhook.
func GatedPodMatchConditions() []admissionregistrationv1.MatchCondition {
	return []admissionregistrationv1.MatchCondition{{Name: "removes-last-scheduling-gate", Expression: policy.UngatingMatchCondition}}
}
