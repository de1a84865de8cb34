package policy

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// benchView is a cluster of n nodes in 3 zones, each with 50 profiles.
func benchView(n int) NodeView {
	nodes := make([]*corev1.Node, 0, n)
	invs := make([]*v1alpha1.NodeSeccompInventory, 0, n)
	for i := range n {
		name := fmt.Sprintf("node-%04d", i)
		nodes = append(nodes, node(name, map[string]string{"zone": fmt.Sprintf("z%d", i%3), "pool": "web"}))
		ps := make([]v1alpha1.ProfileStatus, 0, 50)
		for j := range 50 {
			ps = append(ps, validProfile(fmt.Sprintf("profiles/p%02d.json", j), "aaaa"))
		}
		invs = append(invs, inventory(name, ps...))
	}
	return NewStaticNodeView(nodes, invs, nil)
}

// BenchmarkEvaluate measures one admission decision. Compare the cases with
// each other (benchstat): a pod without a Localhost profile must not pay for
// the cluster's size.
func BenchmarkEvaluate(b *testing.B) {
	p := DefaultPolicy()
	ns := namespace("enforce")
	for _, size := range []int{10, 1000} {
		view := benchView(size)
		cases := []struct {
			name string
			pod  *corev1.Pod
		}{
			{"unset", basePod()},
			{"runtimedefault", tweakPod(podProfile(runtimeDefault()))},
			{"localhost-pinned", tweakPod(all(pinned("node-0001"), podProfile(localhost("profiles/p07.json"))))},
			{"localhost-selector", tweakPod(all(selector("zone", "z1"), podProfile(localhost("profiles/p07.json"))))},
		}
		for _, tc := range cases {
			b.Run(fmt.Sprintf("nodes=%d/%s", size, tc.name), func(b *testing.B) {
				req := create(tc.pod, ns)
				b.ReportAllocs()
				for b.Loop() {
					d := Evaluate(p, view, req)
					if !d.Allowed() {
						b.Fatal(d.Messages())
					}
				}
			})
		}
	}
}
