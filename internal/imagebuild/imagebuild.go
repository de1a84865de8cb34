// Package imagebuild builds seccomp-guard's container image without a
// container engine: the binary cross-compiled as the Dockerfile compiles it
// (CGO_ENABLED=0, -trimpath, the version ldflags of `make build`), one layer
// on an empty base with what gcr.io/distroless/static:nonroot provides that
// the binary needs, the Dockerfile's user, entrypoint and labels, for each
// platform; one image index of all of them.
//
// `make image` (hack/image) writes it as an OCI layout archive and a
// docker-archive per platform; `make image-push` pushes the index. The e2e
// suites call Build with HostPlatform to import the image into the real
// node's containerd. A test holds the Dockerfile to the constants below.
package imagebuild

import (
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"sigs.k8s.io/yaml"

	"github.com/seccomp-guard/seccomp-guard/internal/images"
)

// What the image is and runs. The Dockerfile states the same; its test
// fails on any difference.
const (
	// ImageName is the last path element of every reference of the image.
	ImageName = "seccomp-guard"
	// DefaultRepository is the chart's default image.repository
	// (charts/seccomp-guard/values.yaml), and what `make image-push
	// REGISTRY=ghcr.io/seccomp-guard` publishes.
	DefaultRepository = "ghcr.io/seccomp-guard/" + ImageName
	// Source is the org.opencontainers.image.source label.
	Source = "https://github.com/seccomp-guard/seccomp-guard"
	// BinaryPath is the only program of the image, and its entrypoint.
	BinaryPath = "/seccomp-guard"
	// UID and GID are distroless's nonroot user, which runs the binary
	// and owns it.
	UID = 65532
	GID = 65532
	// User is the image's config User (the Dockerfile's USER).
	User = "65532:65532"
	// MainPackage is the package built into BinaryPath.
	MainPackage = "./cmd/seccomp-guard"
	// VersionPackage holds the link-time version stamp.
	VersionPackage = "github.com/seccomp-guard/seccomp-guard/internal/version"
	// ChartPath is the chart whose appVersion is the default tag.
	ChartPath = "charts/seccomp-guard"
)

// OCI annotation keys, used as image labels.
const (
	LabelSource   = "org.opencontainers.image.source"
	LabelVersion  = "org.opencontainers.image.version"
	LabelRevision = "org.opencontainers.image.revision"
)

// Entrypoint is the image's entrypoint (the Dockerfile's ENTRYPOINT).
var Entrypoint = []string{BinaryPath}

// BuildEnv is the environment `go build` runs with, besides GOOS and GOARCH.
var BuildEnv = []string{"CGO_ENABLED=0"}

// DefaultPlatforms are the platforms of `make image`.
var DefaultPlatforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

// HostPlatform is linux on the running architecture: the real node's.
func HostPlatform() v1.Platform {
	return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// LDFlags are the linker flags of every build of the binary: stripped, with
// the version stamp. `make build` passes the same (a test runs `make -n`).
func LDFlags(version, commit string) string {
	return fmt.Sprintf("-s -w -X %s.Version=%s -X %s.Commit=%s", VersionPackage, version, VersionPackage, commit)
}

// GoBuildArgs are the arguments of `go build` writing the binary to out.
func GoBuildArgs(version, commit, out string) []string {
	return []string{"build", "-trimpath", "-ldflags", LDFlags(version, commit), "-o", out, MainPackage}
}

// Labels are the image's OCI labels.
func Labels(version, commit string) map[string]string {
	return map[string]string{LabelSource: Source, LabelVersion: version, LabelRevision: commit}
}

// etc/passwd and etc/group as distroless/static:nonroot has them: the
// binary does not read them, but tools that map the uid (ps, kubectl debug)
// and programs that look the user up do.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"
)

// RootFS is the image's only layer: the binary (owned by nonroot, 0755),
// the passwd and group entries of distroless/static:nonroot, its home and a
// /tmp of mode 1777. No CA certificates: the binary talks only to the API
// server, whose CA comes with the ServiceAccount token (or the kubeconfig),
// and serves TLS itself. No time zone data: it formats times in UTC.
func RootFS(binary []byte) []images.File {
	return []images.File{
		{Path: strings.TrimPrefix(BinaryPath, "/"), Mode: 0o755, Data: binary, UID: UID, GID: GID},
		{Path: "etc/passwd", Mode: 0o644, Data: []byte(passwd)},
		{Path: "etc/group", Mode: 0o644, Data: []byte(group)},
		{Path: "home/nonroot", Dir: true, Mode: 0o700, UID: UID, GID: GID},
		{Path: "tmp", Dir: true, Mode: 0o1777},
	}
}

// Image returns the image of binary (built for platform).
func Image(binary []byte, platform v1.Platform, version, commit string) (v1.Image, error) {
	return images.Image(RootFS(binary), images.Config{
		Entrypoint: Entrypoint,
		User:       User,
		Labels:     Labels(version, commit),
	}, platform)
}

// Index returns the OCI image index of imgs, one per platform, in order.
func Index(imgs []v1.Image) (v1.ImageIndex, error) {
	adds := make([]mutate.IndexAddendum, 0, len(imgs))
	for _, img := range imgs {
		cfg, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: cfg.Platform()}})
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...), nil
}

// Options of Build. Every field has a default.
type Options struct {
	// RepoRoot is the module's directory (e2e/framework.RepoRoot). Default:
	// the working directory.
	RepoRoot string
	// OutDir receives the binaries and the archives. Default:
	// RepoRoot/bin/image.
	OutDir string
	// Repository of the image reference. Default: DefaultRepository.
	Repository string
	// Tag of the image reference. Default: the chart's appVersion, so that
	// the chart's default image is the one built.
	Tag string
	// Version and Commit stamp the binary and label the image. Default: as
	// the Makefile computes VERSION and COMMIT from git.
	Version, Commit string
	// Platforms to build. Default: DefaultPlatforms.
	Platforms []v1.Platform
	// DockerArchives also writes a docker-archive per platform.
	DockerArchives bool
	// Log receives one line per step; nil discards them.
	Log func(format string, args ...any)
}

// Result is what Build made.
type Result struct {
	// Reference is the image's full name: Repository:Tag.
	Reference string
	// Index holds one image per platform.
	Index v1.ImageIndex
	// OCIArchive is the OCI layout archive of Index, named Reference: for
	// `ctr -n k8s.io images import`, `podman load`, `skopeo copy oci-archive:`.
	OCIArchive string
	// DockerArchives maps "os/arch" to a docker-archive of that platform's
	// image, tagged Reference: for `docker load`.
	DockerArchives map[string]string
	// Version and Commit are the stamp the binaries carry.
	Version, Commit string
}

// Build cross-compiles the binary for each platform, builds the image
// index and writes it as an OCI layout archive (and docker-archives) into
// OutDir.
func Build(ctx context.Context, opts Options) (*Result, error) {
	if err := opts.complete(ctx); err != nil {
		return nil, err
	}
	ref, err := Reference(opts.Repository, opts.Tag)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, err
	}
	res := &Result{Reference: ref.String(), DockerArchives: map[string]string{}, Version: opts.Version, Commit: opts.Commit}
	imgs := make([]v1.Image, 0, len(opts.Platforms))
	for _, p := range opts.Platforms {
		bin := filepath.Join(opts.OutDir, p.OS+"-"+p.Architecture, ImageName)
		opts.Log("building %s for %s (version %s, commit %s)", MainPackage, p, opts.Version, opts.Commit)
		if err := compile(ctx, opts.RepoRoot, p, opts.Version, opts.Commit, bin); err != nil {
			return nil, err
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return nil, err
		}
		img, err := Image(data, p, opts.Version, opts.Commit)
		if err != nil {
			return nil, fmt.Errorf("building the %s image: %w", p, err)
		}
		imgs = append(imgs, img)
		if opts.DockerArchives {
			path := filepath.Join(opts.OutDir, fmt.Sprintf("%s-%s-%s-%s.docker.tar", ImageName, opts.Tag, p.OS, p.Architecture))
			err := writeFile(path, func(f *os.File) error { return tarball.Write(ref, img, f) })
			if err != nil {
				return nil, fmt.Errorf("writing the docker-archive of %s: %w", p, err)
			}
			res.DockerArchives[p.String()] = path
			opts.Log("wrote %s (docker load)", path)
		}
	}
	if res.Index, err = Index(imgs); err != nil {
		return nil, err
	}
	res.OCIArchive = filepath.Join(opts.OutDir, fmt.Sprintf("%s-%s.oci.tar", ImageName, opts.Tag))
	err = writeFile(res.OCIArchive, func(f *os.File) error {
		return images.WriteOCIArchive(f, res.Reference, mutate.IndexAddendum{Add: res.Index})
	})
	if err != nil {
		return nil, fmt.Errorf("writing the OCI archive of %s: %w", res.Reference, err)
	}
	digest, err := res.Index.Digest()
	if err != nil {
		return nil, err
	}
	opts.Log("wrote %s: %s@%s (ctr -n k8s.io images import, podman load)", res.OCIArchive, res.Reference, digest)
	return res, nil
}

// Reference is repository:tag, checked as a registry would check it.
func Reference(repository, tag string) (name.Tag, error) {
	ref, err := name.NewTag(repository+":"+tag, name.StrictValidation)
	if err != nil {
		return name.Tag{}, fmt.Errorf("image reference %q is invalid (repository %q, tag %q): %w; "+
			"a repository is lower case, e.g. ghcr.io/you/%s, and a tag is letters, digits, '.', '_' or '-'",
			repository+":"+tag, repository, tag, err, ImageName)
	}
	return ref, nil
}

// PushReference is the reference `make image-push REGISTRY=registry`
// pushes: registry/seccomp-guard:tag.
func PushReference(registry, tag string) (name.Tag, error) {
	registry = strings.TrimSuffix(registry, "/")
	if registry == "" {
		return name.Tag{}, fmt.Errorf("no registry to push to: set REGISTRY to a registry and path, " +
			"e.g. make image-push REGISTRY=ghcr.io/you (pushes ghcr.io/you/" + ImageName + ":<tag>)")
	}
	return Reference(registry+"/"+ImageName, tag)
}

// Push uploads idx as ref with the credentials of the Docker config
// (docker login, or $DOCKER_CONFIG), after opts.
func Push(ctx context.Context, idx v1.ImageIndex, ref name.Reference, opts ...remote.Option) error {
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	if err := remote.WriteIndex(ref, idx, opts...); err != nil {
		return fmt.Errorf("pushing %s: %w (log in to the registry with docker login, or check REGISTRY)", ref, err)
	}
	return nil
}

// ChartAppVersion reads the appVersion of the chart under repoRoot.
func ChartAppVersion(repoRoot string) (string, error) {
	path := filepath.Join(repoRoot, ChartPath, "Chart.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the chart's appVersion (the default image tag): %w", err)
	}
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(data, &chart); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if chart.AppVersion == "" {
		return "", fmt.Errorf("%s has no appVersion: set it, or pass a tag (IMAGE_TAG=...)", path)
	}
	return chart.AppVersion, nil
}

// complete fills in the defaults.
func (o *Options) complete(ctx context.Context) error {
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	if o.RepoRoot == "" {
		o.RepoRoot = "."
	}
	if o.OutDir == "" {
		o.OutDir = filepath.Join(o.RepoRoot, "bin", "image")
	}
	if o.Repository == "" {
		o.Repository = DefaultRepository
	}
	if o.Tag == "" {
		tag, err := ChartAppVersion(o.RepoRoot)
		if err != nil {
			return err
		}
		o.Tag = tag
	}
	if o.Version == "" {
		o.Version = git(ctx, o.RepoRoot, "dev", "describe", "--tags", "--always", "--dirty")
	}
	if o.Commit == "" {
		o.Commit = git(ctx, o.RepoRoot, "unknown", "rev-parse", "HEAD")
	}
	if len(o.Platforms) == 0 {
		o.Platforms = DefaultPlatforms
	}
	return nil
}

// git is the Makefile's $(shell git ... 2>/dev/null || echo fallback).
func git(ctx context.Context, dir, fallback string, args ...string) string {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if s := strings.TrimSpace(string(out)); err == nil && s != "" {
		return s
	}
	return fallback
}

// compile builds the binary for p into out and checks that it is a static
// executable of p's architecture.
func compile(ctx context.Context, repoRoot string, p v1.Platform, version, commit, out string) error {
	cmd := exec.CommandContext(ctx, "go", GoBuildArgs(version, commit, out)...)
	cmd.Dir = repoRoot
	cmd.Env = append(append(os.Environ(), BuildEnv...), "GOOS="+p.OS, "GOARCH="+p.Architecture)
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s for %s: %w\n%s", strings.Join(cmd.Args[1:], " "), p, err, output)
	}
	return checkBinary(out, p)
}

// elfMachines are the ELF machine of each GOARCH an image can be built for.
var elfMachines = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "arm": elf.EM_ARM,
	"ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390, "riscv64": elf.EM_RISCV,
}

// checkBinary fails unless path is a static ELF executable for p: the
// image has no libc, and a binary of another architecture would fail with
// "exec format error" only once a node runs it.
func checkBinary(path string, p v1.Platform) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not an ELF executable: %w", path, err)
	}
	defer f.Close()
	if want, ok := elfMachines[p.Architecture]; !ok || f.Machine != want {
		return fmt.Errorf("%s is an ELF %s binary, not one for %s", path, f.Machine, p)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; the image has no libc: build with CGO_ENABLED=0", path)
		}
	}
	return nil
}

// writeFile writes path through write, atomically: a failed write leaves
// no partial archive behind.
func writeFile(path string, write func(*os.File) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
