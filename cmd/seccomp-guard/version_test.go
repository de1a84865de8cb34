package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testInfo = buildInfo{
	Version:   "v1.2.3",
	Commit:    "0123abc",
	GoVersion: "go1.26.8",
	Platform:  "linux/amd64",
}

const testInfoJSON = `{
  "version": "v1.2.3",
  "commit": "0123abc",
  "goVersion": "go1.26.8",
  "platform": "linux/amd64"
}
`

func TestVersionCommand(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{
			name:       "text by default",
			args:       []string{"version"},
			wantCode:   exitOK,
			wantStdout: "seccomp-guard v1.2.3 (commit 0123abc, go1.26.8, linux/amd64)\n",
		},
		{
			name:       "explicit text",
			args:       []string{"version", "-o", "text"},
			wantCode:   exitOK,
			wantStdout: "seccomp-guard v1.2.3 (commit 0123abc, go1.26.8, linux/amd64)\n",
		},
		{
			name:       "json with short flag",
			args:       []string{"version", "-o", "json"},
			wantCode:   exitOK,
			wantStdout: testInfoJSON,
		},
		{
			name:       "json with long flag",
			args:       []string{"version", "--output=json"},
			wantCode:   exitOK,
			wantStdout: testInfoJSON,
		},
		{
			name:     "unknown output format is a usage error",
			args:     []string{"version", "-o", "yaml"},
			wantCode: exitUsage,
			wantStderr: "Error: unknown output format \"yaml\" for --output: use text or json\n" +
				"Run 'seccomp-guard version --help' for usage.\n",
		},
		{
			name:     "unknown flag is a usage error",
			args:     []string{"version", "--short"},
			wantCode: exitUsage,
			wantStderr: "Error: unknown flag: --short\n" +
				"Run 'seccomp-guard version --help' for usage.\n",
		},
		{
			name:     "positional argument is a usage error",
			args:     []string{"version", "extra"},
			wantCode: exitUsage,
			wantStderr: "Error: unknown command \"extra\" for \"seccomp-guard version\"\n" +
				"Run 'seccomp-guard version --help' for usage.\n",
		},
		{
			name:     "unknown subcommand is a usage error",
			args:     []string{"frobnicate"},
			wantCode: exitUsage,
			wantStderr: "Error: unknown command \"frobnicate\" for \"seccomp-guard\"\n" +
				"Run 'seccomp-guard --help' for usage.\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := execute(context.Background(), newRootCommand(testInfo), tc.args, &stdout, &stderr)
			assert.Equal(t, tc.wantCode, code, "exit code")
			assert.Equal(t, tc.wantStdout, stdout.String(), "stdout")
			assert.Equal(t, tc.wantStderr, stderr.String(), "stderr")
		})
	}
}

func TestCurrentBuildInfo(t *testing.T) {
	// An unstamped test binary carries the defaults of internal/version.
	want := buildInfo{
		Version:   "dev",
		Commit:    "unknown",
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	require.Equal(t, want, currentBuildInfo())
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{name: "success", err: nil, want: exitOK},
		{name: "runtime failure", err: errors.New("connection refused"), want: exitError},
		{name: "usage error", err: newUsageError("bad flag"), want: exitUsage},
		{name: "wrapped usage error", err: fmt.Errorf("webhook: %w", newUsageError("bad flag")), want: exitUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, exitCode(tc.err))
		})
	}
}
