package sensor_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
)

var cronWorkflows = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "cronworkflows"}

// The seed's use of the k8s trigger: a webhook creates a CronWorkflow
// named from the request body, and another deletes it later. The objects
// are real, in the API server.
func TestK8sTriggerCreatesAndDeletesAnObjectNamedFromTheBody(t *testing.T) {
	start(t, `
metadata: {name: infra}
spec:
  dependencies:
  - {name: create, eventSourceName: eventsource, eventName: create-infra}
  - {name: remove, eventSourceName: eventsource, eventName: delete-infra}
  triggers:
  - template:
      name: create-cron
      conditions: create
      k8s:
        operation: create
        source:
          resource:
            apiVersion: argoproj.io/v1alpha1
            kind: CronWorkflow
            metadata: {name: placeholder}
            spec:
              schedule: "0 9 16 4 *"
              workflowSpec:
                entrypoint: main
                arguments:
                  parameters:
                  - name: title
                templates:
                - {name: main, script: {image: alpine, command: [sh], source: "echo up"}}
        parameters:
        - src: {dependencyName: create, dataKey: body.name}
          dest: metadata.name
        - src: {dependencyName: create, dataKey: body.title}
          dest: spec.workflowSpec.arguments.parameters.0.value
        - src: {dependencyName: create, dataKey: body.schedule, value: "0 9 16 4 *"}
          dest: spec.schedule
  - template:
      name: delete-cron
      conditions: remove
      k8s:
        operation: delete
        source:
          resource:
            apiVersion: argoproj.io/v1alpha1
            kind: CronWorkflow
            metadata: {name: placeholder}
        parameters:
        - src: {dependencyName: remove, dataKey: body.name}
          dest: metadata.name
`, rigOptions{})
	ctx := context.Background()
	crons := dyn.Resource(cronWorkflows).Namespace("default")
	send(t, "eventsource", "create-infra", "c-1", map[string]any{"body": map[string]any{"name": "peaktime-common", "title": "Peak time", "schedule": "0 8 * * 1"}})
	waitFor(t, "the CronWorkflow", func() bool { _, err := crons.Get(ctx, "peaktime-common", metav1.GetOptions{}); return err == nil })
	got, _ := crons.Get(ctx, "peaktime-common", metav1.GetOptions{})
	spec := got.Object["spec"].(map[string]any)
	param := spec["workflowSpec"].(map[string]any)["arguments"].(map[string]any)["parameters"].([]any)[0].(map[string]any)
	if spec["schedule"] != "0 8 * * 1" || param["value"] != "Peak time" {
		t.Errorf("CronWorkflow spec %v", spec)
	}
	if got.GetLabels()["zeroflow.dev/sensor"] != "infra" || got.GetLabels()["zeroflow.dev/trigger"] != "create-cron" {
		t.Errorf("labels %v", got.GetLabels())
	}

	// A redelivery finds it there and succeeds.
	send(t, "eventsource", "create-infra", "c-1", map[string]any{"body": map[string]any{"name": "peaktime-common", "title": "Peak time"}})
	send(t, "eventsource", "delete-infra", "d-1", map[string]any{"body": map[string]any{"name": "peaktime-common"}})
	waitFor(t, "the CronWorkflow to go", func() bool {
		_, err := crons.Get(ctx, "peaktime-common", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}

func TestK8sTriggerPatchesAndUpdates(t *testing.T) {
	ctx := context.Background()
	crons := dyn.Resource(widgets).Namespace("default")
	start(t, `
metadata: {name: tweak}
spec:
  dependencies:
  - {name: make, eventSourceName: ops, eventName: make}
  - {name: pause, eventSourceName: ops, eventName: pause}
  - {name: reschedule, eventSourceName: ops, eventName: reschedule}
  triggers:
  - template:
      name: make
      conditions: make
      k8s:
        source:
          inline: |
            apiVersion: example.com/v1
            kind: Widget
            metadata: {name: nightly}
            spec: {schedule: "0 1 * * *", suspend: false, note: keep}
  - template:
      name: pause
      conditions: pause
      k8s:
        operation: patch
        source:
          resource:
            apiVersion: example.com/v1
            kind: Widget
            metadata: {name: nightly}
            spec: {suspend: true}
  - template:
      name: reschedule
      conditions: reschedule
      k8s:
        operation: update
        liveObject: true
        source:
          resource:
            apiVersion: example.com/v1
            kind: Widget
            metadata: {name: nightly}
        parameters:
        - src: {dependencyName: reschedule, dataKey: schedule}
          dest: spec.schedule
`, rigOptions{})
	send(t, "ops", "make", "m-1", map[string]any{})
	waitFor(t, "the object", func() bool { _, err := crons.Get(ctx, "nightly", metav1.GetOptions{}); return err == nil })
	send(t, "ops", "pause", "p-1", map[string]any{})
	waitFor(t, "the patch", func() bool {
		u, err := crons.Get(ctx, "nightly", metav1.GetOptions{})
		return err == nil && u.Object["spec"].(map[string]any)["suspend"] == true
	})
	send(t, "ops", "reschedule", "r-1", map[string]any{"schedule": "30 2 * * *"})
	waitFor(t, "the update", func() bool {
		u, err := crons.Get(ctx, "nightly", metav1.GetOptions{})
		if err != nil {
			return false
		}
		spec := u.Object["spec"].(map[string]any)
		// liveObject keeps what the source does not say.
		return spec["schedule"] == "30 2 * * *" && spec["suspend"] == true && spec["note"] == "keep"
	})
}

func TestHTTPTriggerHeadersSecretsAuthAndStatusPolicy(t *testing.T) {
	hook := newEndpoint(t, http.StatusCreated)
	env := map[string]string{
		secrets.EnvName(secretRef("api", "token")):  "s3cret",
		secrets.EnvName(secretRef("basic", "user")): "alice",
		secrets.EnvName(secretRef("basic", "pass")): "pw",
	}
	start(t, `
metadata: {name: caller}
spec:
  dependencies:
  - {name: dep, eventSourceName: src, eventName: e}
  triggers:
  - template:
      name: call
      http:
        url: http://127.0.0.1:1/replaced
        method: PUT
        timeout: 5
        headers: {X-Team: data}
        secureHeaders:
        - name: Authorization
          valueFrom: {secretKeyRef: {name: api, key: token}}
        basicAuth:
          username: {name: basic, key: user}
          password: {name: basic, key: pass}
        payload:
        - {src: {dependencyName: dep, dataKey: id}, dest: job.id}
        parameters:
        - src: {dependencyName: dep, dataKey: target}
          dest: url
    policy:
      status: {allow: [201]}
`, rigOptions{secrets: secrets.Local{Getenv: func(k string) string { return env[k] }}})
	send(t, "src", "e", "h-1", map[string]any{"id": "j-9", "target": hook.URL + "/jobs"})
	req := hook.next(t)
	if req.Method != http.MethodPut || req.Path != "/jobs" || req.Header.Get("X-Team") != "data" {
		t.Errorf("request %s %s %v", req.Method, req.Path, req.Header)
	}
	// basicAuth is set after secureHeaders, so it wins for Authorization.
	if user, pass, ok := (&http.Request{Header: req.Header}).BasicAuth(); !ok || user != "alice" || pass != "pw" {
		t.Errorf("basic auth %q", req.Header.Get("Authorization"))
	}
	if req.Body != `{"job":{"id":"j-9"}}` || req.Header.Get("Content-Type") != "application/json" {
		t.Errorf("body %s (%s)", req.Body, req.Header.Get("Content-Type"))
	}
}

func secretRef(name, key string) v1alpha1.SecretKeySelector {
	return v1alpha1.SecretKeySelector{Name: name, Key: key}
}

// A 200 is a failure when the policy allows only 201; the retry strategy
// tries again, and the second answer, 201, succeeds.
func TestRetryStrategyAndStatusPolicy(t *testing.T) {
	hook := newEndpoint(t, http.StatusOK, http.StatusCreated)
	r := start(t, `
metadata: {name: retrier}
spec:
  dependencies:
  - {name: dep, eventSourceName: src, eventName: e}
  triggers:
  - template:
      name: call
      http: {url: `+hook.URL+`}
    policy: {status: {allow: [201]}}
    retryStrategy: {steps: 3, duration: 10ms, factor: 2, jitter: 0.1}
`, rigOptions{})
	send(t, "src", "e", "r-1", map[string]any{})
	hook.next(t)
	hook.next(t)
	hook.none(t, 300*time.Millisecond)
	if !strings.Contains(r.logs.String(), "retrying") {
		t.Errorf("no retry logged:\n%s", r.logs)
	}
}

// A trigger that fails for good runs its dlqTrigger with the same events.
func TestDLQTrigger(t *testing.T) {
	failing := newEndpoint(t, 500, 500, 500)
	dlq := newEndpoint(t)
	start(t, `
metadata: {name: dlq}
spec:
  dependencies:
  - {name: dep, eventSourceName: src, eventName: e}
  triggers:
  - template:
      name: call
      http: {url: `+failing.URL+`}
    retryStrategy: {steps: 2, duration: 1ms}
    dlqTrigger:
      template:
        name: dead
        http:
          url: `+dlq.URL+`
          payload:
          - {src: {dependencyName: dep, dataKey: id}, dest: failed}
`, rigOptions{})
	send(t, "src", "e", "x-1", map[string]any{"id": "x-1"})
	failing.next(t)
	failing.next(t)
	if got := jsonBody(t, dlq.next(t)); got["failed"] != "x-1" {
		t.Errorf("dlq payload %v", got)
	}
	failing.none(t, 300*time.Millisecond)
}

// At least once (the default): a failing trigger makes the sensor answer
// an error, and the broker delivers the event again until it succeeds;
// for an AND condition the claimed firing stays pending in the status and
// is fired by the redelivery.
func TestAtLeastOnceRedeliversUntilTheTriggerSucceeds(t *testing.T) {
	hook := newEndpoint(t, 503, 503)
	retry := int32(5)
	linear := eventingduckv1.BackoffPolicyLinear
	delay := "PT0.05S"
	r := start(t, `
metadata: {name: redeliver}
spec:
  dependencies:
  - {name: a, eventSourceName: src, eventName: a}
  - {name: b, eventSourceName: src, eventName: b}
  triggers:
  - template:
      name: both
      conditions: a && b
      http: {url: `+hook.URL+`}
`, rigOptions{delivery: &eventingduckv1.DeliverySpec{Retry: &retry, BackoffPolicy: &linear, BackoffDelay: &delay}})
	send(t, "src", "a", "a-1", map[string]any{})
	waitFor(t, "a to wait", func() bool { return r.waiting(t, "both")["a"] == "a-1" })
	send(t, "src", "b", "b-1", map[string]any{})
	hook.next(t)
	hook.next(t)
	hook.next(t)
	hook.none(t, 300*time.Millisecond)
	waitFor(t, "the pending firing to be done", func() bool {
		st := r.status(t)
		return len(st.Triggers) == 1 && len(st.Triggers[0].Pending) == 0 && st.Triggers[0].LastFiredAt != nil
	})
}

// atLeastOnce: false is Argo's at-most-once: the sensor answers at once and
// a failure is not retried.
func TestAtMostOnce(t *testing.T) {
	hook := newEndpoint(t, 500, 500, 500)
	retry := int32(3)
	start(t, `
metadata: {name: once}
spec:
  dependencies:
  - {name: dep, eventSourceName: src, eventName: e}
  triggers:
  - template:
      name: call
      http: {url: `+hook.URL+`}
    atLeastOnce: false
`, rigOptions{delivery: &eventingduckv1.DeliverySpec{Retry: &retry}})
	send(t, "src", "e", "o-1", map[string]any{})
	hook.next(t)
	hook.none(t, 500*time.Millisecond)
}

// rateLimit delays executions, it does not drop them: 5 events at 2 per
// second, with a burst of 2, take at least a second and all arrive.
func TestRateLimitDelaysWithoutDropping(t *testing.T) {
	hook := newEndpoint(t)
	start(t, `
metadata: {name: limited}
spec:
  dependencies:
  - {name: dep, eventSourceName: src, eventName: e}
  triggers:
  - template:
      name: call
      http: {url: `+hook.URL+`}
    rateLimit: {unit: Second, requestsPerUnit: 2}
`, rigOptions{})
	began := time.Now()
	for _, id := range []string{"1", "2", "3", "4", "5"} {
		send(t, "src", "e", "rl-"+id, map[string]any{})
	}
	for range 5 {
		hook.next(t)
	}
	if elapsed := time.Since(began); elapsed < time.Second {
		t.Errorf("5 executions at 2/s took %v", elapsed)
	}
}

func TestLogTrigger(t *testing.T) {
	r := start(t, `
metadata: {name: logger}
spec:
  dependencies:
  - {name: dep, eventSourceName: src, eventName: e}
  loggingFields: {team: data}
  triggers:
  - template:
      name: log-all
      log: {}
  - template:
      name: log-rarely
      log: {intervalSeconds: 60}
`, rigOptions{})
	send(t, "src", "e", "l-1", map[string]any{"msg": "first"})
	send(t, "src", "e", "l-2", map[string]any{"msg": "second"})
	waitFor(t, "both events logged", func() bool { return strings.Count(r.logs.String(), `"trigger":"log-all"`) == 2 })
	logs := r.logs.String()
	if n := strings.Count(logs, `"trigger":"log-rarely"`); n != 1 {
		t.Errorf("log with intervalSeconds logged %d times, want 1:\n%s", n, logs)
	}
	if !strings.Contains(logs, `\"msg\":\"first\"`) || !strings.Contains(logs, `"team":"data"`) {
		t.Errorf("log lacks the event data or logging fields:\n%s", logs)
	}
}

func TestCloudEventTrigger(t *testing.T) {
	target := newEndpoint(t)
	r := start(t, `
metadata: {name: emitter}
spec:
  dependencies:
  - {name: dep, eventSourceName: src, eventName: e}
  triggers:
  - template:
      name: to-broker
      cloudEvent:
        type: com.example.passed
        subject: checked
        extensions: {team: data}
  - template:
      name: to-url
      cloudEvent:
        type: com.example.summary
        url: `+target.URL+`
        payload:
        - {src: {dependencyName: dep, dataKey: num}, dest: count}
`, rigOptions{})
	send(t, "src", "e", "ce-1", map[string]any{"num": 5})
	ev := r.nextSent(t)
	if ev.Type() != "com.example.passed" || ev.Subject() != "checked" || ev.Extensions()["team"] != "data" || string(ev.Data()) != `{"num":5}` {
		t.Errorf("event to the broker: %v", ev)
	}
	req := target.next(t)
	if req.Header.Get("Ce-Type") != "com.example.summary" || req.Body != `{"count":"5"}` {
		t.Errorf("event to the URL: %v %s", req.Header, req.Body)
	}
}

func TestSlackTrigger(t *testing.T) {
	slack := newEndpoint(t)
	env := map[string]string{secrets.EnvName(secretRef("slack", "url")): slack.URL + "/services/T/B/X"}
	start(t, `
metadata: {name: notifier}
spec:
  dependencies:
  - {name: dep, eventSourceName: src, eventName: e}
  triggers:
  - template:
      name: notify
      slack:
        webhookURL: {name: slack, key: url}
        message: placeholder
        blocks: '[{"type":"divider"}]'
        parameters:
        - src: {dependencyName: dep, dataTemplate: 'Batch {{ .Input.batch }} done'}
          dest: message
`, rigOptions{secrets: secrets.Local{Getenv: func(k string) string { return env[k] }}})
	send(t, "src", "e", "s-1", map[string]any{"batch": 12})
	req := slack.next(t)
	var msg struct {
		Text   string            `json:"text"`
		Blocks []json.RawMessage `json:"blocks"`
	}
	if err := json.Unmarshal([]byte(req.Body), &msg); err != nil || req.Path != "/services/T/B/X" {
		t.Fatalf("%s %s: %v", req.Path, req.Body, err)
	}
	if msg.Text != "Batch 12 done" || len(msg.Blocks) != 1 {
		t.Errorf("message %+v", msg)
	}
}
