// Command pause is the pod sandbox ("pause") process of the local test
// cluster's containerd: it holds the pod's namespaces and does nothing until
// it is asked to stop. internal/localcluster builds it statically (CGO_ENABLED=0) and
// packs it into the image named by sandbox_image.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
