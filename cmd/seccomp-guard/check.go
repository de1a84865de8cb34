package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/seccomp-guard/seccomp-guard/internal/cli"
	"github.com/seccomp-guard/seccomp-guard/internal/manifest"
)

// clock is the current time for check and fix; tests replace it.
var clock = time.Now

func newCheckCommand() *cobra.Command {
	opts := cli.Options{}
	var output string
	cmd := &cobra.Command{
		Use:   "check [flags] PATH...",
		Short: "Evaluate manifests as the admission webhook would, without a cluster",
		Long: `check reads Kubernetes manifests (files, directories searched recursively for
.yaml, .yml and .json files, or - for stdin) and evaluates every Pod and pod
template (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob,
ReplicationController, PodTemplate) the way the seccomp-guard webhook would on
CREATE: which profile it would default, which rules it would refuse.

Without --inventory, Localhost profiles are not checked against nodes. With
it, Node, NodeSeccompInventory and Lease manifests stand in for the cluster.

Exit codes: 0 when every object would be admitted, 1 when one would be
denied, 2 for a mistake in the command line or the input files.`,
		Example: `  # Check a directory of manifests in an enforcing namespace.
  seccomp-guard check deploy/

  # With the cluster's policy and a snapshot of its nodes and inventories.
  seccomp-guard check --policy policy.yaml --inventory cluster/ deploy/

  # Rendered Helm output, as JSON.
  helm template my-app ./chart | seccomp-guard check -o json -`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != outputText && output != outputJSON {
				return newUsageError("unknown output format %q for --output: use %s or %s", output, outputText, outputJSON)
			}
			report, err := evaluate(cmd, &opts, args)
			if err != nil {
				return err
			}
			if output == outputJSON {
				err = cli.WriteJSON(cmd.OutOrStdout(), report)
			} else {
				err = cli.WriteText(cmd.OutOrStdout(), report, false)
			}
			if err != nil {
				return err
			}
			return deniedError(report)
		},
	}
	addEvaluationFlags(cmd.Flags(), &opts)
	cmd.Flags().StringVarP(&output, "output", "o", outputText, "output format: text or json")
	return cmd
}

// addEvaluationFlags binds the flags that check and fix share.
func addEvaluationFlags(fs *pflag.FlagSet, opts *cli.Options) {
	fs.StringVar(&opts.PolicyFile, "policy", "", "file with the ClusterSeccompPolicy to apply (default: the built-in defaults)")
	fs.StringArrayVar(&opts.Inventory, "inventory", nil,
		"file or directory of Node, NodeSeccompInventory and Lease manifests standing in for the cluster; repeatable (default: Localhost profiles are not checked against nodes)")
	fs.StringVar(&opts.Now, "now", "", "RFC 3339 time that decides inventory staleness (default: the newest Lease renewTime in the inventory files, else the current time)")
	fs.StringVar(&opts.NamespaceMode, "namespace-mode", string(cli.DefaultNamespaceMode), "mode of the namespaces, as their seccomp-guard.io/mode label: enforce, warn, audit or disabled")
	fs.StringVar(&opts.NamespaceDefaultProfile, "namespace-default-profile", "",
		"default profile of the namespaces, as their seccomp-guard.io/default-profile annotation: RuntimeDefault or localhost/<path> (default: the policy's spec.defaultProfile)")
	fs.StringVar(&opts.Namespace, "namespace", cli.DefaultNamespace, "namespace of objects whose metadata.namespace is not set")
	fs.StringVar(&opts.User, "user", "", "username of the request, for spec.exemptions.usernames")
}

// evaluate loads the options and the manifests and evaluates them.
func evaluate(cmd *cobra.Command, opts *cli.Options, paths []string) (*cli.Report, error) {
	env, err := opts.Load(clock)
	if err != nil {
		return nil, inputError(err)
	}
	files, err := manifest.ReadPaths(paths, cmd.InOrStdin())
	if err != nil {
		return nil, inputError(err)
	}
	return cli.Check(env, files), nil
}

// inputError makes a mistake in the input a usage error (exit code 2).
func inputError(err error) error {
	if cli.IsInputError(err) {
		return usageError{err: err}
	}
	return err
}

// deniedError is the error (exit code 1) when an object would be denied.
func deniedError(r *cli.Report) error {
	if r.Summary.Denied == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d checked objects would be denied in namespace mode %s", r.Summary.Denied, r.Summary.Checked, r.Env.Mode)
}
