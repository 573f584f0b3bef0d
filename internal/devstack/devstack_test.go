package devstack

import (
	"context"
	"github.com/zeroflow-dev/zeroflow/render"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

const template = `apiVersion: zeroflow.dev/v1alpha1
kind: WorkflowTemplate
metadata: {name: lib}
spec:
  entrypoint: ENTRY
  templates:
  - {name: first, function: {name: one}}
  - {name: second, function: {name: two}}
`

// A restart on the same data dir finds the objects of the last run and
// replaces them with the manifests as they are now.
func TestRestartUpdatesWhatChanged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the API server twice")
	}
	dir, data := t.TempDir(), t.TempDir()
	manifest := filepath.Join(dir, "wft.yaml")
	write := func(entry string) {
		if err := os.WriteFile(manifest, []byte(strings.Replace(template, "ENTRY", entry, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	entrypoint := func(s *Stack) string {
		c, err := dynamic.NewForConfig(s.API.Config())
		if err != nil {
			t.Fatal(err)
		}
		u, err := c.Resource(v1alpha1.SchemeGroupVersion.WithResource("workflowtemplates")).Namespace(DefaultNamespace).Get(ctx, "lib", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		e, _, _ := unstructured.NestedString(u.Object, "spec", "entrypoint")
		return e
	}

	write("first")
	s, err := Start(ctx, Options{Paths: []string{dir}, DataDir: data, BrokerAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if got := entrypoint(s); got != "first" {
		t.Errorf("entrypoint = %q", got)
	}
	if strings.Join(s.Applied, ",") != "WorkflowTemplate default/lib" {
		t.Errorf("applied = %v", s.Applied)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}

	write("second")
	s, err = Start(ctx, Options{Paths: []string{dir}, DataDir: data, BrokerAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer s.Stop()
	if got := entrypoint(s); got != "second" {
		t.Errorf("after restart, entrypoint = %q, want the edited manifest's", got)
	}
}

func TestStartRefusesInvalidManifestsBeforeStartingAnything(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(strings.Replace(template, "ENTRY", "nowhere", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), Options{Paths: []string{dir}, DataDir: t.TempDir(), BrokerAddr: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), `spec.entrypoint: Not found: "nowhere"`) {
		t.Errorf("err = %v", err)
	}
}

// The stack's broker serves default/default and the Triggers of the
// directory: an event posted to it reaches the Trigger's subscriber.
func TestBrokerServesTheDirectorysTriggers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the API server and the broker")
	}
	got := make(chan string, 1)
	sub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Ce-Id")
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sub.Close()
	dir := t.TempDir()
	trigger := `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: to-sub}
spec:
  broker: default
  filter: {attributes: {type: hello}}
  subscriber: {uri: ` + sub.URL + `}
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: tester}
spec:
  to: [{ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}]
  from: [{sub: "system:serviceaccount:default:tester"}]
  filters: [{exact: {type: hello}}]
`
	if err := os.WriteFile(filepath.Join(dir, "trigger.yaml"), []byte(trigger), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Paths: []string{dir}, DataDir: t.TempDir(), BrokerAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if strings.Join(s.Brokers, ",") != "default/default" || len(s.Skipped) != 0 {
		t.Errorf("brokers %v, skipped %v", s.Brokers, s.Skipped)
	}
	post := func(token string) int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.Broker.Address("default", "default"), strings.NewReader("{}"))
		for k, v := range map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "e1", "Ce-Source": "/test", "Ce-Type": "hello", "Content-Type": "application/json"} {
			req.Header.Set(k, v)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// Sender identity is on: the event needs a sender an EventPolicy lets
	// send it (the directory's own, beside the runtime's).
	if code := post(""); code != http.StatusUnauthorized {
		t.Fatalf("post without a token: %d, want 401", code)
	}
	token, err := s.functions.ids.issuer.Issue("system:serviceaccount:default:tester", render.BrokerAudience("default", "default"))
	if err != nil {
		t.Fatal(err)
	}
	if code := post(token); code != http.StatusAccepted {
		t.Fatalf("post: %d", code)
	}
	select {
	case id := <-got:
		if id != "e1" {
			t.Errorf("delivered %q", id)
		}
	case <-ctx.Done():
		t.Fatal("the event did not reach the trigger's subscriber")
	}
}
