package main

import (
	"io/fs"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chart "github.com/seccomp-guard/seccomp-guard/charts/seccomp-guard"
	"github.com/seccomp-guard/seccomp-guard/internal/cli"
	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
)

// newChartHookCommand is what the chart's hook Jobs run; hidden, since
// users reach it only through `helm upgrade` and `helm uninstall`.
func newChartHookCommand() *cobra.Command {
	var kubeconfig string
	cmd := &cobra.Command{
		Use:    "chart-hook",
		Short:  "Steps the Helm chart's hooks run: upgrade the CRDs, remove the admission objects",
		Hidden: true,
		Args:   usageArgs(cobra.NoArgs),
	}
	cmd.PersistentFlags().StringVar(&kubeconfig, "kubeconfig", "", "Path to a kubeconfig file; in-cluster configuration when empty.")
	newClient := func() (client.Client, error) {
		cfg, err := restConfig(kubeconfig)
		if err != nil {
			return nil, err
		}
		return client.New(cfg, client.Options{Scheme: scheme.Scheme})
	}

	crds := &cobra.Command{
		Use:   "crds",
		Short: "Server-side apply the CRDs built into this binary (the chart's pre-upgrade hook; Helm never upgrades crds/)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			crds, err := fs.Sub(chart.CRDs, "crds")
			if err != nil {
				return err
			}
			return cli.ApplyCRDs(cmd.Context(), c, crds, cmd.OutOrStdout())
		},
	}
	var release string
	remove := &cobra.Command{
		Use:   "remove-admission",
		Short: "Delete the release's webhook configurations and native admission policies (the chart's pre-delete hook)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if release == "" {
				return newUsageError("--release must name the Helm release")
			}
			c, err := newClient()
			if err != nil {
				return err
			}
			return cli.RemoveAdmission(cmd.Context(), c, release, cmd.OutOrStdout())
		},
	}
	remove.Flags().StringVar(&release, "release", "", "The Helm release whose objects to delete (their label app.kubernetes.io/instance).")
	cmd.AddCommand(crds, remove)
	return cmd
}
