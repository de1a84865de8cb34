package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/seccomp-guard/seccomp-guard/internal/manifest"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// FixedFile is one input file with the defaults applied.
type FixedFile struct {
	File *manifest.File
	// Data is the new content; equal to File.Data when nothing changed.
	Data    []byte
	Changed bool
}

// Fix applies the patches of every admitted object to its file. Denied
// objects are left unchanged, and so are objects whose default cannot be
// written without touching something else (their FixError says why). The
// new content is read back and compared with the patched objects before it
// is returned, so a file never gets anything but the intended change.
func Fix(r *Report) ([]FixedFile, error) {
	byFile := map[*manifest.File][]*Result{}
	for _, res := range r.Results {
		if res.Defaults() && len(res.Decision.Patches) > 0 {
			byFile[res.Object.File] = append(byFile[res.Object.File], res)
		}
	}
	out := make([]FixedFile, 0, len(r.Files))
	for _, f := range r.Files {
		var adds []manifest.Add
		var applied []*Result
		for _, res := range byFile[f] {
			resAdds, err := objectAdds(res)
			if err != nil {
				return nil, err
			}
			// Each object on its own first, so that one that cannot be
			// written leaves the others fixed.
			if _, err := f.Apply(resAdds); err != nil {
				res.FixError = editProblem(err)
				continue
			}
			adds = append(adds, resAdds...)
			applied = append(applied, res)
		}
		if len(adds) == 0 {
			out = append(out, FixedFile{File: f, Data: f.Data})
			continue
		}
		data, err := f.Apply(adds)
		if err != nil {
			return nil, fmt.Errorf("internal error: %w", err)
		}
		if err := verifyFix(f, data, applied); err != nil {
			return nil, err
		}
		for _, res := range applied {
			res.Fixed = true
		}
		out = append(out, FixedFile{File: f, Data: data, Changed: !bytes.Equal(data, f.Data)})
	}
	return out, nil
}

// objectAdds are the edits of one object's patches, with paths from its
// document's root.
func objectAdds(res *Result) ([]manifest.Add, error) {
	adds := make([]manifest.Add, 0, len(res.Decision.Patches))
	for _, p := range res.Decision.Patches {
		if p.Op != "add" {
			return nil, fmt.Errorf("%s: internal error: patch operation %q is not supported by fix", res.Object.Location(), p.Op)
		}
		adds = append(adds, manifest.Add{Document: res.Object.Document, Path: res.Object.Pointer + p.Path, Value: p.Value})
	}
	return adds, nil
}

// editProblem is the message of an edit error, without its file and line.
func editProblem(err error) string {
	var me *manifest.Error
	if errors.As(err, &me) {
		return me.Msg
	}
	return err.Error()
}

// verifyFix reads the new content back: it must hold the same objects, the
// patched ones with exactly their patches applied.
func verifyFix(f *manifest.File, data []byte, patched []*Result) error {
	fail := func(why string) error {
		return fmt.Errorf("%s: internal error: fix produced content that %s; the file is left unchanged, please report this with the file", f.Name, why)
	}
	g, err := manifest.Parse(f.Name, data)
	if err != nil {
		return fail("does not parse (" + err.Error() + ")")
	}
	if len(g.Objects) != len(f.Objects) {
		return fail(fmt.Sprintf("holds %d objects instead of %d", len(g.Objects), len(f.Objects)))
	}
	want := map[*manifest.Object][]policy.Patch{}
	for _, res := range patched {
		want[res.Object] = res.Decision.Patches
	}
	for i, before := range f.Objects {
		expected, err := applyPatches(before.Value, want[before])
		if err != nil {
			return fmt.Errorf("%s: internal error: the patches of %s %q do not apply to it (%w); the file is left unchanged, please report this with the file",
				f.Name, before.Kind, before.DisplayName(), err)
		}
		got, err := canonical(g.Objects[i].Value)
		if err != nil {
			return fail(err.Error())
		}
		if !reflect.DeepEqual(expected, got) {
			return fail(fmt.Sprintf("changes %s %q beyond its seccomp profile", before.Kind, before.DisplayName()))
		}
	}
	return nil
}

// canonical round-trips a generic value through JSON, numbers as
// json.Number, so that values compare as the JSON they stand for.
func canonical(v any) (map[string]any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return decodeObject(data)
}

// decodeObject decodes a JSON object, numbers as json.Number.
func decodeObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// applyPatches applies JSON patches (RFC 6902, paths escaped as RFC 6901
// says) to a canonical copy of a generic JSON object.
func applyPatches(obj map[string]any, patches []policy.Patch) (map[string]any, error) {
	if len(patches) == 0 {
		return canonical(obj)
	}
	doc, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	ops, err := json.Marshal(patches)
	if err != nil {
		return nil, err
	}
	p, err := jsonpatch.DecodePatch(ops)
	if err != nil {
		return nil, err
	}
	patched, err := p.Apply(doc)
	if err != nil {
		return nil, err
	}
	return decodeObject(patched)
}

// WriteStream writes the files to w one after the other, separated by
// "---" lines where a file does not start with one.
func WriteStream(w io.Writer, files []FixedFile) error {
	for i, f := range files {
		if i > 0 {
			prev := files[i-1].Data
			if len(prev) > 0 && prev[len(prev)-1] != '\n' {
				if _, err := io.WriteString(w, "\n"); err != nil {
					return err
				}
			}
			if !bytes.HasPrefix(f.Data, []byte("---")) {
				if _, err := io.WriteString(w, "---\n"); err != nil {
					return err
				}
			}
		}
		if _, err := w.Write(f.Data); err != nil {
			return err
		}
	}
	return nil
}

// WriteInPlace replaces each changed file, through a temporary file in the
// same directory and a rename, keeping its permissions.
func WriteInPlace(files []FixedFile) error {
	for _, f := range files {
		if !f.Changed {
			continue
		}
		if err := replaceFile(f.File.Name, f.Data); err != nil {
			return err
		}
	}
	return nil
}

func replaceFile(name string, data []byte) error {
	info, err := os.Stat(name)
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	// Write through a symbolic link to its target, as an editor would.
	target, err := filepath.EvalSymlinks(name)
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".seccomp-guard-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}
