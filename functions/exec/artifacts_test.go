package exec_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/exec"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/testminio"
)

// runWith hands exec one step.run of node with opts.
func runWith(t *testing.T, opts exec.Options, node string, tmpl v1alpha1.Template) events.StepResult {
	t.Helper()
	run := event.New()
	run.SetID("uid-1/" + node + "/0")
	run.SetType(events.TypeStepRun)
	run.SetSource("/test")
	if err := run.SetData(event.ApplicationJSON, events.StepRun{Workflow: "w", Namespace: "default", UID: "uid-1", NodeID: node, Template: tmpl}); err != nil {
		t.Fatal(err)
	}
	if opts.WorkDir == "" {
		opts.WorkDir = t.TempDir()
	}
	reply, err := exec.New(opts).Handle(context.Background(), run)
	if err != nil || reply == nil {
		t.Fatalf("handle: %v %v", reply, err)
	}
	var res events.StepResult
	if err := reply.DataAs(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func script(src string) *v1alpha1.ScriptTemplate {
	return &v1alpha1.ScriptTemplate{Source: src}
}

var none = &v1alpha1.ArchiveStrategy{None: &v1alpha1.NoneStrategy{}}

// produceAndConsume runs a step that writes a directory and a file as
// output artifacts, and one that stages them as inputs and reads them,
// through store.
func produceAndConsume(t *testing.T, store sdk.Artifacts) {
	opts := exec.Options{Artifacts: store}
	res := runWith(t, opts, "w.produce", v1alpha1.Template{Name: "produce",
		Script: script("mkdir -p /tmp/out/sub && echo one > /tmp/out/a.txt && echo two > /tmp/out/sub/b.txt && printf plain > /tmp/p.txt"),
		Outputs: v1alpha1.Outputs{Artifacts: []v1alpha1.Artifact{
			{Name: "dir", Path: "/tmp/out"},
			{Name: "file", Path: "/tmp/p.txt", Archive: none},
			{Name: "maybe", Path: "/tmp/never", Optional: true},
		}}})
	if res.Phase != v1alpha1.NodeSucceeded {
		t.Fatalf("produce: %s %s %v", res.Phase, res.Message, res.LogTail)
	}
	keys := res.Outputs.Artifacts
	if keys["dir"] != events.ArtifactKey("default", "w", "w.produce", 0, "dir", true) || keys["file"] != events.ArtifactKey("default", "w", "w.produce", 0, "file", false) {
		t.Errorf("keys %v", keys)
	}
	if _, ok := keys["maybe"]; ok {
		t.Errorf("a missing optional output has a key: %v", keys)
	}
	rc, err := store.Get(context.Background(), keys["file"])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "plain" {
		t.Errorf("archive none stored %q", b)
	}
	mode := int32(0o500)
	// The engine substitutes {{inputs.artifacts.dir.path}} with the
	// declared path (/work/in here); a tag that reaches exec as written is
	// substituted too.
	res = runWith(t, opts, "w.consume", v1alpha1.Template{Name: "consume",
		Script: script(`cat {{inputs.artifacts.dir.path}}/a.txt /work/in/sub/b.txt {{ inputs.artifacts.file.path }}; echo; stat -c %a /tmp/p.txt; ls /tmp/absent 2>/dev/null || echo absent`),
		Inputs: v1alpha1.Inputs{Artifacts: []v1alpha1.Artifact{
			{Name: "dir", Path: "/work/in", Key: keys["dir"]},
			{Name: "file", Path: "/tmp/p.txt", Key: keys["file"], Mode: &mode},
			{Name: "absent", Path: "/tmp/absent", Optional: true},
		}}})
	if got := result(t, res); got != "one\ntwo\nplain\n500\nabsent" {
		t.Errorf("consume printed %q", got)
	}
}

func TestArtifactsThroughADirectory(t *testing.T) {
	produceAndConsume(t, sdk.DirArtifacts{Dir: t.TempDir()})
}

func TestArtifactsThroughARealMinIO(t *testing.T) {
	addr := testminio.Start(t, "runs")
	t.Setenv("AWS_ACCESS_KEY_ID", testminio.User)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testminio.Password)
	store, err := sdk.OpenArtifacts(fmt.Sprintf("s3://runs/dev?endpoint=%s&insecure=true", addr))
	if err != nil {
		t.Fatal(err)
	}
	produceAndConsume(t, store)
}

func TestArtifactFailures(t *testing.T) {
	store := sdk.DirArtifacts{Dir: t.TempDir()}
	limits := sdk.ArtifactLimits{MaxFiles: 4, MaxBytes: 1000}
	for name, c := range map[string]struct {
		tmpl  v1alpha1.Template
		phase v1alpha1.NodePhase
		want  string
	}{
		"a required output not written": {v1alpha1.Template{Name: "t", Script: script("true"),
			Outputs: v1alpha1.Outputs{Artifacts: []v1alpha1.Artifact{{Name: "report", Path: "/tmp/report.json"}}}},
			v1alpha1.NodeError, "output artifact report: /tmp/report.json does not exist"},
		"a required input missing": {v1alpha1.Template{Name: "t", Script: script("true"),
			Inputs: v1alpha1.Inputs{Artifacts: []v1alpha1.Artifact{{Name: "data", Path: "/tmp/d", Key: "artifacts/default/w/x/0/data.tgz"}}}},
			v1alpha1.NodeError, "input artifact data"},
		"an input outside the sandbox": {v1alpha1.Template{Name: "t", Script: script("true"),
			Inputs: v1alpha1.Inputs{Artifacts: []v1alpha1.Artifact{{Name: "data", Path: "../../etc/x", Raw: &v1alpha1.RawArtifact{Data: "x"}}}}},
			v1alpha1.NodeError, "outside the step's sandbox"},
		"archive none of a directory": {v1alpha1.Template{Name: "t", Script: script("mkdir -p /tmp/d"),
			Outputs: v1alpha1.Outputs{Artifacts: []v1alpha1.Artifact{{Name: "d", Path: "/tmp/d", Archive: none}}}},
			v1alpha1.NodeFailed, "not a regular file"},
		"one file over the file limit": {v1alpha1.Template{Name: "t", Script: script("mkdir -p /tmp/d && touch /tmp/d/1 /tmp/d/2 /tmp/d/3 /tmp/d/4"),
			Outputs: v1alpha1.Outputs{Artifacts: []v1alpha1.Artifact{{Name: "d", Path: "/tmp/d"}}}},
			v1alpha1.NodeFailed, "more than 4 files"},
		"one byte over the size limit": {v1alpha1.Template{Name: "t", Script: script("head -c 1001 /dev/zero > /tmp/f"),
			Outputs: v1alpha1.Outputs{Artifacts: []v1alpha1.Artifact{{Name: "f", Path: "/tmp/f"}}}},
			v1alpha1.NodeFailed, "larger than the limit of 1000"},
		"a symbolic link out": {v1alpha1.Template{Name: "t", Script: script("mkdir -p /tmp/d && ln -s /etc/passwd /tmp/d/p"),
			Outputs: v1alpha1.Outputs{Artifacts: []v1alpha1.Artifact{{Name: "d", Path: "/tmp/d"}}}},
			v1alpha1.NodeFailed, "regular files and directories only"},
	} {
		t.Run(name, func(t *testing.T) {
			res := runWith(t, exec.Options{Artifacts: store, ArtifactLimits: limits}, "w.t", c.tmpl)
			if res.Phase != c.phase || !strings.Contains(res.Message, c.want) {
				t.Errorf("%s %q, want %s with %q", res.Phase, res.Message, c.phase, c.want)
			}
		})
	}
	// At the limits, the step succeeds: 4 entries (the directory and 3
	// files) of 1000 bytes.
	res := runWith(t, exec.Options{Artifacts: store, ArtifactLimits: limits}, "w.t", v1alpha1.Template{Name: "t",
		Script:  script("mkdir -p /tmp/d && head -c 500 /dev/zero > /tmp/d/1 && head -c 500 /dev/zero > /tmp/d/2 && touch /tmp/d/3"),
		Outputs: v1alpha1.Outputs{Artifacts: []v1alpha1.Artifact{{Name: "d", Path: "/tmp/d"}}}})
	if res.Phase != v1alpha1.NodeSucceeded {
		t.Fatalf("at the limits: %s %s", res.Phase, res.Message)
	}
	res = runWith(t, exec.Options{Artifacts: store, ArtifactLimits: limits}, "w.u", v1alpha1.Template{Name: "u",
		Script: script("ls /tmp/in | wc -l"),
		Inputs: v1alpha1.Inputs{Artifacts: []v1alpha1.Artifact{{Name: "d", Path: "/tmp/in", Key: res.Outputs.Artifacts["d"]}}}})
	if got := strings.TrimSpace(result(t, res)); got != "3" {
		t.Errorf("staged %s files", got)
	}
}

// A container template gets the staged path in its args.
func TestArtifactPathInArgs(t *testing.T) {
	res := runWith(t, exec.Options{Artifacts: sdk.DirArtifacts{Dir: t.TempDir()}}, "w.c", v1alpha1.Template{Name: "c",
		Container: &v1alpha1.ContainerTemplate{Command: []string{"cat"}, Args: []string{"/data/in.txt"}},
		Inputs:    v1alpha1.Inputs{Artifacts: []v1alpha1.Artifact{{Name: "in", Path: "/data/in.txt", Raw: &v1alpha1.RawArtifact{Data: "raw input"}}}}})
	if got := result(t, res); got != "raw input" {
		t.Errorf("printed %q", got)
	}
}

// An offloaded value in a script: the tag the engine left is substituted
// before the script is written, and a large stdout goes back by reference.
func TestOffloadedValueInAScript(t *testing.T) {
	store := sdk.DirArtifacts{Dir: t.TempDir()}
	big := strings.Repeat("v", 70<<10)
	ref, err := sdk.PutValue(context.Background(), store, "default", []byte(big))
	if err != nil {
		t.Fatal(err)
	}
	run := event.New()
	run.SetID("uid-1/w.s/0")
	run.SetType(events.TypeStepRun)
	run.SetSource("/test")
	if err := run.SetData(event.ApplicationJSON, events.StepRun{Workflow: "w", Namespace: "default", UID: "uid-1", NodeID: "w.s",
		Template: v1alpha1.Template{Name: "s", Inputs: v1alpha1.Inputs{Parameters: []v1alpha1.Parameter{{Name: "x", ValueRef: &ref}}},
			Script: script(`printf '%s' '{{inputs.parameters.x}}'`)},
		Refs: map[string]v1alpha1.ValueRef{"inputs.parameters.x": ref}}); err != nil {
		t.Fatal(err)
	}
	reply, err := exec.New(exec.Options{Artifacts: store, WorkDir: t.TempDir()}).Handle(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	var res events.StepResult
	if err := reply.DataAs(&res); err != nil || res.Phase != v1alpha1.NodeSucceeded {
		t.Fatalf("%+v %v", res, err)
	}
	if res.Outputs.ResultRef == nil || res.Outputs.ResultRef.Digest != ref.Digest {
		t.Errorf("result %+v, want the value back by reference", res.Outputs)
	}
}
