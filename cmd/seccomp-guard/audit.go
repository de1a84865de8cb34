package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/cli"
	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
)

// outputHTML is audit's self-contained page for the people who review a
// rollout.
const outputHTML = "html"

// auditClient connects audit to the cluster; tests replace it with a fake.
var auditClient = func(kubeconfig string) (client.Reader, error) {
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: scheme.Scheme})
}

func newAuditCommand() *cobra.Command {
	var (
		opts       cli.AuditOptions
		kubeconfig string
		selector   string
		output     string
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Evaluate what already runs in the cluster, at each namespace's mode and one step up (read-only)",
		Long: `audit reads the cluster (get and list only) and evaluates every top-level
workload and bare pod the way admission would, in its namespace's mode and
as if the namespace were one step up the ladder disabled, audit, warn,
enforce. A workload is evaluated as the Pod CREATE its controller will send
on its next rollout, scale-up or run; the objects a controller owns (its
ReplicaSets, Jobs and pods) are counted under their top-level owner.

Per namespace it shows which objects would be denied (with the exact
admission message), defaulted, exempt or not applicable (mirror and Windows
pods), the Localhost profiles of running pods on their nodes (ok, changed,
or gone: a gone profile fails the pod's next restart), and the next step.

-o html writes one self-contained page (inline CSS, no script, nothing
loaded from elsewhere) to share with the people who review the rollout:
the summary, a row per namespace, the objects that break a rule with the
exact admission message, and the Localhost profiles per node.

Exit codes: 0 when nothing would be denied at any namespace's next step, 1
when something would (only enforce denies: a namespace whose next step is
audit or warn lists what enforce would deny later, and exits 0), 2 for a
mistake in the command line.`,
		Example: `  # Every namespace, as text.
  seccomp-guard audit

  # One namespace, the objects labelled app=web, as JSON.
  seccomp-guard audit -n shop -l app=web -o json

  # A page to attach to the change request (exit code 1 still says that
  # something would be denied).
  seccomp-guard audit -o html > audit.html`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			write, ok := map[string]func(io.Writer, *cli.AuditReport) error{
				outputText: cli.WriteAuditText, outputJSON: cli.WriteAuditJSON, outputHTML: cli.WriteAuditHTML,
			}[output]
			if !ok {
				return newUsageError("unknown output format %q for --output: use %s, %s or %s", output, outputText, outputJSON, outputHTML)
			}
			if selector != "" {
				sel, err := labels.Parse(selector)
				if err != nil {
					return newUsageError("invalid --selector %q: %v; use a label selector such as app=web,tier!=db", selector, err)
				}
				opts.Selector = sel
			}
			c, err := auditClient(kubeconfig)
			if err != nil {
				return err
			}
			opts.Now = clock()
			report, err := cli.Audit(cmd.Context(), c, opts)
			if err != nil {
				return inputError(err)
			}
			if err := write(cmd.OutOrStdout(), report); err != nil {
				return err
			}
			if report.Summary.Denied > 0 {
				return fmt.Errorf("%d top-level %s would be denied at enforce, the next step of %s namespace", report.Summary.Denied,
					pick(report.Summary.Denied, "object", "objects"), pick(report.Summary.Denied, "its", "their"))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)")
	f.StringVarP(&opts.Namespace, "namespace", "n", "", "audit only this namespace (default: all namespaces)")
	f.StringVarP(&selector, "selector", "l", "", "audit only the top-level objects with these labels, e.g. app=web (default: all)")
	f.StringVar(&opts.PolicyFile, "policy", "", "file with the ClusterSeccompPolicy to apply (default: the cluster's ClusterSeccompPolicy default, else the built-in defaults)")
	f.StringVar(&opts.ReleaseNamespace, "release-namespace", v1alpha1.DefaultReleaseNamespace, "namespace of the agents' Leases, which say whether a node's inventory is fresh")
	f.StringVarP(&output, "output", "o", outputText, "output format: text, json or html (one self-contained page)")
	return cmd
}

func pick(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
