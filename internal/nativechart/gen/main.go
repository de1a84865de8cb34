// Command gen writes the native policies into charts/seccomp-guard (see
// package nativechart). Run it from the repository root:
//
//	go run ./internal/nativechart/gen
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/seccomp-guard/seccomp-guard/internal/nativechart"
)

func main() {
	files, err := nativechart.Files()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for name, b := range files {
		path := filepath.Join("charts", "seccomp-guard", name)
		if err := os.WriteFile(path, b, 0o644); err != nil { //nolint:gosec // a chart file, world-readable
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("wrote", path)
	}
}
