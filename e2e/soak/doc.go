// Package soak is the fault and soak suite of `make test-soak` (issue
// 16, "Faults"): on the real single-node cluster (internal/localcluster),
// the chart is installed as users install it (the image built and imported
// into the node's containerd, `helm install`, two webhook replicas behind
// the webhook Service, which the API server reaches through the Service's
// EndpointSlices), and pods are created through the API server at a steady
// rate, without retries, while a fault happens:
//
//   - one of the two webhook replicas is deleted under load;
//   - kube-apiserver is stopped and started again while the webhooks serve;
//   - the node's agent is stopped, so that its node turns unknown after
//     staleAfter;
//   - nothing happens for SOAK_DURATION (10m), while the webhooks' memory
//     and goroutines are sampled.
//
// Every case counts failed admissions: any answer to a create that is not
// the one the policy gives (admitted, defaulted, or the intended denial).
// The suite is behind the build tag soak, so that `go test ./e2e/...` in
// `make test` does not run it. It needs what e2e/install needs (root,
// containerd, runc, the control plane, bin/helm); elsewhere it skips, or
// fails under CI=true or REQUIRE_REALNODE=1. docs/testing.md and
// docs/performance.md ("Faults and soak") say more.
package soak
