package framework

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUnavailable(t *testing.T) {
	const reason = "control plane not built (missing bin/k8s/etcd): run `make controlplane`"
	for _, tc := range []struct {
		name       string
		env        map[string]string // SECCOMP_GUARD_SKIP_DIR is added when record is set
		record     bool
		wantFail   bool
		wantStderr string
		wantRecord string // the file's content; "" means no file
	}{
		{
			name:       "nothing set: skip, nothing recorded",
			wantStderr: "SKIP: e2e/webhook: " + reason + "\n",
		},
		{
			name:       "skip recorded for make test",
			record:     true,
			wantStderr: "SKIP: e2e/webhook: " + reason + "\n",
			wantRecord: "e2e/webhook: " + reason + "\n",
		},
		{
			name:       "CI=true fails",
			env:        map[string]string{"CI": "true"},
			record:     true,
			wantFail:   true,
			wantStderr: "FAIL: e2e/webhook must run (CI=true), but: " + reason + "\n",
		},
		{
			name:       "REQUIRE_REALNODE=1 fails",
			env:        map[string]string{"REQUIRE_REALNODE": "1"},
			record:     true,
			wantFail:   true,
			wantStderr: "FAIL: e2e/webhook must run (REQUIRE_REALNODE=1), but: " + reason + "\n",
		},
		{
			name:       "REQUIRE_REALNODE=true fails",
			env:        map[string]string{"REQUIRE_REALNODE": "true"},
			wantFail:   true,
			wantStderr: "FAIL: e2e/webhook must run (REQUIRE_REALNODE=true), but: " + reason + "\n",
		},
		{
			name:       "REQUIRE_REALNODE=0 skips",
			env:        map[string]string{"REQUIRE_REALNODE": "0"},
			record:     true,
			wantStderr: "SKIP: e2e/webhook: " + reason + "\n",
			wantRecord: "e2e/webhook: " + reason + "\n",
		},
		{
			name:       "a value that is not a boolean fails, naming it",
			env:        map[string]string{"REQUIRE_REALNODE": "yes"},
			wantFail:   true,
			wantStderr: "FAIL: e2e/webhook must run (REQUIRE_REALNODE=\"yes\" (not a boolean: 1, true, 0 or false)), but: " + reason + "\n",
		},
		{
			name:       "CI other than true does not fail",
			env:        map[string]string{"CI": "1"},
			wantStderr: "SKIP: e2e/webhook: " + reason + "\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range tc.env {
				env[k] = v
			}
			dir := filepath.Join(t.TempDir(), "skips")
			if tc.record {
				env[SkipDirEnv] = dir
			}
			var stderr bytes.Buffer
			fail := unavailable(func(k string) string { return env[k] }, &stderr, "e2e/webhook", reason)
			assert.Equal(t, tc.wantFail, fail)
			assert.Equal(t, tc.wantStderr, stderr.String())
			got, err := os.ReadFile(filepath.Join(dir, "e2e_webhook.skip"))
			if tc.wantRecord == "" {
				assert.True(t, os.IsNotExist(err), "want no record, got %q (%v)", got, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantRecord, string(got))
		})
	}
}

// A skip that cannot be recorded would go unnoticed by make test: it fails.
func TestUnavailableFailsWhenTheSkipCannotBeRecorded(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	var stderr bytes.Buffer
	fail := unavailable(func(k string) string { return map[string]string{SkipDirEnv: file}[k] }, &stderr, "e2e/realnode", "not running as root")
	assert.True(t, fail)
	assert.Contains(t, stderr.String(), "SKIP: e2e/realnode: not running as root\nFAIL: recording the skip of e2e/realnode in SECCOMP_GUARD_SKIP_DIR="+file+": mkdir "+file+": not a directory\n")
}

// Multi-line reasons become one line, so that the summary has one line per suite.
func TestRecordSkipOneLine(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, recordSkip(dir, "e2e/realnode", "the local cluster cannot run:\n  not root;  no nft"))
	got, err := os.ReadFile(filepath.Join(dir, "e2e_realnode.skip"))
	require.NoError(t, err)
	assert.Equal(t, "e2e/realnode: the local cluster cannot run: not root; no nft\n", string(got))
}
