package deadletter_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/functions/deadletter"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

func TestHandleStoresTheWholeEventOnce(t *testing.T) {
	store := sdk.DirArtifacts{Dir: t.TempDir()}
	h := deadletter.New(store)
	ev := event.New()
	ev.SetID("abc/../1")
	ev.SetType("dev.zeroflow.step.run")
	ev.SetSource("/zeroflow/controller")
	ev.SetExtension("knativeerrordest", "http://parse.default.svc.cluster.local/")
	ev.SetExtension("knativeerrorcode", "500")
	_ = ev.SetData(event.ApplicationJSON, map[string]string{"node": "main.parse"})
	for range 2 {
		if out, err := h.Handle(context.Background(), ev); err != nil || out != nil {
			t.Fatalf("handle: %v %v", out, err)
		}
	}
	key := deadletter.Key(ev)
	if key != "dead-letter/parse.default.svc.cluster.local/_zeroflow_controller/abc___1.json" {
		t.Errorf("key %q", key)
	}
	r, err := store.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	var back event.Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("stored event: %v\n%s", err, b)
	}
	var data map[string]string
	if err := back.DataAs(&data); err != nil || back.ID() != ev.ID() || back.Extensions()["knativeerrorcode"] != "500" || data["node"] != "main.parse" {
		t.Errorf("stored %s", b)
	}
}

func TestHandleRejectsAnInvalidEventAndReportsAStoreFailure(t *testing.T) {
	h := deadletter.New(sdk.DirArtifacts{Dir: t.TempDir()})
	bad := event.New() // no id, type or source
	if _, err := h.Handle(context.Background(), bad); err == nil {
		t.Error("invalid event accepted")
	}
	failing := deadletter.New(failStore{})
	ev := event.New()
	ev.SetID("1")
	ev.SetType("t")
	ev.SetSource("/s")
	if _, err := failing.Handle(context.Background(), ev); err == nil {
		t.Error("a store failure was swallowed: the broker must keep the event")
	}
}

type failStore struct{}

func (failStore) Put(context.Context, string, io.Reader) error { return errors.New("disk full") }
