package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFixGolden: fix keeps comments, blank lines, key order, quoting,
// indentation and separators, keeps JSON as JSON, and changes nothing the
// second time.
func TestFixGolden(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		wantCode int
	}{
		{name: "commented.yaml", input: "testdata/fix/commented.yaml", wantCode: exitError},
		{name: "pod.json", input: "testdata/fix/pod.json", wantCode: exitOK},
		{name: "compact.json", input: "testdata/fix/compact.json", wantCode: exitOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", "fix", tc.input)
			assert.Equal(t, tc.wantCode, code)
			assertGolden(t, "fix-"+tc.name, stdout)
			assertGolden(t, "fix-"+tc.name+".stderr", stderr)

			again, err := os.ReadFile(filepath.Join("testdata", "golden", "fix-"+tc.name))
			require.NoError(t, err)
			code, stdout, stderr = runCLI(t, string(again), "fix", "-")
			assert.Equal(t, tc.wantCode, code)
			assert.Equal(t, string(again), stdout, "fix applied twice changes nothing the second time")
			assert.Contains(t, stderr, "fix (namespace mode enforce): defaulted 0 objects in 0 files")
		})
	}
}

// copyTree copies the directory src into a new temporary directory.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o640)
	})
	require.NoError(t, err)
	return dst
}

// snapshot reads every file under dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		out[p] = string(data)
		return err
	})
	require.NoError(t, err)
	return out
}

// TestFixInPlaceTwice fixes the mixed manifests in place: every admitted
// object is defaulted, check then finds nothing left to default, and a
// second fix changes no file.
func TestFixInPlaceTwice(t *testing.T) {
	dir := copyTree(t, "testdata/manifests")
	before := snapshot(t, dir)
	args := append(append([]string{"fix", "--in-place"}, cluster...), dir)

	code, stdout, stderr := runCLI(t, "", args...)
	assert.Equal(t, exitError, code, stderr)
	assert.Empty(t, stdout)
	assert.True(t, strings.HasSuffix(stderr, "fix (namespace mode enforce): defaulted 11 objects in 8 files; left 14 objects that would be denied unchanged (see above); "+
		"not checked: 4 objects of other kinds (batch/v1beta1 CronJob: 1, v1 ConfigMap: 1, v1 Service: 2)\n"+deniedMixed), stderr)
	first := snapshot(t, dir)
	assert.Equal(t, before[filepath.Join(dir, "other.yaml")], first[filepath.Join(dir, "other.yaml")], "a file without defaults is not rewritten")
	assert.NotEqual(t, before[filepath.Join(dir, "pods.yaml")], first[filepath.Join(dir, "pods.yaml")])
	info, err := os.Stat(filepath.Join(dir, "pods.yaml"))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o640), info.Mode().Perm(), "permissions are kept")

	code, _, stderr = runCLI(t, "", args...)
	assert.Equal(t, exitError, code)
	assert.Contains(t, stderr, "fix (namespace mode enforce): defaulted 0 objects in 0 files; left 14 objects that would be denied unchanged")
	assert.Equal(t, first, snapshot(t, dir), "fix applied twice changes nothing the second time")

	code, stdout, _ = runCLI(t, "", append(append([]string{"check"}, cluster...), dir)...)
	assert.Equal(t, exitError, code)
	assert.Contains(t, stdout, "checked 32 objects in 9 files (namespace mode enforce): 15 admitted, 14 denied, 3 skipped; 0 defaulted;")
}

const fixUsage = "Run 'seccomp-guard fix --help' for usage.\n"

func TestFixCommand(t *testing.T) {
	unset, err := os.ReadFile("testdata/small/unset.yaml")
	require.NoError(t, err)
	unconfined, err := os.ReadFile("testdata/small/unconfined.yaml")
	require.NoError(t, err)
	const unsetFixed = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  securityContext:\n    seccompProfile:\n      type: RuntimeDefault\n  containers:\n  - name: app\n    image: nginx:1.27\n"

	tests := []struct {
		name       string
		stdin      string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{
			name:       "one file",
			args:       []string{"fix", "testdata/small/unset.yaml"},
			wantCode:   exitOK,
			wantStdout: unsetFixed,
			wantStderr: "testdata/small/unset.yaml:5 Pod/default/web: spec.securityContext.seccompProfile: set to RuntimeDefault\n" +
				noInventoryNote + "fix (namespace mode enforce): defaulted 1 object in 1 file\n",
		},
		{
			name:       "several files are separated by ---, denied objects are unchanged",
			args:       []string{"fix", "testdata/small/unset.yaml", "testdata/small/unconfined.yaml"},
			wantCode:   exitError,
			wantStdout: unsetFixed + "---\n" + string(unconfined),
			wantStderr: "testdata/small/unset.yaml:5 Pod/default/web: spec.securityContext.seccompProfile: set to RuntimeDefault\n" + unconfinedLine +
				noInventoryNote + "fix (namespace mode enforce): defaulted 1 object in 1 file; left 1 object that would be denied unchanged (see above)\n" +
				"Error: 1 of 2 checked objects would be denied in namespace mode enforce\n",
		},
		{
			name:       "stdin with CRLF line endings and the namespace's Localhost default",
			stdin:      strings.ReplaceAll(string(unset), "\n", "\r\n"),
			args:       []string{"fix", "--namespace-default-profile", "localhost/profiles/audit.json", "-"},
			wantCode:   exitOK,
			wantStdout: strings.ReplaceAll(strings.Replace(unsetFixed, "type: RuntimeDefault\n", "type: Localhost\n      localhostProfile: profiles/audit.json\n", 1), "\n", "\r\n"),
			wantStderr: "<stdin>:5 Pod/default/web: spec.securityContext.seccompProfile: set to localhost/profiles/audit.json\n" +
				noInventoryNote + "fix (namespace mode enforce): defaulted 1 object in 1 file\n",
		},
		{
			name:       "audit mode changes nothing",
			args:       []string{"fix", "--namespace-mode", "audit", "testdata/small/unset.yaml"},
			wantCode:   exitOK,
			wantStdout: string(unset),
			wantStderr: "testdata/small/unset.yaml:5 Pod/default/web: spec.securityContext.seccompProfile: not set; would be set to RuntimeDefault in warn or enforce mode (audit mode changes nothing)\n" +
				noInventoryNote + "fix (namespace mode audit): defaulted 0 objects in 0 files\n",
		},
		{
			name:       "warn mode defaults objects with violations",
			args:       []string{"fix", "--namespace-mode", "warn", "testdata/small/unconfined.yaml"},
			wantCode:   exitOK,
			wantStdout: strings.Replace(string(unconfined), "spec:\n", "spec:\n  securityContext:\n    seccompProfile:\n      type: RuntimeDefault\n", 1),
			wantStderr: "testdata/small/unconfined.yaml:6 Pod/shop/debug: spec.securityContext.seccompProfile: set to RuntimeDefault\n" + unconfinedLine +
				noInventoryNote + "fix (namespace mode warn): defaulted 1 object in 1 file\n",
		},
		{
			name:     "a spec shared through a YAML anchor is not written",
			args:     []string{"fix", "testdata/fix/alias.yaml"},
			wantCode: exitError,
			wantStdout: func() string {
				data, err := os.ReadFile("testdata/fix/alias.yaml")
				require.NoError(t, err)
				return string(data)
			}(),
			wantStderr: "testdata/fix/alias.yaml:9 Pod/default/first: spec.securityContext.seccompProfile: not set, and fix cannot write it: the mapping it goes into is a YAML alias or anchor (line 9), so a change would apply to every place that uses it; set it to RuntimeDefault by hand\n" +
				"testdata/fix/alias.yaml:16 Pod/default/second: spec.securityContext.seccompProfile: not set, and fix cannot write it: the mapping it goes into is a YAML alias or anchor (line 16), so a change would apply to every place that uses it; set it to RuntimeDefault by hand\n" +
				noInventoryNote + "fix (namespace mode enforce): defaulted 0 objects in 0 files; could not write the default of 2 objects (see above)\n" +
				"Error: fix could not write the default profile of 2 objects; set it by hand (see above)\n",
		},
		{
			name:       "--in-place cannot write stdin",
			stdin:      string(unset),
			args:       []string{"fix", "--in-place", "-"},
			wantCode:   exitUsage,
			wantStderr: "Error: --in-place cannot write to stdin: give files or directories, or drop --in-place\n" + fixUsage,
		},
		{
			name:       "no path",
			args:       []string{"fix"},
			wantCode:   exitUsage,
			wantStderr: "Error: requires at least 1 arg(s), only received 0\n" + fixUsage,
		},
		{
			name:       "a file that does not parse stops everything",
			args:       []string{"fix", "testdata/small/unset.yaml", "testdata/bad/syntax.yaml"},
			wantCode:   exitUsage,
			wantStderr: "Error: testdata/bad/syntax.yaml:11: invalid YAML: did not find expected key (in the block mapping that starts at line 8)\n" + fixUsage,
		},
		{
			name:       "fix takes no --output",
			args:       []string{"fix", "-o", "json", "testdata/small/unset.yaml"},
			wantCode:   exitUsage,
			wantStderr: "Error: unknown shorthand flag: 'o' in -o\n" + fixUsage,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.stdin, tc.args...)
			assert.Equal(t, tc.wantCode, code, "exit code")
			assert.Equal(t, tc.wantStdout, stdout, "stdout")
			assert.Equal(t, tc.wantStderr, stderr, "stderr")
		})
	}
}

func TestFixInPlaceFile(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "pod.yaml")
	data, err := os.ReadFile("testdata/small/unset.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(name, data, 0o600))
	link := filepath.Join(dir, "link.yaml")
	require.NoError(t, os.Symlink(name, link))

	code, stdout, stderr := runCLI(t, "", "fix", "-i", link)
	assert.Equal(t, exitOK, code, stderr)
	assert.Empty(t, stdout)
	got, err := os.ReadFile(name)
	require.NoError(t, err)
	assert.Contains(t, string(got), "    seccompProfile:\n      type: RuntimeDefault\n")
	info, err := os.Lstat(link)
	require.NoError(t, err)
	assert.Equal(t, fs.ModeSymlink, info.Mode()&fs.ModeSymlink, "the link is written through, not replaced")
	info, err = os.Stat(name)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), info.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "no temporary file is left behind")
}
