package install_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/internal/localcluster"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// The agent's ports on the node when it runs in the host's network (the
// netlink source): away from anything else on this machine.
const (
	violationsHealthPort  = 18081
	violationsMetricsPort = 18080
)

// TestViolations installs the chart with violation monitoring from the
// audit netlink group and runs pods whose profiles log, refuse with errno
// (under SECCOMP_FILTER_FLAG_LOG) and kill on mkdir: the chart-installed
// agent counts each against its namespace, workload, container, syscall and
// action, and puts an aggregated Event on the pod naming the syscall and
// the profile.
func TestViolations(t *testing.T) {
	needNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const releaseNS, ns = "sg-violations", "violations"
	releaseNamespace(ctx, t, releaseNS)
	values := baseValues("self-managed", false)
	agent := values["agent"].(map[string]any)
	agent["healthPort"] = violationsHealthPort
	agent["metricsPort"] = violationsMetricsPort
	agent["violations"] = map[string]any{"enabled": true, "source": "netlink", "eventInterval": "5s"}
	helm(t, "install", release, chartDir, "--namespace", releaseNS, "--values", valuesFile(t, values), "--wait", "--timeout", "4m")
	waitInstalled(ctx, t, releaseNS)
	defer uninstall(ctx, t, releaseNS, ns)

	// Allow-by-default profiles are refused by admission, rightly: the
	// namespace is disabled, as a test namespace for profiles would be.
	require.NoError(t, node.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{policy.ModeLabel: "disabled"}}}))
	t.Cleanup(func() { deletePods(ctx, ns) })

	profiles := map[string]string{
		"profiles/log-mkdir.json":   `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_LOG"}]}`,
		"profiles/errno-mkdir.json": `{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG"],"syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}`,
		"profiles/kill-mkdir.json":  `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_KILL_PROCESS"}]}`,
	}
	for p, content := range profiles {
		file := filepath.Join(node.SeccompRoot, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
		require.NoError(t, os.WriteFile(file, []byte(content), 0o644))
		t.Cleanup(func() { _ = os.Remove(file) })
	}
	mkdirLoop := func(name, profile string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: ptr.To(int64(0)),
				SecurityContext:               &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To(profile)}},
				Containers: []corev1.Container{{
					Name: "main", Image: localcluster.BusyboxImage, ImagePullPolicy: corev1.PullNever,
					Command: []string{"sh", "-c", "i=0; while true; do i=$((i+1)); mkdir /tmp/d$i; sleep 1; done"},
				}},
			},
		}
	}

	t.Run("SCMP_ACT_LOG", func(t *testing.T) {
		require.NoError(t, node.Client.Create(ctx, mkdirLoop("logs", "profiles/log-mkdir.json")))
		waitRunning(ctx, t, ns, "logs")
		waitViolationMetric(ctx, t, ns, "Pod/logs", "SCMP_ACT_LOG")
		waitEvent(ctx, t, ns, "logs", `^syscall mkdir(at)? logged \(SCMP_ACT_LOG\) by profiles/log-mkdir\.json, (once|\d+ times) in \d+s$`)
	})

	t.Run("SCMP_ACT_ERRNO under SECCOMP_FILTER_FLAG_LOG", func(t *testing.T) {
		require.NoError(t, node.Client.Create(ctx, mkdirLoop("refused", "profiles/errno-mkdir.json")))
		waitRunning(ctx, t, ns, "refused")
		waitViolationMetric(ctx, t, ns, "Pod/refused", "SCMP_ACT_ERRNO")
		waitEvent(ctx, t, ns, "refused", `^syscall mkdir(at)? refused \(SCMP_ACT_ERRNO\) by profiles/errno-mkdir\.json, (once|\d+ times) in \d+s$`)
	})

	t.Run("SCMP_ACT_KILL_PROCESS", func(t *testing.T) {
		require.NoError(t, node.Client.Create(ctx, mkdirLoop("killed", "profiles/kill-mkdir.json")))
		// The killed process may be gone before the agent reads its cgroup:
		// then the record is counted as unattributed, not dropped.
		err := framework.Poll(ctx, time.Second, 2*time.Minute, "the kill to be counted", func(ctx context.Context) error {
			m, err := agentMetrics(ctx)
			if err != nil {
				return err
			}
			attributed := metricValue(m, "seccomp_guard_violations_total", map[string]string{"namespace": ns, "workload": "Pod/killed", "action": "SCMP_ACT_KILL_PROCESS"})
			exited := metricValue(m, "seccomp_guard_violations_unattributed_total", map[string]string{"reason": "process-exited", "action": "SCMP_ACT_KILL_PROCESS"})
			if attributed+exited == 0 {
				return fmt.Errorf("no SCMP_ACT_KILL_PROCESS record counted, attributed or not")
			}
			t.Logf("SCMP_ACT_KILL_PROCESS: %v attributed to Pod/killed, %v counted as process-exited", attributed, exited)
			return nil
		})
		require.NoError(t, err, describePods(ctx, ns))
	})
}

// agentMetrics scrapes the chart-installed agent, which listens in the
// host's network.
func agentMetrics(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(violationsMetricsPort)+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// metricValue sums the samples of a metric whose labels include want.
func metricValue(text, name string, want map[string]string) float64 {
	sum := 0.0
	sample := regexp.MustCompile(`^` + regexp.QuoteMeta(name) + `\{([^}]*)\} (\S+)$`)
	label := regexp.MustCompile(`(\w+)="([^"]*)"`)
	for _, line := range strings.Split(text, "\n") {
		m := sample.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		labels := map[string]string{}
		for _, l := range label.FindAllStringSubmatch(m[1], -1) {
			labels[l[1]] = l[2]
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if v, err := strconv.ParseFloat(m[2], 64); match && err == nil {
			sum += v
		}
	}
	return sum
}

func waitViolationMetric(ctx context.Context, t *testing.T, ns, workload, action string) {
	t.Helper()
	err := framework.Poll(ctx, time.Second, 2*time.Minute, "the violation counter of "+workload, func(ctx context.Context) error {
		m, err := agentMetrics(ctx)
		if err != nil {
			return err
		}
		n := 0.0
		for _, syscall := range []string{"mkdir", "mkdirat"} {
			n += metricValue(m, "seccomp_guard_violations_total", map[string]string{"namespace": ns, "workload": workload, "container": "main", "syscall": syscall, "action": action})
		}
		if n == 0 {
			return fmt.Errorf("seccomp_guard_violations_total has no %s sample for %s/%s container main", action, ns, workload)
		}
		return nil
	})
	require.NoError(t, err, describePods(ctx, ns))
}

func waitEvent(ctx context.Context, t *testing.T, ns, pod, pattern string) {
	t.Helper()
	re := regexp.MustCompile(pattern)
	err := framework.Poll(ctx, time.Second, 2*time.Minute, "the seccomp Event on pod "+pod, func(ctx context.Context) error {
		var events corev1.EventList
		if err := node.Client.List(ctx, &events, client.InNamespace(ns)); err != nil {
			return err
		}
		var seen []string
		for _, e := range events.Items {
			if e.InvolvedObject.Name != pod || e.Source.Component != "seccomp-guard-agent" {
				continue
			}
			if re.MatchString(e.Message) && e.InvolvedObject.FieldPath == "spec.containers{main}" {
				return nil
			}
			seen = append(seen, e.Message)
		}
		return fmt.Errorf("no Event matching %s on pod %s; seen %q", pattern, pod, seen)
	})
	require.NoError(t, err)
}
