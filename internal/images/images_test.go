package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// untar reads a tar archive into name -> header and contents.
func untar(t *testing.T, data []byte) (map[string]*tar.Header, map[string][]byte) {
	t.Helper()
	headers, contents := map[string]*tar.Header{}, map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return headers, contents
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		headers[h.Name], contents[h.Name] = h, b
	}
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// The archive is an OCI image layout as containerd 1.6's importer reads it:
// the image name in index.json's io.containerd.image.name annotation, every
// blob under its digest, the config's diff_id the digest of the
// uncompressed layer.
func TestOCIArchive(t *testing.T) {
	archive, err := OCIArchive("localhost/x/y:v1", []File{
		{Path: "bin/tool", Mode: 0o755, Data: []byte("#!tool"), UID: 65532, GID: 65532},
		{Path: "bin/sh", Linkname: "tool", Mode: 0o777},
		{Path: "tmp", Dir: true, Mode: 0o1777},
	}, Config{Entrypoint: []string{"/bin/tool"}, Env: []string{"PATH=/bin"}, User: "65532:65532", Labels: map[string]string{"a": "b"}})
	require.NoError(t, err)
	again, err := OCIArchive("localhost/x/y:v1", []File{
		{Path: "bin/tool", Mode: 0o755, Data: []byte("#!tool"), UID: 65532, GID: 65532},
		{Path: "bin/sh", Linkname: "tool", Mode: 0o777},
		{Path: "tmp", Dir: true, Mode: 0o1777},
	}, Config{Entrypoint: []string{"/bin/tool"}, Env: []string{"PATH=/bin"}, User: "65532:65532", Labels: map[string]string{"a": "b"}})
	require.NoError(t, err)
	assert.Equal(t, archive, again, "archives are reproducible")

	_, files := untar(t, archive)
	assert.JSONEq(t, `{"imageLayoutVersion":"1.0.0"}`, string(files["oci-layout"]))
	blob := func(d string) []byte {
		t.Helper()
		b, ok := files["blobs/sha256/"+d[len("sha256:"):]]
		require.True(t, ok, "blob %s missing", d)
		require.Equal(t, d, digest(b), "blob stored under the wrong digest")
		return b
	}

	var index v1.IndexManifest
	require.NoError(t, json.Unmarshal(files["index.json"], &index))
	require.Len(t, index.Manifests, 1)
	m := index.Manifests[0]
	assert.Equal(t, types.OCIManifestSchema1, m.MediaType)
	assert.Equal(t, map[string]string{AnnotationImageName: "localhost/x/y:v1", AnnotationRefName: "localhost/x/y:v1"}, m.Annotations)
	assert.Equal(t, &v1.Platform{Architecture: runtime.GOARCH, OS: "linux"}, m.Platform)

	var manifest v1.Manifest
	require.NoError(t, json.Unmarshal(blob(m.Digest.String()), &manifest))
	require.Len(t, manifest.Layers, 1)
	assert.Equal(t, types.OCILayer, manifest.Layers[0].MediaType)
	assert.Equal(t, types.OCIConfigJSON, manifest.Config.MediaType)

	var config v1.ConfigFile
	require.NoError(t, json.Unmarshal(blob(manifest.Config.Digest.String()), &config))
	assert.Equal(t, "linux", config.OS)
	assert.Equal(t, runtime.GOARCH, config.Architecture)
	assert.Equal(t, []string{"/bin/tool"}, config.Config.Entrypoint)
	assert.Equal(t, []string{"PATH=/bin"}, config.Config.Env)
	assert.Equal(t, "65532:65532", config.Config.User)
	assert.Equal(t, map[string]string{"a": "b"}, config.Config.Labels)

	zr, err := gzip.NewReader(bytes.NewReader(blob(manifest.Layers[0].Digest.String())))
	require.NoError(t, err)
	layerTar, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Len(t, config.RootFS.DiffIDs, 1)
	assert.Equal(t, digest(layerTar), config.RootFS.DiffIDs[0].String())

	headers, contents := untar(t, layerTar)
	require.Contains(t, headers, "bin/", "parent directories are added")
	assert.Equal(t, byte(tar.TypeDir), headers["bin/"].Typeflag)
	assert.Equal(t, "#!tool", string(contents["bin/tool"]))
	assert.Equal(t, int64(0o755), headers["bin/tool"].Mode)
	assert.Equal(t, [2]int{65532, 65532}, [2]int{headers["bin/tool"].Uid, headers["bin/tool"].Gid})
	assert.Equal(t, "tool", headers["bin/sh"].Linkname)
	assert.Equal(t, int64(0o1777), headers["tmp/"].Mode)
}

func TestOCIArchiveRejectsPathsOutsideTheImage(t *testing.T) {
	for _, p := range []string{"/etc/passwd", "../x", "."} {
		_, err := OCIArchive("localhost/x:y", []File{{Path: p, Data: []byte("x")}}, Config{})
		assert.Error(t, err, p)
	}
}

// The pause program builds statically: it runs in an image without libc.
func TestPauseIsStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program")
	}
	dir := t.TempDir()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	archive, err := Pause(root, dir)
	require.NoError(t, err)
	assert.NotEmpty(t, archive)
	f, err := elf.Open(filepath.Join(dir, "pause"))
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "the pause program is dynamically linked")
	}
}

func TestBusyboxNeedsAStaticBinary(t *testing.T) {
	// This test binary is dynamically linked when the race detector (cgo)
	// is on, statically otherwise; a shell script is never an ELF file.
	script := filepath.Join(t.TempDir(), "busybox")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755))
	_, err := Busybox(script)
	assert.ErrorContains(t, err, "busybox-static")

	bin, err := FindBusybox()
	if err != nil {
		t.Skipf("no static busybox here: %v", err)
	}
	archive, err := Busybox(bin)
	require.NoError(t, err)
	assert.NotEmpty(t, archive)
}
