package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/minio/minio-go/v7"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/testminio"
)

func TestS3ArtifactsAgainstARealMinIO(t *testing.T) {
	addr := testminio.Start(t, "runs")
	t.Setenv("AWS_ACCESS_KEY_ID", testminio.User)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testminio.Password)
	admin := testminio.Client(t, addr)
	ctx := context.Background()
	t.Setenv(sdk.EnvArtifacts, fmt.Sprintf("s3://runs/zeroflow?endpoint=%s&insecure=true", addr))
	store, err := sdk.ArtifactsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	s3 := store.(*sdk.S3Artifacts)

	if err := s3.Put(ctx, "results/a.json", strings.NewReader(`{"ok": true}`)); err != nil {
		t.Fatal(err)
	}
	r, err := s3.Get(ctx, "results/a.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != `{"ok": true}` {
		t.Errorf("got %q", b)
	}
	// The prefix is honoured: the object is zeroflow/results/a.json.
	if _, err := admin.StatObject(ctx, "runs", "zeroflow/results/a.json", minio.StatObjectOptions{}); err != nil {
		t.Errorf("object not under the prefix: %v", err)
	}
	if _, err := s3.Get(ctx, "results/missing.json"); !errors.Is(err, sdk.ErrArtifactNotFound) || !strings.Contains(err.Error(), "results/missing.json") {
		t.Errorf("a missing key: %v", err)
	}

	// A step's log goes to the store the environment names.
	step := sdk.Step(func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		sdk.Logger(ctx).Info("stored in minio")
		return sdk.StepOutput{}, nil
	})
	ev := event.New()
	ev.SetID("uid/main/0")
	ev.SetType(events.TypeStepRun)
	ev.SetSource("/test")
	_ = ev.SetData(event.ApplicationJSON, events.StepRun{Workflow: "wf", Namespace: "default", NodeID: "main", Template: v1alpha1.Template{Name: "main"}})
	reply, err := step.Handle(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	var res events.StepResult
	if err := reply.DataAs(&res); err != nil || res.LogKey != events.StepLogKey("default", "wf", "main", 0) {
		t.Fatalf("result %+v, %v", res, err)
	}
	r, err = s3.Get(ctx, res.LogKey)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(r)
	r.Close()
	if !strings.Contains(string(b), "stored in minio") {
		t.Errorf("log %q", b)
	}
}

func TestS3ArtifactsRejectsABadURL(t *testing.T) {
	for _, u := range []string{"s3://", "s3:///prefix", "http://bucket"} {
		if _, err := sdk.NewS3Artifacts(u); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}
