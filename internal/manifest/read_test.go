package manifest

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tree writes files (path -> content) under a new temporary directory.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

func namesOf(dir string, files []*File) []string {
	out := make([]string, 0, len(files))
	for _, f := range files {
		name := f.Name
		if rel, err := filepath.Rel(dir, f.Name); err == nil && !strings.HasPrefix(rel, "..") {
			name = filepath.ToSlash(rel)
		}
		out = append(out, name)
	}
	return out
}

func TestReadPaths(t *testing.T) {
	dir := tree(t, map[string]string{
		"b.yaml":              pod,
		"a/deploy.yml":        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
		"a/pod.json":          `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j"}}`,
		"a/UPPER.YAML":        pod,
		"a/notes.txt":         "not a manifest",
		"a/README.md":         "# not a manifest",
		".git/config.yaml":    "not: [read",
		"a/.cache/x.yaml":     "not: [read",
		"explicit.manifest":   pod,
		"empty/ignored.txt":   "",
		"nested/deep/c.yaml":  pod,
		"nested/deep/d.yaml":  "",
		"other/only-one.yaml": pod,
	})
	require.NoError(t, os.Symlink(filepath.Join(dir, "b.yaml"), filepath.Join(dir, "nested", "link.yaml")))
	require.NoError(t, os.Symlink(filepath.Join(dir, "a"), filepath.Join(dir, "nested", "linkdir.yaml")))
	in := func(names ...string) []string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = filepath.Join(dir, filepath.FromSlash(n))
		}
		return out
	}

	// Every manifest of the tree: not explicit.manifest (only a file named on
	// the command line escapes the extension filter), not the hidden
	// directories, and not the link to a directory.
	all := []string{
		"a/UPPER.YAML", "a/deploy.yml", "a/pod.json", "b.yaml",
		"nested/deep/c.yaml", "nested/deep/d.yaml", "nested/link.yaml", "other/only-one.yaml",
	}
	allBut := func(name string) []string {
		var out []string
		for _, n := range all {
			if n != name {
				out = append(out, n)
			}
		}
		return out
	}
	tests := []struct {
		name  string
		paths []string
		stdin string
		want  []string
	}{
		{name: "file", paths: in("b.yaml"), want: []string{"b.yaml"}},
		{name: "file with any extension when given by name", paths: in("explicit.manifest"), want: []string{"explicit.manifest"}},
		{name: "directory: recursive, lexical, manifest extensions only, hidden directories skipped", paths: in("."), want: all},
		{name: "a path reached twice is read once", paths: in("b.yaml", ".", "b.yaml"), want: append([]string{"b.yaml"}, allBut("b.yaml")...)},
		{name: "stdin", paths: []string{"-"}, stdin: pod, want: []string{StdinName}},
		{name: "stdin among files, in order", paths: append(in("b.yaml"), append([]string{"-"}, in("other")...)...), stdin: pod, want: []string{"b.yaml", StdinName, "other/only-one.yaml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files, err := ReadPaths(tc.paths, strings.NewReader(tc.stdin))
			require.NoError(t, err)
			assert.Equal(t, tc.want, namesOf(dir, files))
		})
	}
}

func TestReadPathsErrors(t *testing.T) {
	dir := tree(t, map[string]string{
		"empty/notes.txt": "",
		"bad.yaml":        pod + "---\nkind: [\n",
	})
	tests := []struct {
		name  string
		paths []string
		stdin io.Reader // nil: no stdin
		want  string
	}{
		{name: "missing path", paths: []string{filepath.Join(dir, "nope.yaml")}, want: filepath.Join(dir, "nope.yaml") + ": no such file or directory"},
		{name: "directory without manifests", paths: []string{filepath.Join(dir, "empty")}, want: filepath.Join(dir, "empty") + ": directory has no .yaml, .yml, .json files (hidden directories are skipped)"},
		{name: "stdin twice", paths: []string{"-", "-"}, stdin: strings.NewReader(pod), want: `"-" (stdin) is given more than once`},
		{name: "stdin not available", paths: []string{"-"}, want: `"-" (stdin) cannot be read here: give a file or directory`},
		{name: "file that does not parse", paths: []string{filepath.Join(dir, "bad.yaml")}, want: filepath.Join(dir, "bad.yaml") + ":10: invalid YAML: did not find expected node content"},
		{name: "stdin that does not parse", paths: []string{"-"}, stdin: strings.NewReader("a: [\n"), want: "<stdin>:1: invalid YAML: did not find expected node content"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadPaths(tc.paths, tc.stdin)
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

func TestReadFilePermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file")
	}
	dir := tree(t, map[string]string{"secret.yaml": pod})
	name := filepath.Join(dir, "secret.yaml")
	require.NoError(t, os.Chmod(name, 0))
	_, err := ReadFile(name)
	require.Error(t, err)
	assert.Equal(t, name+": permission denied", err.Error())
}
