// Command demo starts a real single-node cluster, shows what a missing
// Localhost profile does without seccomp-guard, then starts seccomp-guard's
// webhook and node agent, applies examples/, prints what happened to each
// object (admission, and on the node), and leaves the cluster running until
// Ctrl-C. Run it with `make demo` (as root: it runs containerd and a kubelet).
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/internal/cli"
	"github.com/seccomp-guard/seccomp-guard/internal/localcluster"
	"github.com/seccomp-guard/seccomp-guard/internal/recording"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	// The demo prints what happens; controller-runtime's clients log nothing
	// worth showing here (and would warn, 30 s in, that no logger was set).
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := localcluster.Check(); err != nil {
		return fmt.Errorf("the local cluster cannot run on this machine: %w\n(it needs root, containerd, runc, busybox-static, containernetworking-plugins and nftables: `make node-deps` installs them; and `make controlplane`; `make runc` builds the runc it prefers)", err)
	}
	root, err := framework.RepoRoot()
	if err != nil {
		return err
	}

	step("starting a single-node cluster: kube-apiserver, etcd, scheduler, controller-manager, containerd, kubelet")
	c, err := localcluster.Start(ctx, localcluster.Options{Progress: os.Stdout})
	if err != nil {
		return err
	}
	defer func() {
		step("stopping everything")
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "demo: stopping the cluster:", err)
		}
		if left := c.Leftovers(); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "demo: left behind:\n  %s\n", strings.Join(left, "\n  "))
		}
	}()
	d := &demo{c: c, root: root}

	step("without seccomp-guard: a pod whose Localhost profile is not on the node")
	if err := d.baseline(ctx); err != nil {
		return err
	}

	step("installing seccomp-guard with its Helm chart: the webhook Deployment and the node agent DaemonSet")
	if err := d.installChart(ctx); err != nil {
		return err
	}

	step("applying examples/ with seccomp-guard")
	files, err := filepath.Glob(filepath.Join(root, "examples", "*.yaml"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	var results []*result
	for _, file := range files {
		rs, err := d.apply(ctx, file)
		if err != nil {
			return err
		}
		results = append(results, rs...)
	}

	step("installing examples/profiles/demo.json on " + c.NodeName + " and applying 30-localhost.yaml again")
	if err := d.installProfile(ctx); err != nil {
		return err
	}
	rs, err := d.apply(ctx, filepath.Join(root, "examples", "30-localhost.yaml"))
	if err != nil {
		return err
	}
	for _, r := range rs {
		r.note = "again"
	}
	results = append(results, rs...)

	step("waiting for the admitted pods to run")
	d.observe(ctx, results)
	printResults(os.Stdout, results)
	fmt.Println()
	if err := d.printChartPods(ctx); err != nil {
		return err
	}

	step("seccomp-guard audit: what is running, and what the next step up the ladder would refuse")
	report, err := cli.Audit(ctx, c.Client, cli.AuditOptions{ReleaseNamespace: releaseNamespace, Now: time.Now()})
	if err != nil {
		return err
	}
	if err := cli.WriteAuditText(os.Stdout, report); err != nil {
		return err
	}

	if err := d.showViolation(ctx); err != nil {
		return err
	}
	if err := d.showRecording(ctx); err != nil {
		return err
	}

	fmt.Printf("\nThe cluster keeps running until you press Ctrl-C. Try your own manifests:\n\n")
	fmt.Printf("  export KUBECONFIG=%s\n", c.Kubeconfig)
	fmt.Printf("  %s get pods -A\n", c.Kubectl)
	fmt.Printf("  %s get nodeseccompinventories\n", c.Kubectl)
	fmt.Printf("  %s apply -f your-pod.yaml   # image %s, imagePullPolicy: Never, hostNetwork: true\n\n", c.Kubectl, localcluster.BusyboxImage)
	fmt.Printf("The node's seccomp root is %s; drop a profile there and the agent reports it.\n", c.SeccompRoot)
	fmt.Printf("Logs: %s (the chart's pods: %s/%s_*)\n", c.LogDir, c.PodLogsDir, releaseNamespace)
	if os.Getenv("SECCOMP_GUARD_DEMO_EXIT") == "1" {
		return nil
	}
	<-ctx.Done()
	return nil
}

func step(msg string) { fmt.Printf("==> %s\n", msg) }

type demo struct {
	c    *localcluster.Cluster
	root string
}

// result is what happened to one object.
type result struct {
	kind, namespace, name string
	admission             string // defaulted, admitted, refused, error
	detail                string
	warnings              []string
	audit                 string // what the validating webhook recorded but did not enforce (audit mode)
	note                  string
	running               string // for pods: phase or waiting reason, and the Seccomp line
}

// baseline shows what happens without seccomp-guard: the pod is accepted and
// fails on the node.
func (d *demo) baseline(ctx context.Context) error {
	c := d.c
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo-baseline"}}
	if err := c.Client.Create(ctx, ns); err != nil {
		return err
	}
	lp := "profiles/demo.json"
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "localhost-demo", Namespace: ns.Name},
		Spec: corev1.PodSpec{
			NodeName:                      c.NodeName,
			HostNetwork:                   true,
			TerminationGracePeriodSeconds: new(int64(1)),
			SecurityContext:               &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &lp}},
			Containers: []corev1.Container{{
				Name: "app", Image: localcluster.BusyboxImage, ImagePullPolicy: corev1.PullNever, Command: []string{"sleep", "3600"},
			}},
		},
	}
	if err := c.Client.Create(ctx, pod); err != nil {
		return fmt.Errorf("creating the baseline pod: %w", err)
	}
	fmt.Printf("    pod %s/%s (Localhost %s) was accepted by the API server; on the node:\n", ns.Name, pod.Name, lp)
	got := &corev1.Pod{}
	var waiting *corev1.ContainerStateWaiting
	if err := framework.Poll(ctx, 500*time.Millisecond, 90*time.Second, "the baseline pod to reach CreateContainerError", func(ctx context.Context) error {
		if err := c.Client.Get(ctx, client.ObjectKeyFromObject(pod), got); err != nil {
			return err
		}
		for _, cs := range got.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil && w.Reason == "CreateContainerError" {
				waiting = w
				return nil
			}
		}
		return fmt.Errorf("pod phase %s", got.Status.Phase)
	}); err != nil {
		return err
	}
	fmt.Printf("    %s: %s\n", waiting.Reason, waiting.Message)
	return c.Client.Delete(ctx, got)
}

// The release: the chart installed as docs/install.md shows.
const (
	releaseName      = "seccomp-guard"
	releaseNamespace = v1alpha1.DefaultReleaseNamespace
)

// installChart builds the image as `make image` does (for this machine's
// platform), imports it into the node's containerd, installs the chart with
// the pinned helm, and waits until seccomp-guard refuses a profile no node
// has: the API server calls the webhook through its Service, and the
// agent's inventory has reached it.
func (d *demo) installChart(ctx context.Context) error {
	c := d.c
	archive, ref, err := framework.BuildImage(ctx, c.Dir, "")
	if err != nil {
		return err
	}
	if _, err := c.ImportImage(ctx, archive); err != nil {
		return err
	}
	fmt.Printf("    image %s built and imported into the node's containerd\n", ref)
	for _, ns := range []*corev1.Namespace{
		// The agent mounts host paths: Pod Security Admission must allow it here.
		{ObjectMeta: metav1.ObjectMeta{Name: releaseNamespace, Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "demo-probe", Labels: map[string]string{policy.ModeLabel: string(v1alpha1.ModeEnforce)}}},
	} {
		if err := c.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	args := []string{"install", releaseName, filepath.Join(d.root, "charts", "seccomp-guard"),
		"--namespace", releaseNamespace,
		"--set", "certificates.mode=self-managed",
		"--set", "agent.seccompRoot=" + c.SeccompRoot,
		"--set-json", "agent.linkTargets=[]",
		// Violation monitoring from the audit netlink group: the agent runs
		// in the host's network, on ports away from anything else here.
		"--set", "agent.violations.enabled=true",
		"--set", "agent.violations.eventInterval=10s",
		// Recording: the agent writes the logging profile and collects
		// what annotated pods in labelled namespaces call.
		"--set", "agent.recording.enabled=true",
		"--set", "agent.recording.interval=2s",
		"--set", fmt.Sprintf("agent.healthPort=%d", agentHealthPort),
		"--set", fmt.Sprintf("agent.metricsPort=%d", agentMetricsPort),
		"--wait", "--timeout", "5m"}
	helm := filepath.Join(d.root, "bin", "helm")
	fmt.Printf("    KUBECONFIG=%s \\\n      %s %s\n", c.Kubeconfig, helm, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, helm, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("helm install: %w\n%s", err, out)
	}
	probe := d.localhostProbe("profiles/.no-node-has-this.json")
	err = framework.Poll(ctx, 250*time.Millisecond, 90*time.Second, "a pod with a profile no node has to be refused as ProfileMissing", func(ctx context.Context) error {
		err := c.Client.Create(ctx, probe.DeepCopy(), client.DryRunAll)
		switch {
		case err == nil:
			return errors.New("admitted, want ProfileMissing")
		case strings.Contains(err.Error(), "ProfileMissing"):
			return nil
		}
		return fmt.Errorf("want ProfileMissing, got %w", err)
	})
	if err != nil {
		return fmt.Errorf("seccomp-guard did not become active: %w (pod logs under %s)", err, c.PodLogsDir)
	}
	fmt.Printf("    webhook and agent running in namespace %s; the agent reports %s's profiles from %s\n", releaseNamespace, c.NodeName, c.SeccompRoot)
	return nil
}

// printChartPods shows the chart's pods, as `kubectl get pods` would.
func (d *demo) printChartPods(ctx context.Context) error {
	var pods corev1.PodList
	if err := d.c.Client.List(ctx, &pods, client.InNamespace(releaseNamespace)); err != nil {
		return err
	}
	fmt.Printf("seccomp-guard's own pods (namespace %s, installed by its chart):\n", releaseNamespace)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tREADY\tSTATUS\tRESTARTS")
	for _, p := range pods.Items {
		ready, restarts := 0, int32(0)
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Ready {
				ready++
			}
			restarts += cs.RestartCount
		}
		fmt.Fprintf(tw, "  %s\t%d/%d\t%s\t%d\n", p.Name, ready, len(p.Spec.Containers), p.Status.Phase, restarts)
	}
	return tw.Flush()
}

func (d *demo) localhostProbe(profile string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: "demo-probe"},
		Spec: corev1.PodSpec{
			NodeName:        d.c.NodeName,
			SecurityContext: &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &profile}},
			Containers:      []corev1.Container{{Name: "app", Image: localcluster.BusyboxImage}},
		},
	}
}

// installProfile copies examples/profiles/demo.json into the node's seccomp
// root and waits until the webhook admits it.
func (d *demo) installProfile(ctx context.Context) error {
	body, err := os.ReadFile(filepath.Join(d.root, "examples", "profiles", "demo.json"))
	if err != nil {
		return err
	}
	dir := filepath.Join(d.c.SeccompRoot, "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "demo.json"), body, 0o644); err != nil {
		return err
	}
	start := time.Now()
	probe := d.localhostProbe("profiles/demo.json")
	if err := framework.Poll(ctx, 250*time.Millisecond, 30*time.Second, "a pod with profiles/demo.json to be admitted", func(ctx context.Context) error {
		return d.c.Client.Create(ctx, probe.DeepCopy(), client.DryRunAll)
	}); err != nil {
		return fmt.Errorf("the agent's report of profiles/demo.json did not reach the webhook: %w", err)
	}
	fmt.Printf("    the agent reported it and the webhook admits it %.1fs after the file was written (no restart)\n", time.Since(start).Seconds())
	return nil
}

// apply creates every object of one YAML file, as kubectl create would, and
// records what admission did to each.
func (d *demo) apply(ctx context.Context, file string) ([]*result, error) {
	c, warn, err := framework.ClientWithWarnings(d.c.Config)
	if err != nil {
		return nil, err
	}
	objs, err := readObjects(file)
	if err != nil {
		return nil, err
	}
	var results []*result
	for _, obj := range objs {
		r := &result{kind: obj.GetKind(), namespace: obj.GetNamespace(), name: obj.GetName()}
		before := profileOf(obj)
		err := c.Create(ctx, obj)
		r.warnings = warn.Take()
		switch {
		case err == nil && obj.GetKind() == "Namespace":
			continue
		case err == nil:
			r.admission = "admitted"
			if after := profileOf(obj); after != before {
				r.admission = "defaulted"
				r.detail = "seccompProfile set to " + after
			} else if after != "" {
				r.detail = "seccompProfile " + after
			} else {
				r.detail = "no seccompProfile"
			}
			r.audit = auditVerdict(d.c.ControlPlane, r)
		case apierrors.IsForbidden(err) || apierrors.IsInvalid(err):
			r.admission = "refused"
			r.detail = strings.TrimPrefix(err.Error(), `admission webhook "validate.seccomp-guard.io" denied the request: `)
		default:
			r.admission = "error"
			r.detail = err.Error()
		}
		results = append(results, r)
	}
	return results, nil
}

// observe waits until each admitted pod runs (or fails) and reads the Seccomp
// line it printed from the kubelet's pod log directory.
func (d *demo) observe(ctx context.Context, results []*result) {
	deadline := time.Now().Add(90 * time.Second)
	for _, r := range results {
		if r.admission == "refused" || r.admission == "error" {
			continue
		}
		switch r.kind {
		case "Pod":
			r.running = d.podState(ctx, r.namespace, r.name, "app", deadline)
		case "Deployment":
			var states []string
			_ = framework.Poll(ctx, 250*time.Millisecond, time.Until(deadline), "the pods of Deployment "+r.name, func(ctx context.Context) error {
				pods := &corev1.PodList{}
				if err := d.c.Client.List(ctx, pods, client.InNamespace(r.namespace), client.MatchingLabels{"app": r.name}); err != nil {
					return err
				}
				if len(pods.Items) == 0 {
					return errors.New("no pods yet")
				}
				states = states[:0]
				for _, p := range pods.Items {
					if p.Status.Phase != corev1.PodRunning {
						return fmt.Errorf("pod %s is %s", p.Name, p.Status.Phase)
					}
					states = append(states, d.podState(ctx, p.Namespace, p.Name, "web", deadline))
				}
				return nil
			})
			if len(states) > 0 {
				r.running = "pods: " + strings.Join(states, "; ")
			} else {
				r.running = "no pod running yet"
			}
		}
	}
}

func (d *demo) podState(ctx context.Context, ns, name, container string, deadline time.Time) string {
	state := "not running"
	_ = framework.Poll(ctx, 250*time.Millisecond, time.Until(deadline), "pod "+ns+"/"+name+" to run and log its Seccomp line", func(ctx context.Context) error {
		p := &corev1.Pod{}
		if err := d.c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p); err != nil {
			state = err.Error()
			return errors.New(state)
		}
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil && w.Reason != "ContainerCreating" {
				state = w.Reason + ": " + w.Message
				return nil
			}
		}
		if p.Status.Phase != corev1.PodRunning {
			state = string(p.Status.Phase)
			return errors.New(state)
		}
		log, err := d.c.PodLog(ns, name, container)
		if err != nil || !strings.Contains(log, "Seccomp:") {
			state = "Running"
			return errors.New(state)
		}
		state = "Running, " + strings.Join(strings.Fields(strings.TrimSpace(log)), " ")
		return nil
	})
	return state
}

// profileOf is the pod-level profile of a pod or pod template, as text.
func profileOf(obj *unstructured.Unstructured) string {
	k, ok := policy.KindFor(obj.GroupVersionKind())
	if !ok {
		return ""
	}
	p := strings.Split(k.PodSpecPath, ".")
	sp, found, _ := unstructured.NestedMap(obj.Object, append(p, "securityContext", "seccompProfile")...)
	if !found {
		return ""
	}
	if lp, ok := sp["localhostProfile"].(string); ok {
		return fmt.Sprintf("%v (%s)", sp["type"], lp)
	}
	return fmt.Sprint(sp["type"])
}

func readObjects(file string) ([]*unstructured.Unstructured, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var out []*unstructured.Unstructured
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj := &unstructured.Unstructured{}
		if err := utilyaml.Unmarshal(doc, &obj.Object); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		out = append(out, obj)
	}
}

func printResults(w io.Writer, results []*result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nOBJECT\tNAMESPACE\tADMISSION\tDETAIL")
	for _, r := range results {
		name := strings.ToLower(r.kind) + "/" + r.name
		if r.note != "" {
			name += " (" + r.note + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, r.namespace, r.admission, r.detail)
		for _, warning := range r.warnings {
			fmt.Fprintf(tw, "\t\t  warning\t%s\n", warning)
		}
		if r.audit != "" {
			fmt.Fprintf(tw, "\t\t  audit log\t%s\n", r.audit)
		}
		if r.running != "" {
			fmt.Fprintf(tw, "\t\t  on the node\t%s\n", r.running)
		}
	}
	_ = tw.Flush()
}

// auditVerdict reads the validating webhook's audit annotations for an
// admitted object and reports a decision that was not acted on (audit mode).
func auditVerdict(cp *framework.ControlPlane, r *result) string {
	resource := strings.ToLower(r.kind) + "s"
	for _, k := range policy.Kinds() {
		if k.Kind == r.kind {
			resource = k.Resource
		}
	}
	key := framework.ValidatingWebhookName + "/"
	for range 20 {
		events, err := cp.AuditEvents(resource, r.namespace, r.name)
		if err == nil && len(events) > 0 {
			a := events[len(events)-1].Annotations
			if a[key+"decision"] != "would-deny" || a[key+"mode"] != string(v1alpha1.ModeAudit) {
				return ""
			}
			out := "would deny: " + a[key+"violations"]
			if d := a[key+"would-default"]; d != "" {
				out = "would default to " + d + "; " + out
			}
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
	return ""
}

// The agent's ports on the node (it runs in the host's network to read the
// audit netlink group).
const (
	agentHealthPort  = 18081
	agentMetricsPort = 18080
)

// showViolation runs a pod whose profile refuses mkdir (and logs it) and
// shows what the agent makes of the kernel's record: an Event on the pod
// and a metric by workload, container, syscall and action.
func (d *demo) showViolation(ctx context.Context) error {
	c := d.c
	step("seccomp-guard agent: a syscall a pod's profile refused, as an Event on the pod and a metric")
	// SCMP_ACT_ERRNO refusals are logged only with SECCOMP_FILTER_FLAG_LOG,
	// which needs runc 1.2 or later (make runc); Debian's runc refuses the
	// flag, so the demo then uses SCMP_ACT_LOG, which is always logged.
	profile, content := "demo/errno-mkdir.json", `{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG"],"syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}`
	if !c.Runc.SeccompFlags() {
		profile, content = "demo/log-mkdir.json", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_LOG"}]}`
		fmt.Printf("    (%s cannot load profile flags: showing SCMP_ACT_LOG instead of a logged errno refusal; make runc builds one that can)\n", c.Runc.String())
	}
	file := filepath.Join(c.SeccompRoot, profile)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		return err
	}
	// Allow-by-default profiles are refused in enforced namespaces; this one
	// is where profiles are tried out.
	const ns, name = "demo-violations", "mkdir-loop"
	if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{policy.ModeLabel: string(v1alpha1.ModeDisabled)}}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: new(int64),
			SecurityContext:               &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &profile}},
			Containers: []corev1.Container{{
				Name: "app", Image: localcluster.BusyboxImage, ImagePullPolicy: corev1.PullNever,
				Command: []string{"sh", "-c", "i=0; while true; do i=$((i+1)); mkdir /tmp/d$i 2>/dev/null; sleep 2; done"},
			}},
		},
	}
	if err := c.Client.Create(ctx, pod); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	fmt.Printf("    pod %s/%s runs mkdir every 2s under localhost/%s\n", ns, name, profile)
	deadline := time.Now().Add(90 * time.Second)
	for {
		var events corev1.EventList
		if err := c.Client.List(ctx, &events, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == name && e.Source.Component == "seccomp-guard-agent" {
				fmt.Printf("    Event on pod %s/%s (%s): %s\n", ns, name, e.Reason, e.Message)
				return d.printViolationMetric(ctx, ns)
			}
		}
		if time.Now().After(deadline) {
			fmt.Printf("    no Event from the agent within 90s; its log: %s/%s_*\n", c.PodLogsDir, releaseNamespace)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// printViolationMetric prints the agent's seccomp_guard_violations_total
// samples of the namespace.
func (d *demo) printViolationMetric(ctx context.Context, ns string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/metrics", agentMetricsPort), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Printf("    (the agent's metrics: %v)\n", err)
		return nil
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "seccomp_guard_violations_total{") && strings.Contains(line, `namespace="`+ns+`"`) {
			fmt.Printf("    %s\n", line)
		}
	}
	fmt.Printf("    on the node: seccomp-guard violations --node %s --kubeconfig %s\n", d.c.NodeName, d.c.Kubeconfig)
	return sc.Err()
}

// recordedApp is the application the demo records: it makes a directory,
// writes and reads a file, and sleeps. set -e: a refused syscall stops it.
const recordedApp = `set -e; mkdir -p /tmp/work/a; echo recorded > /tmp/work/a/f; cat /tmp/work/a/f; exec sleep 3600`

func appDeployment(ns string, tweak func(*corev1.PodTemplateSpec)) *appsv1.Deployment {
	labels := map[string]string{"app": "app"}
	one := int32(1)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: new(int64),
					Containers: []corev1.Container{{
						Name: "main", Image: localcluster.BusyboxImage, ImagePullPolicy: corev1.PullNever,
						Command: []string{"sh", "-c", recordedApp},
					}},
				},
			},
		},
	}
	tweak(&d.Spec.Template)
	return d
}

// showRecording walks docs/recording.md: record a Deployment under the
// logging profile, write its least-privilege profile, install it on the
// node, and run the same Deployment under it in an enforced namespace.
func (d *demo) showRecording(ctx context.Context) error {
	c := d.c
	step("recording an application: from no profile to a least-privilege Localhost profile (docs/recording.md)")
	if !c.Runc.SeccompFlags() {
		fmt.Printf("    (%s cannot load profile flags: the recorded profile is written with --no-log-flag)\n", c.Runc.String())
	}
	const recNS, appNS = "demo-recording", "demo-recorded"
	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: recNS, Labels: map[string]string{policy.ModeLabel: string(v1alpha1.ModeEnforce), policy.RecordingLabel: policy.RecordingEnabled}}},
		{ObjectMeta: metav1.ObjectMeta{Name: appNS, Labels: map[string]string{policy.ModeLabel: string(v1alpha1.ModeEnforce)}}},
	} {
		if err := c.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	fmt.Printf("    namespace %s is labelled %s=%s (a cluster administrator's label)\n", recNS, policy.RecordingLabel, policy.RecordingEnabled)
	dep := appDeployment(recNS, func(t *corev1.PodTemplateSpec) {
		t.Annotations = map[string]string{policy.RecordAnnotation: "true"}
	})
	if err := c.Client.Create(ctx, dep); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	if err := c.Client.Get(ctx, client.ObjectKeyFromObject(dep), dep); err != nil {
		return err
	}
	fmt.Printf("    Deployment %s/app, annotated %s=true: the webhook set its profile to %s\n", recNS, policy.RecordAnnotation, profileString(dep.Spec.Template.Spec.SecurityContext))

	refused := appDeployment(appNS, func(t *corev1.PodTemplateSpec) {
		t.Annotations = map[string]string{policy.RecordAnnotation: "true"}
	})
	if err := c.Client.Create(ctx, refused, client.DryRunAll); err != nil {
		fmt.Printf("    the same in namespace %s, which is not labelled, is refused:\n      %s\n", appNS, err)
	}

	var rec *v1alpha1.RecordingStatus
	deadline := time.Now().Add(2 * time.Minute)
	for rec == nil || !slicesContain(rec.Syscalls, "nanosleep", "clock_nanosleep") {
		if time.Now().After(deadline) {
			fmt.Printf("    nothing recorded within 2m; the agent's log: %s/%s_*\n", c.PodLogsDir, releaseNamespace)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		var inv v1alpha1.NodeSeccompInventory
		if err := c.Client.Get(ctx, client.ObjectKey{Name: c.NodeName}, &inv); err != nil {
			return err
		}
		for i := range inv.Status.Recordings {
			if r := &inv.Status.Recordings[i]; r.Namespace == recNS && r.Workload == "Deployment/app" && r.Container == "main" {
				rec = r
			}
		}
	}
	fmt.Printf("    the agent recorded %d syscalls in %d records: kubectl get nodeseccompinventory %s -o jsonpath='{.status.recordings}'\n", len(rec.Syscalls), rec.Records, c.NodeName)

	invs, err := recording.ListInventories(ctx, c.Client)
	if err != nil {
		return err
	}
	profiles, err := recording.BuildAll(invs, recording.Selector{Namespace: recNS, Workload: "Deployment/app", Container: "main"}, recording.Options{NoLogFlag: !c.Runc.SeccompFlags()})
	if err != nil {
		return err
	}
	p := profiles[0]
	fmt.Printf("    seccomp-guard profile record -n %s --workload Deployment/app --container main -o app.json\n", recNS)
	for _, line := range strings.Split(strings.TrimSpace(p.Summary()), "\n") {
		fmt.Printf("      %s\n", line)
	}
	const installed = "demo/recorded-app.json"
	file := filepath.Join(c.SeccompRoot, installed)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(file, p.JSON, 0o644); err != nil {
		return err
	}
	fmt.Printf("    installed on %s as %s\n", c.NodeName, installed)

	// Admission checks the profile is on the node: retry while the agent
	// has not reported it yet.
	run := appDeployment(appNS, func(t *corev1.PodTemplateSpec) {
		lp := installed
		t.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &lp}}
	})
	err = framework.Poll(ctx, 500*time.Millisecond, time.Minute, "the Deployment under the recorded profile to be admitted", func(ctx context.Context) error {
		err := c.Client.Create(ctx, run.DeepCopy())
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	deadline = time.Now().Add(90 * time.Second)
	for {
		var pods corev1.PodList
		if err := c.Client.List(ctx, &pods, client.InNamespace(appNS), client.MatchingLabels{"app": "app"}); err != nil {
			return err
		}
		for _, pod := range pods.Items {
			for _, cs := range pod.Status.ContainerStatuses {
				if cs.State.Running != nil && time.Since(cs.State.Running.StartedAt.Time) > 5*time.Second {
					fmt.Printf("    Deployment %s/app runs under localhost/%s: pod %s running, %d restarts (admission checked the profile is on %s)\n", appNS, installed, pod.Name, cs.RestartCount, c.NodeName)
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			fmt.Printf("    the Deployment under the recorded profile is not running after 90s:\n")
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func slicesContain(have []string, names ...string) bool {
	for _, h := range have {
		for _, a := range names {
			if h == a {
				return true
			}
		}
	}
	return false
}

func profileString(sc *corev1.PodSecurityContext) string {
	if sc == nil || sc.SeccompProfile == nil {
		return "nothing"
	}
	if sc.SeccompProfile.LocalhostProfile != nil {
		return "localhost/" + *sc.SeccompProfile.LocalhostProfile
	}
	return string(sc.SeccompProfile.Type)
}
