// Command etcd is the etcd server used by the local control plane in bin/k8s/
// (see hack/build-controlplane.sh). It is its own module because
// k8s.io/kubernetes v1.37 pulls go.etcd.io/etcd/server/v3 v3.7 into
// hack/controlplane's build list, while envtest wants an etcd v3.6 server.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
