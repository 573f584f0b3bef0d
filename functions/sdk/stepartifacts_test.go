package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
	"github.com/zeroflow-dev/zeroflow/internal/testminio"
)

// runStepWith runs fn as the step of run through sdk.Step with opts.
func runStepWith(t *testing.T, run events.StepRun, opts sdk.StepOptions, fn sdk.StepFunc) events.StepResult {
	t.Helper()
	if run.UID == "" {
		run.UID = "u"
	}
	return result(t, must(sdk.Step(fn, opts).Handle(context.Background(), runEvent(t, run))))
}

func readAll(t *testing.T, in sdk.StepInput, name string) (string, error) {
	t.Helper()
	rc, err := in.OpenArtifact(context.Background(), name)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

var none = &v1alpha1.ArchiveStrategy{None: &v1alpha1.NoneStrategy{}}

// A step writes output artifacts at the attempt's keys, tar+gzip unless it
// asks for none, and the next step reads them back by those keys.
func TestStepWritesAndReadsArtifacts(t *testing.T) {
	store := sdk.DirArtifacts{Dir: t.TempDir()}
	opts := sdk.StepOptions{Artifacts: store}
	write := events.StepRun{Workflow: "wf", Namespace: "default", NodeID: "wf.store", Attempt: 1, Template: v1alpha1.Template{Name: "store",
		Outputs: v1alpha1.Outputs{Artifacts: []v1alpha1.Artifact{{Name: "records", Path: "/tmp/records.json"}, {Name: "plain", Archive: none}}}}}
	r := runStepWith(t, write, opts, func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		out := sdk.StepOutput{Artifacts: map[string]string{}}
		for name, content := range map[string]string{"records": `[{"a":1}]`, "plain": "as it is"} {
			key, err := in.WriteArtifact(ctx, name, strings.NewReader(content))
			if err != nil {
				return out, err
			}
			out.Artifacts[name] = key
		}
		if _, err := in.WriteArtifact(ctx, "undeclared", strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "declares no output artifact") {
			return out, fmt.Errorf("an undeclared output: %v", err)
		}
		return out, nil
	})
	if r.Phase != v1alpha1.NodeSucceeded {
		t.Fatalf("%s %s", r.Phase, r.Message)
	}
	want := map[string]string{
		"records": events.ArtifactKey("default", "wf", "wf.store", 1, "records", true),
		"plain":   events.ArtifactKey("default", "wf", "wf.store", 1, "plain", false),
	}
	for name, key := range want {
		if r.Outputs.Artifacts[name] != key {
			t.Errorf("%s at %q, want %q", name, r.Outputs.Artifacts[name], key)
		}
	}
	if b, err := os.ReadFile(filepath.Join(store.Dir, want["plain"])); err != nil || string(b) != "as it is" {
		t.Errorf("archive none stored %q, %v", b, err)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/data.txt" || r.Header.Get("X-Token") != "t" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "from http")
	}))
	defer srv.Close()
	read := events.StepRun{Workflow: "wf", Namespace: "default", NodeID: "wf.report", Template: v1alpha1.Template{Name: "report",
		Inputs: v1alpha1.Inputs{Artifacts: []v1alpha1.Artifact{
			{Name: "records", Key: want["records"]},
			{Name: "plain", Key: want["plain"]},
			{Name: "raw", Raw: &v1alpha1.RawArtifact{Data: "inline"}},
			{Name: "web", HTTP: &v1alpha1.HTTPArtifact{URL: srv.URL + "/data.txt", Headers: []v1alpha1.HTTPArtifactHeader{{Name: "X-Token", Value: "t"}}}},
			{Name: "gone", Optional: true, HTTP: &v1alpha1.HTTPArtifact{URL: srv.URL + "/gone"}},
			{Name: "absent", Optional: true},
		}}}}
	r = runStepWith(t, read, opts, func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		for name, want := range map[string]string{"records": `[{"a":1}]`, "plain": "as it is", "raw": "inline", "web": "from http"} {
			if got, err := readAll(t, in, name); err != nil || got != want {
				return sdk.StepOutput{}, fmt.Errorf("%s: %q %v, want %q", name, got, err, want)
			}
		}
		for _, name := range []string{"gone", "absent"} {
			if _, err := in.OpenArtifact(ctx, name); !errors.Is(err, sdk.ErrArtifactNotFound) {
				return sdk.StepOutput{}, fmt.Errorf("optional %s: %v", name, err)
			}
		}
		dest := filepath.Join(t.TempDir(), "records.json")
		if ok, err := in.StageArtifact(ctx, "records", dest); !ok || err != nil {
			return sdk.StepOutput{}, fmt.Errorf("stage: %v %v", ok, err)
		}
		if ok, err := in.StageArtifact(ctx, "absent", filepath.Join(t.TempDir(), "x")); ok || err != nil {
			return sdk.StepOutput{}, fmt.Errorf("stage an absent optional: %v %v", ok, err)
		}
		return sdk.StepOutput{}, nil
	})
	if r.Phase != v1alpha1.NodeSucceeded {
		t.Fatalf("%s %s", r.Phase, r.Message)
	}
}

// A missing required input, a key of another namespace, plain http to
// another host, or a download over the limit: the step ends in Error,
// naming the artifact.
func TestStepArtifactFailures(t *testing.T) {
	store := sdk.DirArtifacts{Dir: t.TempDir()}
	other := events.ArtifactKey("other", "wf", "main", 0, "secret", false)
	if err := store.Put(context.Background(), other, strings.NewReader("theirs")); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, strings.Repeat("x", 101))
	}))
	defer srv.Close()
	for name, c := range map[string]struct {
		art  v1alpha1.Artifact
		want string
	}{
		"missing":                 {v1alpha1.Artifact{Name: "in", Key: "artifacts/default/wf/a/0/in.tgz"}, "input artifact in: get artifact artifacts/default/wf/a/0/in.tgz: artifact not found"},
		"no location":             {v1alpha1.Artifact{Name: "in"}, "input artifact in: no location"},
		"another namespace's key": {v1alpha1.Artifact{Name: "in", Key: other}, "is not namespace default's"},
		"a .. key":                {v1alpha1.Artifact{Name: "in", Key: "artifacts/default/../other/wf/main/0/secret"}, "not a key of the artifact store"},
		"plain http elsewhere":    {v1alpha1.Artifact{Name: "in", HTTP: &v1alpha1.HTTPArtifact{URL: "http://example.com/x"}}, "plain http is allowed only to a loopback"},
		"over the limit":          {v1alpha1.Artifact{Name: "in", HTTP: &v1alpha1.HTTPArtifact{URL: srv.URL}}, "larger than the limit of 100"},
	} {
		t.Run(name, func(t *testing.T) {
			run := events.StepRun{Workflow: "wf", Namespace: "default", NodeID: "main", Template: v1alpha1.Template{Name: "t",
				Inputs: v1alpha1.Inputs{Artifacts: []v1alpha1.Artifact{c.art}}}}
			r := runStepWith(t, run, sdk.StepOptions{Artifacts: store, ArtifactLimits: sdk.ArtifactLimits{MaxBytes: 100}},
				func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
					_, err := readAll(t, in, "in")
					return sdk.StepOutput{}, err
				})
			if r.Phase != v1alpha1.NodeError || !strings.Contains(r.Message, c.want) {
				t.Errorf("%s %q, want Error with %q", r.Phase, r.Message, c.want)
			}
		})
	}
}

// Against a real MinIO: the workflow's repository (credentials from
// secrets), an output with its own s3 location, an s3://BUCKET/KEY input,
// and an offloaded output in the repository.
func TestStepArtifactsInMinIO(t *testing.T) {
	addr := testminio.Start(t, "repo", "other")
	getenv := func(name string) string {
		return map[string]string{
			secrets.EnvName(v1alpha1.SecretKeySelector{Name: "s3", Key: "id"}):     testminio.User,
			secrets.EnvName(v1alpha1.SecretKeySelector{Name: "s3", Key: "secret"}): testminio.Password,
		}[name]
	}
	insecure := true
	creds := v1alpha1.S3Artifact{Endpoint: addr, Insecure: &insecure,
		AccessKeySecret: &v1alpha1.SecretKeySelector{Name: "s3", Key: "id"}, SecretKeySecret: &v1alpha1.SecretKeySelector{Name: "s3", Key: "secret"}}
	repo := creds
	repo.Bucket = "repo"
	opts := sdk.StepOptions{Artifacts: sdk.DirArtifacts{Dir: t.TempDir()}, Secrets: secrets.Local{Getenv: getenv},
		Offload: &sdk.OffloadLimits{Threshold: 10, MaxValue: 1000}}
	own := v1alpha1.S3Artifact{Bucket: "other", Key: "exports/records.json"}
	write := events.StepRun{Workflow: "wf", Namespace: "default", NodeID: "main", ArtifactRepository: &v1alpha1.ArtifactRepository{S3: &v1alpha1.S3ArtifactRepository{S3Artifact: repo}},
		Template: v1alpha1.Template{Name: "t", Outputs: v1alpha1.Outputs{Artifacts: []v1alpha1.Artifact{{Name: "records"}, {Name: "export", Archive: none, S3: &own}}}}}
	r := runStepWith(t, write, opts, func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		out := sdk.StepOutput{Artifacts: map[string]string{}, Parameters: map[string]string{"big": strings.Repeat("b", 50)}}
		for _, name := range []string{"records", "export"} {
			key, err := in.WriteArtifact(ctx, name, strings.NewReader("content of "+name))
			if err != nil {
				return out, err
			}
			out.Artifacts[name] = key
		}
		return out, nil
	})
	if r.Phase != v1alpha1.NodeSucceeded {
		t.Fatalf("%s %s", r.Phase, r.Message)
	}
	if r.Outputs.Artifacts["records"] != events.ArtifactKey("default", "wf", "main", 0, "records", true) || r.Outputs.Artifacts["export"] != "s3://other/exports/records.json" {
		t.Errorf("keys %v", r.Outputs.Artifacts)
	}
	admin := testminio.Client(t, addr)
	if _, err := admin.StatObject(context.Background(), "repo", r.Outputs.Artifacts["records"], minio.StatObjectOptions{}); err != nil {
		t.Errorf("not in the repository: %v", err)
	}
	ref := r.Outputs.ParameterRefs["big"]
	recordsKey := r.Outputs.Artifacts["records"]
	read := events.StepRun{Workflow: "wf", Namespace: "default", NodeID: "next", ArtifactRepository: write.ArtifactRepository,
		Template: v1alpha1.Template{Name: "t",
			Inputs: v1alpha1.Inputs{
				Parameters: []v1alpha1.Parameter{{Name: "big", ValueRef: &ref}},
				Artifacts:  []v1alpha1.Artifact{{Name: "records", Key: r.Outputs.Artifacts["records"]}, {Name: "export", Key: r.Outputs.Artifacts["export"]}},
			}}}
	r = runStepWith(t, read, opts, func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		if in.Param("big") != strings.Repeat("b", 50) {
			return sdk.StepOutput{}, fmt.Errorf("big %q", in.Param("big"))
		}
		for _, name := range []string{"records", "export"} {
			if got, err := readAll(t, in, name); err != nil || got != "content of "+name {
				return sdk.StepOutput{}, fmt.Errorf("%s: %q %v", name, got, err)
			}
		}
		return sdk.StepOutput{}, nil
	})
	if r.Phase != v1alpha1.NodeSucceeded {
		t.Fatalf("%s %s", r.Phase, r.Message)
	}

	// Wrong credentials: Error, naming the artifact.
	bad := creds
	bad.Bucket, bad.Key = "repo", recordsKey
	bad.SecretKeySecret = &v1alpha1.SecretKeySelector{Name: "s3", Key: "missing"}
	read.Template.Inputs = v1alpha1.Inputs{Artifacts: []v1alpha1.Artifact{{Name: "records", S3: &bad}}}
	r = runStepWith(t, read, opts, func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		_, err := readAll(t, in, "records")
		return sdk.StepOutput{}, err
	})
	if r.Phase != v1alpha1.NodeError || !strings.Contains(r.Message, "input artifact records") || !strings.Contains(r.Message, "secretKeySecret") {
		t.Errorf("bad credentials: %s %q", r.Phase, r.Message)
	}
}
