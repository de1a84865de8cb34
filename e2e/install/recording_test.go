package install_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/internal/localcluster"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// appScript is the recorded application: three times, it makes a
// directory, writes and reads a file (mkdir and cat are child processes of
// the shell), and waits a second; then it sleeps. Under a profile that
// refuses mkdir, `set -e` makes it exit, and the container restarts.
const appScript = `set -e; for i in 1 2 3; do mkdir -p /tmp/work/$i; echo recorded > /tmp/work/$i/f; cat /tmp/work/$i/f; sleep 1; done; echo done; exec sleep 3600`

// app is the workload: a Deployment of busybox running appScript; tweak
// sets its template's profile or annotation.
func app(ns, name string, replicas int32, tweak func(*corev1.PodTemplateSpec)) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To(int64(0)),
					Containers: []corev1.Container{{
						Name: "main", Image: localcluster.BusyboxImage, ImagePullPolicy: corev1.PullNever,
						Command: []string{"sh", "-c", appScript},
					}},
				},
			},
		},
	}
	if tweak != nil {
		tweak(&d.Spec.Template)
	}
	return d
}

func localhostProfile(p string) func(*corev1.PodTemplateSpec) {
	return func(t *corev1.PodTemplateSpec) {
		t.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To(p)}}
	}
}

// TestRecording walks docs/recording.md on the real node, through the
// installed chart: a Deployment of two replicas annotated for recording,
// in a namespace an administrator labelled for it, is pointed at the
// logging profile by the webhook and recorded by the agent; `seccomp-guard
// profile record` turns the recording into a least-privilege profile; with
// the profile installed on the node, the same workload runs under it; the
// same profile without mkdir makes it fail, and the agent's Event names
// mkdir; and recording is refused where the namespace does not allow it.
func TestRecording(t *testing.T) {
	needNode(t)
	require.True(t, node.Runc.SeccompFlags(), "the recorded profile carries SECCOMP_FILTER_FLAG_LOG, which needs runc 1.2 or later: %s (run `make runc`)", node.Runc)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	bin, err := framework.BuildBinary(t.TempDir())
	require.NoError(t, err)

	const releaseNS, recNS, appNS, otherNS = "sg-recording", "recording", "recorded", "not-recording"
	releaseNamespace(ctx, t, releaseNS)
	values := baseValues("self-managed", false)
	agent := values["agent"].(map[string]any)
	agent["healthPort"] = violationsHealthPort
	agent["metricsPort"] = violationsMetricsPort
	agent["violations"] = map[string]any{"enabled": true, "source": "netlink", "eventInterval": "5s"}
	agent["recording"] = map[string]any{"enabled": true, "interval": "2s"}
	helm(t, "install", release, chartDir, "--namespace", releaseNS, "--values", valuesFile(t, values), "--wait", "--timeout", "4m")
	waitInstalled(ctx, t, releaseNS)
	defer uninstall(ctx, t, releaseNS, recNS)
	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: recNS, Labels: map[string]string{policy.ModeLabel: "enforce", policy.RecordingLabel: policy.RecordingEnabled}}},
		{ObjectMeta: metav1.ObjectMeta{Name: appNS, Labels: map[string]string{policy.ModeLabel: "enforce"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: otherNS, Labels: map[string]string{policy.ModeLabel: "enforce"}}},
	} {
		require.NoError(t, node.Client.Create(ctx, ns))
	}
	t.Cleanup(func() {
		for _, ns := range []string{recNS, appNS, otherNS} {
			_ = node.Client.DeleteAllOf(ctx, &appsv1.Deployment{}, client.InNamespace(ns))
			deletePods(ctx, ns)
		}
	})

	// The agent wrote the logging profile through its one writable mount,
	// and its inventory says so.
	waitProfileListed(ctx, t, policy.RecordingProfile, "SCMP_ACT_LOG")

	t.Run("refused where the namespace does not allow it", func(t *testing.T) {
		err := node.Client.Create(ctx, app(otherNS, "app", 1, func(t *corev1.PodTemplateSpec) {
			t.Annotations = map[string]string{policy.RecordAnnotation: "true"}
		}))
		require.Error(t, err)
		assert.Contains(t, err.Error(), `spec.template.metadata.annotations[seccomp-guard.io/record]: "true" asks to record syscalls under the logging profile, which namespace "not-recording" does not allow (RecordingNotAllowed)`)
		err = node.Client.Create(ctx, app(otherNS, "logging", 1, localhostProfile(policy.RecordingProfile)))
		require.Error(t, err)
		assert.Contains(t, err.Error(), `"seccomp-guard/recording.json" is seccomp-guard's logging profile, which lets every syscall through, and namespace "not-recording" is not labelled seccomp-guard.io/recording=enabled (RecordingNotAllowed)`)
	})

	var recorded map[string]any
	t.Run("record", func(t *testing.T) {
		require.NoError(t, node.Client.Create(ctx, app(recNS, "app", 2, func(t *corev1.PodTemplateSpec) {
			t.Annotations = map[string]string{policy.RecordAnnotation: "true"}
		})))
		var dep appsv1.Deployment
		require.NoError(t, node.Client.Get(ctx, client.ObjectKey{Namespace: recNS, Name: "app"}, &dep))
		sp := dep.Spec.Template.Spec.SecurityContext.SeccompProfile
		require.Equal(t, corev1.SeccompProfileTypeLocalhost, sp.Type, "the webhook points the annotated workload at the logging profile")
		require.Equal(t, policy.RecordingProfile, *sp.LocalhostProfile)

		// Both replicas' syscalls, until the recording stops growing (the
		// script ends in a long sleep).
		var rec v1alpha1.RecordingStatus
		last, stable := -1, 0
		err := framework.Poll(ctx, 2*time.Second, 3*time.Minute, "the recording of Deployment/app", func(ctx context.Context) error {
			var inv v1alpha1.NodeSeccompInventory
			if err := node.Client.Get(ctx, client.ObjectKey{Name: node.NodeName}, &inv); err != nil {
				return err
			}
			for _, r := range inv.Status.Recordings {
				if r.Namespace == recNS && r.Workload == "Deployment/app" && r.Container == "main" {
					rec = r
				}
			}
			switch {
			case rec.Pods < 2:
				return fmt.Errorf("recording of %d pods so far: %+v", rec.Pods, rec)
			case !slices.ContainsFunc(rec.Syscalls, func(s string) bool { return s == "mkdir" || s == "mkdirat" }):
				return fmt.Errorf("no mkdir recorded yet: %v", rec.Syscalls)
			case !slices.ContainsFunc(rec.Syscalls, func(s string) bool { return strings.HasSuffix(s, "nanosleep") }):
				return fmt.Errorf("the script has not reached its sleep: %v", rec.Syscalls)
			}
			if int(rec.Records) != last {
				last, stable = int(rec.Records), 0
				return fmt.Errorf("still growing: %d records", rec.Records)
			}
			if stable++; stable < 3 {
				return fmt.Errorf("unchanged for %d polls", stable)
			}
			return nil
		})
		require.NoError(t, err, "recording so far: %+v\npods:\n%s\nthe agent's log:\n%s", rec, describePods(ctx, recNS), agentLog(ctx, releaseNS))
		t.Logf("recorded %d syscalls from %d pods in %d records: %v", len(rec.Syscalls), rec.Pods, rec.Records, rec.Syscalls)

		// Recording is not a violation: no Event, no violation sample.
		var events corev1.EventList
		require.NoError(t, node.Client.List(ctx, &events, client.InNamespace(recNS)))
		for _, e := range events.Items {
			assert.NotEqual(t, "seccomp-guard-agent", e.Source.Component, "a recorded pod got a violation Event: %s", e.Message)
		}
		m, err := agentMetrics(ctx)
		require.NoError(t, err)
		assert.Zero(t, metricValue(m, "seccomp_guard_violations_total", map[string]string{"namespace": recNS}), "recorded records counted as violations")
		assert.Positive(t, metricValue(m, "seccomp_guard_recording_records_total", map[string]string{"result": "recorded"}))

		out := filepath.Join(t.TempDir(), "app.json")
		cmd := exec.CommandContext(ctx, bin, "profile", "record", "--kubeconfig", node.Kubeconfig,
			"--namespace", recNS, "--workload", "Deployment/app", "--container", "main", "--output", out)
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "seccomp-guard profile record: %s", b)
		t.Logf("seccomp-guard profile record:\n%s", b)
		data, err := os.ReadFile(out)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &recorded))
		assert.Equal(t, "SCMP_ACT_ERRNO", recorded["defaultAction"])
	})
	require.NotNil(t, recorded, "nothing recorded")

	install := func(name string, profile map[string]any) string {
		b, err := json.MarshalIndent(profile, "", "  ")
		require.NoError(t, err)
		rel := "recorded/" + name
		file := filepath.Join(node.SeccompRoot, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
		require.NoError(t, os.WriteFile(file, b, 0o644))
		t.Cleanup(func() { _ = os.Remove(file) })
		waitProfileListed(ctx, t, rel, "SCMP_ACT_ERRNO")
		return rel
	}

	t.Run("the same workload runs under the recorded profile", func(t *testing.T) {
		rel := install("app.json", recorded)
		require.NoError(t, node.Client.Create(ctx, app(appNS, "app", 1, localhostProfile(rel))))
		pod := waitAppPod(ctx, t, appNS, "app")
		// It did its work and sleeps: running, never restarted.
		time.Sleep(10 * time.Second)
		var p corev1.Pod
		require.NoError(t, node.Client.Get(ctx, client.ObjectKey{Namespace: appNS, Name: pod}, &p))
		require.Len(t, p.Status.ContainerStatuses, 1)
		cs := p.Status.ContainerStatuses[0]
		assert.Zero(t, cs.RestartCount, "restarted under the recorded profile: %s", describePods(ctx, appNS))
		assert.NotNil(t, cs.State.Running, "not running under the recorded profile: %s", describePods(ctx, appNS))
		var events corev1.EventList
		require.NoError(t, node.Client.List(ctx, &events, client.InNamespace(appNS)))
		for _, e := range events.Items {
			assert.NotEqual(t, "seccomp-guard-agent", e.Source.Component, "the recorded profile refused a syscall: %s", e.Message)
		}
	})

	t.Run("without mkdir it fails, and the Event names mkdir", func(t *testing.T) {
		without := map[string]any{}
		for k, v := range recorded {
			without[k] = v
		}
		removed := ""
		var rules []any
		for _, r := range recorded["syscalls"].([]any) {
			rule := map[string]any{}
			for k, v := range r.(map[string]any) {
				rule[k] = v
			}
			var names []any
			for _, n := range rule["names"].([]any) {
				if n == "mkdir" || n == "mkdirat" {
					removed = n.(string)
					continue
				}
				names = append(names, n)
			}
			rule["names"] = names
			rules = append(rules, rule)
		}
		require.NotEmpty(t, removed, "the recorded profile allows neither mkdir nor mkdirat")
		without["syscalls"] = rules
		rel := install("app-no-mkdir.json", without)
		require.NoError(t, node.Client.Create(ctx, app(appNS, "no-mkdir", 1, localhostProfile(rel))))
		pod := waitAppPodStarted(ctx, t, appNS, "no-mkdir")
		waitEvent(ctx, t, appNS, pod, `^syscall `+removed+` refused \(SCMP_ACT_ERRNO\) by recorded/app-no-mkdir\.json, (once|\d+ times) in \d+s$`)
		err := framework.Poll(ctx, time.Second, 2*time.Minute, "the workload to fail", func(ctx context.Context) error {
			var p corev1.Pod
			if err := node.Client.Get(ctx, client.ObjectKey{Namespace: appNS, Name: pod}, &p); err != nil {
				return err
			}
			for _, cs := range p.Status.ContainerStatuses {
				if cs.RestartCount > 0 || cs.State.Terminated != nil || cs.LastTerminationState.Terminated != nil {
					return nil
				}
			}
			return fmt.Errorf("still running without mkdir")
		})
		require.NoError(t, err, describePods(ctx, appNS))
	})
}

// waitProfileListed waits until the node's inventory lists path as a
// valid profile with that defaultAction.
func waitProfileListed(ctx context.Context, t *testing.T, path, defaultAction string) {
	t.Helper()
	err := framework.Poll(ctx, 500*time.Millisecond, 2*time.Minute, path+" in the node's inventory", func(ctx context.Context) error {
		var inv v1alpha1.NodeSeccompInventory
		if err := node.Client.Get(ctx, client.ObjectKey{Name: node.NodeName}, &inv); err != nil {
			return err
		}
		for _, p := range inv.Status.Profiles {
			if p.Path != path {
				continue
			}
			if !p.Valid || p.DefaultAction != defaultAction {
				return framework.Abort(fmt.Errorf("%s is listed as valid=%v (%s) with defaultAction %s, want a valid %s profile", path, p.Valid, p.Reason, p.DefaultAction, defaultAction))
			}
			return nil
		}
		return fmt.Errorf("%s not listed", path)
	})
	require.NoError(t, err)
}

// waitAppPod waits until the Deployment's pod runs and returns its name.
func waitAppPod(ctx context.Context, t *testing.T, ns, app string) string {
	t.Helper()
	name := waitAppPodStarted(ctx, t, ns, app)
	waitRunning(ctx, t, ns, name)
	return name
}

// waitAppPodStarted waits until the Deployment has a pod whose container
// has started at least once, and returns its name.
func waitAppPodStarted(ctx context.Context, t *testing.T, ns, app string) string {
	t.Helper()
	var name string
	err := framework.Poll(ctx, 500*time.Millisecond, 2*time.Minute, "a pod of "+ns+"/"+app, func(ctx context.Context) error {
		var pods corev1.PodList
		if err := node.Client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": app}); err != nil {
			return err
		}
		for _, p := range pods.Items {
			for _, cs := range p.Status.ContainerStatuses {
				if cs.ContainerID != "" {
					name = p.Name
					return nil
				}
			}
		}
		return fmt.Errorf("%d pods, none started", len(pods.Items))
	})
	require.NoError(t, err, describePods(ctx, ns))
	return name
}

// agentLog is the end of the chart-installed agent's log.
func agentLog(ctx context.Context, releaseNS string) string {
	var pods corev1.PodList
	if err := node.Client.List(ctx, &pods, client.InNamespace(releaseNS), client.MatchingLabels{"app.kubernetes.io/component": "agent"}); err != nil || len(pods.Items) == 0 {
		return fmt.Sprintf("no agent pod (%v)", err)
	}
	log, err := node.PodLog(releaseNS, pods.Items[0].Name, "agent")
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(log), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}
