package http_test

import (
	"context"
	"fmt"
	nethttp "net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
	zfhttp "github.com/zeroflow-dev/zeroflow/functions/http"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// bomb is the webhook field of issue 11: pasted into a successCondition as
// code, it makes expr-lang allocate about 1 TB.
const bomb = `x' + repeat(repeat('x', 999999), 1000000) + '`

// dispatched is the http template the engine dispatches for a workflow
// whose parameter x (the value under test) reaches the template's input x,
// with the template's url and successCondition as given.
func dispatched(t *testing.T, url, cond, x string) v1alpha1.Template {
	t.Helper()
	doc := fmt.Sprintf(`
metadata: {name: wf, namespace: default, uid: uid-1}
spec:
  entrypoint: main
  arguments: {parameters: [{name: x, value: %s}]}
  templates:
  - name: main
    dag:
      tasks:
      - {name: H, template: h, arguments: {parameters: [{name: x, value: "{{workflow.parameters.x}}"}]}}
  - name: h
    inputs: {parameters: [{name: x}]}
    http: {url: %s, successCondition: %s}
`, strconv.Quote(x), strconv.Quote(url), strconv.Quote(cond))
	var wf v1alpha1.Workflow
	if err := yaml.UnmarshalStrict([]byte(doc), &wf); err != nil {
		t.Fatalf("parse workflow: %v", err)
	}
	out, err := engine.New().Advance(engine.RunOf(&wf), engine.Input{Kind: engine.Submit}, time.Now())
	if err != nil {
		t.Fatalf("advance: %v", err)
	}
	if len(out.Dispatch) != 1 {
		t.Fatalf("dispatch = %+v, status %+v", out.Dispatch, out.Status.Nodes)
	}
	return out.Dispatch[0].Template
}

// runStep hands the http function one step.run, as the broker would.
func runStep(t *testing.T, tmpl v1alpha1.Template) events.StepResult {
	t.Helper()
	run := event.New()
	run.SetID("uid-1/main.H/0")
	run.SetType(events.TypeStepRun)
	run.SetSource("/test")
	run.SetExtension(events.ExtFunction, "http")
	if err := run.SetData(event.ApplicationJSON, events.StepRun{Workflow: "wf", Namespace: "default", UID: "uid-1", NodeID: "main.H", Template: tmpl}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reply, err := zfhttp.New(zfhttp.Options{Artifacts: sdk.DirArtifacts{Dir: t.TempDir()}}).Handle(ctx, run)
	if err != nil || reply == nil {
		t.Fatalf("handle: %v %v", reply, err)
	}
	var res events.StepResult
	if err := reply.DataAs(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

// TestSuccessConditionValueIsALiteral: a parameter substituted into
// successCondition is one literal when the http function evaluates it
// against a real response, so the bomb is a string that the body is not;
// Argo's own conditions over substituted values still hold.
func TestSuccessConditionValueIsALiteral(t *testing.T) {
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if r.URL.Query().Get("status") == "201" {
			w.WriteHeader(nethttp.StatusCreated)
		}
		fmt.Fprint(w, r.URL.Query().Get("echo"))
	}))
	defer srv.Close()
	cases := []struct {
		name, query, cond, x string
		want                 v1alpha1.NodePhase
		message              string
	}{
		{name: "the bomb in quotes is compared, false", query: "echo=ok", cond: `response.body == '{{inputs.parameters.x}}'`, x: bomb,
			want: v1alpha1.NodeFailed, message: "is false"},
		{name: "the bomb out of quotes is compared, false", query: "echo=ok", cond: `response.body == {{inputs.parameters.x}}`, x: bomb,
			want: v1alpha1.NodeFailed, message: "is false"},
		{name: "the bomb equals a body that holds it", query: "echo=" + strings.NewReplacer("+", "%2B", " ", "%20").Replace(bomb), cond: `response.body == '{{inputs.parameters.x}}'`, x: bomb,
			want: v1alpha1.NodeSucceeded},
		{name: "a value holding an expression tag stays text", query: "echo=ok", cond: `response.body != "{{inputs.parameters.x}}"`, x: `{{= repeat("x", 1000000000) }}`,
			want: v1alpha1.NodeSucceeded},
		{name: "Argo: a status code compared as a number", query: "status=201", cond: `response.statusCode == {{inputs.parameters.x}}`, x: "201",
			want: v1alpha1.NodeSucceeded},
		{name: "Argo: a status code that differs", query: "status=200", cond: `response.statusCode == {{inputs.parameters.x}}`, x: "201",
			want: v1alpha1.NodeFailed, message: "is false"},
		{name: "Argo: the body contains a quoted value", query: "echo=google", cond: `response.body contains "{{inputs.parameters.x}}"`, x: "goo",
			want: v1alpha1.NodeSucceeded},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmpl := dispatched(t, srv.URL+"/?"+c.query, c.cond, c.x)
			start := time.Now()
			res := runStep(t, tmpl)
			if res.Phase != c.want || !strings.Contains(res.Message, c.message) {
				t.Fatalf("phase %s, message %q; want %s with %q (condition %s)", res.Phase, res.Message, c.want, c.message, tmpl.HTTP.SuccessCondition)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("the step took %v", d)
			}
		})
	}
}
