package trigger

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sensor/params"
)

// defaultHTTPTimeout is Argo's.
const defaultHTTPTimeout = 60 * time.Second

// httpRunner makes the request of an http trigger.
type httpRunner struct {
	name   string
	spec   *v1alpha1.HTTPTrigger
	policy *v1alpha1.StatusPolicy
	env    *Env
}

func newHTTP(tt *v1alpha1.TriggerTemplate, policy *v1alpha1.TriggerPolicy, env *Env) Runner {
	r := &httpRunner{name: tt.Name, spec: tt.HTTP, env: env}
	if policy != nil {
		r.policy = policy.Status
	}
	return r
}

func (r *httpRunner) Run(ctx context.Context, f Firing) error {
	var spec v1alpha1.HTTPTrigger
	if err := applyTo(r.spec, r.spec.Parameters, f.Events, &spec); err != nil {
		return Permanent(fmt.Errorf("http trigger %s: %w", r.name, err))
	}
	var body []byte
	if len(spec.Payload) > 0 {
		var err error
		if body, err = params.Payload(spec.Payload, f.Events); err != nil {
			return Permanent(fmt.Errorf("http trigger %s: %w", r.name, err))
		}
	}
	method := strings.ToUpper(spec.Method)
	if method == "" {
		method = http.MethodPost
	}
	timeout := defaultHTTPTimeout
	if spec.Timeout > 0 {
		timeout = time.Duration(spec.Timeout) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, spec.URL, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("http trigger %s: %w", r.name, err))
	}
	// A URL no client can use fails the same way on every attempt.
	if (req.URL.Scheme != "http" && req.URL.Scheme != "https") || req.URL.Host == "" {
		return Permanent(fmt.Errorf("http trigger %s: url %q: want an absolute http or https URL", r.name, spec.URL))
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range spec.Headers {
		req.Header.Set(k, v)
	}
	ns := r.env.Sensor.Namespace
	for _, h := range spec.SecureHeaders {
		v, err := r.env.Secrets.Get(ctx, ns, *h.ValueFrom.SecretKeyRef)
		if err != nil {
			return fmt.Errorf("http trigger %s: header %s: %w", r.name, h.Name, err)
		}
		req.Header.Set(h.Name, v)
	}
	if b := spec.BasicAuth; b != nil {
		user, err := r.env.Secrets.Get(ctx, ns, *b.Username)
		if err != nil {
			return fmt.Errorf("http trigger %s: basicAuth username: %w", r.name, err)
		}
		pass, err := r.env.Secrets.Get(ctx, ns, *b.Password)
		if err != nil {
			return fmt.Errorf("http trigger %s: basicAuth password: %w", r.name, err)
		}
		req.SetBasicAuth(user, pass)
	}
	resp, err := r.env.HTTP.Do(req)
	if err != nil {
		return classifyRequestError(fmt.Errorf("http trigger %s: %s %s: %w", r.name, method, spec.URL, err))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if !r.allowed(resp.StatusCode) {
		return classifyStatus(resp.StatusCode, fmt.Errorf("http trigger %s: %s %s answered %d: %s", r.name, method, spec.URL, resp.StatusCode, strings.TrimSpace(string(snippet))))
	}
	r.env.Logger.InfoContext(ctx, "http trigger ran", "trigger", r.name, "url", spec.URL, "status", resp.StatusCode)
	return nil
}

// classifyStatus marks the refusal of a downstream that answered code as
// permanent when another attempt cannot change it: a 4xx other than 408
// and 429. That includes 404 and 409, which Knative's delivery retries:
// an http trigger's URL that is not there, or a request that conflicts
// with the target's state, is the same on the next attempt.
func classifyStatus(code int, err error) error {
	if isPermanentCode(code) {
		return Permanent(err)
	}
	return err
}

// classifyRequestError marks a request that failed before any answer as
// permanent when no retry can make it succeed: a redirect to an unusable
// URL or a server certificate that does not verify. Refused connections,
// timeouts and unknown hosts may pass.
func classifyRequestError(err error) error {
	var unknownCA x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostname x509.HostnameError
	var verify *tls.CertificateVerificationError
	if errors.As(err, &unknownCA) || errors.As(err, &invalid) || errors.As(err, &hostname) || errors.As(err, &verify) ||
		strings.Contains(err.Error(), "unsupported protocol scheme") {
		return Permanent(err)
	}
	return err
}

// allowed applies the status policy: the listed statuses, else any 2xx.
func (r *httpRunner) allowed(code int) bool {
	if r.policy != nil && len(r.policy.Allow) > 0 {
		return slices.Contains(r.policy.Allow, int32(code))
	}
	return code >= 200 && code <= 299
}
