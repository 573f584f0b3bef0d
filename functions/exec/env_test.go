package exec_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/exec"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// runStep hands the exec function one step.run, as the broker would, and
// returns the result; the command runs as a real subprocess.
func runStep(t *testing.T, tmpl v1alpha1.Template) events.StepResult {
	t.Helper()
	run := event.New()
	run.SetID("uid-1/main/0")
	run.SetType(events.TypeStepRun)
	run.SetSource("/test")
	run.SetExtension(events.ExtFunction, "exec")
	if err := run.SetData(event.ApplicationJSON, events.StepRun{Workflow: "w", Namespace: "default", UID: "uid-1", NodeID: "main", Template: tmpl}); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	reply, err := exec.New(exec.Options{WorkDir: work, Artifacts: sdk.DirArtifacts{Dir: t.TempDir()}}).Handle(context.Background(), run)
	if err != nil || reply == nil {
		t.Fatalf("handle: %v %v", reply, err)
	}
	var res events.StepResult
	if err := reply.DataAs(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func result(t *testing.T, res events.StepResult) string {
	t.Helper()
	if res.Phase != v1alpha1.NodeSucceeded || res.Outputs == nil || res.Outputs.Result == nil {
		t.Fatalf("step %s: %s %v", res.Phase, res.Message, res.LogTail)
	}
	return *res.Outputs.Result
}

func envOf(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// The attack of issue 11: a step read the artifact store's S3 keys from
// the function's environment. The child now gets the declared env and the
// step contract's variables only.
func TestStepGetsOnlyItsDeclaredEnvironment(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "leaked-s3-key")
	t.Setenv("AWS_ACCESS_KEY_ID", "leaked-id")
	t.Setenv(sdk.EnvArtifacts, "s3://bucket?endpoint=minio:9000")
	t.Setenv("ZEROFLOW_SECRET_WEBHOOK_AUTH_TOKEN", "leaked-token")
	t.Setenv("K_SINK", "http://broker.internal")
	res := runStep(t, v1alpha1.Template{Name: "dump", Script: &v1alpha1.ScriptTemplate{
		ContainerTemplate: v1alpha1.ContainerTemplate{Env: []v1alpha1.EnvVar{{Name: "GREETING", Value: "hello"}, {Name: "EMPTY"}}},
		Source:            "env",
	}})
	out := result(t, res)
	for _, secret := range []string{"leaked-s3-key", "leaked-id", "leaked-token", "minio:9000", "broker.internal"} {
		if strings.Contains(out, secret) {
			t.Errorf("the step read %q from the function's environment:\n%s", secret, out)
		}
	}
	env := envOf(out)
	for _, name := range []string{"AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", sdk.EnvArtifacts, "K_SINK"} {
		if _, ok := env[name]; ok {
			t.Errorf("%s reached the step", name)
		}
	}
	if env["GREETING"] != "hello" {
		t.Errorf("declared env missing:\n%s", out)
	}
	if v, ok := env["EMPTY"]; !ok || v != "" {
		t.Errorf("a declared empty variable is missing:\n%s", out)
	}
	if env["PATH"] == "" || env["HOME"] == "" || filepath.Dir(env["TMPDIR"]) != env["HOME"] {
		t.Errorf("the step contract's variables: PATH %q HOME %q TMPDIR %q", env["PATH"], env["HOME"], env["TMPDIR"])
	}
}

// An ordinary command still finds its binaries, and HOME and TMPDIR are
// the call's own, writable sandbox.
func TestStepFindsItsBinariesAndASandbox(t *testing.T) {
	res := runStep(t, v1alpha1.Template{Name: "hi", Container: &v1alpha1.ContainerTemplate{
		Command: []string{"sh", "-c", `echo hi && touch "$HOME/h" "$TMPDIR/t" && test "$(pwd)" = "$HOME" && echo ok`},
	}})
	if got := result(t, res); got != "hi\nok" {
		t.Errorf("result %q", got)
	}
}

// With no PATH in the function's environment, a default is used.
func TestStepPathDefault(t *testing.T) {
	t.Setenv("PATH", "")
	res := runStep(t, v1alpha1.Template{Name: "hi", Container: &v1alpha1.ContainerTemplate{
		Command: []string{"/bin/sh", "-c", `echo "$PATH"; ls / >/dev/null && echo found`},
	}})
	out := result(t, res)
	if !strings.Contains(out, "/usr/bin") || !strings.HasSuffix(out, "found") {
		t.Errorf("result %q", out)
	}
}

// What a template declares wins over the contract's defaults.
func TestDeclaredEnvOverridesTheDefaults(t *testing.T) {
	res := runStep(t, v1alpha1.Template{Name: "p", Container: &v1alpha1.ContainerTemplate{
		Command: []string{"/bin/sh", "-c", `echo "$PATH $HOME"`},
		Env:     []v1alpha1.EnvVar{{Name: "PATH", Value: "/bin:/usr/bin"}, {Name: "HOME", Value: "/home/step"}},
	}})
	if got := result(t, res); got != "/bin:/usr/bin /home/step" {
		t.Errorf("result %q", got)
	}
}
