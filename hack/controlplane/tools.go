//go:build tools

// Package controlplane only exists to pin the Kubernetes release whose
// control-plane binaries hack/build-controlplane.sh builds into bin/k8s/.
// The blank imports mirror what the k8s.io/kubernetes/cmd/<component> main
// packages import, so `go mod tidy` keeps every requirement (and go.sum line)
// that `go build k8s.io/kubernetes/cmd/<component>` needs.
package controlplane

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-scheduler/app"
	_ "k8s.io/kubernetes/cmd/kubelet/app"

	// Imported by the cmd/* main packages themselves.
	_ "k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"

	// Imported by k8s.io/kubernetes/cmd/kubectl.
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	_ "k8s.io/component-base/logs"
	_ "k8s.io/kubectl/pkg/cmd"
	_ "k8s.io/kubectl/pkg/cmd/util"
)
