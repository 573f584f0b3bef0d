package sensor_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/zeroflow-dev/zeroflow/api/events"
)

// What the sensor function answers to events that are not for it: a clear
// 400 (the broker does not retry a 4xx; it dead-letters it), and no crash.
func TestSensorRefusesWhatIsNotItsDependencyEvent(t *testing.T) {
	r := start(t, `
metadata: {name: strict}
spec:
  dependencies:
  - {name: dep, eventSourceName: src, eventName: e}
  triggers:
  - template: {name: show, log: {}}
`, rigOptions{})
	post := func(headers map[string]string, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, r.urls.sensor, strings.NewReader(body))
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	ce := func(typ string, ext map[string]string) map[string]string {
		h := map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "x", "Ce-Source": "/t", "Ce-Type": typ, "Content-Type": "application/json"}
		for k, v := range ext {
			h["Ce-"+k] = v
		}
		return h
	}
	ok := map[string]string{events.ExtSensor: "strict", events.ExtDependency: "dep", events.ExtNamespace: "default"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range ok {
			m[a] = b
		}
		m[k] = v
		return m
	}
	for _, c := range []struct {
		name    string
		headers map[string]string
		body    string
		code    int
		msg     string
	}{
		{"not a CloudEvent", map[string]string{"Content-Type": "application/json"}, `{}`, 400, "not a CloudEvent"},
		{"another type", ce("webhook", ok), `{}`, 400, `not "webhook"`},
		{"another sensor", ce(events.TypeDependency, with(events.ExtSensor, "other")), `{}`, 400, `for sensor "other"`},
		{"another namespace", ce(events.TypeDependency, with(events.ExtNamespace, "prod")), `{}`, 400, `namespace "prod"`},
		{"unknown dependency", ce(events.TypeDependency, with(events.ExtDependency, "ghost")), `{}`, 400, `dependency "ghost"`},
		{"malformed data", ce(events.TypeDependency, ok), `{"event": 12`, 400, "data is not a dependency"},
		{"data without an event", ce(events.TypeDependency, ok), `{"event": {"specversion": "1.0"}}`, 400, "decode matched event"},
	} {
		code, msg := post(c.headers, c.body)
		if code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: %d %q, want %d containing %q", c.name, code, msg, c.code, c.msg)
		}
	}
}
