package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/seccomp-guard/seccomp-guard/internal/version"
)

// buildInfo describes the running binary.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// currentBuildInfo reads the link-time version stamp and the Go runtime.
func currentBuildInfo() buildInfo {
	return newBuildInfo(version.Version, version.Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// newBuildInfo describes a binary from its version stamp and its Go
// runtime's version, operating system and architecture.
func newBuildInfo(ver, commit, goVersion, goos, goarch string) buildInfo {
	return buildInfo{Version: ver, Commit: commit, GoVersion: goVersion, Platform: goos + "/" + goarch}
}

// String is the one-line form printed by "seccomp-guard version".
func (b buildInfo) String() string {
	return fmt.Sprintf("seccomp-guard %s (commit %s, %s, %s)", b.Version, b.Commit, b.GoVersion, b.Platform)
}

// Output formats of the version command.
const (
	outputText = "text"
	outputJSON = "json"
)

func newVersionCommand(info buildInfo) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, Go version and platform of this binary",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printVersion(cmd.OutOrStdout(), info, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", outputText, "output format: text or json")
	return cmd
}

func printVersion(w io.Writer, info buildInfo, output string) error {
	switch output {
	case outputText:
		_, err := fmt.Fprintln(w, info.String())
		return err
	case outputJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	default:
		return newUsageError("unknown output format %q for --output: use %s or %s", output, outputText, outputJSON)
	}
}
