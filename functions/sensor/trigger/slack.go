package trigger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// slackRunner posts a message to a Slack incoming webhook. Argo's slack
// trigger uses a bot token and the chat API; an incoming webhook needs no
// app scopes and is what most users set up.
type slackRunner struct {
	name string
	spec *v1alpha1.SlackTrigger
	env  *Env
}

func newSlack(tt *v1alpha1.TriggerTemplate, env *Env) Runner {
	return &slackRunner{name: tt.Name, spec: tt.Slack, env: env}
}

func (r *slackRunner) Run(ctx context.Context, f Firing) error {
	var spec v1alpha1.SlackTrigger
	if err := applyTo(r.spec, r.spec.Parameters, f.Events, &spec); err != nil {
		return Permanent(fmt.Errorf("slack trigger %s: %w", r.name, err))
	}
	url, err := r.env.Secrets.Get(ctx, r.env.Sensor.Namespace, *spec.WebhookURL)
	if err != nil {
		return fmt.Errorf("slack trigger %s: webhookURL: %w", r.name, err)
	}
	msg := map[string]any{"text": spec.Message}
	for field, raw := range map[string]string{"blocks": spec.Blocks, "attachments": spec.Attachments} {
		if raw == "" {
			continue
		}
		if !json.Valid([]byte(raw)) {
			return Permanent(fmt.Errorf("slack trigger %s: %s is not JSON", r.name, field))
		}
		msg[field] = json.RawMessage(raw)
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return Permanent(fmt.Errorf("slack trigger %s: %w", r.name, err))
	}
	ctx, cancel := context.WithTimeout(ctx, defaultHTTPTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("slack trigger %s: webhookURL: %w", r.name, err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.env.HTTP.Do(req)
	if err != nil {
		// The URL is a credential; the error from the client contains it.
		failed := fmt.Errorf("slack trigger %s: post to the incoming webhook failed", r.name)
		if IsPermanent(classifyRequestError(err)) {
			return Permanent(failed)
		}
		return failed
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return classifyStatus(resp.StatusCode, fmt.Errorf("slack trigger %s: the incoming webhook answered %d: %s", r.name, resp.StatusCode, strings.TrimSpace(string(answer))))
	}
	r.env.Logger.InfoContext(ctx, "slack message posted", "trigger", r.name)
	return nil
}
