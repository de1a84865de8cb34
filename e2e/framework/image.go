package framework

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/seccomp-guard/seccomp-guard/internal/imagebuild"
)

// BuildImage builds seccomp-guard's image as `make image` does, for this
// machine's platform only (the real node's), into dir, and returns its OCI
// archive and its reference. tag empty means the chart's appVersion, so
// that the chart's default image (ghcr.io/seccomp-guard/seccomp-guard:
// <appVersion>) is the one built; another tag makes a second image of the
// same binary (an upgrade to a new tag). Load it into the node with
// `cluster.Ctr(ctx, "images", "import", archive)`; the chart's
// IfNotPresent pull policy then never pulls.
func BuildImage(ctx context.Context, dir, tag string) (archive, ref string, err error) {
	root, err := RepoRoot()
	if err != nil {
		return "", "", err
	}
	res, err := imagebuild.Build(ctx, imagebuild.Options{
		RepoRoot:  root,
		OutDir:    dir,
		Tag:       tag,
		Platforms: []v1.Platform{imagebuild.HostPlatform()},
	})
	if err != nil {
		return "", "", err
	}
	return res.OCIArchive, res.Reference, nil
}
