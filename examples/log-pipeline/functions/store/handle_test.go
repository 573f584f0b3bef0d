package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/functions/sdk/sdktest"
)

func TestHandle(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(sdk.EnvArtifacts, dir)
	in := sdktest.Input(map[string]string{"records": `[{"a":1}]`, "summary": `{"count":1}`})
	in.Namespace, in.Workflow = "default", "wf-1"
	out, err := Handle(context.Background(), in)
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
	if _, err := Handle(context.Background(), sdktest.Input(map[string]string{"records": "nope", "summary": "{}"})); err == nil {
		t.Errorf("records that are not JSON must fail the step")
	}
}
