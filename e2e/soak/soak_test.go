//go:build soak

package soak_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/policy"
	"github.com/seccomp-guard/seccomp-guard/webhook"
)

const (
	release   = "seccomp-guard"
	releaseNS = "sg-soak"
	// loadNS is the enforced namespace the pods are created in.
	loadNS = "soak"
	// staleAfter is the policy's spec.localhost.staleAfter: short, so that
	// a stopped agent's node turns unknown within the test.
	staleAfter = 20 * time.Second
	// profile is the Localhost profile on the node.
	profile = "profiles/soak.json"
	// apiserverGrace is how long kube-apiserver may take to stop after
	// SIGTERM before it is killed: with the webhooks' HTTP/2 watch streams
	// open, its graceful shutdown takes up to its request timeout (60 s).
	apiserverGrace = 5 * time.Second
	// crashWindow bounds how long after a replica is killed reviews may
	// still fail (closed): until kube-apiserver stops sending to the dead
	// endpoint or the restarted container listens.
	crashWindow = 10 * time.Second
)

// authnUser is who the direct AdmissionReviews come from.
func authnUser() authenticationv1.UserInfo {
	return authenticationv1.UserInfo{Username: "soak-tester", Groups: []string{"system:authenticated"}}
}

// helm runs the pinned helm against the node's cluster.
func helm(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helmBin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+node.Kubeconfig, "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("helm %s", strings.Join(args, " "))
}

// install installs the chart with two webhook replicas, self-managed
// certificates, a short staleAfter and an agent Lease renewed every 2 s,
// and a Localhost profile on the node; and creates the enforced namespace.
func install(ctx context.Context, t *testing.T) {
	t.Helper()
	file := filepath.Join(node.SeccompRoot, profile)
	must(t, os.MkdirAll(filepath.Dir(file), 0o755))
	must(t, os.WriteFile(file, []byte(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["*"],"action":"SCMP_ACT_ALLOW"}]}`), 0o644))
	t.Cleanup(func() { _ = os.Remove(file) })
	must(t, node.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: releaseNS, Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"},
	}}))
	must(t, node.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: loadNS, Labels: map[string]string{policy.ModeLabel: "enforce"},
	}}))
	values := map[string]any{
		"certificates": map[string]any{"mode": "self-managed"},
		"webhook":      map[string]any{"replicaCount": 2},
		"agent":        map[string]any{"seccompRoot": node.SeccompRoot, "linkTargets": []string{}, "leaseDuration": "8s"},
		"policy":       map[string]any{"spec": map[string]any{"localhost": map[string]any{"staleAfter": staleAfter.String(), "unknownNodes": "Warn"}}},
	}
	b, err := json.Marshal(values)
	must(t, err)
	vf := filepath.Join(t.TempDir(), "values.json")
	must(t, os.WriteFile(vf, b, 0o600))
	helm(t, "install", release, chartDir, "--namespace", releaseNS, "--values", vf, "--wait", "--timeout", "4m")
	waitInstalled(ctx, t)
	// The profile is in the node's inventory, and a Localhost pod admitted
	// without a warning: the node is known.
	poll(ctx, t, time.Second, 2*time.Minute, "a Localhost pod to be admitted without a warning", func(ctx context.Context) error {
		return localhostAdmitted(ctx, newAPIClient(t), false)
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func poll(ctx context.Context, t *testing.T, interval, timeout time.Duration, what string, check func(context.Context) error) {
	t.Helper()
	if err := framework.Poll(ctx, interval, timeout, what, check); err != nil {
		t.Fatal(err)
	}
}

// waitInstalled waits for two available, updated webhook replicas and a
// ready agent.
func waitInstalled(ctx context.Context, t *testing.T) {
	t.Helper()
	poll(ctx, t, time.Second, 3*time.Minute, "the chart's pods to run", func(ctx context.Context) error {
		var dep appsv1.Deployment
		if err := node.Client.Get(ctx, client.ObjectKey{Namespace: releaseNS, Name: release + "-webhook"}, &dep); err != nil {
			return err
		}
		if dep.Status.AvailableReplicas != 2 || dep.Status.UpdatedReplicas != 2 || dep.Status.Replicas != 2 {
			return fmt.Errorf("webhook Deployment: %d available, %d updated, %d in all; want 2", dep.Status.AvailableReplicas, dep.Status.UpdatedReplicas, dep.Status.Replicas)
		}
		return agentReady(ctx)
	})
}

func agentReady(ctx context.Context) error {
	var ds appsv1.DaemonSet
	if err := node.Client.Get(ctx, client.ObjectKey{Namespace: releaseNS, Name: release + "-agent"}, &ds); err != nil {
		return err
	}
	if ds.Status.NumberReady != 1 || ds.Status.DesiredNumberScheduled != 1 {
		return fmt.Errorf("agent DaemonSet: %d ready of %d", ds.Status.NumberReady, ds.Status.DesiredNumberScheduled)
	}
	return nil
}

// lastWarning is the last InventoryUnknown warning localhostAdmitted saw.
var lastWarning []string

// localhostAdmitted creates (dry run) a pod with the node's Localhost
// profile: it must be admitted, with the InventoryUnknown warning if
// unknown, and without one otherwise.
func localhostAdmitted(ctx context.Context, api *apiClient, unknown bool) error {
	p := profile
	ans := api.create(ctx, podFor(loadNS, "localhost", &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &p}))
	if ans.err != nil {
		return ans.err
	}
	if ans.code != 201 {
		return framework.Abort(fmt.Errorf("a Localhost pod: want admitted, got %d: %s", ans.code, ans.message))
	}
	// policy/coverage.go's InventoryUnknown warning under unknownNodes Warn.
	unknownWarning := fmt.Sprintf("%q could not be checked on the only node this pod can run on: %s (agent last seen ", profile, node.NodeName)
	warned := slices.ContainsFunc(ans.warnings, func(w string) bool {
		return strings.Contains(w, unknownWarning) && strings.HasSuffix(w, "; not held against the pod because spec.localhost.unknownNodes is Warn")
	})
	if warned != unknown {
		return fmt.Errorf("a Localhost pod: the InventoryUnknown warning (%s...) %v, want %v (warnings %q)", unknownWarning, warned, unknown, ans.warnings)
	}
	if unknown {
		lastWarning = ans.warnings
	}
	return nil
}

// TestFaults runs the fault cases in order on one install, then the soak.
func TestFaults(t *testing.T) {
	needNode(t)
	ctx := context.Background()
	rate, _ := soakRate()
	install(ctx, t)
	t.Logf("image %s; load: %.0f dry-run pod creations per second through kube-apiserver, cycling %d kinds (defaulted, RuntimeDefault, Unconfined: denied), no retries", image, rate, len(loadKinds))

	t.Run("a webhook replica is deleted under load", func(t *testing.T) {
		replicaDeleted(ctx, t, rate)
	})
	t.Run("a webhook replica is killed under load", func(t *testing.T) {
		replicaKilled(ctx, t, rate)
	})
	t.Run("kube-apiserver is stopped and started again", func(t *testing.T) {
		apiserverRestarted(ctx, t, rate, 15*time.Second)
	})
	t.Run("kube-apiserver is stopped for longer than the renew deadline", func(t *testing.T) {
		// The chart's webhook renews its leader Lease for up to 45 s
		// (--leader-elect-renew-deadline): the leader loses it, and must
		// go on serving and campaigning rather than exit.
		apiserverRestarted(ctx, t, rate, webhook.DefaultOptions().RenewDeadline+15*time.Second)
	})
	t.Run("the agent is stopped", func(t *testing.T) {
		agentStopped(ctx, t, rate)
	})
	t.Run("soak", func(t *testing.T) {
		soak(ctx, t, rate)
	})
}

// replicaDeleted deletes one of the two webhook pods (graceful: the
// chart's preStop sleep, then SIGTERM and the drain) while pods are
// created, and waits for its replacement.
func replicaDeleted(ctx context.Context, t *testing.T, rate float64) {
	f := startReplicaFault(ctx, t, rate)
	victim := f.victim
	start := time.Now()
	must(t, node.Client.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNS, Name: victim.Name}}))
	t.Logf("deleted webhook pod %s (%s)", victim.Name, victim.IP)
	poll(ctx, t, 500*time.Millisecond, 2*time.Minute, "the deleted pod to be gone", func(ctx context.Context) error {
		var p corev1.Pod
		err := node.Client.Get(ctx, client.ObjectKey{Namespace: releaseNS, Name: victim.Name}, &p)
		if err == nil {
			return fmt.Errorf("pod %s is still there (%s)", victim.Name, p.Status.Phase)
		}
		return client.IgnoreNotFound(err)
	})
	gone := time.Since(start)
	waitInstalled(ctx, t)
	t.Logf("the pod was gone after %s, and its replacement ready after %s", gone.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
	f.finish(ctx, t, "deleting a webhook replica").check(t, "deleting a webhook replica")
}

// replicaFault is one of the two webhook replicas under a fault while pods
// are created: the load runs, and the other replica's readiness is watched.
type replicaFault struct {
	survivor, victim webhookPod
	ready            *readiness
	load             *load
}

// startReplicaFault starts the load and the readiness watch, and returns
// after 5 s of load, for the caller to hurt the victim.
func startReplicaFault(ctx context.Context, t *testing.T, rate float64) *replicaFault {
	pods := webhookPods(ctx, t)
	if len(pods) != 2 {
		t.Fatalf("want 2 running webhook pods, have %v", pods)
	}
	f := &replicaFault{survivor: pods[0], victim: pods[1], ready: watchReadiness(t, pods[:1])}
	f.load = startLoad(t, loadNS, rate)
	time.Sleep(5 * time.Second)
	return f
}

// finish lets the load run 5 s more, stops it and returns what it counted;
// the survivor must have stayed ready and not restarted.
func (f *replicaFault) finish(ctx context.Context, t *testing.T, what string) result {
	t.Helper()
	time.Sleep(5 * time.Second)
	r := f.load.finish()
	f.ready.finish(t, what)
	if after := restarts(webhookPods(ctx, t)); after[f.survivor.Name] != f.survivor.Restarts {
		t.Errorf("webhook pod %s restarted (%d restarts, %d before)%s", f.survivor.Name, after[f.survivor.Name], f.survivor.Restarts, logTail(f.survivor.Name))
	}
	return r
}

// replicaKilled kills one of the two webhook replicas' process with
// SIGKILL (a crash or an OOM kill: no preStop sleep, no drain, its
// connections reset) while pods are created, and waits for the kubelet to
// restart it and for it to be ready again. What the load counts is what a
// crash costs the cluster: kube-apiserver does not retry a refused
// connection, and sends reviews to the dead endpoint until the kubelet
// reports the container gone and the endpoints drop it (or it listens
// again). Those fail closed: the validating webhook's failurePolicy Fail
// refuses the pod, and where only the mutating webhook (failurePolicy
// Ignore) was missed, the validating one refuses it as ProfileNotSet. The
// test holds them to that, and to crashWindow after the kill.
func replicaKilled(ctx context.Context, t *testing.T, rate float64) {
	f := startReplicaFault(ctx, t, rate)
	victim := f.victim
	var p corev1.Pod
	must(t, node.Client.Get(ctx, client.ObjectKey{Namespace: releaseNS, Name: victim.Name}, &p))
	id := ""
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == "webhook" {
			_, id, _ = strings.Cut(cs.ContainerID, "://")
		}
	}
	if id == "" {
		t.Fatalf("webhook pod %s has no running webhook container: %+v", victim.Name, p.Status.ContainerStatuses)
	}
	start := time.Now()
	if out, err := node.Ctr(ctx, "task", "kill", "--signal", "SIGKILL", id); err != nil {
		t.Fatalf("killing container %s of pod %s: %v: %s", id, victim.Name, err, out)
	}
	t.Logf("killed the webhook container of pod %s (%s) with SIGKILL", victim.Name, victim.IP)
	poll(ctx, t, 250*time.Millisecond, 2*time.Minute, "the killed replica to restart and be ready", func(ctx context.Context) error {
		var p corev1.Pod
		if err := node.Client.Get(ctx, client.ObjectKey{Namespace: releaseNS, Name: victim.Name}, &p); err != nil {
			return err
		}
		var restarts int32
		for _, cs := range p.Status.ContainerStatuses {
			restarts += cs.RestartCount
		}
		if restarts <= victim.Restarts {
			return fmt.Errorf("pod %s has %d restarts, as before the kill", victim.Name, restarts)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("pod %s restarted but is not ready yet", victim.Name)
	})
	t.Logf("the killed replica was restarted and ready %s after the kill", time.Since(start).Round(100*time.Millisecond))
	f.finish(ctx, t, "killing a webhook replica with SIGKILL").checkCrash(t, "killing a webhook replica with SIGKILL", start, crashWindow)
}

// apiserverRestarted stops kube-apiserver for down (plus the time it takes
// to stop and start) and starts it again: the webhooks answer reviews sent
// to them directly throughout, stay ready, do not restart, see changes
// made after the restart, and one of them holds the leader Lease again.
func apiserverRestarted(ctx context.Context, t *testing.T, rate float64, down time.Duration) {
	pods := webhookPods(ctx, t)
	if len(pods) != 2 {
		t.Fatalf("want 2 running webhook pods, have %v", pods)
	}
	ready := watchReadiness(t, pods)
	reviews := startDirect(t, pods, loadNS)
	l := startLoad(t, loadNS, rate)
	time.Sleep(5 * time.Second)

	l.outage()
	stopAt := time.Now()
	killed, err := node.StopAPIServer(apiserverGrace)
	must(t, err)
	how := "by SIGTERM"
	if killed {
		how = fmt.Sprintf("by SIGKILL, %s after SIGTERM", apiserverGrace)
	}
	t.Logf("kube-apiserver stopped %s, in %s", how, time.Since(stopAt).Round(100*time.Millisecond))
	time.Sleep(down)
	startAt := time.Now()
	must(t, node.StartAPIServer())
	l.endOutage()
	upAt := time.Now()
	t.Logf("kube-apiserver started again in %s; down %s in all", time.Since(startAt).Round(100*time.Millisecond), time.Since(stopAt).Round(100*time.Millisecond))

	// Watches are back: a namespace created now is enforced by both replicas.
	ns := fmt.Sprintf("soak-after-restart-%ds", int(down.Seconds())) // one per case
	must(t, node.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{policy.ModeLabel: "enforce"}}}))
	seen := time.Now()
	c := newDirectClient()
	for _, p := range pods {
		poll(ctx, t, 250*time.Millisecond, 2*time.Minute, "webhook pod "+p.Name+" to see namespace "+ns, func(context.Context) error {
			allowed, msg, err := review(c, p.IP, ns, &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined})
			if err != nil {
				return err
			}
			if allowed {
				return fmt.Errorf("an Unconfined pod in %s is allowed (%q): the replica has not seen the namespace", ns, msg)
			}
			return nil
		})
	}
	t.Logf("both replicas enforce a namespace created after the restart within %s", time.Since(seen).Round(100*time.Millisecond))
	// The agent's heartbeats resume: the node is known (never unknown: the
	// outage is shorter than staleAfter plus a renewal).
	nodeKnown(ctx, t, newAPIClient(t), staleAfter+time.Minute, "the node to be known after the restart")
	t.Logf("the node is known %s after the restart", time.Since(upAt).Round(time.Second))
	holder := leaderElected(ctx, t, pods)
	t.Logf("webhook pod %s holds the leader Lease %s after the restart", holder, time.Since(upAt).Round(time.Second))
	time.Sleep(5 * time.Second)
	l.finish().check(t, "restarting kube-apiserver")
	reviews.finish(t, "restarting kube-apiserver")
	ready.finish(t, "restarting kube-apiserver")
	after := restarts(webhookPods(ctx, t))
	for _, p := range pods {
		if a, ok := after[p.Name]; !ok || a != p.Restarts {
			t.Errorf("webhook pod %s restarted or is gone (%d restarts, %d before; running pods %v)%s", p.Name, a, p.Restarts, after, logTail(p.Name))
		}
	}
}

// leaderElected waits until one of pods holds the webhook's leader Lease
// (its holderIdentity is the pod's name, "_" and a UUID) and returns that
// pod's name: after an outage that outlasted the renew deadline, the
// replicas campaign again instead of exiting.
func leaderElected(ctx context.Context, t *testing.T, pods []webhookPod) string {
	t.Helper()
	var holder string
	opts := webhook.DefaultOptions()
	poll(ctx, t, time.Second, opts.LeaseDuration+time.Minute, "a webhook replica to hold the leader Lease", func(ctx context.Context) error {
		var lease coordinationv1.Lease
		if err := node.Client.Get(ctx, client.ObjectKey{Namespace: releaseNS, Name: webhook.LeaderElectionID}, &lease); err != nil {
			return err
		}
		id := ""
		if lease.Spec.HolderIdentity != nil {
			id = *lease.Spec.HolderIdentity
		}
		for _, p := range pods {
			if strings.HasPrefix(id, p.Name+"_") {
				holder = p.Name
				return nil
			}
		}
		return fmt.Errorf("the Lease %s/%s is held by %q, none of the webhook pods %v", releaseNS, webhook.LeaderElectionID, id, pods)
	})
	return holder
}

// agentStopped takes the agent off the node (a nodeSelector that matches
// nothing): the node turns unknown after staleAfter, so that a Localhost
// pod is admitted with the InventoryUnknown warning (unknownNodes Warn),
// and nothing else changes; then the agent comes back and the warning
// goes.
func agentStopped(ctx context.Context, t *testing.T, rate float64) {
	pods := webhookPods(ctx, t)
	api := newAPIClient(t)
	nodeKnown(ctx, t, api, staleAfter+time.Minute, "the node to be known before the agent stops")
	ready := watchReadiness(t, pods)
	l := startLoad(t, loadNS, rate)
	time.Sleep(5 * time.Second)

	must(t, agentAway(ctx, true))
	t.Cleanup(func() { _ = agentAway(ctx, false) }) // a test that ended early
	poll(ctx, t, 500*time.Millisecond, 2*time.Minute, "the agent pod to be gone", func(ctx context.Context) error {
		var list corev1.PodList
		if err := node.Client.List(ctx, &list, client.InNamespace(releaseNS), client.MatchingLabels{"app.kubernetes.io/component": "agent"}); err != nil {
			return err
		}
		if len(list.Items) > 0 {
			return fmt.Errorf("%d agent pods left", len(list.Items))
		}
		return nil
	})
	stopped := time.Now()
	t.Logf("the agent pod is gone")
	poll(ctx, t, time.Second, staleAfter+time.Minute, "the node to turn unknown", func(ctx context.Context) error {
		return localhostAdmitted(ctx, api, true)
	})
	unknownAfter := time.Since(stopped)
	t.Logf("a Localhost pod got the InventoryUnknown warning %s after the agent was gone (staleAfter %s): %q", unknownAfter.Round(time.Second), staleAfter, lastWarning)
	if unknownAfter < staleAfter/2 {
		t.Errorf("the node turned unknown %s after the agent stopped, well before staleAfter (%s)", unknownAfter, staleAfter)
	}
	var inv v1alpha1.NodeSeccompInventory
	must(t, node.Client.Get(ctx, client.ObjectKey{Name: node.NodeName}, &inv))

	must(t, agentAway(ctx, false))
	back := time.Now()
	poll(ctx, t, time.Second, 3*time.Minute, "the agent to be back", agentReady)
	nodeKnown(ctx, t, api, time.Minute, "the node to be known again")
	t.Logf("the node was known again %s after the agent was put back", time.Since(back).Round(time.Second))
	time.Sleep(3 * time.Second)
	l.finish().check(t, "stopping the agent")
	ready.finish(t, "stopping the agent")
	after := restarts(webhookPods(ctx, t))
	for _, p := range pods {
		if a, ok := after[p.Name]; !ok || a != p.Restarts {
			t.Errorf("webhook pod %s restarted or is gone (%d restarts, %d before; running pods %v)%s", p.Name, a, p.Restarts, after, logTail(p.Name))
		}
	}
}

// agentAway sets (away) or removes the agent DaemonSet's nodeSelector
// seccomp-guard.io/soak: nowhere, which no node has.
func agentAway(ctx context.Context, away bool) error {
	value := "null"
	if away {
		value = `"nowhere"`
	}
	patch := []byte(`{"spec":{"template":{"spec":{"nodeSelector":{"seccomp-guard.io/soak":` + value + `}}}}}`)
	return node.Client.Patch(ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNS, Name: release + "-agent"}}, client.RawPatch(types.StrategicMergePatchType, patch))
}

// sample is one reading of a webhook pod's /metrics.
type sample struct {
	at                    time.Duration
	goroutines, rss, heap float64
}

// soak creates pods at the steady rate for SOAK_DURATION and samples the
// webhooks' goroutines and memory every 10 s: the mean of the last third
// must not exceed the first third's by more than the tolerance.
func soak(ctx context.Context, t *testing.T, rate float64) {
	d, _ := soakDuration()
	pods := webhookPods(ctx, t)
	ready := watchReadiness(t, pods)
	series := map[string][]sample{}
	l := startLoad(t, loadNS, rate)
	start := time.Now()
	tick := time.NewTicker(10 * time.Second)
	for time.Since(start) < d {
		<-tick.C
		for _, p := range pods {
			g, rss, heap, err := metrics(p.IP)
			if err != nil {
				t.Errorf("sampling %s: %v", p.Name, err)
				continue
			}
			series[p.Name] = append(series[p.Name], sample{at: time.Since(start), goroutines: g, rss: rss, heap: heap})
		}
	}
	tick.Stop()
	r := l.finish()
	r.check(t, fmt.Sprintf("soak of %s", d))
	ready.finish(t, "soak")
	for _, p := range pods {
		s := series[p.Name]
		var b strings.Builder
		for _, x := range s {
			fmt.Fprintf(&b, "\n  %5.0fs  goroutines %4.0f  RSS %6.1f MiB  heap in use %6.1f MiB", x.at.Seconds(), x.goroutines, x.rss/(1<<20), x.heap/(1<<20))
		}
		t.Logf("webhook pod %s, every 10 s:%s", p.Name, b.String())
		if len(s) < 6 {
			t.Errorf("%s: only %d samples", p.Name, len(s))
			continue
		}
		third := len(s) / 3
		first, last := s[:third], s[len(s)-third:]
		mean := func(xs []sample, f func(sample) float64) float64 {
			sum := 0.0
			for _, x := range xs {
				sum += f(x)
			}
			return sum / float64(len(xs))
		}
		for _, m := range []struct {
			name      string
			f         func(sample) float64
			unit      float64
			tolerance func(float64) float64
		}{
			// Goroutines: a few per connection and per in-flight request.
			{"goroutines", func(x sample) float64 { return x.goroutines }, 1, func(a float64) float64 { return a*1.10 + 10 }},
			// Memory: the GC's heap target moves with the load's burst.
			{"RSS (MiB)", func(x sample) float64 { return x.rss }, 1 << 20, func(a float64) float64 { return a*1.15 + 8<<20 }},
			{"heap in use (MiB)", func(x sample) float64 { return x.heap }, 1 << 20, func(a float64) float64 { return a*1.25 + 4<<20 }},
		} {
			a, z := mean(first, m.f), mean(last, m.f)
			t.Logf("%s %s: first third %.1f, last third %.1f (%+.1f%%)", p.Name, m.name, a/m.unit, z/m.unit, 100*(z-a)/math.Max(a, 1))
			if z > m.tolerance(a) {
				t.Errorf("%s: %s grew from %.1f (mean of the first third) to %.1f (last third), beyond the tolerance %.1f", p.Name, m.name, a/m.unit, z/m.unit, m.tolerance(a)/m.unit)
			}
		}
	}
}

// logTail is the end of a webhook pod's log, every run of its container.
func logTail(pod string) string {
	log, err := node.PodLog(releaseNS, pod, "webhook")
	if err != nil {
		return "; its log: " + err.Error()
	}
	lines := strings.Split(strings.TrimSpace(log), "\n")
	return "; the end of its log (every run):\n  " + strings.Join(lines[max(0, len(lines)-40):], "\n  ")
}

// agentLog is the end of the agent pod's log (every run of its container)
// and its restarts.
func agentLog(ctx context.Context) string {
	var list corev1.PodList
	if err := node.Client.List(ctx, &list, client.InNamespace(releaseNS), client.MatchingLabels{"app.kubernetes.io/component": "agent"}); err != nil {
		return "listing the agent pods: " + err.Error()
	}
	var b strings.Builder
	for _, p := range list.Items {
		var restarts int32
		for _, cs := range p.Status.ContainerStatuses {
			restarts += cs.RestartCount
		}
		fmt.Fprintf(&b, "\nagent pod %s (%d restarts)", p.Name, restarts)
		log, err := node.PodLog(releaseNS, p.Name, "agent")
		if err != nil {
			b.WriteString(": " + err.Error())
			continue
		}
		lines := strings.Split(strings.TrimSpace(log), "\n")
		b.WriteString(", the end of its log:\n  " + strings.Join(lines[max(0, len(lines)-30):], "\n  "))
	}
	return b.String()
}

// nodeKnown waits until the node is known (its agent heartbeats), for at
// most timeout, and returns how long that took.
func nodeKnown(ctx context.Context, t *testing.T, api *apiClient, timeout time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	err := framework.Poll(ctx, time.Second, timeout, what, func(ctx context.Context) error {
		return localhostAdmitted(ctx, api, false)
	})
	if err != nil {
		t.Fatalf("%v%s", err, agentLog(ctx))
	}
	return time.Since(start)
}
