package main

import (
	"context"
	"testing"

	"github.com/zeroflow-dev/zeroflow/functions/sdk/sdktest"
)

func TestHandle(t *testing.T) {
	in := sdktest.Input(map[string]string{"records": `[{"message": "four"}, {"level": "error"}]`})
	in.Workflow = "wf-1"
	out, err := Handle(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"level":"info","message":"four","messageBytes":4,"workflow":"wf-1"},{"level":"error","messageBytes":0,"workflow":"wf-1"}]`
	if got := out.Parameters["records"]; got != want {
		t.Errorf("records\n got %s\nwant %s", got, want)
	}
}
