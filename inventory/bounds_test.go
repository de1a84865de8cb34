package inventory

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
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

// etcdRequestLimit is the largest object etcd stores by default
// (--max-request-bytes, 1.5 MiB).
const etcdRequestLimit = 3 << 19

// storedObject is the NodeSeccompInventory as the API server stores it
// after the agent's two applies: with a long node name, an owner reference
// and the managed fields of both applies, where every listed path appears a
// second time, as a JSON key inside a JSON string.
func storedObject(t *testing.T, st v1alpha1.NodeSeccompInventoryStatus) []byte {
	t.Helper()
	empty := map[string]any{}
	fields := func(names ...string) map[string]any {
		m := map[string]any{".": empty}
		for _, n := range names {
			m["f:"+n] = empty
		}
		return m
	}
	profiles := map[string]any{}
	for _, p := range st.Profiles {
		key, err := json.Marshal(map[string]string{"path": p.Path})
		require.NoError(t, err)
		names := []string{"path", "valid"}
		for name, set := range map[string]bool{"sha256": p.SHA256 != "", "size": p.Size != 0, "reason": p.Reason != "", "defaultAction": p.DefaultAction != "", "warnings": len(p.Warnings) > 0} {
			if set {
				names = append(names, name)
			}
		}
		profiles["k:"+string(key)] = fields(names...)
	}
	statusFields, err := json.Marshal(map[string]any{"f:status": map[string]any{
		"f:conditions":   map[string]any{`k:{"type":"Truncated"}`: fields("lastTransitionTime", "message", "reason", "status", "type")},
		"f:invalidCount": empty, "f:observedTime": empty, "f:profileCount": empty, "f:runtime": empty,
		"f:profiles": profiles,
	}})
	require.NoError(t, err)
	node := strings.Repeat("n", 253)
	now := metav1.Now()
	st.ObservedTime = &now
	inv := v1alpha1.NodeSeccompInventory{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "NodeSeccompInventory"},
		ObjectMeta: metav1.ObjectMeta{
			Name: node, UID: "0d7c3c1e-5e0e-4c3f-9a53-5b0a1c2d3e4f", ResourceVersion: "123456789", Generation: 1, CreationTimestamp: now,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node, UID: "7e1a3b5c-2d4f-4a6b-8c9d-0e1f2a3b4c5d"}},
			ManagedFields: []metav1.ManagedFieldsEntry{
				{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationApply, APIVersion: "seccomp-guard.io/v1alpha1", Time: &now, FieldsType: "FieldsV1",
					FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:ownerReferences":{"k:{\"uid\":\"7e1a3b5c-2d4f-4a6b-8c9d-0e1f2a3b4c5d\"}":{}}}}`)},
				{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationApply, APIVersion: "seccomp-guard.io/v1alpha1", Time: &now, FieldsType: "FieldsV1",
					FieldsV1: metav1.NewFieldsV1(string(statusFields)), Subresource: "status"},
			},
		},
		Status: st,
	}
	b, err := json.Marshal(inv)
	require.NoError(t, err)
	return b
}

// TestInventorySize fills inventories with more entries than fit, of the
// largest size the limits allow and of a typical size, and measures the
// stored object: it stays well under etcd's limit, and the Truncated
// condition counts what was left out. docs/inventory.md quotes the figures.
func TestInventorySize(t *testing.T) {
	sum := strings.Repeat("f", 64)
	largest := func(i int) v1alpha1.ProfileStatus {
		// Backslashes: two bytes each in the entry, four in the managed fields.
		warnings := make([]string, 20)
		for j := range warnings {
			warnings[j] = strings.Repeat(`"`, 500)
		}
		return v1alpha1.ProfileStatus{
			Path:   fmt.Sprintf("%05d", i) + strings.Repeat(`\`, (MaxPathLength-2-5)/2),
			SHA256: sum, Size: MaxProfileSize, Valid: false,
			Reason:        strings.Repeat(`\`, 2000),
			DefaultAction: strings.Repeat("<", 100),
			Warnings:      warnings,
		}
	}
	typical := func(i int) v1alpha1.ProfileStatus {
		// The Security Profiles Operator's layout: operator/<namespace>/<name>.json.
		return v1alpha1.ProfileStatus{
			Path:   fmt.Sprintf("operator/team-payments-production/checkout-service-%05d.json", i),
			SHA256: sum, Size: 21000, Valid: true, DefaultAction: "SCMP_ACT_ERRNO",
		}
	}
	cases := []struct {
		name          string
		entry         func(i int) v1alpha1.ProfileStatus
		files         int
		wantListed    int
		wantCondition metav1.Condition
	}{
		{
			name: "largest entries", entry: largest, files: 3000, wantListed: 283,
			wantCondition: metav1.Condition{
				Type: "Truncated", Status: metav1.ConditionTrue, Reason: "ProfileSizeCapped",
				Message: "2717 of 3000 files under the seccomp root are left out of the inventory (2717 over the limit of 1024 KiB of entries), in path order; " +
					"admission treats a profile the inventory does not list as unknown on this node; remove files that no pod uses",
			},
		},
		{
			name: "typical entries", entry: typical, files: 2500, wantListed: MaxProfiles,
			wantCondition: metav1.Condition{
				Type: "Truncated", Status: metav1.ConditionTrue, Reason: "ProfileCountCapped",
				Message: "500 of 2500 files under the seccomp root are left out of the inventory (500 over the limit of 2000 profiles), in path order; " +
					"admission treats a profile the inventory does not list as unknown on this node; remove files that no pod uses",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			all := make([]v1alpha1.ProfileStatus, tc.files)
			for i := range all {
				all[i] = tc.entry(i)
			}
			st := statusOf(all, RuntimeContainerd)
			size := len(storedObject(t, st))
			t.Logf("%d files: %d listed, stored object %d bytes (%.0f%% of etcd's limit)", tc.files, len(st.Profiles), size, 100*float64(size)/etcdRequestLimit)
			assert.Equal(t, tc.wantListed, len(st.Profiles))
			assert.Equal(t, int32(tc.files), st.ProfileCount)
			assert.Equal(t, tc.files-tc.wantListed, st.Omitted())
			require.Len(t, st.Conditions, 1)
			assert.Equal(t, tc.wantCondition, st.Conditions[0])
			assert.Less(t, size, etcdRequestLimit*4/5, "well under etcd's limit")
		})
	}
}

func TestBoundProfiles(t *testing.T) {
	long := strings.Repeat("x", MaxPathLength) // 514 bytes as JSON, quotes included
	warnings := []string{"w1", "w2", "w3", "w4", "w5", "w6", "w7"}
	b := boundProfiles([]v1alpha1.ProfileStatus{
		{Path: "a.json", Valid: true, Warnings: warnings},
		{Path: "b.json", Reason: strings.Repeat("é", 300)},
		{Path: "c.json", Reason: "<" + strings.Repeat("r", 600)},
		{Path: long, Valid: true},
	})
	require.Len(t, b.profiles, 3)
	assert.Equal(t, []string{"w1", "w2", "w3", "w4", "w5", "and 2 more warnings"}, b.profiles[0].Warnings)
	assert.Equal(t, strings.Repeat("é", 253)+"…", b.profiles[1].Reason, "cut at a character, 2+506+3 bytes")
	assert.Equal(t, "<"+strings.Repeat("r", 501)+"…", b.profiles[2].Reason, `"<" is 6 bytes as JSON writes it`)
	assert.Equal(t, 1, b.longPath)
	assert.Equal(t, metav1.Condition{
		Type: "Truncated", Status: metav1.ConditionTrue, Reason: "ProfilePathTooLong",
		Message: "1 of 4 files under the seccomp root are left out of the inventory (1 with a path over 512 bytes), in path order; " +
			"admission treats a profile the inventory does not list as unknown on this node; remove files that no pod uses",
	}, truncatedCondition(b, 4))
	assert.Equal(t, 7, len(warnings), "the scan's entry is not modified")
}
