package sdk_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// minioBinary finds the MinIO server `make test` installs into bin/.
func minioBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ZEROFLOW_MINIO"); p != "" {
		return p
	}
	matches, _ := filepath.Glob("../../bin/minio-*")
	if len(matches) == 0 {
		t.Skip("no MinIO server: `make test` installs it into bin/ (go install github.com/minio/minio)")
	}
	return matches[len(matches)-1]
}

// startMinIO runs a real MinIO server on loopback and returns its endpoint.
func startMinIO(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(minioBinary(t), "server", t.TempDir(), "--address", addr, "--console-address", "127.0.0.1:0", "--quiet")
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER=zeroflow", "MINIO_ROOT_PASSWORD=zeroflow-secret", "MINIO_BROWSER=off")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("MinIO not ready at %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestS3ArtifactsAgainstARealMinIO(t *testing.T) {
	addr := startMinIO(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "zeroflow")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "zeroflow-secret")
	admin, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4("zeroflow", "zeroflow-secret", "")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := admin.MakeBucket(ctx, "runs", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
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
	if _, err := s3.Get(ctx, "results/missing.json"); err == nil || !strings.Contains(err.Error(), "results/missing.json") {
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
