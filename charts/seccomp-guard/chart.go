// Package chart embeds what the seccomp-guard binary needs of its own Helm
// chart: the CRDs, which `seccomp-guard chart-hook crds` applies on every
// `helm upgrade` (Helm installs crds/ once and never upgrades it).
// Helm ignores this file (.helmignore).
package chart

import "embed"

// CRDs holds crds/*.yaml, as `make generate` writes them.
//
//go:embed crds/*.yaml
var CRDs embed.FS
