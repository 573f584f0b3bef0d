package sensor_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/filter"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/functions/sensor"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
)

// statusServer answers every request to /N with status N, and counts the
// requests per status.
type statusServer struct {
	*httptest.Server
	mu  sync.Mutex
	got map[int]int
}

func newStatusServer(t *testing.T) *statusServer {
	t.Helper()
	s := &statusServer{got: map[int]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		code, err := strconv.Atoi(strings.Trim(r.URL.Path, "/"))
		if err != nil {
			code = http.StatusOK
		}
		s.mu.Lock()
		s.got[code]++
		s.mu.Unlock()
		http.Error(w, "answered "+strconv.Itoa(code), code)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *statusServer) count(code int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[code]
}

// postDependency sends the sensor function at url the dependency event of
// a source event with data, as its filter would, and returns the status
// the sensor answers and its body.
func postDependency(t *testing.T, url string, s *v1alpha1.Sensor, dep, id string, data any) (int, string) {
	t.Helper()
	ev, err := filter.Dependency(s, dep, sourceEvent("src", "e", id, data))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	if err := cehttp.WriteRequest(context.Background(), binding.ToMessage(&ev), req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// An http trigger whose target refuses for good (a 4xx but 408 and 429)
// is tried once whatever its retryStrategy, and the sensor answers 422,
// which the broker does not retry; a temporary answer is retried up to the
// strategy and answered 500, which the broker retries. A URL no client can
// use and a certificate that does not verify are permanent; a refused
// connection is not. Every target is a real server on loopback.
func TestHTTPTriggerAnswersAreClassified(t *testing.T) {
	target := newStatusServer(t)
	tlsTarget := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(tlsTarget.Close)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + closed.Addr().String()
	closed.Close()
	r := start(t, `
metadata: {name: http-statuses}
spec:
  dependencies:
  - {name: dep, eventSourceName: src, eventName: e}
  triggers:
  - template:
      name: call
      http:
        url: http://placeholder.invalid/
        method: POST
        parameters:
        - src: {dependencyName: dep, dataKey: url}
          dest: url
    retryStrategy: {steps: 3, duration: 10ms}
`, rigOptions{})
	const permanent, temporary = http.StatusUnprocessableEntity, http.StatusInternalServerError
	for _, tc := range []struct {
		code     int
		want     int
		attempts int
	}{
		{200, http.StatusAccepted, 1},
		{204, http.StatusAccepted, 1},
		{400, permanent, 1},
		{401, permanent, 1},
		{403, permanent, 1},
		{404, permanent, 1},
		{405, permanent, 1},
		{409, permanent, 1},
		{410, permanent, 1},
		{413, permanent, 1},
		{415, permanent, 1},
		{422, permanent, 1},
		{408, temporary, 3},
		{429, temporary, 3},
		{500, temporary, 3},
		{502, temporary, 3},
		{503, temporary, 3},
		{504, temporary, 3},
	} {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			code, body := postDependency(t, r.urls.sensor, r.sensor, "dep", fmt.Sprintf("status-%d", tc.code), map[string]string{"url": fmt.Sprintf("%s/%d", target.URL, tc.code)})
			if code != tc.want {
				t.Errorf("the sensor answered %d (%s) to a target's %d, want %d", code, strings.TrimSpace(body), tc.code, tc.want)
			}
			if got := target.count(tc.code); got != tc.attempts {
				t.Errorf("the target was called %d times, want %d", got, tc.attempts)
			}
		})
	}
	for _, tc := range []struct {
		name, url string
		want      int
	}{
		{"not http", "ftp://" + strings.TrimPrefix(target.URL, "http://") + "/200", permanent},
		{"no host", "http:///200", permanent},
		{"an untrusted certificate", tlsTarget.URL, permanent},
		{"a refused connection", refused, temporary},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := postDependency(t, r.urls.sensor, r.sensor, "dep", "url-"+tc.name, map[string]string{"url": tc.url})
			if code != tc.want {
				t.Errorf("the sensor answered %d (%s), want %d", code, strings.TrimSpace(body), tc.want)
			}
		})
	}
}

// A workflow submit that the broker (or the controller behind it) refuses
// for good is not retried and the sensor answers 422; a temporary refusal
// is retried and answered 500. The broker is a real server on loopback
// answering each status.
func TestSubmitRefusalsAreClassified(t *testing.T) {
	s := decodeSensor(t, `
metadata: {name: submit-statuses}
spec:
  dependencies:
  - {name: dep, eventSourceName: src, eventName: e}
  triggers:
  - template:
      name: run
      argoWorkflow:
        operation: submit
        source:
          resource:
            apiVersion: zeroflow.dev/v1alpha1
            kind: Workflow
            metadata: {generateName: run-}
            spec:
              workflowTemplateRef: {name: wft-a-simple}
    retryStrategy: {steps: 3, duration: 10ms}
`)
	for _, tc := range []struct {
		code     int
		want     int
		attempts int
	}{
		{202, http.StatusAccepted, 1},
		{400, http.StatusUnprocessableEntity, 1},
		{401, http.StatusUnprocessableEntity, 1},
		{403, http.StatusUnprocessableEntity, 1},
		{404, http.StatusUnprocessableEntity, 1},
		{413, http.StatusUnprocessableEntity, 1},
		{415, http.StatusUnprocessableEntity, 1},
		{422, http.StatusUnprocessableEntity, 1},
		{408, http.StatusInternalServerError, 3},
		{429, http.StatusInternalServerError, 3},
		{500, http.StatusInternalServerError, 3},
		{503, http.StatusInternalServerError, 3},
	} {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			sink := newStatusServer(t)
			fn, err := sensor.New(context.Background(), sensor.Config{
				Sensor: s,
				Send:   sdk.NewSender(fmt.Sprintf("%s/%d", sink.URL, tc.code)).Send,
				Logger: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				t.Fatal(err)
			}
			code, body := postDependency(t, serve(t, fn), s, "dep", "submit-1", map[string]int{"n": 1})
			if code != tc.want {
				t.Errorf("the sensor answered %d (%s) to a broker's %d, want %d", code, strings.TrimSpace(body), tc.code, tc.want)
			}
			if got := sink.count(tc.code); got != tc.attempts {
				t.Errorf("the broker got %d submits, want %d", got, tc.attempts)
			}
		})
	}
}

// A slack trigger's incoming webhook that refuses for good (Slack answers
// 400 invalid_payload, 403 action_prohibited, 404 no_service, 410
// channel_is_archived) is posted to once and the sensor answers 422; a 429
// or a 5xx is retried up to the strategy and answered 500. A webhook URL
// whose certificate does not verify is permanent; a refused connection is
// not. The webhook is a real server on loopback; the URL, a secret, is
// read at each firing, so one sensor serves every case.
func TestSlackTriggerAnswersAreClassified(t *testing.T) {
	target := newStatusServer(t)
	tlsTarget := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(tlsTarget.Close)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + closed.Addr().String()
	closed.Close()
	var webhookURL atomic.Pointer[string]
	r := start(t, `
metadata: {name: slack-statuses}
spec:
  dependencies:
  - {name: dep, eventSourceName: src, eventName: e}
  triggers:
  - template:
      name: notify
      slack:
        webhookURL: {name: slack, key: url}
        message: hello
    retryStrategy: {steps: 3, duration: 10ms}
`, rigOptions{secrets: secrets.Local{Getenv: func(string) string {
		if u := webhookURL.Load(); u != nil {
			return *u
		}
		return ""
	}}})
	const permanent, temporary = http.StatusUnprocessableEntity, http.StatusInternalServerError
	for _, tc := range []struct {
		name     string
		url      string
		code     int // the webhook's answer, when it is the status server
		want     int
		attempts int
	}{
		{name: "200", code: 200, want: http.StatusAccepted, attempts: 1},
		{name: "400", code: 400, want: permanent, attempts: 1},
		{name: "403", code: 403, want: permanent, attempts: 1},
		{name: "404", code: 404, want: permanent, attempts: 1},
		{name: "410", code: 410, want: permanent, attempts: 1},
		{name: "429", code: 429, want: temporary, attempts: 3},
		{name: "500", code: 500, want: temporary, attempts: 3},
		{name: "503", code: 503, want: temporary, attempts: 3},
		{name: "an untrusted certificate", url: tlsTarget.URL, want: permanent},
		{name: "not http", url: "ftp://" + strings.TrimPrefix(target.URL, "http://") + "/200", want: permanent},
		{name: "a refused connection", url: refused, want: temporary},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url
			if url == "" {
				url = fmt.Sprintf("%s/%d", target.URL, tc.code)
			}
			webhookURL.Store(&url)
			code, body := postDependency(t, r.urls.sensor, r.sensor, "dep", "slack-"+tc.name, map[string]int{"n": 1})
			if code != tc.want {
				t.Errorf("the sensor answered %d (%s), want %d", code, strings.TrimSpace(body), tc.want)
			}
			if strings.Contains(body, url) {
				t.Errorf("the answer %q shows the webhook URL, a credential", body)
			}
			if tc.url == "" {
				if got := target.count(tc.code); got != tc.attempts {
					t.Errorf("the webhook was called %d times, want %d", got, tc.attempts)
				}
			}
		})
	}
}
