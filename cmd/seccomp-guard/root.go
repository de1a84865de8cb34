package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes of the seccomp-guard binary.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed
	exitUsage = 2 // the command line was wrong: unknown command or flag, bad argument
)

// usageError marks an error as the caller's mistake in invoking the command,
// as opposed to a failure while running it; exitCode maps it to exitUsage.
// Subcommands return newUsageError for invalid flag values and arguments.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// newUsageError formats an error as a usageError.
func newUsageError(format string, args ...any) error {
	return usageError{err: fmt.Errorf(format, args...)}
}

// usageArgs wraps a cobra argument validator so that its errors are usage
// errors.
func usageArgs(validate cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := validate(cmd, args); err != nil {
			return usageError{err: err}
		}
		return nil
	}
}

// exitCode is the process exit code for the error a command returned.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitError
}

// newRootCommand builds the seccomp-guard command tree.
func newRootCommand(info buildInfo) *cobra.Command {
	root := &cobra.Command{
		Use:   "seccomp-guard",
		Short: "Kubernetes admission controller for seccomp profiles",
		Long: `seccomp-guard defaults pods to a seccomp profile (RuntimeDefault unless the
policy says otherwise), refuses Unconfined, and refuses Localhost profiles that
are missing or invalid on the nodes where the pod can run, using an inventory
that a per-node agent keeps current.`,
		// Errors are printed once, by execute; usage is only printed on request.
		SilenceUsage:  true,
		SilenceErrors: true,
		// With Args set, cobra reports an unknown subcommand through it, so it
		// becomes a usage error like every other command-line mistake.
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageError{err: err}
	})
	root.AddCommand(newVersionCommand(info))
	root.AddCommand(newCheckCommand())
	root.AddCommand(newFixCommand())
	root.AddCommand(newWebhookCommand())
	root.AddCommand(newInventoryCommand())
	root.AddCommand(newAuditCommand())
	root.AddCommand(newAgentCommand())
	root.AddCommand(newReporterCommand())
	root.AddCommand(newNativePoliciesCommand())
	root.AddCommand(newChartHookCommand())
	root.AddCommand(newViolationsCommand())
	root.AddCommand(newProfileCommand())
	return root
}

// execute runs root with args and returns the process exit code. Errors are
// printed to stderr as "Error: <err>"; usage errors add a pointer to --help.
func execute(ctx context.Context, root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	fmt.Fprintf(stderr, "Error: %v\n", err)
	if code == exitUsage && cmd != nil {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}
