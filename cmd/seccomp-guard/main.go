// Command seccomp-guard is the single binary of seccomp-guard: the admission
// webhook, the per-node inventory agent and the offline tools, as subcommands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, newRootCommand(currentBuildInfo()), os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
