// Package images builds the local test cluster's container images without a
// Docker engine or a registry: each image is an OCI image layout (oci-layout,
// index.json, manifest, config and one gzip layer) written as a tar archive in
// memory, which `ctr -n k8s.io images import` loads into containerd.
//
//   - Pause: the pod sandbox image, from the static Go program in ./pause.
//   - Busybox: a shell and a few tools, from Debian's statically linked
//     busybox (package busybox-static) plus applet symlinks.
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
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"time"
)

// Image names as pods and containerd's sandbox_image refer to them. The
// localhost/ domain makes clear they come from no registry; pods use them with
// imagePullPolicy: Never.
const (
	PauseImage   = "localhost/seccomp-guard/pause:e2e"
	BusyboxImage = "localhost/seccomp-guard/busybox:e2e"
)

// BusyboxApplets are the commands the busybox image links to /bin/busybox.
var BusyboxApplets = []string{
	"sh", "cat", "grep", "sleep", "mkdir", "echo", "ls", "true", "false", "id", "env", "ps", "touch", "rm", "date",
}

// media types of the OCI image spec v1.
const (
	mediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	mediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	mediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"

	// annotationImageName is the annotation containerd's importer takes as
	// the full image name (containerd/images.AnnotationImageName).
	annotationImageName = "io.containerd.image.name"
	// annotationRefName is the OCI tag annotation.
	annotationRefName = "org.opencontainers.image.ref.name"
)

// epoch is the modification time of every file: archives are reproducible.
var epoch = time.Unix(0, 0).UTC()

// File is one entry of an image's only layer.
type File struct {
	Path     string // relative, e.g. "bin/busybox"
	Mode     int64  // permission bits
	Data     []byte // regular file contents
	Linkname string // set for a symlink
	Dir      bool
}

// Config is what the image runs.
type Config struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

type blob struct {
	digest string
	data   []byte
}

func newBlob(data []byte) blob {
	sum := sha256.Sum256(data)
	return blob{digest: "sha256:" + hex.EncodeToString(sum[:]), data: data}
}

// OCIArchive returns a tar archive of an OCI image layout holding one image,
// named name (a full reference such as "localhost/x/y:tag"), for linux on
// the running architecture.
func OCIArchive(name string, files []File, cfg Config) ([]byte, error) {
	layerTar, err := layer(files)
	if err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	zw.ModTime = epoch
	if _, err := zw.Write(layerTar); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	layerBlob := newBlob(gz.Bytes())
	diffID := newBlob(layerTar).digest

	configJSON, err := json.Marshal(map[string]any{
		"created":      epoch.Format(time.RFC3339),
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config": map[string]any{
			"Entrypoint": cfg.Entrypoint,
			"Cmd":        cfg.Cmd,
			"Env":        cfg.Env,
			"WorkingDir": "/",
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID}},
	})
	if err != nil {
		return nil, err
	}
	configBlob := newBlob(configJSON)

	manifestJSON, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaTypeManifest,
		"config":        descriptor{MediaType: mediaTypeConfig, Digest: configBlob.digest, Size: int64(len(configBlob.data))},
		"layers":        []descriptor{{MediaType: mediaTypeLayer, Digest: layerBlob.digest, Size: int64(len(layerBlob.data))}},
	})
	if err != nil {
		return nil, err
	}
	manifestBlob := newBlob(manifestJSON)

	tag := "latest"
	if i := lastColonAfterSlash(name); i >= 0 {
		tag = name[i+1:]
	}
	indexJSON, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaTypeIndex,
		"manifests": []descriptor{{
			MediaType:   mediaTypeManifest,
			Digest:      manifestBlob.digest,
			Size:        int64(len(manifestBlob.data)),
			Annotations: map[string]string{annotationImageName: name, annotationRefName: tag},
			Platform:    &platform{Architecture: runtime.GOARCH, OS: "linux"},
		}},
	})
	if err != nil {
		return nil, err
	}

	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Name: dir, Mode: 0o755, ModTime: epoch, Typeflag: tar.TypeDir, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
	}
	if err := add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return nil, err
	}
	if err := add("index.json", indexJSON); err != nil {
		return nil, err
	}
	for _, b := range []blob{manifestBlob, configBlob, layerBlob} {
		if err := add("blobs/sha256/"+b.digest[len("sha256:"):], b.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// lastColonAfterSlash finds the tag separator of a reference ("host:5000/a:b").
func lastColonAfterSlash(ref string) int {
	for i := len(ref) - 1; i >= 0; i-- {
		switch ref[i] {
		case ':':
			return i
		case '/':
			return -1
		}
	}
	return -1
}

// layer writes files as an uncompressed tar, parents first.
func layer(files []File) ([]byte, error) {
	entries := map[string]File{}
	for _, f := range files {
		p := path.Clean(f.Path)
		if path.IsAbs(p) || p == "." || p == ".." || len(p) > 2 && p[:3] == "../" {
			return nil, fmt.Errorf("layer path %q must be relative and inside the image", f.Path)
		}
		f.Path = p
		entries[p] = f
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if _, ok := entries[d]; !ok {
				entries[d] = File{Path: d, Dir: true, Mode: 0o755}
			}
		}
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		f := entries[n]
		h := &tar.Header{Name: n, Mode: f.Mode, ModTime: epoch, Format: tar.FormatPAX}
		switch {
		case f.Dir:
			h.Typeflag, h.Name = tar.TypeDir, n+"/"
		case f.Linkname != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, f.Linkname
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.Data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// baseDirs are the directories every image has, so that runc finds mount
// points and a writable /tmp.
func baseDirs() []File {
	var out []File
	for _, d := range []string{"dev", "proc", "sys", "etc", "root", "var", "run"} {
		out = append(out, File{Path: d, Dir: true, Mode: 0o755})
	}
	return append(out, File{Path: "tmp", Dir: true, Mode: 0o1777})
}

// Pause builds the pause program from repoRoot/internal/images/pause with
// CGO_ENABLED=0 into workDir and returns the image archive.
func Pause(repoRoot, workDir string) ([]byte, error) {
	bin := filepath.Join(workDir, "pause")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./internal/images/pause")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the pause program: %w\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	files := append(baseDirs(), File{Path: "pause", Mode: 0o755, Data: data})
	return OCIArchive(PauseImage, files, Config{Entrypoint: []string{"/pause"}})
}

// FindBusybox returns the path of a statically linked busybox: $PATH's, or
// Debian busybox-static's /bin/busybox.
func FindBusybox() (string, error) {
	p, err := exec.LookPath("busybox")
	if err != nil {
		p = "/bin/busybox"
	}
	if err := checkStatic(p); err != nil {
		return "", err
	}
	return p, nil
}

// checkStatic fails unless p is an ELF executable without a program
// interpreter, i.e. runs in an image that has no libc.
func checkStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("busybox (%s): %w; install Debian's busybox-static", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("busybox (%s) is dynamically linked; install Debian's busybox-static", p)
		}
	}
	return nil
}

// Busybox returns the busybox image archive, from the static busybox at
// binary with a /bin symlink for each of BusyboxApplets.
func Busybox(binary string) ([]byte, error) {
	if err := checkStatic(binary); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, errors.New("busybox binary is empty")
	}
	files := append(baseDirs(), File{Path: "bin/busybox", Mode: 0o755, Data: data})
	for _, a := range BusyboxApplets {
		files = append(files, File{Path: "bin/" + a, Mode: 0o777, Linkname: "busybox"})
	}
	return OCIArchive(BusyboxImage, files, Config{
		Cmd: []string{"sh"},
		Env: []string{"PATH=/bin"},
	})
}
