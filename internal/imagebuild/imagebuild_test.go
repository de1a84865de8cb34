package imagebuild

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seccomp-guard/seccomp-guard/internal/images"
)

// entry is one file of a layer.
type entry struct {
	typ      byte
	mode     int64
	uid, gid int
	data     string
}

// layerEntries reads the only layer of img.
func layerEntries(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 1)
	rc, err := layers[0].Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	out := map[string]entry{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		out[h.Name] = entry{typ: h.Typeflag, mode: h.Mode, uid: h.Uid, gid: h.Gid, data: string(data)}
	}
}

// checkOCIMediaTypes checks that img is an OCI image: manifest, config
// and layer.
func checkOCIMediaTypes(t *testing.T, img v1.Image) {
	t.Helper()
	m, err := img.Manifest()
	require.NoError(t, err)
	assert.Equal(t, types.OCIManifestSchema1, m.MediaType)
	assert.Equal(t, types.OCIConfigJSON, m.Config.MediaType)
	require.Len(t, m.Layers, 1)
	assert.Equal(t, types.OCILayer, m.Layers[0].MediaType)
}

// checkImage checks what every image of seccomp-guard runs and holds.
func checkImage(t *testing.T, img v1.Image, platform v1.Platform, version, commit string, binary []byte) {
	t.Helper()
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, platform.OS, cfg.OS)
	assert.Equal(t, platform.Architecture, cfg.Architecture)
	assert.Equal(t, "65532:65532", cfg.Config.User)
	assert.Equal(t, []string{"/seccomp-guard"}, cfg.Config.Entrypoint)
	assert.Empty(t, cfg.Config.Cmd)
	assert.Equal(t, map[string]string{
		"org.opencontainers.image.source":   "https://github.com/seccomp-guard/seccomp-guard",
		"org.opencontainers.image.version":  version,
		"org.opencontainers.image.revision": commit,
	}, cfg.Config.Labels)

	files := layerEntries(t, img)
	assert.Equal(t, entry{typ: tar.TypeReg, mode: 0o755, uid: 65532, gid: 65532, data: string(binary)}, files["seccomp-guard"], "the binary")
	assert.Equal(t, entry{typ: tar.TypeDir, mode: 0o1777}, files["tmp/"], "/tmp")
	assert.Equal(t, entry{typ: tar.TypeDir, mode: 0o700, uid: 65532, gid: 65532}, files["home/nonroot/"], "nonroot's home")
	assert.Contains(t, files["etc/passwd"].data, "\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")
	assert.Contains(t, files["etc/group"].data, "\nnonroot:x:65532:\n")
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	assert.ElementsMatch(t, []string{"seccomp-guard", "etc/", "etc/passwd", "etc/group", "home/", "home/nonroot/", "tmp/"}, names)
}

func TestImageAndIndex(t *testing.T) {
	amd, err := Image([]byte("amd64 binary"), v1.Platform{OS: "linux", Architecture: "amd64"}, "v1.2.3", "c0ffee")
	require.NoError(t, err)
	arm, err := Image([]byte("arm64 binary"), v1.Platform{OS: "linux", Architecture: "arm64"}, "v1.2.3", "c0ffee")
	require.NoError(t, err)
	checkOCIMediaTypes(t, amd)
	checkImage(t, amd, v1.Platform{OS: "linux", Architecture: "amd64"}, "v1.2.3", "c0ffee", []byte("amd64 binary"))
	checkImage(t, arm, v1.Platform{OS: "linux", Architecture: "arm64"}, "v1.2.3", "c0ffee", []byte("arm64 binary"))

	idx, err := Index([]v1.Image{amd, arm})
	require.NoError(t, err)
	mt, err := idx.MediaType()
	require.NoError(t, err)
	assert.Equal(t, types.OCIImageIndex, mt)
	m, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, m.Manifests, 2)
	for i, want := range []struct {
		img  v1.Image
		arch string
	}{{amd, "amd64"}, {arm, "arm64"}} {
		d, err := want.img.Digest()
		require.NoError(t, err)
		assert.Equal(t, d, m.Manifests[i].Digest)
		assert.Equal(t, types.OCIManifestSchema1, m.Manifests[i].MediaType)
		assert.Equal(t, &v1.Platform{OS: "linux", Architecture: want.arch}, m.Manifests[i].Platform)
	}

	again, err := Image([]byte("amd64 binary"), v1.Platform{OS: "linux", Architecture: "amd64"}, "v1.2.3", "c0ffee")
	require.NoError(t, err)
	d1, err := amd.Digest()
	require.NoError(t, err)
	d2, err := again.Digest()
	require.NoError(t, err)
	assert.Equal(t, d1, d2, "images are reproducible")
}

func TestReference(t *testing.T) {
	cases := []struct {
		name, registry, tag string
		want                string
		wantErr             string
	}{
		{name: "the chart's default", registry: "ghcr.io/seccomp-guard", tag: "0.1.0", want: "ghcr.io/seccomp-guard/seccomp-guard:0.1.0"},
		{name: "trailing slash", registry: "ghcr.io/you/", tag: "v2", want: "ghcr.io/you/seccomp-guard:v2"},
		{name: "registry with a port", registry: "127.0.0.1:5000", tag: "dev", want: "127.0.0.1:5000/seccomp-guard:dev"},
		{
			name: "empty registry", registry: "", tag: "0.1.0",
			wantErr: "no registry to push to: set REGISTRY to a registry and path, e.g. make image-push REGISTRY=ghcr.io/you (pushes ghcr.io/you/seccomp-guard:<tag>)",
		},
		{
			name: "upper case", registry: "ghcr.io/You", tag: "0.1.0",
			wantErr: `image reference "ghcr.io/You/seccomp-guard:0.1.0" is invalid (repository "ghcr.io/You/seccomp-guard", tag "0.1.0"): ` +
				"repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: You/seccomp-guard; " +
				"a repository is lower case, e.g. ghcr.io/you/seccomp-guard, and a tag is letters, digits, '.', '_' or '-'",
		},
		{
			name: "bad tag", registry: "ghcr.io/you", tag: "1.0+build",
			wantErr: `image reference "ghcr.io/you/seccomp-guard:1.0+build" is invalid (repository "ghcr.io/you/seccomp-guard", tag "1.0+build"): ` +
				"tag can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-.ABCDEFGHIJKLMNOPQRSTUVWXYZ`: 1.0+build; " +
				"a repository is lower case, e.g. ghcr.io/you/seccomp-guard, and a tag is letters, digits, '.', '_' or '-'",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := PushReference(tc.registry, tc.tag)
			if tc.wantErr != "" {
				assert.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, ref.String())
		})
	}
}

func TestChartAppVersion(t *testing.T) {
	got, err := ChartAppVersion(filepath.Join("..", ".."))
	require.NoError(t, err)
	chart, err := os.ReadFile(filepath.Join("..", "..", ChartPath, "Chart.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(chart), "\nappVersion: \""+got+"\"\n")
	values, err := os.ReadFile(filepath.Join("..", "..", ChartPath, "values.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(values), "\n  repository: "+DefaultRepository+"\n",
		"the chart's default image.repository is what make image builds and make image-push REGISTRY=ghcr.io/seccomp-guard pushes")

	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, ChartPath), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, ChartPath, "Chart.yaml"), []byte("apiVersion: v2\nname: x\nversion: 0.1.0\n"), 0o644))
	_, err = ChartAppVersion(root)
	assert.EqualError(t, err, filepath.Join(root, ChartPath, "Chart.yaml")+" has no appVersion: set it, or pass a tag (IMAGE_TAG=...)")
}

func TestCheckBinary(t *testing.T) {
	script := filepath.Join(t.TempDir(), "seccomp-guard")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755))
	assert.EqualError(t, checkBinary(script, HostPlatform()), script+" is not an ELF executable: EOF")

	self, err := os.Executable()
	require.NoError(t, err)
	other := v1.Platform{OS: "linux", Architecture: "arm64"}
	if runtime.GOARCH == "arm64" {
		other.Architecture = "amd64"
	}
	err = checkBinary(self, other)
	require.Error(t, err)
	assert.Regexp(t, `^`+self+` is an ELF EM_\w+ binary, not one for `+other.String()+`$`, err.Error())
}

// Push uploads the index so that a client pulling by tag gets each
// platform's image, against a registry served on loopback.
func TestPush(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(nilLogger())))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	var imgs []v1.Image
	for _, p := range DefaultPlatforms {
		img, err := Image([]byte("binary for "+p.Architecture), p, "v1.2.3", "c0ffee")
		require.NoError(t, err)
		imgs = append(imgs, img)
	}
	idx, err := Index(imgs)
	require.NoError(t, err)
	ref, err := PushReference(host+"/team", "v1.2.3")
	require.NoError(t, err)
	require.NoError(t, Push(t.Context(), idx, ref))

	pulled, err := remote.Index(ref, remote.WithContext(t.Context()))
	require.NoError(t, err)
	want, err := idx.Digest()
	require.NoError(t, err)
	got, err := pulled.Digest()
	require.NoError(t, err)
	assert.Equal(t, want, got, "the pushed index")
	for _, p := range DefaultPlatforms {
		img, err := remote.Image(ref, remote.WithContext(t.Context()), remote.WithPlatform(p))
		require.NoError(t, err)
		checkOCIMediaTypes(t, img)
		checkImage(t, img, p, "v1.2.3", "c0ffee", []byte("binary for "+p.Architecture))
	}

	srv.Close()
	err = Push(t.Context(), idx, ref)
	require.Error(t, err)
	assert.Regexp(t, `^pushing `+ref.String()+`: .*connection refused.* \(log in to the registry with docker login, or check REGISTRY\)$`, err.Error())
}

func nilLogger() *log.Logger { return log.New(io.Discard, "", 0) }

var (
	hostBuildOnce sync.Once
	hostBuildRes  *Result
	hostBuildErr  error
)

// hostBuild builds the image for this machine's platform once per test
// binary: it compiles the binary.
func hostBuild(t *testing.T) *Result {
	t.Helper()
	if testing.Short() {
		t.Skip("compiles seccomp-guard")
	}
	hostBuildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "seccomp-guard-imagebuild-test-")
		if err != nil {
			hostBuildErr = err
			return
		}
		hostBuildRes, hostBuildErr = Build(t.Context(), Options{
			RepoRoot:       filepath.Join("..", ".."),
			OutDir:         dir,
			Tag:            "imagebuild-test",
			Version:        testVersion,
			Commit:         testCommit,
			Platforms:      []v1.Platform{HostPlatform()},
			DockerArchives: true,
			Log:            func(f string, a ...any) { fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+f+"\n", a...) },
		})
	})
	require.NoError(t, hostBuildErr)
	return hostBuildRes
}

func TestMain(m *testing.M) {
	code := m.Run()
	if hostBuildRes != nil {
		_ = os.RemoveAll(filepath.Dir(hostBuildRes.OCIArchive))
	}
	os.Exit(code)
}

// Build writes an OCI layout archive whose index.json names the image
// index, a docker-archive tagged with the reference, and a binary that
// runs and carries the version stamp.
func TestBuild(t *testing.T) {
	res := hostBuild(t)
	const ref = DefaultRepository + ":imagebuild-test"
	assert.Equal(t, ref, res.Reference)
	assert.Equal(t, "seccomp-guard-imagebuild-test.oci.tar", filepath.Base(res.OCIArchive))

	// The OCI layout, unpacked, read back with go-containerregistry.
	dir := t.TempDir()
	untar(t, res.OCIArchive, dir)
	lp, err := layout.FromPath(dir)
	require.NoError(t, err)
	outer, err := lp.ImageIndex()
	require.NoError(t, err)
	om, err := outer.IndexManifest()
	require.NoError(t, err)
	require.Len(t, om.Manifests, 1)
	assert.Equal(t, types.OCIImageIndex, om.Manifests[0].MediaType)
	assert.Equal(t, map[string]string{images.AnnotationImageName: ref, images.AnnotationRefName: ref}, om.Manifests[0].Annotations)
	want, err := res.Index.Digest()
	require.NoError(t, err)
	assert.Equal(t, want, om.Manifests[0].Digest)
	idx, err := outer.ImageIndex(want)
	require.NoError(t, err)
	m, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, m.Manifests, 1)
	assert.Equal(t, HostPlatform(), *m.Manifests[0].Platform)
	// Every blob is stored under its digest (hashing is cheap; decompressing
	// the 20 MB layer again under -race is not), and the image is the one
	// Build made, whose contents checkImage reads from memory.
	blobs, err := filepath.Glob(filepath.Join(dir, "blobs", "sha256", "*"))
	require.NoError(t, err)
	assert.Len(t, blobs, 4, "blobs: image index, manifest, config, layer")
	for _, b := range blobs {
		f, err := os.Open(b)
		require.NoError(t, err)
		h, _, err := v1.SHA256(f)
		f.Close()
		require.NoError(t, err)
		assert.Equal(t, filepath.Base(b), h.Hex, "blob stored under the wrong digest")
	}
	img, err := res.Index.Image(m.Manifests[0].Digest)
	require.NoError(t, err)
	binary, err := os.ReadFile(filepath.Join(filepath.Dir(res.OCIArchive), "linux-"+runtime.GOARCH, "seccomp-guard"))
	require.NoError(t, err)
	checkOCIMediaTypes(t, img)
	checkImage(t, img, HostPlatform(), testVersion, testCommit, binary)

	// The docker-archive: docker load reads manifest.json's RepoTags, then
	// the same config and layer.
	docker := res.DockerArchives[HostPlatform().String()]
	assert.Equal(t, "seccomp-guard-imagebuild-test-linux-"+runtime.GOARCH+".docker.tar", filepath.Base(docker))
	tag, err := name.NewTag(ref)
	require.NoError(t, err)
	dimg, err := tarball.ImageFromPath(docker, &tag)
	require.NoError(t, err)
	for what, digest := range map[string]func(v1.Image) (v1.Hash, error){
		"config": func(i v1.Image) (v1.Hash, error) { return i.ConfigName() },
		"layer": func(i v1.Image) (v1.Hash, error) {
			ls, err := i.Layers()
			if err != nil {
				return v1.Hash{}, err
			}
			if len(ls) != 1 {
				return v1.Hash{}, fmt.Errorf("%d layers, want 1", len(ls))
			}
			return ls[0].Digest()
		},
	} {
		want, err := digest(img)
		require.NoError(t, err)
		got, err := digest(dimg)
		require.NoError(t, err, what)
		assert.Equal(t, want, got, "the docker-archive's %s", what)
	}
	dm, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(docker) })
	require.NoError(t, err)
	require.Len(t, dm, 1)
	assert.Equal(t, []string{ref}, dm[0].RepoTags)

	// The binary runs here and carries the stamp.
	out, err := exec.Command(filepath.Join(filepath.Dir(res.OCIArchive), "linux-"+runtime.GOARCH, "seccomp-guard"), "version").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.True(t, strings.HasPrefix(string(out), "seccomp-guard "+testVersion+" (commit "+testCommit+", "), "%s", out)
}

// untar extracts a tar archive of regular files and directories into dir.
func untar(t *testing.T, archive, dir string) {
	t.Helper()
	data, err := os.ReadFile(archive)
	require.NoError(t, err)
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		require.NoError(t, err)
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			require.NoError(t, os.MkdirAll(p, 0o755))
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, b, 0o644))
		default:
			t.Fatalf("unexpected entry %s of type %c in %s", h.Name, h.Typeflag, archive)
		}
	}
}
