package inventory

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkScan1000Profiles is one full scan of a seccomp root of 1,000
// profiles (100 directories of 10, as the Security Profiles Operator lays
// them out), each an allow-list of 300 syscalls (about 6 KiB), validated
// for containerd, and the status the agent writes from it (statusOf: the
// bounds of bound.go). The target is under 1 s (docs/performance.md).
func BenchmarkScan1000Profiles(b *testing.B) {
	root := b.TempDir()
	var names []string
	for i := range 300 {
		names = append(names, fmt.Sprintf("syscall_%03d", i))
	}
	type rule struct {
		Names  []string `json:"names"`
		Action string   `json:"action"`
	}
	data, err := json.Marshal(map[string]any{
		"defaultAction": "SCMP_ACT_ERRNO", "architectures": []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"},
		"syscalls": []rule{{Names: names, Action: "SCMP_ACT_ALLOW"}},
	})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		dir := filepath.Join(root, "operator", fmt.Sprintf("ns-%02d", i/10))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("profile-%d.json", i)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	s := Scanner{Root: root, Runtime: RuntimeContainerd}
	b.SetBytes(int64(1000 * len(data)))
	b.ReportAllocs()
	// CPU time, not only wall time: on a shared machine the scan waits for a core.
	start := cpuTime(b)
	for b.Loop() {
		res, err := s.Scan()
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Profiles) != 1000 {
			b.Fatalf("scanned %d profiles, want 1000", len(res.Profiles))
		}
		st := statusOf(res.Profiles, RuntimeContainerd)
		if st.ProfileCount != 1000 || st.InvalidCount != 0 {
			b.Fatalf("status counts %d profiles, %d invalid; want 1000, 0", st.ProfileCount, st.InvalidCount)
		}
	}
	b.ReportMetric(float64((cpuTime(b)-start).Milliseconds())/float64(b.N), "cpu-ms/op")
}

// cpuTime is the process's user and system time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
