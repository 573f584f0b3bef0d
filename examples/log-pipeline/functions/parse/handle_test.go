package main

import (
	"context"
	"testing"

	"github.com/zeroflow-dev/zeroflow/functions/sdk/sdktest"
)

func TestHandle(t *testing.T) {
	for _, c := range []struct{ payload, records, count string }{
		{`{"batch": 1, "message": "hi"}`, `[{"batch":1,"message":"hi"}]`, "1"},
		{`{"records": [{"a": 1}, {"a": 2}]}`, `[{"a":1},{"a":2}]`, "2"},
	} {
		out, err := Handle(context.Background(), sdktest.Input(map[string]string{"payload": c.payload}))
		if err != nil {
			t.Fatalf("%s: %v", c.payload, err)
		}
		if out.Parameters["records"] != c.records || out.Parameters["count"] != c.count {
			t.Errorf("%s: %v", c.payload, out.Parameters)
		}
	}
	if _, err := Handle(context.Background(), sdktest.Input(map[string]string{"payload": "not json"})); err == nil {
		t.Errorf("a payload that is not JSON must fail the step")
	}
}
