package violations

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func owned(kind, name string) []metav1.OwnerReference {
	return []metav1.OwnerReference{{Kind: kind, Name: name, Controller: ptr.To(true)}}
}

func TestWorkloadOf(t *testing.T) {
	tests := []struct {
		name   string
		owners []metav1.OwnerReference
		labels map[string]string
		want   string
	}{
		{name: "deployment", owners: owned("ReplicaSet", "web-5d8f7c9b6"), labels: map[string]string{"pod-template-hash": "5d8f7c9b6"}, want: "Deployment/web"},
		{name: "replicaset without the hash label", owners: owned("ReplicaSet", "web-5d8f7c9b6"), want: "ReplicaSet/web-5d8f7c9b6"},
		{name: "replicaset whose name does not end in the hash", owners: owned("ReplicaSet", "web"), labels: map[string]string{"pod-template-hash": "5d8f7c9b6"}, want: "ReplicaSet/web"},
		{name: "statefulset", owners: owned("StatefulSet", "db"), want: "StatefulSet/db"},
		{name: "daemonset", owners: owned("DaemonSet", "agent"), want: "DaemonSet/agent"},
		{name: "replicationcontroller", owners: owned("ReplicationController", "old"), want: "ReplicationController/old"},
		{name: "job", owners: owned("Job", "migrate"), want: "Job/migrate"},
		{name: "cronjob's job with a label naming it", owners: owned("Job", "backup-29430720"), labels: map[string]string{"app": "backup"}, want: "CronJob/backup"},
		{name: "cronjob's job with a cronjob label", owners: owned("Job", "backup-29430720"), labels: map[string]string{"cronjob": "backup"}, want: "CronJob/backup"},
		{name: "cronjob label naming another", owners: owned("Job", "backup-29430720"), labels: map[string]string{"cronjob": "other", "app": "backup"}, want: "Job/backup-29430720"},
		{name: "job with digits and no label", owners: owned("Job", "backup-29430720"), want: "Job/backup-29430720"},
		{name: "job with a short number", owners: owned("Job", "migrate-1"), labels: map[string]string{"app": "migrate"}, want: "Job/migrate-1"},
		{name: "custom controller", owners: owned("Rollout", "canary"), want: "Rollout/canary"},
		{name: "static pod owned by its node", owners: owned("Node", "node1"), want: "Pod/etcd-node1"},
		{name: "non-controller owner", owners: []metav1.OwnerReference{{Kind: "ConfigMap", Name: "x"}}, want: "Pod/etcd-node1"},
		{name: "bare pod", want: "Pod/etcd-node1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "etcd-node1", OwnerReferences: tt.owners, Labels: tt.labels}}
			assert.Equal(t, tt.want, WorkloadOf(pod))
		})
	}
}

func TestEffectiveProfile(t *testing.T) {
	localhost := func(path string) *corev1.SeccompProfile {
		return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &path}
	}
	tests := []struct {
		name      string
		pod, ctr  *corev1.SeccompProfile
		want      string
		noCtrCtx  bool
		noPodsCtx bool
	}{
		{name: "unset", want: ""},
		{name: "no security contexts", noCtrCtx: true, noPodsCtx: true, want: ""},
		{name: "pod's", pod: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}, want: "runtime/default"},
		{name: "container's over pod's", pod: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			ctr: localhost("profiles/no-mkdir.json"), want: "localhost/profiles/no-mkdir.json"},
		{name: "unconfined", ctr: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}, want: "unconfined"},
		{name: "localhost without a path", ctr: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost}, want: "localhost/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{}
			if !tt.noPodsCtx {
				pod.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: tt.pod}
			}
			var sc *corev1.SecurityContext
			if !tt.noCtrCtx {
				sc = &corev1.SecurityContext{SeccompProfile: tt.ctr}
			}
			assert.Equal(t, tt.want, EffectiveProfile(pod, sc))
		})
	}
}

func testPod(uid, name string, ids map[string]string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, UID: types.UID(uid),
			OwnerReferences: owned("ReplicaSet", "web-abc"), Labels: map[string]string{"pod-template-hash": "abc"}},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			InitContainers:  []corev1.Container{{Name: "init"}},
			Containers: []corev1.Container{{Name: "app", SecurityContext: &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{
				Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("profiles/no-mkdir.json")}}}},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug",
				SecurityContext: &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}}}}},
		},
	}
	if id := ids["init"]; id != "" {
		pod.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init", ContainerID: "containerd://" + id}}
	}
	if id := ids["app"]; id != "" {
		s := corev1.ContainerStatus{Name: "app", ContainerID: "containerd://" + id}
		if prev := ids["app-previous"]; prev != "" {
			s.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ContainerID: "containerd://" + prev}
		}
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{s, {Name: "not-started"}}
	}
	if id := ids["debug"]; id != "" {
		pod.Status.EphemeralContainerStatuses = []corev1.ContainerStatus{{Name: "debug", ContainerID: "cri-o://" + id}}
	}
	return pod
}

func TestPodIndex(t *testing.T) {
	x := NewPodIndex()
	pod := testPod("u1", "web-abc-1", map[string]string{"init": "i1", "app": "a1", "app-previous": "a0", "debug": "d1"})
	x.Upsert(pod)
	want := func(ctr, profile string) PodContainer {
		return PodContainer{Namespace: "shop", Pod: "web-abc-1", UID: "u1", Container: ctr, Workload: "Deployment/web", Profile: profile}
	}
	tests := []struct {
		id   string
		want PodContainer
		ok   bool
	}{
		{id: "i1", want: want("init", "runtime/default"), ok: true},
		{id: "a1", want: want("app", "localhost/profiles/no-mkdir.json"), ok: true},
		{id: "containerd://a1", want: want("app", "localhost/profiles/no-mkdir.json"), ok: true},
		{id: "a0", want: want("app", "localhost/profiles/no-mkdir.json"), ok: true},
		{id: "d1", want: want("debug", "unconfined"), ok: true},
		{id: "nope"},
		{id: ""},
	}
	for _, tt := range tests {
		t.Run("lookup "+tt.id, func(t *testing.T) {
			got, ok := x.Lookup(tt.id)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
	assert.Equal(t, 4, len(x.byID))

	// The container restarts: the old IDs go, the new come.
	x.Upsert(testPod("u1", "web-abc-1", map[string]string{"app": "a2", "app-previous": "a1"}))
	_, ok := x.Lookup("i1")
	assert.False(t, ok, "the init container's ID left the status")
	_, ok = x.Lookup("a0")
	assert.False(t, ok)
	got, ok := x.Lookup("a2")
	assert.True(t, ok)
	assert.Equal(t, "app", got.Container)
	assert.Equal(t, 2, len(x.byID))

	x.Upsert(testPod("u2", "web-abc-2", map[string]string{"app": "b1"}))
	x.Delete(pod)
	assert.Equal(t, 1, len(x.byID))
	_, ok = x.Lookup("a2")
	assert.False(t, ok)
	x.Delete(pod)
	assert.Equal(t, 1, len(x.byID), "deleting twice is harmless")
}

func TestPodIndexConcurrent(t *testing.T) {
	x := NewPodIndex()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				pod := testPod(fmt.Sprintf("u%d", i), "p", map[string]string{"app": fmt.Sprintf("c%d-%d", i, j)})
				x.Upsert(pod)
				x.Lookup(fmt.Sprintf("c%d-%d", (i+1)%8, j))
				if j%3 == 0 {
					x.Delete(pod)
				}
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, len(x.byID), 8, "one container per pod, 8 pods at most")
}
