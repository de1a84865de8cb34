package policy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// fuzzKinds maps the fuzzer's kind byte to an empty object of that kind.
var fuzzKinds = []func() runtime.Object{
	func() runtime.Object { return &corev1.Pod{} },
	func() runtime.Object { return &appsv1.Deployment{} },
	func() runtime.Object { return &appsv1.DaemonSet{} },
	func() runtime.Object { return &batchv1.CronJob{} },
	func() runtime.Object { return &corev1.ReplicationController{} },
	func() runtime.Object { return &corev1.PodTemplate{} },
}

var fuzzModes = []string{"enforce", "warn", "audit", "disabled", "", "bogus"}

// FuzzEvaluate feeds arbitrary objects through the engine in every mode and
// checks its invariants: no panic, patches that apply and touch only the
// pod-level seccomp fields, idempotence (the patched object needs no further
// patch), and an unmodified input.
func FuzzEvaluate(f *testing.F) {
	for _, dir := range []string{"testdata/pass", "testdata/fail"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for i, file := range files {
			body, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			js, err := yaml.YAMLToJSON(body)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(js, uint8(i), uint8(i), "profiles/*")
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, kind, mode uint8, glob string) {
		obj := fuzzKinds[int(kind)%len(fuzzKinds)]()
		if err := json.Unmarshal(body, obj); err != nil {
			return
		}
		before := obj.DeepCopyObject()
		p := compile(t, nil)
		p.AllowedProfiles = []string{glob}
		ns := namespace(fuzzModes[int(mode)%len(fuzzModes)])
		ns.Annotations[DefaultProfileAnnotation] = "localhost/" + glob
		view := goldenView()

		d := Evaluate(p, view, create(obj, ns))
		if !equalObjects(before, obj) {
			t.Fatal("Evaluate modified its input")
		}
		for _, v := range d.Violations {
			if v.Reason == "" || !strings.Contains(v.Message, "("+string(v.Reason)+")") {
				t.Fatalf("violation without its reason code: %+v", v)
			}
		}
		if len(d.Patches) == 0 {
			return
		}
		for _, patch := range d.Patches {
			if patch.Op != "add" || !(strings.HasSuffix(patch.Path, "/securityContext") || strings.HasSuffix(patch.Path, "/securityContext/seccompProfile")) {
				t.Fatalf("patch touches more than the pod-level seccomp profile: %+v", patch)
			}
		}
		patchJSON, err := json.Marshal(d.Patches)
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := jsonpatch.DecodePatch(patchJSON)
		if err != nil {
			t.Fatal(err)
		}
		original, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		patched, err := decoded.Apply(original)
		if err != nil {
			t.Fatalf("patch %s does not apply to %s: %v", patchJSON, original, err)
		}
		again := fuzzKinds[int(kind)%len(fuzzKinds)]()
		if err := json.Unmarshal(patched, again); err != nil {
			t.Fatalf("patched object does not decode: %v", err)
		}
		if d2 := Evaluate(p, view, create(again, ns)); len(d2.Patches) != 0 {
			t.Fatalf("defaulting is not idempotent: second pass patched %+v", d2.Patches)
		}
	})
}

func equalObjects(a, b runtime.Object) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}
