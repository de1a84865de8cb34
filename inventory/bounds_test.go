package inventory

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// allocated is how many bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestValidateProfileDeepNesting: a small profile nested very deep is refused
// before it is decoded, with a reason that says where, and validating it
// costs next to nothing. (Decoding it cost hundreds of MiB: every value's
// path, "x[0][0]...", is as long as its depth.)
func TestValidateProfileDeepNesting(t *testing.T) {
	const depth = 10000
	cases := []struct {
		name       string
		data       string
		wantReason string
	}{
		{
			name:       "arrays, 10,000 deep (20 KB)",
			data:       `{"defaultAction": "SCMP_ACT_ERRNO", "x": ` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`,
			wantReason: fmt.Sprintf("JSON nested more than %d levels deep at line 1, column 73; a seccomp profile nests 5 levels at most", MaxJSONDepth),
		},
		{
			name:       "objects, 10,000 deep",
			data:       "{\n" + strings.Repeat(`"a": {`, depth-1) + "}" + strings.Repeat("}", depth-1),
			wantReason: fmt.Sprintf("JSON nested more than %d levels deep at line 2, column 192; a seccomp profile nests 5 levels at most", MaxJSONDepth),
		},
		{
			name:       "brackets inside strings do not count",
			data:       `{"defaultAction": "SCMP_ACT_ERRNO", "x": "` + strings.Repeat("[{", depth) + `\"["}`,
			wantReason: `unknown field "x" is ignored by containerd`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v Validation
			n := allocated(func() { v = ValidateProfile([]byte(tc.data), RuntimeContainerd) })
			if tc.wantReason == `unknown field "x" is ignored by containerd` {
				assert.True(t, v.Valid, v.Reason)
				assert.Equal(t, []string{tc.wantReason}, v.Warnings)
			} else {
				assert.False(t, v.Valid)
				assert.Equal(t, tc.wantReason, v.Reason)
			}
			t.Logf("%d bytes of profile, %d bytes allocated", len(tc.data), n)
			assert.Less(t, n, uint64(1<<20), "validating a %d-byte profile allocated %d bytes", len(tc.data), n)
		})
	}
}

// TestValidateProfileWide measures what a profile at the 1 MiB size limit
// costs to validate when it is wide rather than deep: in total, garbage
// included, less than the chart's memory limit for the agent (128 MiB).
// (Before the document recorded only what messages point at, and located
// only the first problem, the rules case took a minute and the unknown
// field 224 MiB.)
func TestValidateProfileWide(t *testing.T) {
	fill := func(prefix, item, suffix string) string {
		n := (MaxProfileSize - len(prefix) - len(suffix)) / (len(item) + 1)
		return prefix + strings.TrimSuffix(strings.Repeat(item+",", n), ",") + suffix
	}
	cases := []struct {
		name string
		data string
	}{
		{name: "1 MiB of syscall names", data: fill(`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": [`, `"read"`, `]}]}`)},
		{name: "1 MiB of syscall rules", data: fill(`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [`, `{"names":["a"],"action":"X"}`, `]}`)},
		{name: "1 MiB of numbers in an unknown field", data: fill(`{"defaultAction": "SCMP_ACT_ERRNO", "x": [`, `0`, `]}`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.data)
			for _, rt := range []Runtime{RuntimeContainerd, RuntimeCRIO} {
				n := allocated(func() { ValidateProfile(data, rt) })
				t.Logf("%s: %d bytes of profile, %d MiB allocated", rt, len(data), n>>20)
				assert.Less(t, n, uint64(128<<20), "%s: validating a %d-byte profile allocated %d MiB", rt, len(data), n>>20)
			}
		})
	}
}
