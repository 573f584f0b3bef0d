package cli

import (
	"bytes"
	"os"
	"testing"
)

// TestRenderLogPipelineGolden checks `zeroflow render examples/log-pipeline`
// against the committed manifests/examples/log-pipeline/knative.yaml (which
// `make generate` writes with the same builders): a change to render shows
// up as a diff of that file.
func TestRenderLogPipelineGolden(t *testing.T) {
	var out, errOut bytes.Buffer
	root := NewRoot(&out, &errOut)
	root.SetArgs([]string{"render", "../../examples/log-pipeline"})
	if err := root.Execute(); err != nil {
		t.Fatalf("render: %v\n%s", err, errOut.String())
	}
	const golden = "../../manifests/examples/log-pipeline/knative.yaml"
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := withoutFirstLine(out.Bytes()), withoutFirstLine(want); !bytes.Equal(got, want) {
		t.Errorf("zeroflow render examples/log-pipeline differs from %s: if the change is meant, run make generate and commit the diff.\ngot:\n%s", golden, got)
	}
}

// withoutFirstLine drops the header comment, which says who generated it.
func withoutFirstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}
