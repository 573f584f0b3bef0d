package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/functions/sdk/sdktest"
)

// input is store's input as the template wft-a-simple declares it.
func input(dir string, params map[string]string) sdk.StepInput {
	in := sdktest.Input(params)
	in.Namespace, in.Workflow, in.NodeID, in.Attempt = "default", "wf-1", "wf-1.store", 1
	in.Template.Outputs.Artifacts = []v1alpha1.Artifact{{Name: "records", Path: "/tmp/records.json",
		Archive: &v1alpha1.ArchiveStrategy{None: &v1alpha1.NoneStrategy{}}}}
	return in.WithArtifacts(sdk.DirArtifacts{Dir: dir})
}

func TestHandle(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(sdk.EnvArtifacts, dir)
	out, err := Handle(context.Background(), input(dir, map[string]string{"records": `[{"a":1}]`, "summary": `{"count":1}`}))
	if err != nil {
		t.Fatal(err)
	}
	if out.Parameters["key"] != "results/default/wf-1.json" {
		t.Fatalf("key %q", out.Parameters["key"])
	}
	b, err := os.ReadFile(filepath.Join(dir, "results/default/wf-1.json"))
	if err != nil || string(b) != `{"records":[{"a":1}],"summary":{"count":1}}` {
		t.Errorf("stored %s, %v", b, err)
	}
	// The records are also the output artifact records, one JSON file at
	// the attempt's key.
	want := events.ArtifactKey("default", "wf-1", "wf-1.store", 1, "records", false)
	if out.Artifacts["records"] != want {
		t.Fatalf("artifacts %v, want records at %s", out.Artifacts, want)
	}
	if b, err := os.ReadFile(filepath.Join(dir, want)); err != nil || string(b) != `[{"a":1}]` {
		t.Errorf("artifact %s, %v", b, err)
	}
	if _, err := Handle(context.Background(), input(dir, map[string]string{"records": "nope", "summary": "{}"})); err == nil {
		t.Errorf("records that are not JSON must fail the step")
	}
}

// A batch of megabytes: the records are written whole.
func TestHandleALargeBatch(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(sdk.EnvArtifacts, dir)
	records := "[" + strings.Repeat(`{"level":"info","message":"a log line of a large batch"},`, 100000) + `{"level":"error"}]`
	out, err := Handle(context.Background(), input(dir, map[string]string{"records": records, "summary": `{"count":100001}`}))
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(filepath.Join(dir, out.Artifacts["records"])); err != nil || info.Size() != int64(len(records)) {
		t.Errorf("artifact %v, %v; want %d bytes", info, err, len(records))
	}
}
