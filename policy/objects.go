package policy

import (
	"path"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podSource is the pod spec inside an object under admission, with where it
// sits (field path for messages, JSON pointer for patches).
type podSource struct {
	kind     string
	meta     *metav1.ObjectMeta // the object's own metadata
	podMeta  *metav1.ObjectMeta // the pod's (or template's) metadata
	spec     *corev1.PodSpec    // nil when the object has no template (a ReplicationController may not)
	specPath *field.Path        // e.g. spec.template.spec
	metaPath *field.Path        // e.g. spec.template.metadata
	pointer  string             // e.g. /spec/template/spec
	isPod    bool
	daemon   bool // a DaemonSet: its pods get the daemon controller's tolerations
}

// extractPodSource finds the pod spec of a supported object (the table of kinds.go).
func extractPodSource(obj runtime.Object) (podSource, bool) {
	k, ok := kindOf(obj)
	if !ok {
		return podSource{}, false
	}
	meta, podMeta, spec := k.pod(obj)
	src := podSource{kind: k.Kind, meta: meta, podMeta: podMeta, spec: spec, specPath: k.specPath, metaPath: k.metaPath, isPod: k.IsPod(), daemon: k.daemon}
	if spec != nil {
		src.pointer = k.PodSpecPointer()
	}
	return src, true
}

// containerRef is one container of any of the three lists.
type containerRef struct {
	c    *corev1.Container // ephemeral containers are converted; only SecurityContext and Name are read
	path *field.Path
}

// allContainers returns init, regular and ephemeral containers with their field paths.
func allContainers(spec *corev1.PodSpec, specPath *field.Path) []containerRef {
	out := make([]containerRef, 0, len(spec.InitContainers)+len(spec.Containers)+len(spec.EphemeralContainers))
	for i := range spec.InitContainers {
		out = append(out, containerRef{c: &spec.InitContainers[i], path: specPath.Child("initContainers").Index(i)})
	}
	for i := range spec.Containers {
		out = append(out, containerRef{c: &spec.Containers[i], path: specPath.Child("containers").Index(i)})
	}
	for i := range spec.EphemeralContainers {
		ec := &spec.EphemeralContainers[i]
		out = append(out, containerRef{
			c:    &corev1.Container{Name: ec.Name, SecurityContext: ec.SecurityContext},
			path: specPath.Child("ephemeralContainers").Index(i),
		})
	}
	return out
}

// profilePlace is one place a seccomp profile is written: the pod level or a container.
type profilePlace struct {
	container string // "" for the pod level
	profile   *corev1.SeccompProfile
	path      *field.Path // .../securityContext.seccompProfile
}

// explicitProfiles returns every place a profile is set. The pod-level
// profile counts on its own: the kubelet applies it to the pod sandbox as
// well as to every container that sets none.
func explicitProfiles(spec *corev1.PodSpec, specPath *field.Path, only func(name string) bool) []profilePlace {
	var out []profilePlace
	if spec.SecurityContext != nil && spec.SecurityContext.SeccompProfile != nil && only == nil {
		out = append(out, profilePlace{profile: spec.SecurityContext.SeccompProfile, path: specPath.Child("securityContext", "seccompProfile")})
	}
	for _, ref := range allContainers(spec, specPath) {
		if only != nil && !only(ref.c.Name) {
			continue
		}
		if sc := ref.c.SecurityContext; sc != nil && sc.SeccompProfile != nil {
			out = append(out, profilePlace{container: ref.c.Name, profile: sc.SeccompProfile, path: ref.path.Child("securityContext", "seccompProfile")})
		}
	}
	return out
}

// hasControllerOwner reports whether another object's controller manages this one.
func hasControllerOwner(meta *metav1.ObjectMeta) bool {
	return metav1.GetControllerOfNoCopy(meta) != nil
}

// PodSpecPointer returns the JSON pointer of the pod spec inside a supported
// object ("/spec", "/spec/template/spec", "/spec/jobTemplate/spec/template/spec",
// "/template/spec"), and false for an object the engine does not evaluate.
func PodSpecPointer(obj runtime.Object) (string, bool) {
	k, ok := kindOf(obj)
	if !ok {
		return "", false
	}
	return k.PodSpecPointer(), true
}

// LocalhostPlace is one Localhost profile an object sets: the field of its
// localhostProfile and the path it names.
type LocalhostPlace struct {
	Field string // e.g. spec.template.spec.containers[0].securityContext.seccompProfile.localhostProfile
	Path  string // cleaned, as the inventory lists it
}

// LocalhostProfiles lists the Localhost profiles an object of a supported
// kind sets (pod level and per container), through the same extractor as
// the rules. Nil for other objects.
func LocalhostProfiles(obj runtime.Object) []LocalhostPlace {
	k, ok := kindOf(obj)
	if !ok {
		return nil
	}
	_, spec := k.Template(obj)
	if spec == nil {
		return nil
	}
	var out []LocalhostPlace
	for _, pl := range explicitProfiles(spec, k.specPath, nil) {
		if pl.profile.Type == corev1.SeccompProfileTypeLocalhost && pl.profile.LocalhostProfile != nil && *pl.profile.LocalhostProfile != "" {
			out = append(out, LocalhostPlace{Field: pl.path.Child("localhostProfile").String(), Path: path.Clean(*pl.profile.LocalhostProfile)})
		}
	}
	return out
}
