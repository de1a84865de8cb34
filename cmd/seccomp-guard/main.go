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
	code := execute(signalContext(), newRootCommand(currentBuildInfo()), os.Args[1:], os.Stdout, os.Stderr)
	os.Exit(code)
}

// signalContext is the binary's one signal handler. The first SIGINT or
// SIGTERM cancels the context every subcommand runs under (the webhook
// drains its in-flight requests, the agent stops); a second one exits 1 at
// once.
func signalContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel()
		<-sigs
		os.Exit(exitError)
	}()
	return ctx
}
