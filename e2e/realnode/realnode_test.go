package realnode_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/internal/cli"
)

// missingProfile is the Localhost profile the node does not have, until
// TestMissingProfileRefusedThenAdmitted installs it.
const missingProfile = "profiles/missing.json"

// The profile installed for missingProfile: defaultAction SCMP_ACT_ERRNO
// (so the webhook's rejectAllowByDefault accepts it) and an allow list of
// what busybox, the pause program and runc's init need, without mkdir and
// mkdirat: a container under it shows that this very profile is enforced.
const profileFile = "no-mkdir.json"

// Without seccomp-guard, the API server admits a pod whose Localhost
// profile the node lacks; the kubelet then fails to create its container.
func TestBaselineMissingProfileFailsOnTheNode(t *testing.T) {
	withoutGuard(t)
	ctx := context.Background()
	if err := os.Remove(filepath.Join(node.SeccompRoot, missingProfile)); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	ns := namespace(t, "baseline", "enforce")

	pod := localhostPod(ns, "needs-profile", missingProfile, showSeccomp)
	require.NoError(t, node.Client.Create(ctx, pod), "without seccomp-guard the API server admits the pod")

	pod = waitPod(t, ns, pod.Name, 60*time.Second, "CreateContainerError", func(p *corev1.Pod) bool {
		for _, s := range p.Status.ContainerStatuses {
			if s.State.Waiting != nil && s.State.Waiting.Reason == "CreateContainerError" {
				return true
			}
		}
		return false
	})
	msg := pod.Status.ContainerStatuses[0].State.Waiting.Message
	assert.Contains(t, msg, "cannot load seccomp profile")
	assert.Contains(t, msg, filepath.Join(node.SeccompRoot, missingProfile))
	t.Logf("without seccomp-guard: %s/%s is %s: %s", ns, pod.Name, "CreateContainerError", msg)
}

// With seccomp-guard the same pod is refused at admission, naming the node;
// once the profile lands on the node it is admitted within seconds, runs,
// and runs under that profile.
func TestMissingProfileRefusedThenAdmitted(t *testing.T) {
	withGuard(t)
	ctx := context.Background()
	ns := namespace(t, "guarded", "enforce")

	pod := localhostPod(ns, "needs-profile", missingProfile, "mkdir /tmp/probe; "+showSeccomp)
	err := node.Client.Create(ctx, pod.DeepCopy())
	require.Error(t, err, "a pod whose profile is missing on its node must be refused")
	require.True(t, apierrors.IsForbidden(err), "want Forbidden, got %v", err)
	assert.Contains(t, err.Error(), `spec.securityContext.seccompProfile.localhostProfile: "profiles/missing.json" is missing on the only node this pod can run on: `+node.NodeName+" (ProfileMissing)")
	t.Logf("refused: %v", err)

	pods, err := node.ContainersOfPod(ctx, ns, pod.Name)
	require.NoError(t, err)
	assert.Empty(t, pods, "a refused pod must never reach the node")

	writeProfile(t, profileFile, missingProfile)
	installed := time.Now()
	require.NoError(t, waitFor(30*time.Second, "the pod to be admitted after the profile was installed", func() (bool, string) {
		err := node.Client.Create(ctx, pod)
		return err == nil, errString(err)
	}))
	t.Logf("admitted %s after the profile was written to the node", time.Since(installed).Round(100*time.Millisecond))

	waitPod(t, ns, pod.Name, 60*time.Second, "Running", running)
	log := waitLog(t, ns, pod.Name, "main", "Seccomp:")
	assert.Contains(t, log, "Seccomp:\t2", "the container runs under a seccomp filter")
	assert.Contains(t, log, "mkdir: can't create directory '/tmp/probe': Operation not permitted",
		"the filter is the installed profile, which refuses mkdir")
}

// A pod that sets no profile is defaulted to RuntimeDefault and really runs
// filtered, while the same pod where seccomp-guard is disabled runs
// unconfined (the kubelet's own default).
func TestDefaultedPodRunsFiltered(t *testing.T) {
	withGuard(t)
	ctx := context.Background()

	cases := []struct {
		mode        string
		wantProfile *corev1.SeccompProfile
		wantMode    string
	}{
		{"enforce", &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}, "Seccomp:\t2"},
		{"disabled", nil, "Seccomp:\t0"},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			ns := namespace(t, "defaulting-"+tc.mode, tc.mode)
			// Placed by kube-scheduler through a node selector.
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "no-profile", Namespace: ns},
				Spec: podSpec(showSeccomp, func(s *corev1.PodSpec) {
					s.NodeSelector = map[string]string{corev1.LabelHostname: node.NodeName}
				}),
			}
			require.NoError(t, node.Client.Create(ctx, pod))
			assert.Equal(t, tc.wantProfile, pod.Spec.SecurityContext.SeccompProfile)

			waitPod(t, ns, pod.Name, 60*time.Second, "Running", running)
			log := waitLog(t, ns, pod.Name, "main", "Seccomp:")
			assert.Contains(t, log, tc.wantMode)
		})
	}
}

// A Deployment that sets no profile has its pod template defaulted; the
// controllers create its pods from that template and they run filtered.
func TestDeploymentTemplateDefaultedPodsRunFiltered(t *testing.T) {
	withGuard(t)
	ctx := context.Background()
	ns := namespace(t, "deployment", "enforce")

	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: podSpec(showSeccomp, func(s *corev1.PodSpec) {
					s.SecurityContext = nil
					s.NodeSelector = map[string]string{corev1.LabelHostname: node.NodeName}
				}),
			},
		},
	}
	require.NoError(t, node.Client.Create(ctx, dep))
	require.NotNil(t, dep.Spec.Template.Spec.SecurityContext, "the template was not defaulted")
	assert.Equal(t, &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}, dep.Spec.Template.Spec.SecurityContext.SeccompProfile)

	var pods corev1.PodList
	require.NoError(t, waitFor(90*time.Second, "2 running pods of the Deployment", func() (bool, string) {
		if err := node.Client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels(labels)); err != nil {
			return false, err.Error()
		}
		var states []string
		n := 0
		for i := range pods.Items {
			states = append(states, pods.Items[i].Name+": "+describe(&pods.Items[i]))
			if running(&pods.Items[i]) {
				n++
			}
		}
		return n == 2, strings.Join(states, " | ")
	}), "kube-controller-manager log: %s", filepath.Join(node.LogDir, "kube-controller-manager.log"))
	for _, p := range pods.Items {
		assert.Equal(t, &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}, p.Spec.SecurityContext.SeccompProfile, p.Name)
		log := waitLog(t, ns, p.Name, "main", "Seccomp:")
		assert.Contains(t, log, "Seccomp:\t2", p.Name)
	}
}

// An Unconfined pod is refused at admission and never reaches the kubelet.
func TestUnconfinedRefusedNeverReachesTheNode(t *testing.T) {
	withGuard(t)
	ctx := context.Background()
	ns := namespace(t, "unconfined", "enforce")

	pod := busyboxPod(ns, "unconfined", showSeccomp)
	pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined},
	}
	err := node.Client.Create(ctx, pod)
	require.Error(t, err)
	require.True(t, apierrors.IsForbidden(err), "want Forbidden, got %v", err)
	assert.Contains(t, err.Error(), `spec.containers[0].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "`+ns+`" (UnconfinedForbidden)`)

	err = node.Client.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{})
	assert.True(t, apierrors.IsNotFound(err), "the pod must not exist, got %v", err)
	// It was pinned to the node: had it been admitted, the kubelet would
	// have created its sandbox within a second or two.
	time.Sleep(3 * time.Second)
	ids, err := node.ContainersOfPod(ctx, ns, pod.Name)
	require.NoError(t, err)
	assert.Empty(t, ids, "containerd has containers of the refused pod")
	logs, _ := filepath.Glob(filepath.Join(node.PodLogsDir, ns+"_*"))
	assert.Empty(t, logs, "the kubelet has pod logs of the refused pod")
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// A privileged container runs with no seccomp filter whatever its profile
// says: that is why spec.privileged defaults to Deny. In enforce the pod is
// refused (PrivilegedForbidden); in warn it is admitted, and its privileged
// container reports Seccomp: 0 under RuntimeDefault while its unprivileged
// sibling reports 2.
func TestPrivilegedRunsUnfiltered(t *testing.T) {
	withGuard(t)
	ctx := context.Background()
	privilegedPod := func(ns string) *corev1.Pod {
		pod := busyboxPod(ns, "privileged", showSeccomp)
		pod.Spec.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
		pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: new(true)}
		sibling := pod.Spec.Containers[0]
		sibling.Name, sibling.SecurityContext = "filtered", nil
		pod.Spec.Containers = append(pod.Spec.Containers, sibling)
		return pod
	}

	enforced := namespace(t, "privileged-enforce", "enforce")
	err := node.Client.Create(ctx, privilegedPod(enforced))
	require.Error(t, err)
	require.True(t, apierrors.IsForbidden(err), "want Forbidden, got %v", err)
	assert.Contains(t, err.Error(), `spec.containers[0].securityContext.privileged: true runs the container with no seccomp filter, whatever its seccompProfile says (the container runtime skips seccomp for privileged containers) (PrivilegedForbidden)`)

	ns := namespace(t, "privileged-warn", "warn")
	pod := privilegedPod(ns)
	require.NoError(t, node.Client.Create(ctx, pod), "warn mode admits the privileged pod")
	assert.Equal(t, &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}, pod.Spec.SecurityContext.SeccompProfile)
	waitPod(t, ns, pod.Name, 60*time.Second, "Running", running)
	assert.Contains(t, waitLog(t, ns, pod.Name, "main", "Seccomp:"), "Seccomp:\t0", "the privileged container runs unfiltered although its profile is RuntimeDefault")
	assert.Contains(t, waitLog(t, ns, pod.Name, "filtered", "Seccomp:"), "Seccomp:\t2", "its unprivileged sibling runs filtered")
}

// It runs last: withGuard registers the webhook, which the network tests
// (network_test.go) expect not to be registered yet.
// TestAuditReportsGoneProfile: a pod whose Localhost profile is deleted from
// the node after it started is reported by `audit` as gone on that node,
// from the agent's inventory; and indeed its container's next start fails.
func TestAuditReportsGoneProfile(t *testing.T) {
	withGuard(t)
	ctx := context.Background()
	ns := namespace(t, "audit-gone", "enforce")
	const profile = "profiles/audit-gone.json"
	writeProfile(t, profileFile, profile)
	// The container exits after a few seconds and is restarted: each start
	// loads the profile anew.
	pod := localhostPod(ns, "loses-profile", profile, "sleep 3")
	require.NoError(t, waitFor(30*time.Second, "the pod to be admitted", func() (bool, string) {
		err := node.Client.Create(ctx, pod.DeepCopy())
		return err == nil, errString(err)
	}))
	waitPod(t, ns, pod.Name, 60*time.Second, "Running", running)

	state := func() (string, string) {
		r, err := cli.Audit(ctx, node.Client, cli.AuditOptions{Namespace: ns, ReleaseNamespace: agentNamespace, Now: time.Now()})
		require.NoError(t, err)
		require.Len(t, r.Namespaces, 1)
		for _, rp := range r.Namespaces[0].Profiles {
			if rp.Pod == pod.Name {
				return rp.State, rp.Node
			}
		}
		return "not reported", ""
	}
	st, on := state()
	assert.Equal(t, cli.ProfileStateOK, st, "while the profile is on the node")
	assert.Equal(t, node.NodeName, on)

	require.NoError(t, os.Remove(filepath.Join(node.SeccompRoot, profile)))
	require.NoError(t, waitFor(30*time.Second, "audit to report the profile gone", func() (bool, string) {
		st, _ := state()
		return st == cli.ProfileStateGone, "state " + st
	}))
	// What "gone" means: the container's next start fails.
	waitPod(t, ns, pod.Name, 60*time.Second, "its restart to fail", func(p *corev1.Pod) bool {
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil && w.Reason == "CreateContainerError" && strings.Contains(w.Message, "cannot load seccomp profile") {
				return true
			}
		}
		return false
	})
}
