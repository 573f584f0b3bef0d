package cli

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestRenderLogPipelineGolden checks `zeroflow render examples/log-pipeline`
// against the committed output: a change to render shows up as a diff of
// testdata/render/log-pipeline.yaml (go test ./internal/cli/ -run Golden
// -update rewrites it).
func TestRenderLogPipelineGolden(t *testing.T) {
	var out, errOut bytes.Buffer
	root := NewRoot(&out, &errOut)
	root.SetArgs([]string{"render", "../../examples/log-pipeline"})
	if err := root.Execute(); err != nil {
		t.Fatalf("render: %v\n%s", err, errOut.String())
	}
	got := bytes.Replace(out.Bytes(), []byte("../../examples/log-pipeline"), []byte("examples/log-pipeline"), 1)
	const golden = "testdata/render/log-pipeline.yaml"
	if *update {
		if err := os.MkdirAll("testdata/render", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("zeroflow render examples/log-pipeline differs from %s; if the change is meant, run go test ./internal/cli/ -run Golden -update and commit the diff.\ngot:\n%s", golden, got)
	}
	// Rendering twice gives the same bytes.
	out.Reset()
	root = NewRoot(&out, &errOut)
	root.SetArgs([]string{"render", "../../examples/log-pipeline"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if again := bytes.Replace(out.Bytes(), []byte("../../examples/log-pipeline"), []byte("examples/log-pipeline"), 1); !bytes.Equal(again, got) {
		t.Error("render is not deterministic")
	}
}
