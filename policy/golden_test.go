package policy

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// updateGolden regenerates testdata/pass and testdata/fail:
//
//	SECCOMP_GUARD_UPDATE_GOLDEN=1 go test ./policy -run TestGolden
var updateGolden = os.Getenv("SECCOMP_GUARD_UPDATE_GOLDEN") == "1"

// goldenCase is one fixture: a minimal pod changed by tweak, evaluated in an
// enforce namespace against goldenView with the default policy.
type goldenCase struct {
	name  string
	tweak func(*corev1.Pod)
	pass  bool
}

func goldenCases() []goldenCase {
	return []goldenCase{
		{name: "unset", pass: true},
		{name: "runtimedefault-pod", tweak: podProfile(runtimeDefault()), pass: true},
		{name: "runtimedefault-containers", tweak: all(containerProfile(0, runtimeDefault()), containerProfile(1, runtimeDefault())), pass: true},
		{name: "localhost-present", tweak: all(pinned("node-a"), podProfile(localhost(prof))), pass: true},
		{name: "localhost-cleaned-path", tweak: all(pinned("node-a"), podProfile(localhost("./profiles//p.json"))), pass: true},
		{name: "windows-unconfined", tweak: all(podProfile(unconfined()), func(p *corev1.Pod) { p.Spec.OS = &corev1.PodOS{Name: corev1.Windows} }), pass: true},
		{name: "legacy-annotation", tweak: func(p *corev1.Pod) { p.Annotations = map[string]string{corev1.SeccompPodAnnotationKey: "unconfined"} }, pass: true},
		{name: "unconfined-pod", tweak: podProfile(unconfined())},
		{name: "unconfined-container", tweak: containerProfile(1, unconfined())},
		{name: "unconfined-initcontainer", tweak: func(p *corev1.Pod) {
			p.Spec.InitContainers[0].SecurityContext = &corev1.SecurityContext{SeccompProfile: unconfined()}
		}},
		{name: "unconfined-ephemeralcontainer", tweak: func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: "busybox", SecurityContext: &corev1.SecurityContext{SeccompProfile: unconfined()},
			}}}
		}},
		{name: "localhost-empty", tweak: podProfile(localhost(""))},
		{name: "localhost-absolute", tweak: podProfile(localhost("/etc/p.json"))},
		{name: "localhost-dotdot", tweak: podProfile(localhost("../p.json"))},
		{name: "localhost-missing", tweak: all(pinned("node-b"), podProfile(localhost(prof)))},
		{name: "localhost-invalid", tweak: all(pinned("node-c"), podProfile(localhost(prof)))},
		{name: "localhost-allow-by-default", tweak: all(pinned("node-d"), podProfile(localhost(prof)))},
		{name: "privileged-runtimedefault", tweak: all(podProfile(runtimeDefault()), privilegedContainer(0))},
	}
}

// goldenView: node-a has a valid profile, node-b none, node-c an invalid
// one, node-d one that allows by default.
func goldenView() NodeView {
	return viewWith(map[string][]v1alpha1.ProfileStatus{
		"node-a": {validProfile(prof, "aaaa")},
		"node-b": {},
		"node-c": {{Path: prof, SHA256: "cccc", Valid: false, Reason: "invalid JSON at line 2: unexpected end of input"}},
		"node-d": {{Path: prof, SHA256: "dddd", Valid: true, DefaultAction: "SCMP_ACT_ALLOW"}},
	}, nil)
}

func TestGolden(t *testing.T) {
	want := map[string][]byte{}
	for _, gc := range goldenCases() {
		dir := "fail"
		if gc.pass {
			dir = "pass"
		}
		pod := tweakPod(gc.tweak)
		body, err := yaml.Marshal(pod)
		require.NoError(t, err)
		want[filepath.Join("testdata", dir, gc.name+".yaml")] = body
		d := Evaluate(compile(t, nil), goldenView(), create(pod, namespace("enforce")))
		want[filepath.Join("testdata", dir, gc.name+".decision.txt")] = []byte(describe(&d))
	}

	if updateGolden {
		for _, dir := range []string{"testdata/pass", "testdata/fail"} {
			require.NoError(t, os.RemoveAll(dir))
			require.NoError(t, os.MkdirAll(dir, 0o755))
		}
		for path, body := range want {
			require.NoError(t, os.WriteFile(path, body, 0o644))
		}
	}

	var files []string
	for _, dir := range []string{"testdata/pass", "testdata/fail"} {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	wantFiles := slices.Sorted(maps.Keys(want))
	slices.Sort(files)
	require.Equal(t, wantFiles, files, "fixtures on disk; regenerate with SECCOMP_GUARD_UPDATE_GOLDEN=1")

	for _, path := range files {
		if !strings.HasSuffix(path, ".yaml") {
			continue
		}
		t.Run(path, func(t *testing.T) {
			body, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, string(want[path]), string(body), "fixture is stale; regenerate with SECCOMP_GUARD_UPDATE_GOLDEN=1")

			// Evaluate the file as written, not the in-memory pod.
			pod := &corev1.Pod{}
			require.NoError(t, yaml.UnmarshalStrict(body, pod))
			d := Evaluate(compile(t, nil), goldenView(), create(pod, namespace("enforce")))
			decisionPath := strings.TrimSuffix(path, ".yaml") + ".decision.txt"
			wantDecision, err := os.ReadFile(decisionPath)
			require.NoError(t, err)
			assert.Equal(t, string(wantDecision), describe(&d))
			assert.Equal(t, strings.Contains(path, "/pass/"), d.Allowed(), "pass/ must be admitted and fail/ denied")
		})
	}
}

// describe renders a decision as the golden text.
func describe(d *Decision) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "allowed: %v\n", d.Allowed())
	if d.Skipped != "" {
		fmt.Fprintf(&b, "skipped: %s\n", d.Skipped)
	}
	for _, p := range d.Patches {
		v, _ := yaml.Marshal(p.Value)
		fmt.Fprintf(&b, "patch: %s %s %s\n", p.Op, p.Path, strings.TrimSpace(strings.ReplaceAll(string(v), "\n", " ")))
	}
	for _, v := range d.Violations {
		fmt.Fprintf(&b, "violation: %s\n", v.String())
	}
	for _, w := range d.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}

// TestNamespaceNotModified: the engine only reads a namespace's labels and
// annotations. The webhook hands it the maps its informer cache holds,
// without a copy, so a write here would change the cache for every later
// request.
func TestNamespaceNotModified(t *testing.T) {
	for _, mode := range []string{"enforce", "warn", "audit", "disabled", "bogus"} {
		for _, gc := range goldenCases() {
			for _, annotations := range []map[string]string{nil, {DefaultProfileAnnotation: "localhost/" + prof}, {DefaultProfileAnnotation: "nonsense"}} {
				ns := namespace(mode)
				ns.Labels[RecordingLabel] = RecordingEnabled
				ns.Annotations = annotations
				labels, annos := maps.Clone(ns.Labels), maps.Clone(ns.Annotations)
				pod := tweakPod(gc.tweak)
				for _, final := range []bool{false, true} {
					req := create(pod, ns)
					req.Final = final
					Evaluate(compile(t, nil), goldenView(), req)
				}
				require.Equal(t, labels, ns.Labels, "%s in %s: labels", gc.name, mode)
				require.Equal(t, annos, ns.Annotations, "%s in %s: annotations", gc.name, mode)
			}
		}
	}
}
