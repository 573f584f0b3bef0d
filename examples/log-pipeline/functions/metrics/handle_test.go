package main

import (
	"context"
	"testing"

	"github.com/zeroflow-dev/zeroflow/functions/sdk/sdktest"
)

func TestHandle(t *testing.T) {
	out, err := Handle(context.Background(), sdktest.Input(map[string]string{"records": `[{"level": "error"}, {}, {"level": "info"}]`}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out.Parameters["summary"], `{"byLevel":{"error":1,"info":2},"count":3}`; got != want {
		t.Errorf("summary %s, want %s", got, want)
	}
}
