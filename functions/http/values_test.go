package http_test

import (
	"context"
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	zfhttp "github.com/zeroflow-dev/zeroflow/functions/http"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// An offloaded value reaches the http template through the tag the engine
// left in it (StepRun.Refs): the request carries the value, and a response
// above the offload threshold goes back by reference.
func TestOffloadedValuesInAnHTTPTemplate(t *testing.T) {
	store := sdk.DirArtifacts{Dir: t.TempDir()}
	big := `{"count": 1, "note": "` + strings.Repeat("n", 70<<10) + `"}`
	ref, err := sdk.PutValue(context.Background(), store, "default", []byte(big))
	if err != nil {
		t.Fatal(err)
	}
	var got string
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
		_, _ = w.Write(b) // echoed: a result above the threshold
	}))
	defer srv.Close()
	run := events.StepRun{Workflow: "wf", Namespace: "default", UID: "uid-1", NodeID: "main.H", Template: v1alpha1.Template{Name: "report",
		Inputs: v1alpha1.Inputs{Parameters: []v1alpha1.Parameter{{Name: "summary", ValueRef: &ref}}},
		HTTP:   &v1alpha1.HTTPTemplate{Method: "POST", URL: srv.URL, Body: `{"summary": {{inputs.parameters.summary}}}`}},
		Refs: map[string]v1alpha1.ValueRef{"inputs.parameters.summary": ref}}
	e := event.New()
	e.SetID("uid-1/main.H/0")
	e.SetType(events.TypeStepRun)
	e.SetSource("/test")
	if err := e.SetData(event.ApplicationJSON, run); err != nil {
		t.Fatal(err)
	}
	reply, err := zfhttp.New(zfhttp.Options{Artifacts: store}).Handle(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	var res events.StepResult
	if err := reply.DataAs(&res); err != nil || res.Phase != v1alpha1.NodeSucceeded {
		t.Fatalf("%+v %v", res, err)
	}
	if want := `{"summary": ` + big + `}`; got != want {
		t.Errorf("the request carried %d bytes, want %d", len(got), len(want))
	}
	if res.Outputs.Result != nil || res.Outputs.ResultRef == nil || res.Outputs.ResultRef.Size != int64(len(got)) {
		t.Errorf("result not offloaded: %+v", res.Outputs)
	}
}
