// Command demo starts a local control plane with seccomp-guard wired in,
// applies examples/, prints what happened to each object, and leaves the
// cluster running until Ctrl-C. Run it with `make demo`.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/webhook"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if missing := framework.MissingAssets(); len(missing) > 0 {
		return fmt.Errorf("control plane not built (missing %s): run `make controlplane`", strings.Join(missing, ", "))
	}
	root, err := framework.RepoRoot()
	if err != nil {
		return err
	}

	step("starting kube-apiserver and etcd")
	cp, err := framework.StartControlPlane()
	if err != nil {
		return err
	}
	defer cp.Stop()
	step("building and starting seccomp-guard webhook")
	bin, err := framework.BuildBinary(cp.Dir)
	if err != nil {
		return err
	}
	wh, err := framework.StartWebhook(ctx, cp, bin)
	if err != nil {
		return err
	}
	defer func() { _ = wh.Stop() }()
	if err := framework.InstallWebhookConfigs(ctx, cp.Client, wh); err != nil {
		return err
	}
	time.Sleep(time.Second) // the API server picks up new webhook configurations asynchronously

	step("applying examples/")
	results, err := applyDir(ctx, cp, filepath.Join(root, "examples"))
	if err != nil {
		return err
	}
	printResults(os.Stdout, results)

	kubectl := filepath.Join(filepath.Dir(cp.Env.ControlPlane.APIServer.Path), "kubectl")
	fmt.Printf("\nThe cluster keeps running until you press Ctrl-C. Try your own manifests:\n\n")
	fmt.Printf("  export KUBECONFIG=%s\n", cp.Kubeconfig)
	fmt.Printf("  %s get pods -A\n", kubectl)
	fmt.Printf("  %s apply -f your-pod.yaml\n\n", kubectl)
	fmt.Printf("Webhook log: %s\nAudit log:   %s\n", wh.LogPath, cp.AuditLog)
	if os.Getenv("SECCOMP_GUARD_DEMO_EXIT") == "1" {
		return nil
	}
	<-ctx.Done()
	step("stopping")
	return nil
}

func step(msg string) { fmt.Printf("==> %s\n", msg) }

type result struct {
	kind, namespace, name string
	outcome               string // created, defaulted, refused, error
	detail                string
	warnings              []string
	audit                 string // what the audit log says the validating webhook would have done
}

type warningCollector struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningCollector) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

func (w *warningCollector) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

// applyDir creates every object of every YAML file in dir, in file order.
func applyDir(ctx context.Context, cp *framework.ControlPlane, dir string) ([]result, error) {
	warn := &warningCollector{}
	cfg := rest.CopyConfig(cp.Config)
	cfg.WarningHandlerWithContext = warn
	c, err := client.New(cfg, client.Options{Scheme: webhook.Scheme()})
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var results []result
	for _, file := range files {
		objs, err := readObjects(file)
		if err != nil {
			return nil, err
		}
		for _, obj := range objs {
			r := result{kind: obj.GetKind(), namespace: obj.GetNamespace(), name: obj.GetName()}
			before := profileOf(obj)
			err := c.Create(ctx, obj)
			r.warnings = warn.take()
			switch {
			case err == nil && obj.GetKind() == "Namespace":
				continue
			case err == nil:
				r.outcome = "admitted"
				if after := profileOf(obj); after != before {
					r.outcome = "defaulted"
					r.detail = "seccompProfile set to " + after
				} else if after != "" {
					r.detail = "seccompProfile " + after
				} else {
					r.detail = "no seccompProfile"
				}
			case apierrors.IsForbidden(err) || apierrors.IsInvalid(err):
				r.outcome = "refused"
				r.detail = strings.TrimPrefix(err.Error(), `admission webhook "validate.seccomp-guard.io" denied the request: `)
			default:
				r.outcome = "error"
				r.detail = err.Error()
			}
			if err == nil {
				r.audit = auditVerdict(cp, r)
			}
			results = append(results, r)
		}
	}
	return results, nil
}

// profileOf is the pod-level profile of a pod or pod template, as text.
func profileOf(obj *unstructured.Unstructured) string {
	paths := map[string][]string{
		"Pod":     {"spec"},
		"CronJob": {"spec", "jobTemplate", "spec", "template", "spec"},
	}
	p, ok := paths[obj.GetKind()]
	if !ok {
		p = []string{"spec", "template", "spec"}
	}
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

func printResults(w io.Writer, results []result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nOBJECT\tNAMESPACE\tOUTCOME\tDETAIL")
	for _, r := range results {
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\n", strings.ToLower(r.kind), r.name, r.namespace, r.outcome, r.detail)
		for _, warning := range r.warnings {
			fmt.Fprintf(tw, "\t\t  warning\t%s\n", warning)
		}
		if r.audit != "" {
			fmt.Fprintf(tw, "\t\t  audit log\t%s\n", r.audit)
		}
	}
	_ = tw.Flush()
}

// auditVerdict reads the validating webhook's audit annotations for an
// admitted object and reports a decision that was not acted on (audit mode).
func auditVerdict(cp *framework.ControlPlane, r result) string {
	resource := strings.ToLower(r.kind) + "s"
	key := framework.ValidatingWebhookName + "/"
	for range 20 {
		events, err := cp.AuditEvents(resource, r.namespace, r.name)
		if err == nil && len(events) > 0 {
			a := events[len(events)-1].Annotations
			if a[key+"decision"] != "would-deny" || a[key+"mode"] != "audit" {
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
