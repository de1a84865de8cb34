// Command image builds seccomp-guard's container image without a container
// engine (internal/imagebuild) and, with -push, pushes it. `make image` and
// `make image-push` run it; see `make help`.
//
//	go run ./hack/image [-repository R | -registry REG] [-tag T] [-version V -commit C] [-platforms linux/amd64,linux/arm64] [-out DIR] [-push]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/seccomp-guard/seccomp-guard/internal/imagebuild"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		opts      = imagebuild.Options{DockerArchives: true}
		registry  string
		platforms string
		push      bool
	)
	flag.StringVar(&registry, "registry", "", "Registry and path of the image: REGISTRY/"+imagebuild.ImageName+" (default repository "+imagebuild.DefaultRepository+"). Required with -push.")
	flag.StringVar(&opts.Tag, "tag", "", "Image tag (default: the chart's appVersion).")
	flag.StringVar(&opts.Version, "version", "", "Version stamped into the binary and the image label (default: git describe --tags --always --dirty).")
	flag.StringVar(&opts.Commit, "commit", "", "Commit stamped into the binary and the image label (default: git rev-parse HEAD).")
	flag.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", `Comma-separated os/arch list, or "host".`)
	flag.StringVar(&opts.OutDir, "out", "", "Output directory (default bin/image).")
	flag.BoolVar(&push, "push", false, "Push the image index to REGISTRY/"+imagebuild.ImageName+":TAG after building it.")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; see -help", flag.Args())
	}
	var err error
	if opts.Platforms, err = parsePlatforms(platforms); err != nil {
		return err
	}
	if opts.Tag == "" {
		if opts.Tag, err = imagebuild.ChartAppVersion("."); err != nil {
			return err
		}
	}
	if push {
		// Fail before compiling anything.
		if _, err := imagebuild.PushReference(registry, opts.Tag); err != nil {
			return err
		}
	}
	if registry != "" {
		opts.Repository = strings.TrimSuffix(registry, "/") + "/" + imagebuild.ImageName
	}
	opts.Log = func(format string, args ...any) { fmt.Printf(format+"\n", args...) }

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := imagebuild.Build(ctx, opts)
	if err != nil {
		return err
	}
	if !push {
		return nil
	}
	ref, err := imagebuild.PushReference(registry, opts.Tag)
	if err != nil {
		return err
	}
	if err := imagebuild.Push(ctx, res.Index, ref); err != nil {
		return err
	}
	digest, err := res.Index.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("pushed %s@%s\n", ref, digest)
	return nil
}

// parsePlatforms reads "linux/amd64,linux/arm64" or "host".
func parsePlatforms(s string) ([]v1.Platform, error) {
	var out []v1.Platform
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "host" {
			out = append(out, imagebuild.HostPlatform())
			continue
		}
		p, err := v1.ParsePlatform(f)
		if err != nil || p.OS != "linux" || p.Architecture == "" {
			return nil, fmt.Errorf("platform %q: want linux/ARCH (e.g. linux/amd64) or host", f)
		}
		out = append(out, *p)
	}
	return out, nil
}
