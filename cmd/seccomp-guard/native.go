package main

import (
	"github.com/spf13/cobra"

	"github.com/seccomp-guard/seccomp-guard/internal/cli"
	"github.com/seccomp-guard/seccomp-guard/native"
)

const outputYAML = "yaml"

func newNativePoliciesCommand() *cobra.Command {
	var (
		prefix string
		output string
	)
	cmd := &cobra.Command{
		Use:   "native-policies",
		Short: "Print the native MutatingAdmissionPolicy and ValidatingAdmissionPolicy objects",
		Long: `native-policies prints seccomp-guard's native fast path: a
MutatingAdmissionPolicy that defaults pods and pod templates to a seccomp
profile, and one ValidatingAdmissionPolicy per mode (enforce: Deny, warn: Warn,
audit: Audit) that refuses Unconfined and unusable Localhost paths, each with its
binding. The API server runs them itself (admissionregistration.k8s.io/v1,
Kubernetes 1.36+), reading the ClusterSeccompPolicy "default" as parameters
(the built-in defaults when it does not exist) and the namespace's mode label
and default-profile annotation.

ProfileNotAllowed and every rule that needs the node inventory stay with the
webhook; see docs/native.md for what the native path covers and how it differs.`,
		Example: `  seccomp-guard native-policies | kubectl apply -f -
  seccomp-guard native-policies --name-prefix my-release -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != outputYAML && output != outputJSON {
				return newUsageError("unknown output format %q for --output: use %s or %s", output, outputYAML, outputJSON)
			}
			if prefix == "" {
				return newUsageError("--name-prefix must not be empty")
			}
			return cli.WriteNativePolicies(cmd.OutOrStdout(), native.Build(prefix), output == outputJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&prefix, "name-prefix", native.DefaultNamePrefix, "prefix of the objects' names (the release name)")
	f.StringVarP(&output, "output", "o", outputYAML, "output format: yaml (a multi-document stream) or json (a v1 List)")
	return cmd
}
