package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/cli"
)

func newInventoryCommand() *cobra.Command {
	var (
		files      []string
		policyFile string
		kubeconfig string
		namespace  string
		staleAfter time.Duration
		now        string
		output     string
	)
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "Show which nodes have which seccomp profile (read-only)",
		Long: `inventory lists every node's seccomp profiles as its agent reported them
(NodeSeccompInventory), which profiles are missing or invalid on which nodes,
profiles whose content differs across nodes (drift), and nodes whose inventory
is missing or stale, which admission treats as unknown.

It reads the cluster (--kubeconfig, else the in-cluster or default
configuration), or with --inventory, Node, NodeSeccompInventory and Lease
manifests from files, the same files seccomp-guard check --inventory reads.`,
		Example: `  seccomp-guard inventory
  seccomp-guard inventory -o json
  seccomp-guard inventory --inventory snapshot/`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != outputText && output != outputJSON {
				return newUsageError("unknown output format %q for --output: use %s or %s", output, outputText, outputJSON)
			}
			at := clock()
			if now != "" {
				t, err := time.Parse(time.RFC3339, now)
				if err != nil {
					return newUsageError("--now %q is not an RFC 3339 time, e.g. 2026-01-02T15:04:05Z", now)
				}
				at = t
			}
			var src *cli.InventorySource
			var err error
			if len(files) > 0 {
				if src, err = cli.LoadInventorySource(files); err != nil {
					return usageError{err: err}
				}
				if now == "" && !src.NewestLease.IsZero() {
					at = src.NewestLease
				}
			} else {
				cfg, err := restConfig(kubeconfig)
				if err != nil {
					return err
				}
				if src, err = cli.ClusterInventory(cmd.Context(), cfg, namespace); err != nil {
					return err
				}
			}
			p, err := cli.InventoryPolicy(policyFile, src)
			if err != nil {
				return usageError{err: err}
			}
			if staleAfter != 0 {
				cp := *p
				cp.StaleAfter = staleAfter
				p = &cp
			}
			report := cli.BuildInventoryReport(src, p, at)
			if output == outputJSON {
				return cli.WriteInventoryJSON(cmd.OutOrStdout(), report)
			}
			for _, n := range src.Notes {
				fmt.Fprintln(cmd.ErrOrStderr(), "note: "+n)
			}
			return cli.WriteInventoryText(cmd.OutOrStdout(), report)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&files, "inventory", nil, "read Node, NodeSeccompInventory and Lease manifests from this file or directory instead of the cluster; repeatable")
	f.StringVar(&policyFile, "policy", "", "file with the ClusterSeccompPolicy whose rules (staleAfter, rejectAllowByDefault) classify the nodes, as check --policy (default: the cluster's ClusterSeccompPolicy default; with --inventory, the built-in defaults)")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)")
	f.StringVar(&namespace, "namespace", v1alpha1.DefaultReleaseNamespace, "namespace of the agents' Leases (the release namespace)")
	f.DurationVar(&staleAfter, "stale-after", 0, "a node whose agent has not renewed its Lease for this long is unknown (default: the policy's spec.localhost.staleAfter)")
	f.StringVar(&now, "now", "", "RFC 3339 time to judge staleness at (default: now; with --inventory, the newest Lease renewTime in the files)")
	f.StringVarP(&output, "output", "o", outputText, "output format: text or json")
	return cmd
}
