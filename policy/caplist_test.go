package policy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
)

// TestManyViolationsAreCapped: a pod with a thousand Unconfined containers
// lists MaxListed of them in its audit annotation, then counts the rest.
func TestManyViolationsAreCapped(t *testing.T) {
	pod := basePod()
	pod.Spec.Containers = nil
	for i := range 1000 {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: fmt.Sprintf("c%d", i), SecurityContext: &corev1.SecurityContext{SeccompProfile: unconfined()}})
	}
	d := Evaluate(compile(t, nil), nil, create(pod, namespace("enforce")))
	assert.Len(t, d.Violations, 1000, "the decision keeps them all")
	lines := strings.Split(d.AuditAnnotations[AuditViolations], "\n")
	assert.Len(t, lines, MaxListed+1)
	assert.Equal(t, "and 980 more", lines[MaxListed])
	assert.Equal(t, []string{"a", "b"}, CapList([]string{"a", "b"}))
}
