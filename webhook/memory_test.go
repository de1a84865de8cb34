package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
	"github.com/seccomp-guard/seccomp-guard/inventory"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// BenchmarkCacheMemory measures the heap the webhook keeps for a cluster of
// N nodes, each with an inventory of 50 profiles and an agent's heartbeat
// Lease: the objects its informers hold (each decoded from JSON on its own,
// as an informer decodes a list, and trimmed by inventory.CacheByObject)
// and the index built from them by the same event handlers as in the
// webhook. It reports the live heap after a GC ("heap-MiB") and its share
// per node ("heap-KiB/node"). The process's resident memory is larger: the
// Go runtime lets the heap grow to about twice the live heap between
// collections (GOGC=100), and reviews in flight add their bodies. The
// 5,000-node case takes about 15 s to load, so it runs only with
// SECCOMP_GUARD_BENCH_LARGE=1:
//
//	SECCOMP_GUARD_BENCH_LARGE=1 go test -run '^$' -bench BenchmarkCacheMemory -benchtime 1x ./webhook/
//
// docs/operations.md turns the figures into the chart's memory sizing.
func BenchmarkCacheMemory(b *testing.B) {
	for _, size := range []struct {
		nodes, profiles int
		distinct        bool
	}{{100, 50, false}, {1000, 50, false}, {5000, 50, false}, {1000, 10, false}, {1000, 200, false}, {1000, 50, true}, {5000, 50, true}} {
		nodes, profiles, distinct := size.nodes, size.profiles, size.distinct
		name := fmt.Sprintf("nodes=%d/profiles=%d", nodes, profiles)
		if distinct {
			name += "/distinct"
		}
		b.Run(name, func(b *testing.B) {
			if nodes > 1000 && os.Getenv("SECCOMP_GUARD_BENCH_LARGE") != "1" {
				b.Skip("takes about 15 s: set SECCOMP_GUARD_BENCH_LARGE=1")
			}
			var live uint64
			for b.Loop() {
				before := liveHeap()
				cluster := loadCluster(b, nodes, profiles, distinct)
				live = liveHeap() - before
				runtime.KeepAlive(cluster)
			}
			b.ReportMetric(float64(live)/(1<<20), "heap-MiB")
			b.ReportMetric(float64(live)/(1<<10)/float64(nodes), "heap-KiB/node")
		})
	}
}

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// simulatedCluster is what the webhook holds: the informers' objects and the index.
type simulatedCluster struct {
	objects []client.Object
	index   *inventory.Index
}

// loadCluster feeds nodes Nodes, NodeSeccompInventories of profiles each,
// and Leases through fake informers into a new index. The nodes have the
// same profiles, as where the Security Profiles Operator installs them;
// with distinct, each node's first profile has a digest of its own, so that
// no two inventories' lists are equal (the cache shares equal ones).
func loadCluster(b *testing.B, nodes, profiles int, distinct bool) *simulatedCluster {
	b.Helper()
	ctx := context.Background()
	const leaseNamespace = "seccomp-guard"
	informers := &informertest.FakeInformers{Scheme: scheme.Scheme}
	ix, err := inventory.NewIndex(ctx, informers, leaseNamespace)
	if err != nil {
		b.Fatal(err)
	}
	transforms := inventory.CacheByObject(leaseNamespace)
	c := &simulatedCluster{index: ix, objects: make([]client.Object, 0, 3*nodes)}
	add := func(template client.Object, fresh client.Object) {
		// Encode and decode, so that no string is shared between objects.
		data, err := json.Marshal(template)
		if err != nil {
			b.Fatal(err)
		}
		if err := json.Unmarshal(data, fresh); err != nil {
			b.Fatal(err)
		}
		for kind, by := range transforms {
			if fmt.Sprintf("%T", kind) == fmt.Sprintf("%T", fresh) {
				if _, err := by.Transform(fresh); err != nil {
					b.Fatal(err)
				}
			}
		}
		inf, err := informers.FakeInformerFor(ctx, fresh)
		if err != nil {
			b.Fatal(err)
		}
		inf.Add(fresh)
		c.objects = append(c.objects, fresh)
	}
	now := time.Now()
	for i := range nodes {
		name := fmt.Sprintf("ip-10-%d-%d-%d.eu-west-1.compute.internal", i/65536, i/256%256, i%256)
		add(memoryTestNode(name, i), &corev1.Node{})
		inv := memoryTestInventory(name, profiles, now)
		if distinct && profiles > 0 {
			sum := sha256.Sum256([]byte(name))
			inv.Status.Profiles[0].SHA256 = hex.EncodeToString(sum[:])
		}
		add(inv, &v1alpha1.NodeSeccompInventory{})
		add(memoryTestLease(leaseNamespace, name, now), &coordinationv1.Lease{})
	}
	return c
}

// memoryTestNode is a Node as a cloud provider labels it; the webhook's
// cache drops its status, annotations and managed fields.
func memoryTestNode(name string, i int) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, UID: types.UID(fmt.Sprintf("6f1c0b8e-8a47-4d0e-9c1e-%012d", i)), ResourceVersion: fmt.Sprint(100000 + i),
			CreationTimestamp: metav1.Now(),
			Labels: map[string]string{
				"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux",
				"kubernetes.io/hostname": name, "node.kubernetes.io/instance-type": "m6i.2xlarge",
				"beta.kubernetes.io/instance-type": "m6i.2xlarge", "topology.kubernetes.io/region": "eu-west-1",
				"topology.kubernetes.io/zone": fmt.Sprintf("eu-west-1%c", 'a'+i%3), "failure-domain.beta.kubernetes.io/region": "eu-west-1",
				"failure-domain.beta.kubernetes.io/zone": fmt.Sprintf("eu-west-1%c", 'a'+i%3), "node-pool": fmt.Sprintf("pool-%d", i%8),
				"eks.amazonaws.com/capacityType": "ON_DEMAND", "eks.amazonaws.com/nodegroup": fmt.Sprintf("pool-%d", i%8),
				"topology.ebs.csi.aws.com/zone": fmt.Sprintf("eu-west-1%c", 'a'+i%3), "k8s.io/cloud-provider-aws": "0123456789abcdef",
			},
			Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
		},
		Spec: corev1.NodeSpec{
			PodCIDR: fmt.Sprintf("10.%d.%d.0/24", 100+i/65536, i/256%256), PodCIDRs: []string{fmt.Sprintf("10.%d.%d.0/24", 100+i/65536, i/256%256)},
			ProviderID: fmt.Sprintf("aws:///eu-west-1a/i-0%016x", i),
		},
		Status: corev1.NodeStatus{Capacity: corev1.ResourceList{}, NodeInfo: corev1.NodeSystemInfo{KernelVersion: "6.1.0", ContainerRuntimeVersion: "containerd://2.1.0"}},
	}
}

// memoryTestInventory lists profiles Security Profiles Operator profiles,
// the same paths on every node, as an agent reports them.
func memoryTestInventory(node string, profiles int, now time.Time) *v1alpha1.NodeSeccompInventory {
	inv := &v1alpha1.NodeSeccompInventory{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "NodeSeccompInventory"},
		ObjectMeta: metav1.ObjectMeta{
			Name: node, UID: types.UID("0b4cbf6a-4c59-4a8e-8f0e-" + fmt.Sprintf("%012x", len(node))), ResourceVersion: "200000",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node, UID: "6f1c0b8e-8a47-4d0e-9c1e-000000000000"}},
		},
		Status: v1alpha1.NodeSeccompInventoryStatus{
			ProfileCount: int32(profiles), Runtime: "containerd", ObservedTime: &metav1.Time{Time: now},
		},
	}
	for p := range profiles {
		sum := sha256.Sum256(fmt.Appendf(nil, "profile %d", p))
		inv.Status.Profiles = append(inv.Status.Profiles, v1alpha1.ProfileStatus{
			Path:   fmt.Sprintf("operator/team-%02d/workload-profile-%02d.json", p%10, p),
			SHA256: hex.EncodeToString(sum[:]), Size: 4096 + int64(p), Valid: true, DefaultAction: "SCMP_ACT_ERRNO",
		})
	}
	return inv
}

func memoryTestLease(namespace, node string, now time.Time) *coordinationv1.Lease {
	holder := node
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: policy.LeaseName(node), ResourceVersion: "300000"},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity: &holder, LeaseDurationSeconds: new(int32(40)), RenewTime: &metav1.MicroTime{Time: now},
		},
	}
}
