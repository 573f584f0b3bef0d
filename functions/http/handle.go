// Package http is the built-in function that runs Argo http templates: it
// makes the request, judges it with successCondition (default: a 2xx
// status), and returns the response body as outputs.result.
package http

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/expression"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
)

// maxBody bounds the response body kept as outputs.result.
const maxBody = 256 << 10

// defaultTimeout applies when the template sets no timeoutSeconds.
const defaultTimeout = 30 * time.Second

// Options configure the function.
type Options struct {
	// Secrets resolves header values from secretKeyRef, and the
	// credentials of s3 artifact locations.
	Secrets secrets.Resolver
	// Artifacts, when set, receives each step's log.
	Artifacts sdk.ArtifactStore
	// Hosts maps a host name to the address to dial for it: `zeroflow
	// dev` maps each Knative Service's cluster names
	// (<name>.<namespace>.svc.cluster.local) to where the Service runs, so
	// that a template's URL works unchanged in both runtimes.
	Hosts map[string]string
}

// New returns the http function.
func New(opts Options) sdk.Handler {
	if opts.Secrets == nil {
		opts.Secrets = secrets.Local{}
	}
	dial := (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	if len(opts.Hosts) > 0 {
		base := dial
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if host, _, err := net.SplitHostPort(addr); err == nil {
				if to, ok := opts.Hosts[host]; ok {
					addr = to
				}
			}
			return base(ctx, network, addr)
		}
	}
	plain := &http.Client{Transport: &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 64}}
	insecure := &http.Client{Transport: &http.Transport{DialContext: dial, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the template asked for it
	return sdk.Step(func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		t := in.Template.HTTP
		if t == nil {
			return sdk.StepOutput{}, sdk.Errored(fmt.Errorf("template %s is not an http template", in.Template.Name))
		}
		method := t.Method
		if method == "" {
			method = http.MethodGet
		}
		timeout := defaultTimeout
		if t.TimeoutSeconds != nil {
			timeout = time.Duration(*t.TimeoutSeconds) * time.Second
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		var body io.Reader
		if t.Body != "" {
			body = strings.NewReader(t.Body)
		}
		req, err := http.NewRequestWithContext(ctx, method, t.URL, body)
		if err != nil {
			return sdk.StepOutput{}, sdk.Errored(fmt.Errorf("http template %s: %w", in.Template.Name, err))
		}
		for _, h := range t.Headers {
			v := h.Value
			if h.ValueFrom != nil && h.ValueFrom.SecretKeyRef != nil {
				if v, err = opts.Secrets.Get(ctx, in.Namespace, *h.ValueFrom.SecretKeyRef); err != nil {
					return sdk.StepOutput{}, sdk.Errored(fmt.Errorf("http template %s: header %s: %w", in.Template.Name, h.Name, err))
				}
			}
			req.Header.Add(h.Name, v)
		}
		client := plain
		if t.InsecureSkipVerify {
			client = insecure
		}
		sdk.Logger(ctx).Info("request", "method", method, "url", t.URL)
		resp, err := client.Do(req)
		if err != nil {
			return sdk.StepOutput{}, fmt.Errorf("%s %s: %w", method, t.URL, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		if err != nil {
			return sdk.StepOutput{}, fmt.Errorf("%s %s: read the response: %w", method, t.URL, err)
		}
		sdk.Logger(ctx).Info("response", "status", resp.StatusCode, "bytes", len(b))
		result := string(b)
		out := sdk.StepOutput{Result: &result}
		ok, err := succeeded(t.SuccessCondition, resp, result)
		if err != nil {
			return out, sdk.Errored(fmt.Errorf("http template %s: successCondition: %w", in.Template.Name, err))
		}
		if !ok {
			if t.SuccessCondition == "" {
				return out, fmt.Errorf("%s %s: status %d", method, t.URL, resp.StatusCode)
			}
			return out, fmt.Errorf("%s %s: status %d: successCondition %q is false", method, t.URL, resp.StatusCode, t.SuccessCondition)
		}
		return out, nil
	}, sdk.StepOptions{Artifacts: opts.Artifacts, Secrets: opts.Secrets})
}

// succeeded evaluates successCondition over the response, as Argo does with
// response.statusCode, response.body and response.headers.
func succeeded(cond string, resp *http.Response, body string) (bool, error) {
	if cond == "" {
		return resp.StatusCode >= 200 && resp.StatusCode < 300, nil
	}
	headers := map[string]any{}
	for k, v := range resp.Header {
		vs := make([]any, len(v))
		for i := range v {
			vs[i] = v[i]
		}
		headers[k] = vs
	}
	env := map[string]any{"response": map[string]any{"statusCode": resp.StatusCode, "body": body, "headers": headers}}
	return expression.EvalBool(cond, env)
}
