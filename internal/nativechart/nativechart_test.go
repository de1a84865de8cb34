package nativechart

import (
	"testing"

	"github.com/stretchr/testify/assert"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/seccomp-guard/seccomp-guard/policy"
)

func TestReporterReadRules(t *testing.T) {
	rules := ReporterReadRules()

	t.Run("today's kinds, grouped by API group", func(t *testing.T) {
		read := []string{"get", "list", "watch"}
		assert.Equal(t, []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "replicationcontrollers", "podtemplates"}, Verbs: read},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets", "statefulsets", "daemonsets"}, Verbs: read},
			{APIGroups: []string{"batch"}, Resources: []string{"jobs", "cronjobs"}, Verbs: read},
		}, rules)
	})

	t.Run("every kind of policy.Kinds is readable, once", func(t *testing.T) {
		granted := map[string]int{}
		for _, r := range rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					granted[g+"/"+res]++
				}
			}
		}
		for _, k := range policy.Kinds() {
			assert.Equal(t, 1, granted[k.Group+"/"+k.Resource], "rules granting %s in group %q", k.Resource, k.Group)
		}
		assert.Len(t, granted, len(policy.Kinds()), "rules grant only the kinds of policy.Kinds")
	})
}
