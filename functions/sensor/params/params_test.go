package params

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// webhookData is what a webhook event source sends: headers and the body.
const webhookData = `{"header":{"X-Id":["7"]},"body":{"name":"alpha","count":1234567,"big":12345678901234567890,` +
	`"ok":true,"off":false,"tags":["a","b"],"meta":{"k":"v"},"nothing":null,"ref":"main"}}`

// newEvent builds a CloudEvent as an event source would; data is nil for an
// event without data.
func newEvent(id, subject, contentType string, data []byte) event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("webhook-es")
	e.SetSubject(subject)
	e.SetType("webhook")
	e.SetTime(time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC))
	if data != nil {
		// SetData stores a []byte as is; it fails only when it must encode.
		if err := e.SetData(contentType, data); err != nil {
			panic(err)
		}
	}
	return e
}

func str(s string) *string { return &s }

// fired is the events of one trigger execution: a webhook with JSON data
// under dependency "push".
func fired() map[string]event.Event {
	return map[string]event.Event{"push": newEvent("0001", "push", "application/json", []byte(webhookData))}
}

// firedWith is the events of one execution with a single dependency "d".
func firedWith(contentType, data string) map[string]event.Event {
	return map[string]event.Event{"d": newEvent("0002", "ev", contentType, []byte(data))}
}

const wholeContext = `{"id":"0001","source":"webhook-es","specversion":"1.0","type":"webhook",` +
	`"datacontenttype":"application/json","subject":"push","time":"2025-03-04T05:06:07Z"}`

func TestResolve(t *testing.T) {
	cases := []struct {
		name    string
		src     *v1alpha1.TriggerParameterSource
		events  map[string]event.Event
		want    Value
		skip    bool
		wantErr string
	}{
		// The dependency did not fire.
		{
			name: "missing dependency with value gives the value",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "other", DataKey: "body.name", Value: str("fallback")},
			want: Value{Text: "fallback"},
		},
		{
			name: "missing dependency without value is skipped",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "other", DataKey: "body.name"},
			skip: true,
		},
		// No selector.
		{
			name: "no selector with value is a literal",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", Value: str("literal")},
			want: Value{Text: "literal"},
		},
		{
			name: "no selector is the whole event with JSON data embedded",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push"},
			want: Value{Text: `{"context":` + wholeContext + `,"data":` + webhookData + `}`, JSON: true},
		},
		{
			name:   "whole event with text data has it in base64",
			src:    &v1alpha1.TriggerParameterSource{DependencyName: "d"},
			events: map[string]event.Event{"d": newEvent("0002", "ev", "text/plain", []byte("hello"))},
			want: Value{Text: `{"context":{"id":"0002","source":"webhook-es","specversion":"1.0","type":"webhook",` +
				`"datacontenttype":"text/plain","subject":"ev","time":"2025-03-04T05:06:07Z"},"data":"aGVsbG8="}`, JSON: true},
		},
		{
			name:   "whole event without data has null data and no content type",
			src:    &v1alpha1.TriggerParameterSource{DependencyName: "d"},
			events: map[string]event.Event{"d": newEvent("0003", "tick", "", nil)},
			want: Value{Text: `{"context":{"id":"0003","source":"webhook-es","specversion":"1.0","type":"webhook",` +
				`"subject":"tick","time":"2025-03-04T05:06:07Z"},"data":null}`, JSON: true},
		},
		{
			name:   "whole event with invalid JSON data has it in base64",
			src:    &v1alpha1.TriggerParameterSource{DependencyName: "d"},
			events: firedWith("application/json", "{"),
			want: Value{Text: `{"context":{"id":"0002","source":"webhook-es","specversion":"1.0","type":"webhook",` +
				`"datacontenttype":"application/json","subject":"ev","time":"2025-03-04T05:06:07Z"},"data":"ew=="}`, JSON: true},
		},
		// Context.
		{
			name: "contextKey subject",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", ContextKey: "subject"},
			want: Value{Text: "push"},
		},
		{
			name: "contextKey id",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", ContextKey: "id"},
			want: Value{Text: "0001"},
		},
		{
			name: "contextKey time",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", ContextKey: "time"},
			want: Value{Text: "2025-03-04T05:06:07Z"},
		},
		{
			name: "contextKey datacontenttype",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", ContextKey: "datacontenttype"},
			want: Value{Text: "application/json"},
		},
		{
			name: "contextKey missing falls back to value",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", ContextKey: "dataschema", Value: str("none")},
			want: Value{Text: "none"},
		},
		{
			name:    "contextKey missing without value is an error",
			src:     &v1alpha1.TriggerParameterSource{DependencyName: "push", ContextKey: "dataschema"},
			wantErr: `dependency push: contextKey "dataschema" not found in the event`,
		},
		{
			name: "contextTemplate with sprig",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", ContextTemplate: `{{ .Input.type | upper }}`},
			want: Value{Text: "WEBHOOK"},
		},
		{
			name: "contextTemplate over contextKey",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", ContextKey: "id", ContextTemplate: `{{ .Input.source }}/{{ .Input.subject }}`},
			want: Value{Text: "webhook-es/push"},
		},
		// Data keys by JSON type.
		{
			name: "dataKey string",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.name"},
			want: Value{Text: "alpha"},
		},
		{
			name: "dataKey number",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.count"},
			want: Value{Text: "1234567", JSON: true},
		},
		{
			name: "dataKey large number keeps its digits",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.big"},
			want: Value{Text: "12345678901234567890", JSON: true},
		},
		{
			name: "dataKey true",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.ok"},
			want: Value{Text: "true", JSON: true},
		},
		{
			name: "dataKey false",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.off"},
			want: Value{Text: "false", JSON: true},
		},
		{
			name: "dataKey object",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.meta"},
			want: Value{Text: `{"k":"v"}`, JSON: true},
		},
		{
			name: "dataKey array",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.tags"},
			want: Value{Text: `["a","b"]`, JSON: true},
		},
		{
			name: "dataKey array element",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.tags.1"},
			want: Value{Text: "b"},
		},
		{
			name: "dataKey null",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.nothing"},
			want: Value{Text: "null", JSON: true},
		},
		{
			name: "dataKey into a header list",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "header.X-Id.0"},
			want: Value{Text: "7"},
		},
		// Data templates.
		{
			name: "dataTemplate with sprig",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", DataTemplate: `{{ .Input.body.name | upper }}-{{ .Input.body.ref | trunc 2 }}`},
			want: Value{Text: "ALPHA-ma"},
		},
		{
			name: "dataTemplate numbers are float64 as in Argo",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", DataTemplate: `{{ .Input.body.count }}`},
			want: Value{Text: "1.234567e+06"},
		},
		{
			name: "dataTemplate result is a string even when it looks like JSON",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", DataTemplate: `{{ .Input.body.ok }}`},
			want: Value{Text: "true"},
		},
		{
			name: "dataTemplate over dataKey",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.ref", DataTemplate: `x-{{ .Input.body.name }}`},
			want: Value{Text: "x-alpha"},
		},
		// Precedence of data over context.
		{
			name: "dataKey over contextKey",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", ContextKey: "subject", DataKey: "body.name"},
			want: Value{Text: "alpha"},
		},
		{
			name: "dataKey alone overrides contextTemplate",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", ContextTemplate: `{{ .Input.id }}`, DataKey: "body.ref"},
			want: Value{Text: "main"},
		},
		{
			name:    "data selector does not fall back to the context",
			src:     &v1alpha1.TriggerParameterSource{DependencyName: "push", ContextKey: "subject", DataKey: "subject"},
			wantErr: `dependency push: dataKey "subject" not found in the event`,
		},
		// Template failures fall back to the key, then to the value.
		{
			name: "template error falls back to key",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.name", DataTemplate: `{{ fail "boom" }}`},
			want: Value{Text: "alpha"},
		},
		{
			name: "template <no value> falls back to key",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.count", DataTemplate: `{{ .Input.body.missing }}`},
			want: Value{Text: "1234567", JSON: true},
		},
		{
			name: "template on a missing parent falls back to value",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", DataTemplate: `{{ .Input.nope.x }}`, Value: str("dflt")},
			want: Value{Text: "dflt"},
		},
		{
			name: "empty template output falls back to value",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", DataTemplate: `{{ if false }}x{{ end }}`, Value: str("dflt")},
			want: Value{Text: "dflt"},
		},
		{
			name: "unparsable template falls back to key",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.ref", DataTemplate: `{{ .Input.body.name `},
			want: Value{Text: "main"},
		},
		{
			name:    "template with no value and no fallback is an error",
			src:     &v1alpha1.TriggerParameterSource{DependencyName: "push", DataTemplate: `{{ .Input.body.missing }}`},
			wantErr: "dependency push: dataTemplate produced no value",
		},
		{
			name:    "template error and no fallback names the template",
			src:     &v1alpha1.TriggerParameterSource{DependencyName: "push", ContextTemplate: `{{ fail "boom" }}`},
			wantErr: "dependency push: contextTemplate: template: param:1:3: executing",
		},
		{
			name:    "template and key both failing name both",
			src:     &v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.nope", DataTemplate: `{{ .Input.body.missing }}`},
			wantErr: `dependency push: dataTemplate produced no value; dataKey "body.nope" not found in the event`,
		},
		// Missing key.
		{
			name: "missing dataKey falls back to value",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.nope", Value: str("dflt")},
			want: Value{Text: "dflt"},
		},
		{
			name:    "missing dataKey without value is an error",
			src:     &v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "a.b"},
			wantErr: `dependency push: dataKey "a.b" not found in the event`,
		},
		// Content types.
		{
			name:    "non-JSON data is an error",
			src:     &v1alpha1.TriggerParameterSource{DependencyName: "d", DataKey: "x"},
			events:  firedWith("text/plain", "hello"),
			wantErr: `dependency d: data of type "text/plain" is not JSON`,
		},
		{
			name:   "non-JSON data falls back to value",
			src:    &v1alpha1.TriggerParameterSource{DependencyName: "d", DataKey: "x", Value: str("dflt")},
			events: firedWith("text/plain", "hello"),
			want:   Value{Text: "dflt"},
		},
		{
			name:    "invalid JSON data is an error",
			src:     &v1alpha1.TriggerParameterSource{DependencyName: "d", DataKey: "x"},
			events:  firedWith("application/json", `{"x":`),
			wantErr: `dependency d: data of type "application/json" is not valid JSON`,
		},
		{
			name:   "non-JSON data does not matter to context selectors",
			src:    &v1alpha1.TriggerParameterSource{DependencyName: "d", ContextKey: "datacontenttype"},
			events: firedWith("text/plain", "hello"),
			want:   Value{Text: "text/plain"},
		},
		{
			name:   "application/yaml data",
			src:    &v1alpha1.TriggerParameterSource{DependencyName: "d", DataKey: "spec.replicas"},
			events: firedWith("application/yaml", "kind: Thing\nspec:\n  replicas: 3\n  name: web\n"),
			want:   Value{Text: "3", JSON: true},
		},
		{
			name:   "text/yaml data with a template",
			src:    &v1alpha1.TriggerParameterSource{DependencyName: "d", DataTemplate: `{{ .Input.spec.name | title }}`},
			events: firedWith("text/yaml", "spec:\n  name: web\n"),
			want:   Value{Text: "Web"},
		},
		{
			name:    "invalid YAML data is an error",
			src:     &v1alpha1.TriggerParameterSource{DependencyName: "d", DataKey: "a"},
			events:  firedWith("application/yaml", "a: [1\n"),
			wantErr: `dependency d: data of type "application/yaml" is not valid YAML`,
		},
		{
			name:   "text/json data",
			src:    &v1alpha1.TriggerParameterSource{DependencyName: "d", DataKey: "x"},
			events: firedWith("text/json", `{"x":"y"}`),
			want:   Value{Text: "y"},
		},
		{
			name:   "+json suffix with charset parameter",
			src:    &v1alpha1.TriggerParameterSource{DependencyName: "d", DataKey: "x"},
			events: firedWith("application/vnd.github+json; charset=utf-8", `{"x":1.5}`),
			want:   Value{Text: "1.5", JSON: true},
		},
		{
			name:   "untyped data that is JSON",
			src:    &v1alpha1.TriggerParameterSource{DependencyName: "d", DataKey: "x"},
			events: firedWith("", `{"x":"y"}`),
			want:   Value{Text: "y"},
		},
		{
			name:    "untyped data that is not JSON",
			src:     &v1alpha1.TriggerParameterSource{DependencyName: "d", DataKey: "x"},
			events:  firedWith("", "x=y"),
			wantErr: `dependency d: data of type "" is not JSON`,
		},
		// Several events.
		{
			name: "the source's own dependency among several",
			src:  &v1alpha1.TriggerParameterSource{DependencyName: "tick", ContextKey: "id"},
			events: map[string]event.Event{
				"push": newEvent("0001", "push", "application/json", []byte(webhookData)),
				"tick": newEvent("0009", "tick", "application/json", []byte(`{}`)),
			},
			want: Value{Text: "0009"},
		},
		{
			name:    "no src",
			wantErr: "parameter has no src",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			events := tc.events
			if events == nil {
				events = fired()
			}
			got, ok, err := Resolve(tc.src, events)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if ok == tc.skip {
				t.Fatalf("ok = %v, want %v", ok, !tc.skip)
			}
			if got != tc.want {
				t.Fatalf("value = %#v, want %#v", got, tc.want)
			}
			if got.JSON && !json.Valid([]byte(got.Text)) {
				t.Fatalf("value marked JSON is not JSON: %s", got.Text)
			}
		})
	}
}

// workflow is a Workflow object as a k8s or argoWorkflow trigger holds it.
const workflow = `{"apiVersion":"zeroflow.dev/v1alpha1","kind":"Workflow",` +
	`"metadata":{"generateName":"build-","namespace":"ci"},` +
	`"spec":{"entrypoint":"main","arguments":{"parameters":[{"name":"message","value":"placeholder"}]}}}`

func param(dest, op string, src v1alpha1.TriggerParameterSource) v1alpha1.TriggerParameter {
	return v1alpha1.TriggerParameter{Src: &src, Dest: dest, Operation: op}
}

func TestApply(t *testing.T) {
	cases := []struct {
		name    string
		doc     string
		params  []v1alpha1.TriggerParameter
		want    string
		wantErr string
	}{
		{
			name:   "overwrite string",
			doc:    `{"a":"old"}`,
			params: []v1alpha1.TriggerParameter{param("a", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.name"})},
			want:   `{"a":"alpha"}`,
		},
		{
			name:   "explicit overwrite",
			doc:    `{"a":"old"}`,
			params: []v1alpha1.TriggerParameter{param("a", "overwrite", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.name"})},
			want:   `{"a":"alpha"}`,
		},
		{
			name:   "number without useRawData is a string",
			doc:    `{}`,
			params: []v1alpha1.TriggerParameter{param("n", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.count"})},
			want:   `{"n":"1234567"}`,
		},
		{
			name:   "number with useRawData is a number",
			doc:    `{}`,
			params: []v1alpha1.TriggerParameter{param("n", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.big", UseRawData: true})},
			want:   `{"n":12345678901234567890}`,
		},
		{
			name:   "object without useRawData is an escaped string",
			doc:    `{}`,
			params: []v1alpha1.TriggerParameter{param("o", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.meta"})},
			want:   `{"o":"{\"k\":\"v\"}"}`,
		},
		{
			name:   "object with useRawData is an object",
			doc:    `{}`,
			params: []v1alpha1.TriggerParameter{param("o", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.meta", UseRawData: true})},
			want:   `{"o":{"k":"v"}}`,
		},
		{
			name:   "string with useRawData stays a string",
			doc:    `{}`,
			params: []v1alpha1.TriggerParameter{param("s", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.name", UseRawData: true})},
			want:   `{"s":"alpha"}`,
		},
		{
			name:   "literal value with useRawData stays a string",
			doc:    `{}`,
			params: []v1alpha1.TriggerParameter{param("s", "", v1alpha1.TriggerParameterSource{DependencyName: "push", Value: str("42"), UseRawData: true})},
			want:   `{"s":"42"}`,
		},
		{
			name:   "whole event with useRawData is an object",
			doc:    `{}`,
			params: []v1alpha1.TriggerParameter{param("e", "", v1alpha1.TriggerParameterSource{DependencyName: "push", UseRawData: true})},
			want:   `{"e":{"context":` + wholeContext + `,"data":` + webhookData + `}}`,
		},
		{
			name:   "append to a string",
			doc:    `{"a":"pre-"}`,
			params: []v1alpha1.TriggerParameter{param("a", "append", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.name"})},
			want:   `{"a":"pre-alpha"}`,
		},
		{
			name:   "prepend to a string",
			doc:    `{"a":"-post"}`,
			params: []v1alpha1.TriggerParameter{param("a", "prepend", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.name"})},
			want:   `{"a":"alpha-post"}`,
		},
		{
			name:   "append on a missing dest sets it",
			doc:    `{}`,
			params: []v1alpha1.TriggerParameter{param("a.b", "append", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.name"})},
			want:   `{"a":{"b":"alpha"}}`,
		},
		{
			name:   "prepend on a missing dest keeps useRawData",
			doc:    `{}`,
			params: []v1alpha1.TriggerParameter{param("n", "prepend", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.count", UseRawData: true})},
			want:   `{"n":1234567}`,
		},
		{
			name:   "append onto a number concatenates its text",
			doc:    `{"n":10}`,
			params: []v1alpha1.TriggerParameter{param("n", "append", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.count", UseRawData: true})},
			want:   `{"n":"101234567"}`,
		},
		{
			name:   "prepend onto an object concatenates its text",
			doc:    `{"o":{"x":1}}`,
			params: []v1alpha1.TriggerParameter{param("o", "prepend", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.name"})},
			want:   `{"o":"alpha{\"x\":1}"}`,
		},
		{
			name: "workflow name and argument",
			doc:  workflow,
			params: []v1alpha1.TriggerParameter{
				param("metadata.name", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.name"}),
				param("spec.arguments.parameters.0.value", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.meta"}),
			},
			want: `{"apiVersion":"zeroflow.dev/v1alpha1","kind":"Workflow",` +
				`"metadata":{"generateName":"build-","namespace":"ci","name":"alpha"},` +
				`"spec":{"entrypoint":"main","arguments":{"parameters":[{"name":"message","value":"{\"k\":\"v\"}"}]}}}`,
		},
		{
			name: "workflow argument appended to the array",
			doc:  workflow,
			params: []v1alpha1.TriggerParameter{
				param("spec.arguments.parameters.-1", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataTemplate: `{"name":"ref","value":"{{ .Input.body.ref }}"}`}),
				param("metadata.generateName", "append", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.ref"}),
			},
			want: `{"apiVersion":"zeroflow.dev/v1alpha1","kind":"Workflow",` +
				`"metadata":{"generateName":"build-main","namespace":"ci"},` +
				`"spec":{"entrypoint":"main","arguments":{"parameters":[{"name":"message","value":"placeholder"},` +
				`"{\"name\":\"ref\",\"value\":\"main\"}"]}}}`,
		},
		{
			name: "parameters apply in order",
			doc:  `{"a":"x"}`,
			params: []v1alpha1.TriggerParameter{
				param("a", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.name"}),
				param("a", "append", v1alpha1.TriggerParameterSource{DependencyName: "push", Value: str("-1")}),
				param("a", "prepend", v1alpha1.TriggerParameterSource{DependencyName: "push", ContextKey: "subject"}),
			},
			want: `{"a":"pushalpha-1"}`,
		},
		{
			name: "skipped parameter changes nothing",
			doc:  `{"a":"keep"}`,
			params: []v1alpha1.TriggerParameter{
				param("a", "", v1alpha1.TriggerParameterSource{DependencyName: "other", DataKey: "body.name"}),
			},
			want: `{"a":"keep"}`,
		},
		{
			name: "two events",
			doc:  `{}`,
			params: []v1alpha1.TriggerParameter{
				param("name", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.name"}),
				param("when", "", v1alpha1.TriggerParameterSource{DependencyName: "tick", DataKey: "eventTime"}),
				param("late", "", v1alpha1.TriggerParameterSource{DependencyName: "late", DataKey: "x", Value: str("never")}),
			},
			want: `{"name":"alpha","when":"2025-03-04T00:00:00Z","late":"never"}`,
		},
		{
			name:    "unknown operation",
			doc:     `{}`,
			params:  []v1alpha1.TriggerParameter{param("a", "replace", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.name"})},
			wantErr: `parameters[0]: operation "replace" is not one of overwrite, append, prepend`,
		},
		{
			name: "dest rejected by sjson names the parameter",
			doc:  `{"list":[1,2]}`,
			params: []v1alpha1.TriggerParameter{
				param("ok", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.name"}),
				param("list.name", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.name"}),
			},
			wantErr: `parameters[1]: dest "list.name": cannot set array element for non-numeric key 'name'`,
		},
		{
			name:    "empty dest is rejected",
			doc:     `{}`,
			params:  []v1alpha1.TriggerParameter{param("", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.name"})},
			wantErr: `parameters[0]: dest "": path cannot be empty`,
		},
		{
			name: "resolve error names the parameter",
			doc:  `{}`,
			params: []v1alpha1.TriggerParameter{
				param("a", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.name"}),
				param("b", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.nope"}),
			},
			wantErr: `parameters[1]: dependency push: dataKey "body.nope" not found in the event`,
		},
		{
			name:    "invalid document",
			doc:     `{"a":`,
			wantErr: "not valid JSON",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			events := fired()
			events["tick"] = newEvent("0009", "tick", "application/json", []byte(`{"eventTime":"2025-03-04T00:00:00Z"}`))
			doc := []byte(tc.doc)
			orig := bytes.Clone(doc)
			got, err := Apply(doc, tc.params, events)
			if !bytes.Equal(doc, orig) {
				t.Fatalf("Apply modified its input: %s", doc)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			assertJSON(t, got, tc.want)
		})
	}
}

func TestPayload(t *testing.T) {
	cases := []struct {
		name    string
		params  []v1alpha1.TriggerParameter
		want    string
		wantErr string
	}{
		{
			name: "no parameters is an empty object",
			want: `{}`,
		},
		{
			name: "several dests",
			params: []v1alpha1.TriggerParameter{
				param("name", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.name"}),
				param("count", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.count", UseRawData: true}),
				param("meta.source", "", v1alpha1.TriggerParameterSource{DependencyName: "push", ContextKey: "source"}),
				param("tags", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.tags", UseRawData: true}),
			},
			want: `{"name":"alpha","count":1234567,"meta":{"source":"webhook-es"},"tags":["a","b"]}`,
		},
		{
			name: "empty dest with a JSON value is the raw body",
			params: []v1alpha1.TriggerParameter{
				param("", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body"}),
			},
			want: `{"name":"alpha","count":1234567,"big":12345678901234567890,"ok":true,"off":false,` +
				`"tags":["a","b"],"meta":{"k":"v"},"nothing":null,"ref":"main"}`,
		},
		{
			name: "empty dest with a string value is a JSON string",
			params: []v1alpha1.TriggerParameter{
				param("", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataTemplate: `say "{{ .Input.body.name }}"`}),
			},
			want: `"say \"alpha\""`,
		},
		{
			name: "empty dest whole event ignores the parameters after it",
			params: []v1alpha1.TriggerParameter{
				param("before", "", v1alpha1.TriggerParameterSource{DependencyName: "push", ContextKey: "id"}),
				param("", "", v1alpha1.TriggerParameterSource{DependencyName: "push"}),
				param("after", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.nope"}),
			},
			want: `{"context":` + wholeContext + `,"data":` + webhookData + `}`,
		},
		{
			name: "skipped parameters are skipped, even with an empty dest",
			params: []v1alpha1.TriggerParameter{
				param("", "", v1alpha1.TriggerParameterSource{DependencyName: "other"}),
				param("a", "", v1alpha1.TriggerParameterSource{DependencyName: "other", DataKey: "x"}),
				param("b", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.ref"}),
			},
			want: `{"b":"main"}`,
		},
		{
			name: "append in a payload",
			params: []v1alpha1.TriggerParameter{
				param("text", "", v1alpha1.TriggerParameterSource{DependencyName: "push", Value: str("ref=")}),
				param("text", "append", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.ref"}),
			},
			want: `{"text":"ref=main"}`,
		},
		{
			name: "errors name the payload entry",
			params: []v1alpha1.TriggerParameter{
				param("a", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.nope"}),
			},
			wantErr: `payload[0]: dependency push: dataKey "body.nope" not found in the event`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Payload(tc.params, fired())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			assertJSON(t, got, tc.want)
		})
	}
}

func TestCheck(t *testing.T) {
	deps := map[string]bool{"push": true, "tick": true}
	cases := []struct {
		name        string
		params      []v1alpha1.TriggerParameter
		requireDest bool
		want        []string // one line per error, in order
	}{
		{
			name: "valid parameters",
			params: []v1alpha1.TriggerParameter{
				param("metadata.name", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataKey: "body.name"}),
				param("spec.x", "append", v1alpha1.TriggerParameterSource{DependencyName: "tick", ContextTemplate: `{{ .Input.id | lower }}`}),
				param("spec.y", "prepend", v1alpha1.TriggerParameterSource{DependencyName: "tick", DataTemplate: `{{ .Input.a | default "x" | quote }}`}),
				param("spec.z", "overwrite", v1alpha1.TriggerParameterSource{DependencyName: "push"}),
			},
			requireDest: true,
		},
		{
			name:   "missing src",
			params: []v1alpha1.TriggerParameter{{Dest: "a"}},
			want:   []string{"parameters[0].src: required: name the dependency whose event gives the value"},
		},
		{
			name:   "missing dependencyName",
			params: []v1alpha1.TriggerParameter{param("a", "", v1alpha1.TriggerParameterSource{DataKey: "x"})},
			want:   []string{"parameters[0].src.dependencyName: required"},
		},
		{
			name:   "unknown dependency",
			params: []v1alpha1.TriggerParameter{param("a", "", v1alpha1.TriggerParameterSource{DependencyName: "pull"})},
			want:   []string{`parameters[0].src.dependencyName: "pull" is not a dependency of the sensor`},
		},
		{
			name: "unparsable dataTemplate",
			params: []v1alpha1.TriggerParameter{
				param("a", "", v1alpha1.TriggerParameterSource{DependencyName: "push"}),
				param("b", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataTemplate: `{{ .Input.x `}),
			},
			want: []string{"parameters[1].src.dataTemplate: template: param:1: unclosed action"},
		},
		{
			name:   "unknown function in contextTemplate",
			params: []v1alpha1.TriggerParameter{param("a", "", v1alpha1.TriggerParameterSource{DependencyName: "push", ContextTemplate: `{{ .Input.id | shout }}`})},
			want:   []string{`parameters[0].src.contextTemplate: template: param:1: function "shout" not defined`},
		},
		{
			name:   "env is not available to templates",
			params: []v1alpha1.TriggerParameter{param("a", "", v1alpha1.TriggerParameterSource{DependencyName: "push", DataTemplate: `{{ env "HOME" }}`})},
			want:   []string{`parameters[0].src.dataTemplate: template: param:1: function "env" not defined`},
		},
		{
			name:        "dest required",
			params:      []v1alpha1.TriggerParameter{param("", "", v1alpha1.TriggerParameterSource{DependencyName: "push"})},
			requireDest: true,
			want:        []string{"parameters[0].dest: required: an sjson path into the target, e.g. metadata.name"},
		},
		{
			name:   "empty dest allowed in a payload",
			params: []v1alpha1.TriggerParameter{param("", "", v1alpha1.TriggerParameterSource{DependencyName: "push"})},
		},
		{
			name:   "unknown operation",
			params: []v1alpha1.TriggerParameter{param("a", "merge", v1alpha1.TriggerParameterSource{DependencyName: "push"})},
			want:   []string{`parameters[0].operation: "merge" is not one of overwrite, append, prepend`},
		},
		{
			name: "every problem is reported",
			params: []v1alpha1.TriggerParameter{
				{Operation: "x"},
				param("", "", v1alpha1.TriggerParameterSource{DependencyName: "nope", DataTemplate: "{{"}),
			},
			requireDest: true,
			want: []string{
				"parameters[0].src: required: name the dependency whose event gives the value",
				"parameters[0].dest: required: an sjson path into the target, e.g. metadata.name",
				`parameters[0].operation: "x" is not one of overwrite, append, prepend`,
				`parameters[1].src.dependencyName: "nope" is not a dependency of the sensor`,
				"parameters[1].src.dataTemplate: template: param:1: unclosed action",
				"parameters[1].dest: required: an sjson path into the target, e.g. metadata.name",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.params, deps, "parameters", tc.requireDest)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			got := strings.Split(err.Error(), "\n")
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("errors:\n%s\nwant:\n%s", err, strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestCheckPath shows that errors are named under the path given.
func TestCheckPath(t *testing.T) {
	params := []v1alpha1.TriggerParameter{param("", "", v1alpha1.TriggerParameterSource{DependencyName: "push"})}
	err := Check(params, map[string]bool{"push": true}, "spec.triggers[2].template.k8s.parameters", true)
	want := "spec.triggers[2].template.k8s.parameters[0].dest: required: an sjson path into the target, e.g. metadata.name"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
}

// assertJSON compares JSON documents by meaning, keeping numbers exact so
// that 1 and "1", or a large integer and its float, differ.
func assertJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	decode := func(b []byte) (any, error) {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var v any
		err := d.Decode(&v)
		return v, err
	}
	g, err := decode(got)
	if err != nil {
		t.Fatalf("result is not JSON: %v: %s", err, got)
	}
	w, err := decode([]byte(want))
	if err != nil {
		t.Fatalf("expected value is not JSON: %v: %s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
