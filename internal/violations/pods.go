package violations

import (
	"path"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/seccomp-guard/seccomp-guard/policy"
)

// PodContainer is what a container ID is attributed to.
type PodContainer struct {
	Namespace, Pod, Container string
	// UID is the pod's, for Events on it.
	UID types.UID
	// Workload is the pod's top-level owner as "Kind/name", with bounded
	// cardinality: see WorkloadOf.
	Workload string
	// Profile is the container's effective seccomp profile:
	// "localhost/<path>", "runtime/default", "unconfined", or "" when unset
	// (the container's securityContext over the pod's).
	Profile string
	// Recording: the pod asks to be recorded (policy.RecordAnnotation) and
	// the container runs under the logging profile (policy.RecordingProfile),
	// so its records are a recording, not violations.
	Recording bool
}

// PodIndex maps container IDs to pods, from the pods'
// status.containerStatuses, initContainerStatuses and
// ephemeralContainerStatuses[].containerID ("containerd://<id>") and
// .lastState.terminated.containerID (the instance before a restart). It holds
// only the pods it is given (the agent gives it its node's pods). Safe for
// concurrent use.
type PodIndex struct {
	mu    sync.RWMutex
	byID  map[string]PodContainer
	byPod map[types.UID][]string // the container IDs each pod added
}

// NewPodIndex returns an empty index.
func NewPodIndex() *PodIndex {
	return &PodIndex{byID: map[string]PodContainer{}, byPod: map[types.UID][]string{}}
}

// Upsert adds the pod's containers, replacing what the pod had before.
func (x *PodIndex) Upsert(pod *corev1.Pod) {
	entries := podContainers(pod)
	x.mu.Lock()
	defer x.mu.Unlock()
	x.deleteLocked(pod.UID)
	ids := make([]string, 0, len(entries))
	for id, pc := range entries {
		x.byID[id] = pc
		ids = append(ids, id)
	}
	if len(ids) > 0 {
		x.byPod[pod.UID] = ids
	}
}

// Delete removes the pod's containers.
func (x *PodIndex) Delete(pod *corev1.Pod) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.deleteLocked(pod.UID)
}

func (x *PodIndex) deleteLocked(uid types.UID) {
	for _, id := range x.byPod[uid] {
		delete(x.byID, id)
	}
	delete(x.byPod, uid)
}

// Lookup returns the pod container of a container ID (64 hex digits, or
// with its runtime's "containerd://" prefix).
func (x *PodIndex) Lookup(containerID string) (PodContainer, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	pc, ok := x.byID[trimRuntime(containerID)]
	return pc, ok
}

// trimRuntime strips "<runtime>://" from a status containerID.
func trimRuntime(id string) string {
	if _, rest, ok := strings.Cut(id, "://"); ok {
		return rest
	}
	return id
}

// podContainers lists the pod's containers by container ID.
func podContainers(pod *corev1.Pod) map[string]PodContainer {
	out := map[string]PodContainer{}
	workload := WorkloadOf(pod)
	asked := pod.Annotations[policy.RecordAnnotation] == "true"
	add := func(statuses []corev1.ContainerStatus, profileOf func(name string) string) {
		for _, s := range statuses {
			pc := PodContainer{Namespace: pod.Namespace, Pod: pod.Name, UID: pod.UID, Container: s.Name, Workload: workload, Profile: profileOf(s.Name)}
			pc.Recording = asked && IsRecordingProfile(pc.Profile)
			// The previous instance too: a container killed by its profile
			// has restarted by the time its last records are looked up.
			if t := s.LastTerminationState.Terminated; t != nil && t.ContainerID != "" {
				out[trimRuntime(t.ContainerID)] = pc
			}
			if id := trimRuntime(s.ContainerID); id != "" {
				out[id] = pc
			}
		}
	}
	specProfile := func(containers []corev1.Container) func(string) string {
		return func(name string) string {
			for i := range containers {
				if containers[i].Name == name {
					return EffectiveProfile(pod, containers[i].SecurityContext)
				}
			}
			return EffectiveProfile(pod, nil)
		}
	}
	add(pod.Status.InitContainerStatuses, specProfile(pod.Spec.InitContainers))
	add(pod.Status.ContainerStatuses, specProfile(pod.Spec.Containers))
	add(pod.Status.EphemeralContainerStatuses, func(name string) string {
		for i := range pod.Spec.EphemeralContainers {
			if pod.Spec.EphemeralContainers[i].Name == name {
				return EffectiveProfile(pod, pod.Spec.EphemeralContainers[i].SecurityContext)
			}
		}
		return EffectiveProfile(pod, nil)
	})
	return out
}

// IsRecordingProfile reports whether an EffectiveProfile string is the
// logging profile.
func IsRecordingProfile(profile string) bool {
	lp, ok := strings.CutPrefix(profile, "localhost/")
	return ok && path.Clean(lp) == policy.RecordingProfile
}

// EffectiveProfile is a container's seccomp profile: its securityContext's
// over the pod's, as "localhost/<path>", "runtime/default", "unconfined",
// or "" when neither sets one.
func EffectiveProfile(pod *corev1.Pod, sc *corev1.SecurityContext) string {
	var p *corev1.SeccompProfile
	if sc != nil && sc.SeccompProfile != nil {
		p = sc.SeccompProfile
	} else if pod.Spec.SecurityContext != nil {
		p = pod.Spec.SecurityContext.SeccompProfile
	}
	if p == nil {
		return ""
	}
	switch p.Type {
	case corev1.SeccompProfileTypeLocalhost:
		if p.LocalhostProfile == nil {
			return "localhost/"
		}
		return "localhost/" + *p.LocalhostProfile
	case corev1.SeccompProfileTypeRuntimeDefault:
		return "runtime/default"
	case corev1.SeccompProfileTypeUnconfined:
		return "unconfined"
	default:
		return strings.ToLower(string(p.Type))
	}
}

// cronJobMinDigits is the least number of digits of the suffix a CronJob
// gives its Jobs (the scheduled time in minutes since 1970: 8 digits since
// 1980).
const cronJobMinDigits = 8

// WorkloadOf is the pod's top-level owner as "Kind/name", with bounded
// cardinality:
//
//   - a ReplicaSet whose name is "<name>-<pod-template-hash label>" is
//     "Deployment/<name>";
//   - a Job whose name is "<prefix>-<8 or more digits>" (the name a CronJob
//     gives its Jobs) is "CronJob/<prefix>" when one of the pod's labels has
//     the value <prefix> (e.g. app=<prefix>) or a label named "cronjob"
//     says so; else "Job/<name>";
//   - StatefulSet, DaemonSet, ReplicationController, Job and other
//     controllers are "Kind/name" as they are;
//   - a pod without a controller, or a static pod (owned by its Node), is
//     "Pod/<name>".
func WorkloadOf(pod *corev1.Pod) string {
	for _, ref := range pod.OwnerReferences {
		if ref.Controller == nil || !*ref.Controller {
			continue
		}
		switch ref.Kind {
		case "ReplicaSet":
			if hash := pod.Labels["pod-template-hash"]; hash != "" {
				if name, ok := strings.CutSuffix(ref.Name, "-"+hash); ok && name != "" {
					return "Deployment/" + name
				}
			}
		case "Job":
			if prefix, ok := cronJobPrefix(ref.Name); ok && labelSays(pod, prefix) {
				return "CronJob/" + prefix
			}
		case "Node":
			return "Pod/" + pod.Name
		}
		return ref.Kind + "/" + ref.Name
	}
	return "Pod/" + pod.Name
}

// cronJobPrefix splits "<prefix>-<digits>".
func cronJobPrefix(job string) (string, bool) {
	i := strings.LastIndexByte(job, '-')
	if i <= 0 || len(job)-i-1 < cronJobMinDigits {
		return "", false
	}
	for _, c := range job[i+1:] {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return job[:i], true
}

func labelSays(pod *corev1.Pod, cronJob string) bool {
	if v, ok := pod.Labels["cronjob"]; ok {
		return v == cronJob
	}
	for _, v := range pod.Labels {
		if v == cronJob {
			return true
		}
	}
	return false
}
