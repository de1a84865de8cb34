package inventory_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

const fld = "spec.securityContext.seccompProfile.localhostProfile: "

// The policy's localhost settings the tests use.
var (
	coverAll = v1alpha1.LocalhostPolicy{NodeCoverage: v1alpha1.NodeCoverageAll}
	coverAny = v1alpha1.LocalhostPolicy{NodeCoverage: v1alpha1.NodeCoverageAny}
)

func TestInventoryObjects(t *testing.T) {
	ctx := context.Background()
	node := &corev1.Node{}
	require.NoError(t, k8s.Get(ctx, client.ObjectKey{Name: "node-a"}, node))
	inv := &v1alpha1.NodeSeccompInventory{}
	require.NoError(t, k8s.Get(ctx, client.ObjectKey{Name: "node-a"}, inv))

	assert.Equal(t, []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: "node-a", UID: node.UID}}, inv.OwnerReferences,
		"owned by its Node, so that it is garbage-collected with it")
	assert.Equal(t, int32(3), inv.Status.ProfileCount)
	assert.Equal(t, int32(1), inv.Status.InvalidCount)
	assert.Equal(t, "containerd", inv.Status.Runtime)
	assert.NotNil(t, inv.Status.ObservedTime)
	var paths []string
	for _, p := range inv.Status.Profiles {
		paths = append(paths, p.Path)
		assert.Len(t, p.SHA256, 64, p.Path)
		if p.Path == "profiles/bad.json" {
			assert.Equal(t, `unknown action "SCMP_ACT_KILLME" in syscalls[1].action at line 5`, p.Reason)
		}
	}
	assert.Equal(t, []string{"profiles/allow.json", "profiles/bad.json", "profiles/web.json"}, paths)
	var managers []string
	for _, mf := range inv.ManagedFields {
		managers = append(managers, mf.Manager+"/"+mf.Subresource)
	}
	assert.ElementsMatch(t, []string{"seccomp-guard-agent/", "seccomp-guard-agent/status"}, managers, "written with server-side apply, object then status")

	lease := &coordinationv1.Lease{}
	require.NoError(t, k8s.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: policy.LeaseName("node-a")}, lease))
	assert.Equal(t, "node-a", *lease.Spec.HolderIdentity)
	assert.Equal(t, int32(2), *lease.Spec.LeaseDurationSeconds)
	first := lease.Spec.RenewTime.Time
	waitFor(t, 5*time.Second, "the agent renews its Lease", func() bool {
		return k8s.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: policy.LeaseName("node-a")}, lease) == nil &&
			lease.Spec.RenewTime.After(first)
	})

	c := &v1alpha1.NodeSeccompInventory{}
	require.NoError(t, k8s.Get(ctx, client.ObjectKey{Name: "node-c"}, c))
	paths = nil
	for _, p := range c.Status.Profiles {
		paths = append(paths, p.Path)
	}
	assert.Equal(t, []string{"operator/spo.json", "profiles/web.json"}, paths, "node-c's operator link is followed inside its host root")
}

func TestPinnedPods(t *testing.T) {
	setPolicy(t, coverAll)
	t.Run("the node has the profile: admitted", func(t *testing.T) {
		eventuallyAdmitted(t, pod("pinned-a", pinned("node-a"), localhost("profiles/web.json")))
	})
	t.Run("the node lacks it: denied, naming the node", func(t *testing.T) {
		eventuallyDenied(t, pod("pinned-b", pinned("node-b"), localhost("profiles/web.json")),
			fld+`"profiles/web.json" is missing on the only node this pod can run on: node-b (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`)
	})
	t.Run("a profile behind the Security Profiles Operator's link on the host: admitted", func(t *testing.T) {
		eventuallyAdmitted(t, pod("pinned-c", pinned("node-c"), localhost("operator/spo.json")))
	})
}

func TestNodeSelector(t *testing.T) {
	web := pod("web", selector("pool", "web"), localhost("profiles/web.json"))
	missingOnB := fld + `"profiles/web.json" is missing on 1 of 2 nodes this pod can run on: node-b (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`

	t.Run("nodeCoverage All: one of the two matching nodes lacks it: denied", func(t *testing.T) {
		setPolicy(t, coverAll)
		eventuallyDenied(t, web, missingOnB)
	})
	t.Run("nodeCoverage Any: admitted with a warning", func(t *testing.T) {
		setPolicy(t, coverAny)
		eventuallyAdmitted(t, web, missingOnB+"; admitted because spec.localhost.nodeCoverage is Any and 1 node has it; pods placed on the others fail with CreateContainerError")
	})
	t.Run("a taint keeps the dedicated node out", func(t *testing.T) {
		setPolicy(t, coverAll)
		eventuallyDenied(t, pod("zone-b", selector("zone", "b"), localhost("profiles/web.json")),
			fld+`"profiles/web.json" is missing on the only node this pod can run on: node-b (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`)
	})
	t.Run("a toleration brings it in", func(t *testing.T) {
		eventuallyDenied(t, pod("zone-b-tolerating", selector("zone", "b"), tolerate("dedicated"), localhost("profiles/web.json")),
			fld+`"profiles/web.json" is missing on 1 of 2 nodes this pod can run on: node-b (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`)
	})
}

// TestProfileAppearsAndDisappears: a file written on a node (as config
// management writes it: aside, then renamed into place, in a directory that
// did not exist) changes the verdict within seconds, with no restart.
func TestProfileAppearsAndDisappears(t *testing.T) {
	setPolicy(t, coverAll)
	web := pod("web", selector("pool", "web"), localhost("profiles/web.json"))
	eventuallyDenied(t, web, fld+`"profiles/web.json" is missing on 1 of 2 nodes this pod can run on: node-b (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`)

	dir := filepath.Join(nodes["node-b"].root, "profiles")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	tmp := filepath.Join(dir, ".web.json.tmp")
	require.NoError(t, os.WriteFile(tmp, []byte(validProfile), 0o644))
	written := time.Now()
	require.NoError(t, os.Rename(tmp, filepath.Join(dir, "web.json")))
	eventuallyAdmitted(t, web)
	t.Logf("admitted %s after the profile was written on node-b", time.Since(written).Round(time.Millisecond))

	require.NoError(t, os.Remove(filepath.Join(dir, "web.json")))
	removed := time.Now()
	eventuallyDenied(t, web, fld+`"profiles/web.json" is missing on 1 of 2 nodes this pod can run on: node-b (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`)
	t.Logf("denied %s after the profile was removed from node-b", time.Since(removed).Round(time.Millisecond))
}

func TestInvalidProfile(t *testing.T) {
	setPolicy(t, coverAll)
	p := pod("bad", pinned("node-a"), localhost("profiles/bad.json"))
	eventuallyDenied(t, p, fld+`"profiles/bad.json" is not a valid seccomp profile on the only node this pod can run on: node-a (unknown action "SCMP_ACT_KILLME" in syscalls[1].action at line 5) (ProfileInvalid); fix or replace the file there`)

	require.NoError(t, os.WriteFile(filepath.Join(nodes["node-a"].root, "profiles/bad.json"), []byte(validProfile), 0o644))
	eventuallyAdmitted(t, p)
}

func TestAllowByDefault(t *testing.T) {
	setPolicy(t, coverAll)
	eventuallyDenied(t, pod("allow", pinned("node-a"), localhost("profiles/allow.json")),
		fld+`"profiles/allow.json" lets through every syscall it does not list (defaultAction) on the only node this pod can run on: node-a (SCMP_ACT_ALLOW) (ProfileAllowByDefault); use a profile whose defaultAction refuses, such as SCMP_ACT_ERRNO, or RuntimeDefault`)
}

func TestDeploymentDenied(t *testing.T) {
	setPolicy(t, coverAll)
	ctx := context.Background()
	eventuallyDenied(t, pod("probe", pinned("node-b"), localhost("profiles/web.json")),
		fld+`"profiles/web.json" is missing on the only node this pod can run on: node-b (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`)

	labels := map[string]string{"app": "web"}
	dep := appsv1ac.Deployment("web", testNamespace).
		WithSpec(appsv1ac.DeploymentSpec().
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(labels)).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(labels).
				WithSpec(corev1ac.PodSpec().
					WithNodeSelector(map[string]string{"pool": "web"}).
					WithSecurityContext(corev1ac.PodSecurityContext().WithSeccompProfile(corev1ac.SeccompProfile().
						WithType(corev1.SeccompProfileTypeLocalhost).WithLocalhostProfile("profiles/web.json"))).
					WithContainers(corev1ac.Container().WithName("app").WithImage("nginx")))))
	err := k8s.Apply(ctx, dep, client.FieldOwner("e2e"), client.ForceOwnership)
	require.Error(t, err)
	assert.True(t, apierrors.IsForbidden(err), err.Error())
	assert.Equal(t, `admission webhook "validate.seccomp-guard.io" denied the request: deployment "web" is forbidden by seccomp-guard: `+
		`spec.template.spec.securityContext.seccompProfile.localhostProfile: "profiles/web.json" is missing on 1 of 2 nodes this pod can run on: node-b (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`,
		err.Error())
}

// TestStoppedAgent runs last: it stops node-c's agent, whose node then goes
// unknown after staleAfter, and starts it again.
func TestStoppedAgent(t *testing.T) {
	n := nodes["node-c"]
	p := pod("spo", pinned("node-c"), localhost("operator/spo.json"))
	setPolicy(t, v1alpha1.LocalhostPolicy{UnknownNodes: v1alpha1.UnknownNodesDeny, StaleAfter: &metav1.Duration{Duration: 3 * time.Second}})
	t.Cleanup(func() { setPolicy(t, v1alpha1.LocalhostPolicy{}) })
	eventuallyAdmitted(t, p)

	require.NoError(t, n.agent.Stop(), "the agent exits cleanly on SIGTERM")
	stopped := time.Now()
	unknown := regexp.QuoteMeta(fld+`"operator/spo.json" cannot be checked on the only node this pod can run on: node-c (agent last seen `) +
		`\d+s` + regexp.QuoteMeta(` ago) (InventoryUnknown); make sure the seccomp-guard agent runs there, or set spec.localhost.unknownNodes to Warn`)
	eventuallyDeniedMatching(t, p, regexp.MustCompile(`^admission webhook "validate.seccomp-guard.io" denied the request: pod "spo" is forbidden by seccomp-guard: `+unknown+`$`))
	t.Logf("unknown (unknownNodes Deny) %s after the agent stopped; staleAfter is 3s", time.Since(stopped).Round(time.Millisecond))

	setPolicy(t, v1alpha1.LocalhostPolicy{UnknownNodes: v1alpha1.UnknownNodesWarn, StaleAfter: &metav1.Duration{Duration: 3 * time.Second}})
	v := tryPod(t, p.DeepCopy())
	require.NoError(t, v.err, "unknownNodes Warn admits")
	require.Len(t, v.warnings, 1)
	assert.Regexp(t, `^`+regexp.QuoteMeta(fld+`"operator/spo.json" could not be checked on the only node this pod can run on: node-c (agent last seen `)+
		`\d+s`+regexp.QuoteMeta(` ago); not held against the pod because spec.localhost.unknownNodes is Warn`)+`$`, v.warnings[0])

	require.NoError(t, startAgent(n, "agent-node-c-restarted"))
	eventuallyAdmitted(t, p)
}

func eventuallyDeniedMatching(t *testing.T, p *corev1.Pod, want *regexp.Regexp) {
	t.Helper()
	var last verdict
	ok := assert.Eventually(t, func() bool {
		last = tryPod(t, p.DeepCopy())
		return last.err != nil && apierrors.IsForbidden(last.err) && want.MatchString(last.err.Error())
	}, 20*time.Second, 100*time.Millisecond)
	if !ok {
		t.Fatalf("pod %s: want denied matching\n  %s\ngot: %v", p.Name, want, last.err)
	}
}
