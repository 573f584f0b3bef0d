package trigger_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sensor/trigger"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
)

// logFiring runs a log trigger on one event with data and returns what it
// logged.
func logFiring(t *testing.T, data any) string {
	t.Helper()
	var logs bytes.Buffer
	env := &trigger.Env{Sensor: &v1alpha1.Sensor{}, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	r, err := trigger.New(&v1alpha1.TriggerTemplate{Name: "print", Log: &v1alpha1.LogTrigger{}}, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	ev := event.New()
	ev.SetID("e1")
	ev.SetType("push")
	ev.SetSource("/webhook/push")
	if err := ev.SetData(event.ApplicationJSON, data); err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background(), trigger.Firing{Key: "k", Events: map[string]event.Event{"push": ev}}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return logs.String()
}

// A log trigger prints the event, never a credential its caller sent:
// Authorization, Cookie and X-Api-Key show the masked text, other headers
// and the body as they came.
func TestLogTriggerMasksSensitiveHeaders(t *testing.T) {
	secretValues := []string{"Bearer s3cr3t-token", "session=s3cr3t-cookie", "s3cr3t-api-key"}
	data := map[string]any{
		"header": map[string]any{
			"Authorization": []string{secretValues[0]},
			"Cookie":        []string{secretValues[1]},
			"x-api-key":     secretValues[2], // any case, and a plain string
			"User-Agent":    []string{"curl/8"},
		},
		"body": map[string]any{"ref": "main"},
	}
	out := logFiring(t, data)
	// Every secret value contains "s3cr3t": no piece of any may show.
	if strings.Contains(out, "s3cr3t") {
		t.Fatalf("the log shows a secret:\n%s", out)
	}
	var line struct {
		Push struct {
			Data string `json:"data"`
		} `json:"push"`
	}
	if err := json.Unmarshal([]byte(out), &line); err != nil {
		t.Fatalf("log line: %v\n%s", err, out)
	}
	var logged struct {
		Header map[string]any `json:"header"`
		Body   map[string]any `json:"body"`
	}
	if err := json.Unmarshal([]byte(line.Push.Data), &logged); err != nil {
		t.Fatalf("logged data: %v\n%s", err, line.Push.Data)
	}
	for _, h := range []string{"Authorization", "Cookie"} {
		if v, _ := logged.Header[h].([]any); len(v) != 1 || v[0] != secrets.Masked {
			t.Errorf("header %s logged as %v, want [%q]", h, logged.Header[h], secrets.Masked)
		}
	}
	if v := logged.Header["x-api-key"]; v != secrets.Masked {
		t.Errorf("header x-api-key logged as %v, want %q", v, secrets.Masked)
	}
	if v, _ := logged.Header["User-Agent"].([]any); len(v) != 1 || v[0] != "curl/8" {
		t.Errorf("User-Agent logged as %v, want it unchanged", logged.Header["User-Agent"])
	}
	if logged.Body["ref"] != "main" {
		t.Errorf("body logged as %v, want it unchanged", logged.Body)
	}
}

// The log keeps only the first 4 KiB of an event's data; the secret must not
// slip through where the cut falls inside the headers (a cut object no
// longer parses, so it must be masked before it is cut).
func TestLogTriggerMasksBeforeItCuts(t *testing.T) {
	// "body" sorts before "header": a long body puts the headers at the cut.
	for n := 3950; n <= 4100; n += 5 {
		out := logFiring(t, map[string]any{
			"body":   strings.Repeat("x", n),
			"header": map[string]any{"Authorization": []string{"Bearer s3cr3t-token-long-enough-to-be-cut"}},
		})
		if strings.Contains(out, "s3cr3t") {
			t.Fatalf("body of %d bytes: the log shows a piece of the secret:\n%s", n, out)
		}
	}
}
