package genmanifests_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/zeroflow-dev/zeroflow/internal/genmanifests"
)

// TestGeneratedManifestsAreUpToDate fails when a change to render (or to
// an example) is not reflected in manifests/: run `make generate` and
// commit the diff, which is the readable record of what changed.
func TestGeneratedManifestsAreUpToDate(t *testing.T) {
	files, err := genmanifests.Files("../..")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("nothing generated")
	}
	for path, want := range files {
		got, err := os.ReadFile(filepath.Join("../..", path))
		if err != nil {
			t.Errorf("%s: %v (run make generate)", path, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run make generate and commit the diff", path)
		}
	}
	again, err := genmanifests.Files("../..")
	if err != nil {
		t.Fatal(err)
	}
	for path, b := range again {
		if !bytes.Equal(b, files[path]) {
			t.Errorf("%s: generating twice gives different bytes", path)
		}
	}
}
