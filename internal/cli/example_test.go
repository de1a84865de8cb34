package cli_test

import (
	"fmt"
	"os"
	"time"

	"github.com/seccomp-guard/seccomp-guard/internal/cli"
	"github.com/seccomp-guard/seccomp-guard/internal/manifest"
)

const podManifest = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: app
    image: nginx
`

const deploymentManifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: debug
spec:
  selector: {matchLabels: {app: debug}}
  template:
    metadata: {labels: {app: debug}}
    spec:
      securityContext:
        seccompProfile: {type: Unconfined}
      containers:
      - name: shell
        image: busybox
`

// exampleEnv is the cluster of "seccomp-guard check --namespace-mode enforce"
// without inventory files.
func exampleEnv() *cli.Env {
	opts := cli.Options{NamespaceMode: "enforce", Namespace: cli.DefaultNamespace}
	env, err := opts.Load(func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) })
	if err != nil {
		panic(err)
	}
	return env
}

// Check evaluates every object of the files as the webhook would on CREATE;
// WriteText prints what "seccomp-guard check" prints.
func ExampleCheck() {
	f, err := manifest.Parse("app.yaml", []byte(podManifest+"---\n"+deploymentManifest))
	if err != nil {
		panic(err)
	}
	r := cli.Check(exampleEnv(), []*manifest.File{f})
	if err := cli.WriteText(os.Stdout, r, false); err != nil {
		panic(err)
	}
	// Output:
	// app.yaml:5 Pod/default/web: spec.securityContext.seccompProfile: not set; the webhook sets it to RuntimeDefault (run seccomp-guard fix to write it into the file)
	// app.yaml:20 Deployment/default/debug: spec.template.spec.securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "default" (UnconfinedForbidden); remove it or use RuntimeDefault
	// note: no --inventory given: Localhost profiles were not checked against nodes; give --inventory with Node, NodeSeccompInventory and Lease manifests to check them
	// checked 2 objects in 1 file (namespace mode enforce): 1 admitted, 1 denied, 0 skipped; 1 defaulted
}

// Fix writes the default the webhook would inject into the file, next to
// the fields already there.
func ExampleFix() {
	f, err := manifest.Parse("pod.yaml", []byte(podManifest))
	if err != nil {
		panic(err)
	}
	fixed, err := cli.Fix(cli.Check(exampleEnv(), []*manifest.File{f}))
	if err != nil {
		panic(err)
	}
	fmt.Println("changed:", fixed[0].Changed)
	if err := cli.WriteStream(os.Stdout, fixed); err != nil {
		panic(err)
	}
	// Output:
	// changed: true
	// apiVersion: v1
	// kind: Pod
	// metadata:
	//   name: web
	// spec:
	//   securityContext:
	//     seccompProfile:
	//       type: RuntimeDefault
	//   containers:
	//   - name: app
	//     image: nginx
}
