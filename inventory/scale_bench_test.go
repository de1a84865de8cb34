package inventory

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// scaleIndex is an index over n cloud-labelled nodes in 3 zones, a tenth
// tainted NoSchedule, each with an inventory of 50 profiles and a fresh
// Lease, stripped and shared as the webhook's cache strips and shares them
// (CacheByObject; the shape of hack/scale's cluster). With distinct, every
// node's list differs in one digest, so no two nodes share a list.
func scaleIndex(n int, now time.Time, distinct bool) *Index {
	ix := NewEmptyIndex(func() time.Time { return now })
	in := newInterner(maxInterned)
	lists := newListInterner()
	for i := range n {
		name := fmt.Sprintf("ip-10-%d-%d-%d.eu-west-1.compute.internal", 100+i/65536, i/256%256, i%256)
		zone := []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}[i%3]
		itype := []string{"m6i.2xlarge", "m6i.4xlarge", "c6i.2xlarge", "r6i.2xlarge"}[i%4]
		pool := fmt.Sprintf("pool-%d", i%8)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux",
			"kubernetes.io/hostname": name, "node.kubernetes.io/instance-type": itype, "beta.kubernetes.io/instance-type": itype,
			"topology.kubernetes.io/region": "eu-west-1", "topology.kubernetes.io/zone": zone,
			"failure-domain.beta.kubernetes.io/region": "eu-west-1", "failure-domain.beta.kubernetes.io/zone": zone,
			"node-pool": pool, "eks.amazonaws.com/capacityType": "ON_DEMAND", "eks.amazonaws.com/nodegroup": pool,
		}}}
		if i%10 == 9 {
			node.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
		}
		stripNode(node, in)
		ix.setNode(node)
		inv := &v1alpha1.NodeSeccompInventory{ObjectMeta: metav1.ObjectMeta{Name: name}}
		var profiles []v1alpha1.ProfileStatus
		for p := range 50 {
			sum := sha256.Sum256(fmt.Appendf(nil, "profile %d", p))
			if distinct && p == 49 {
				sum = sha256.Sum256(fmt.Appendf(nil, "profile %d on %s", p, name))
			}
			profiles = append(profiles, v1alpha1.ProfileStatus{
				Path: fmt.Sprintf("operator/team-%02d/workload-profile-%02d.json", p%10, p), SHA256: hex.EncodeToString(sum[:]),
				Size: 4096, Valid: true, DefaultAction: "SCMP_ACT_ERRNO",
			})
		}
		inv.Status = statusOf(profiles, RuntimeContainerd)
		stripInventory(inv, in)
		inv.Status.Profiles = lists.get(inv.Status.Profiles)
		ix.setInventory(inv)
		holder := name
		ix.setLease(&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: leaseNS, Name: policy.LeaseName(name)},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, RenewTime: &metav1.MicroTime{Time: now}}}, leaseNS)
	}
	return ix
}

// BenchmarkScaleEvaluate is the decision /validate makes in hack/scale,
// without HTTP: a Localhost pod whose nodeSelector matches a third of the
// nodes (0.3 of them candidates after taints), the profile present on all
// of them or missing everywhere.
func BenchmarkScaleEvaluate(b *testing.B) {
	now := time.Now()
	ns := policy.Namespace{Name: "shop", Labels: map[string]string{policy.ModeLabel: "enforce"}}
	for _, sc := range []struct {
		n        int
		distinct bool
	}{{500, false}, {5000, false}, {5000, true}} {
		n := sc.n
		ix := scaleIndex(n, now, sc.distinct)
		lists := "shared"
		if sc.distinct {
			lists = "distinct"
		}
		for _, tc := range []struct{ name, profile string }{
			{"present", "operator/team-00/workload-profile-00.json"},
			{"missing", "operator/team-00/not-installed.json"},
		} {
			profile := tc.profile
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns.Name}, Spec: corev1.PodSpec{
				NodeSelector:    map[string]string{"topology.kubernetes.io/zone": "eu-west-1a"},
				SecurityContext: &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &profile}},
				Containers:      []corev1.Container{{Name: "web", Image: "nginx"}},
			}}
			req := policy.Request{Operation: admissionv1.Create, Namespace: ns, Object: pod}
			b.Run(fmt.Sprintf("nodes=%d/lists=%s/%s", n, lists, tc.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					policy.Evaluate(nil, ix, req)
				}
			})
		}
	}
}
