package policy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// countingSet is a NodeSet that counts how often its nodes are matched.
type countingSet struct {
	nodes   []*corev1.Node
	memo    CandidateMemo
	matched int
}

func (s *countingSet) Nodes() []*corev1.Node { s.matched++; return s.nodes }
func (s *countingSet) Memo() *CandidateMemo  { return &s.memo }
func (s *countingSet) ProfileAt([]int32, string, func(int, ProfileLookup)) {
	panic("not called by candidate matching")
}

// TestCandidateMemo: equal constraints are matched once per node set;
// different ones (in any field candidateNodes reads) each once; the memo
// holds at most maxMemoEntries, and constraints longer than maxMemoKey are
// matched every time rather than kept.
func TestCandidateMemo(t *testing.T) {
	set := &countingSet{}
	for i := range 6 {
		set.nodes = append(set.nodes, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("n%d", i), Labels: map[string]string{"zone": []string{"a", "b"}[i%2]}}})
	}
	set.nodes[5].Spec.Taints = []corev1.Taint{{Key: "gpu", Effect: corev1.TaintEffectNoSchedule}}
	zoneA := &corev1.PodSpec{NodeSelector: map[string]string{"zone": "a"}}
	zoneB := &corev1.PodSpec{NodeSelector: map[string]string{"zone": "b"}}
	zoneBGPU := &corev1.PodSpec{NodeSelector: map[string]string{"zone": "b"}, Tolerations: []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpExists}}}

	for _, tc := range []struct {
		name    string
		spec    *corev1.PodSpec
		daemon  bool
		want    []string
		matched int
	}{
		{"zone a, first", zoneA, false, []string{"n0", "n2", "n4"}, 1},
		{"zone a, from the memo", zoneA, false, []string{"n0", "n2", "n4"}, 1},
		{"zone b", zoneB, false, []string{"n1", "n3"}, 2},
		{"zone b tolerating the taint", zoneBGPU, false, []string{"n1", "n3", "n5"}, 3},
		{"zone b as a daemon", zoneB, true, []string{"n1", "n3"}, 4},
		{"zone b, from the memo", zoneB, false, []string{"n1", "n3"}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := set.memo.candidates(set, tc.spec, tc.daemon)
			assert.Equal(t, tc.want, c.names)
			assert.Equal(t, 6, c.total)
			assert.Equal(t, tc.matched, set.matched, "times the nodes were matched")
			for k, pos := range c.positions {
				assert.Equal(t, c.names[k], set.nodes[pos].Name, "position %d", k)
			}
		})
	}

	t.Run("bounded", func(t *testing.T) {
		for i := range 3 * maxMemoEntries {
			set.memo.candidates(set, &corev1.PodSpec{NodeSelector: map[string]string{"zone": fmt.Sprint(i)}}, false)
		}
		assert.Len(t, set.memo.entries, maxMemoEntries)
	})
	t.Run("a key too long is not kept", func(t *testing.T) {
		huge := &corev1.PodSpec{NodeSelector: map[string]string{"zone": strings.Repeat("a", maxMemoKey)}}
		_, ok := candidatesKey(huge, false)
		require.False(t, ok)
		before := set.matched
		set.memo.candidates(set, huge, false)
		set.memo.candidates(set, huge, false)
		assert.Equal(t, before+2, set.matched)
	})
}
