// Command kubectl is kubectl itself, built from k8s.io/kubectl at the
// version zeroflow pins, so that `go run ./hack/kubectl` works against
// `zeroflow dev` on a machine without kubectl.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
)

func main() {
	cli.RunNoErrOutput(cmd.NewDefaultKubectlCommand())
}
