// Package recording turns what the agents observed of a container running
// under the logging profile into a least-privilege seccomp profile
// (docs/recording.md).
package recording

import (
	"encoding/json"
	"runtime"
)

// LoggingProfile is the content of the logging profile the agent writes at
// policy.RecordingProfile: every syscall is allowed and logged
// (SCMP_ACT_LOG), for the architectures a container of this node's
// architecture may use (goarch is runtime.GOARCH of the agent, which runs
// on the node).
func LoggingProfile(goarch string) []byte {
	p := map[string]any{"defaultAction": "SCMP_ACT_LOG"}
	if archs := seccompArchitectures(goarch); len(archs) > 0 {
		p["architectures"] = archs
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		panic(err) // a map of strings always marshals
	}
	return append(b, '\n')
}

// NodeLoggingProfile is LoggingProfile for the architecture this binary runs on.
func NodeLoggingProfile() []byte { return LoggingProfile(runtime.GOARCH) }

// seccompArchitectures are the seccomp architectures a container on a node
// of goarch can make syscalls in (the native one first), as the OCI runtime
// spec names them.
func seccompArchitectures(goarch string) []string {
	switch goarch {
	case "amd64":
		return []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}
	case "arm64":
		return []string{"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}
	case "ppc64le":
		return []string{"SCMP_ARCH_PPC64LE"}
	case "s390x":
		return []string{"SCMP_ARCH_S390X", "SCMP_ARCH_S390"}
	case "riscv64":
		return []string{"SCMP_ARCH_RISCV64"}
	}
	return nil
}
