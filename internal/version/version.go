// Package version holds the build's version information. The values are set
// at link time by the Makefile:
//
//	go build -ldflags "-X github.com/seccomp-guard/seccomp-guard/internal/version.Version=v0.1.0 \
//	  -X github.com/seccomp-guard/seccomp-guard/internal/version.Commit=abc1234"
package version

// Version is the release version (git describe), "dev" for an unstamped build.
var Version = "dev"

// Commit is the git commit the binary was built from, "unknown" for an
// unstamped build.
var Commit = "unknown"
