package webhook_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/webhook"
)

// A webhook filter is the author's code over the caller's data: a body that
// makes it allocate without bound is dropped by the expression budget (as
// any event the filter drops, with 200), the process lives, and an
// ordinary body still passes.
func TestFilterRunsWithinTheExpressionBudget(t *testing.T) {
	var es v1alpha1.EventSource
	if err := yaml.UnmarshalStrict([]byte(`
apiVersion: zeroflow.dev/v1alpha1
kind: EventSource
metadata: {name: hooks, namespace: default}
spec:
  webhook:
    in:
      port: "12000"
      endpoint: /in
      method: POST
      filter: {expression: 'len(repeat(body.s, body.n)) > 0'}
`), &es); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	w, err := webhook.New(&es, webhook.Options{Send: rec.send})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	if code, body := post(t, srv.URL+"/in", "application/json", `{"s": "xxxxxxxxxx", "n": 1000000000}`); code != http.StatusOK {
		t.Fatalf("bomb body: %d %s", code, body)
	}
	if n := len(rec.events()); n != 0 {
		t.Fatalf("the bomb body was sent (%d events)", n)
	}
	if code, body := post(t, srv.URL+"/in", "application/json", `{"s": "x", "n": 3}`); code != http.StatusOK {
		t.Fatalf("ordinary body: %d %s", code, body)
	}
	if n := len(rec.events()); n != 1 {
		t.Fatalf("the ordinary body: %d events sent, want 1", n)
	}
}
