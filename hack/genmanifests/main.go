// genmanifests writes the generated parts of manifests/ (see
// internal/genmanifests); `make generate` runs it from the module root.
package main

import (
	"log"

	"github.com/zeroflow-dev/zeroflow/internal/genmanifests"
)

func main() {
	if err := genmanifests.Write("."); err != nil {
		log.Fatal(err)
	}
}
