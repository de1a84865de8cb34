package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
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

func TestBuildInfo(t *testing.T) {
	tests := []struct {
		name                               string
		ver, commit, goVersion, goos, arch string
		want                               buildInfo
		wantText                           string
	}{
		{
			name: "an unstamped build", ver: "dev", commit: "unknown", goVersion: "go1.26.0", goos: "linux", arch: "amd64",
			want:     buildInfo{Version: "dev", Commit: "unknown", GoVersion: "go1.26.0", Platform: "linux/amd64"},
			wantText: "seccomp-guard dev (commit unknown, go1.26.0, linux/amd64)",
		},
		{
			name: "a release", ver: "v0.3.1", commit: "9f8e7d6", goVersion: "go1.26.2", goos: "darwin", arch: "arm64",
			want:     buildInfo{Version: "v0.3.1", Commit: "9f8e7d6", GoVersion: "go1.26.2", Platform: "darwin/arm64"},
			wantText: "seccomp-guard v0.3.1 (commit 9f8e7d6, go1.26.2, darwin/arm64)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := newBuildInfo(tc.ver, tc.commit, tc.goVersion, tc.goos, tc.arch)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.wantText, got.String())
		})
	}
}

func TestCurrentBuildInfo(t *testing.T) {
	got := currentBuildInfo()
	// A test binary is not stamped: the defaults of internal/version.
	assert.Equal(t, "dev", got.Version)
	assert.Equal(t, "unknown", got.Commit)
	// The runtime's values differ by toolchain and machine: their form.
	assert.Regexp(t, `^go1\.\d+`, got.GoVersion)
	assert.Regexp(t, `^[a-z0-9]+/[a-z0-9]+$`, got.Platform)
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
