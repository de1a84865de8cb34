package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/seccomp-guard/seccomp-guard/internal/cli"
)

func newFixCommand() *cobra.Command {
	opts := cli.Options{}
	var inPlace bool
	cmd := &cobra.Command{
		Use:   "fix [flags] PATH...",
		Short: "Write the seccomp profiles the webhook would default into manifests",
		Long: `fix evaluates manifests as check does and writes each admitted object's
default seccomp profile into it: to stdout (the files one after the other,
separated by ---), or with --in-place into the files themselves.

Only the seccomp fields change: comments, blank lines, key order, quoting,
indentation, document order and separators are kept, and JSON files stay
JSON. Running fix on its own output changes nothing.

Objects that would be denied are left unchanged and reported on stderr with
the other findings. Exit codes: 0 when every object would be admitted, 1 when
one would be denied, 2 for a mistake in the command line or the input files.`,
		Example: `  # Default every manifest of a directory in place.
  seccomp-guard fix --in-place deploy/

  # Defaults for a namespace whose annotation picks a Localhost profile.
  seccomp-guard fix --namespace-default-profile localhost/profiles/audit.json pod.yaml > pod.fixed.yaml`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if inPlace {
				for _, a := range args {
					if a == "-" {
						return newUsageError("--in-place cannot write to stdin: give files or directories, or drop --in-place")
					}
				}
			}
			report, err := evaluate(cmd, &opts, args)
			if err != nil {
				return err
			}
			fixed, err := cli.Fix(report)
			if err != nil {
				return err
			}
			if inPlace {
				err = cli.WriteInPlace(fixed)
			} else {
				err = cli.WriteStream(cmd.OutOrStdout(), fixed)
			}
			if err != nil {
				return err
			}
			if err := cli.WriteText(cmd.ErrOrStderr(), report, true); err != nil {
				return err
			}
			if err := deniedError(report); err != nil {
				return err
			}
			if n := report.FixFailures(); n > 0 {
				return fmt.Errorf("fix could not write the default profile of %d objects; set it by hand (see above)", n)
			}
			return nil
		},
	}
	addEvaluationFlags(cmd.Flags(), &opts)
	cmd.Flags().BoolVarP(&inPlace, "in-place", "i", false, "write the changes into the files instead of stdout")
	return cmd
}
