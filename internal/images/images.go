// Package images builds container images without a Docker engine or a
// registry, with go-containerregistry: a single layer of files on an empty
// base, written as an OCI image layout in a tar archive, which
// `ctr -n k8s.io images import`, `podman load` and `skopeo` read.
//
// It builds the local test cluster's images:
//   - Pause: the pod sandbox image, from the static Go program in ./pause.
//   - Busybox: a shell and a few tools, from Debian's statically linked
//     busybox (package busybox-static) plus applet symlinks.
//
// and the primitives (Layer, Image, WriteOCIArchive) that
// internal/imagebuild uses for seccomp-guard's own image.
package images

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
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

// Annotations of an OCI layout's index.json entry that name the image.
const (
	// AnnotationImageName is the annotation containerd's importer takes as
	// the full image name (containerd/images.AnnotationImageName).
	AnnotationImageName = "io.containerd.image.name"
	// AnnotationRefName is the OCI annotation podman and skopeo read. It
	// holds the full reference too ("host/repo:tag"): the OCI grammar allows
	// it, and a bare tag would make podman name the image localhost/<tag>.
	AnnotationRefName = "org.opencontainers.image.ref.name"
)

// Epoch is the modification time of every file and the creation time of
// every image: archives are reproducible.
var Epoch = time.Unix(0, 0).UTC()

// File is one entry of an image's only layer.
type File struct {
	Path     string // relative, e.g. "bin/busybox"
	Mode     int64  // permission bits
	Data     []byte // regular file contents
	Linkname string // set for a symlink
	Dir      bool
	UID, GID int // owner; root when zero
}

// Config is what the image runs.
type Config struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	User       string            // "uid:gid"; root when empty
	Labels     map[string]string // e.g. the org.opencontainers.image.* labels
}

// OCIArchive returns a tar archive of an OCI image layout holding one image,
// named name (a full reference such as "localhost/x/y:tag"), for linux on
// the running architecture.
func OCIArchive(name string, files []File, cfg Config) ([]byte, error) {
	platform := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	img, err := Image(files, cfg, platform)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := WriteOCIArchive(&out, name, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &platform}}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Image returns an image of one layer holding files, on an empty base, with
// OCI media types, for platform.
func Image(files []File, cfg Config, platform v1.Platform) (v1.Image, error) {
	l, err := Layer(files)
	if err != nil {
		return nil, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	base, err = mutate.ConfigFile(base, &v1.ConfigFile{
		Created:      v1.Time{Time: Epoch},
		Architecture: platform.Architecture,
		Variant:      platform.Variant,
		OS:           platform.OS,
		Config: v1.Config{
			Entrypoint: cfg.Entrypoint,
			Cmd:        cfg.Cmd,
			Env:        cfg.Env,
			User:       cfg.User,
			Labels:     cfg.Labels,
			WorkingDir: "/",
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	return mutate.Append(base, mutate.Addendum{
		Layer:     l,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: "seccomp-guard internal/images"},
	})
}

// Layer returns a gzip layer of files (parents first, each missing parent
// directory added with mode 0755), compressed once and kept in memory.
func Layer(files []File) (v1.Layer, error) {
	data, err := layerTar(files)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
}

// WriteOCIArchive writes to w a tar archive of an OCI image layout whose
// index.json lists one entry: add (an image, or an image index of several
// platforms), named name (a full reference, "host/repo:tag").
func WriteOCIArchive(w io.Writer, name string, add mutate.IndexAddendum) error {
	ann := map[string]string{AnnotationImageName: name, AnnotationRefName: name}
	for k, v := range add.Annotations {
		ann[k] = v
	}
	add.Annotations = ann
	dir, err := os.MkdirTemp("", "seccomp-guard-oci-layout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if _, err := layout.Write(dir, mutate.AppendManifests(empty.Index, add)); err != nil {
		return fmt.Errorf("writing the OCI layout of %s: %w", name, err)
	}
	return tarDir(w, dir)
}

// tarDir writes the tree at dir as a reproducible tar archive: sorted
// names, mode 0755 for directories and 0644 for files, Epoch times.
func tarDir(w io.Writer, dir string) error {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			rel += "/"
		}
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	tw := tar.NewWriter(w)
	for _, n := range names {
		h := &tar.Header{Name: n, ModTime: Epoch, Format: tar.FormatPAX}
		if n[len(n)-1] == '/' {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
		if err != nil {
			return err
		}
		h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// layerTar writes files as an uncompressed tar, parents first.
func layerTar(files []File) ([]byte, error) {
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
		h := &tar.Header{Name: n, Mode: f.Mode, Uid: f.UID, Gid: f.GID, ModTime: Epoch, Format: tar.FormatPAX}
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
