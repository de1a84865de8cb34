package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// seedFiles are the manifests of the CLI's testdata, as fuzz seeds.
func seedFiles(f *testing.F) [][]byte {
	var out [][]byte
	root := filepath.Join("..", "..", "cmd", "seccomp-guard", "testdata")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !hasManifestExtension(p) {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out = append(out, data)
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	return out
}

// FuzzRead feeds arbitrary bytes to the manifest reader: it must never
// panic, every error must name the file (and a line within it), and every
// object must point into the file.
func FuzzRead(f *testing.F) {
	for _, data := range seedFiles(f) {
		f.Add(data)
	}
	f.Add([]byte(pod))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		lines := lineCount(data)
		if err != nil {
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if strings.Contains(me.Msg, "the YAML parser failed") {
				t.Fatalf("parser panic: %v", err)
			}
			if me.File != "fuzz.yaml" || me.Line < 0 || me.Line > lines {
				t.Fatalf("error outside the file (%d lines): %v", lines, err)
			}
			return
		}
		for _, o := range file.Objects {
			if o.Line < 1 || o.Line > lines || o.Document < 0 || o.Document >= len(file.Documents) || o.Value == nil || o.Node == nil {
				t.Fatalf("object %s %q at line %d document %d is outside the file (%d lines, %d documents)", o.Kind, o.Name, o.Line, o.Document, lines, len(file.Documents))
			}
		}
		out, err := file.Apply(nil)
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("Apply without edits changed the file: %v", err)
		}
	})
}

// FuzzApply adds a member to the spec of every object of arbitrary
// manifests: when Apply succeeds, the result must parse, hold the same
// objects, and differ from the input only by that member; when it fails,
// it must say so with an *Error.
func FuzzApply(f *testing.F) {
	for _, data := range seedFiles(f) {
		f.Add(data, "profiles/audit.json")
	}
	f.Add([]byte(pod), "yes")
	f.Add([]byte("apiVersion: v1\nkind: Pod\nspec: {a: 1}\n"), "a, b: {c}")
	f.Fuzz(func(t *testing.T, data []byte, profile string) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		value := map[string]any{"seccompProfile": map[string]any{"type": "Localhost", "localhostProfile": profile}}
		for i, o := range file.Objects {
			if i == 8 {
				break
			}
			spec, ok := o.Value["spec"].(map[string]any)
			if !ok || spec["fuzzAdded"] != nil {
				continue
			}
			out, err := file.Apply([]Add{{Document: o.Document, Path: o.Pointer + "/spec/fuzzAdded", Value: value}})
			if err != nil {
				var me *Error
				if !errors.As(err, &me) {
					t.Fatalf("error of type %T: %v", err, err)
				}
				continue
			}
			again, err := Parse("fuzz.yaml", out)
			if err != nil {
				t.Fatalf("the edited file does not parse: %v\n--- input\n%s\n--- output\n%s", err, data, out)
			}
			if len(again.Objects) != len(file.Objects) {
				t.Fatalf("the edited file holds %d objects instead of %d\n--- output\n%s", len(again.Objects), len(file.Objects), out)
			}
			for j, before := range file.Objects {
				want := canonicalJSON(t, before.Value)
				if j == i {
					want["spec"].(map[string]any)["fuzzAdded"] = canonicalJSON(t, map[string]any{"v": value})["v"]
				}
				if got := canonicalJSON(t, again.Objects[j].Value); !reflect.DeepEqual(want, got) {
					t.Fatalf("object %d changed beyond the added member:\nwant %v\ngot  %v\n--- input\n%s\n--- output\n%s", j, want, got, data, out)
				}
			}
		}
	})
}

func canonicalJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}
