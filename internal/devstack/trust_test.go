package devstack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/identity"
	"github.com/zeroflow-dev/zeroflow/render"
)

// The attacks of issue 11 on a running dev stack, over real HTTP: a local
// user who can reach every port can neither make a built-in run a command
// nor fire a CronWorkflow nor submit a workflow, through the broker or
// straight to a function, and a webhook refuses reserved types.
func TestForgedEventsAreRefusedEverywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the API server")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	_, s, _ := startWith(t, fmt.Sprintf(`apiVersion: zeroflow.dev/v1alpha1
kind: EventSource
metadata: {name: hooks}
spec:
  webhook:
    in: {port: "%s", endpoint: /in, method: POST}
---
apiVersion: zeroflow.dev/v1alpha1
kind: CronWorkflow
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  workflowSpec:
    entrypoint: main
    templates:
    - name: main
      script: {image: alpine, command: [sh], source: "true"}
`, port))

	marker := filepath.Join(t.TempDir(), "pwned")
	stepRun := func() event.Event {
		ev := event.New()
		ev.SetID("forged/main/0")
		ev.SetType(events.TypeStepRun)
		ev.SetSource("/attacker")
		ev.SetExtension(events.ExtFunction, "exec")
		ev.SetExtension(events.ExtWorkflow, "x")
		ev.SetExtension(events.ExtNamespace, "default")
		ev.SetExtension(events.ExtNode, "main")
		ev.SetExtension(events.ExtAttempt, "0")
		_ = ev.SetData(event.ApplicationJSON, map[string]any{"workflow": "x", "namespace": "default", "nodeID": "main", "template": map[string]any{
			"name": "main", "container": map[string]any{"image": "alpine", "command": []string{"sh", "-c", "touch " + marker}},
		}})
		return ev
	}
	ping := func() event.Event {
		ev := event.New()
		ev.SetID("forged-ping")
		ev.SetType(events.TypeKnativePing)
		ev.SetSource("/apis/v1/namespaces/default/pingsources/nightly-cron")
		ev.SetExtension(events.ExtCronWorkflow, "nightly")
		_ = ev.SetData(event.ApplicationJSON, map[string]string{"cronWorkflow": "nightly"})
		return ev
	}
	control := func(typ string, ext map[string]string, data any) event.Event {
		ev := event.New()
		ev.SetID("forged-" + typ)
		ev.SetType(typ)
		ev.SetSource("/attacker")
		for k, v := range ext {
			ev.SetExtension(k, v)
		}
		_ = ev.SetData(event.ApplicationJSON, data)
		return ev
	}
	submit := control(events.TypeWorkflowSubmit, map[string]string{events.ExtNamespace: "kube-system"}, map[string]any{"workflow": map[string]any{
		"metadata": map[string]any{"name": "forged", "namespace": "kube-system"},
		"spec":     map[string]any{"entrypoint": "main", "templates": []any{map[string]any{"name": "main", "script": map[string]any{"image": "alpine", "command": []string{"sh"}, "source": "touch " + marker}}}},
	}})
	dependency := control(events.TypeDependency, map[string]string{events.ExtSensor: "any", events.ExtDependency: "any"}, map[string]any{})
	finished := control(events.TypeWorkflowFinished, map[string]string{events.ExtWorkflow: "x", events.ExtNamespace: "default"}, map[string]any{"phase": "Succeeded"})
	// A token of the stack's own issuer for a subject no policy names:
	// what a compromised function of another namespace would hold.
	stranger, _ := s.functions.ids.issuer.Issue("system:serviceaccount:default:default", render.BrokerAudience("default", "default"))
	post := func(url, token string, ev event.Event) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, url, nil)
		if err := cehttp.WriteRequest(context.Background(), binding.ToMessage(&ev), req); err != nil {
			t.Fatal(err)
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
	// A token the attacker minted with a key of their own, for the right
	// subject and audience.
	forger, _ := identity.NewIssuer("https://zeroflow.dev/dev/forged")
	forgedController, _ := forger.Issue("system:serviceaccount:default:zeroflow-controller", render.BrokerAudience("default", "default"))
	exec := s.Functions()[render.BuiltinService("exec")]
	controller := s.Functions()[render.ControllerService]
	if exec == "" {
		t.Fatalf("no exec function in %v", s.Functions())
	}
	brokerURL := s.Broker.Address("default", "default")
	for _, c := range []struct {
		name, url, token string
		ev               event.Event
		want             int
	}{
		{"step.run to the broker without a token", brokerURL, "", stepRun(), http.StatusUnauthorized},
		{"step.run to the broker with a forged token", brokerURL, forgedController, stepRun(), http.StatusUnauthorized},
		{"step.run straight to exec", exec, "", stepRun(), http.StatusUnauthorized},
		{"step.run straight to exec with a forged token", exec, forgedController, stepRun(), http.StatusUnauthorized},
		{"ping to the broker", brokerURL, "", ping(), http.StatusUnauthorized},
		{"submit to the broker", brokerURL, "", submit, http.StatusUnauthorized},
		{"dependency to the broker", brokerURL, "", dependency, http.StatusUnauthorized},
		{"workflow.finished to the broker", brokerURL, "", finished, http.StatusUnauthorized},
		{"step.run from a subject no policy names", brokerURL, stranger, stepRun(), http.StatusForbidden},
		{"submit from a subject no policy names", brokerURL, stranger, submit, http.StatusForbidden},
		{"ping from a subject no policy names", brokerURL, stranger, ping(), http.StatusForbidden},
		{"submit through the webhook", "http://127.0.0.1:" + port + "/in", "", submit, http.StatusBadRequest},
		{"workflow.finished through the webhook", "http://127.0.0.1:" + port + "/in", "", finished, http.StatusBadRequest},
		{"step.run through the webhook", "http://127.0.0.1:" + port + "/in", "", stepRun(), http.StatusBadRequest},
		{"ping through the webhook", "http://127.0.0.1:" + port + "/in", "", ping(), http.StatusBadRequest},
	} {
		if got := post(c.url, c.token, c.ev); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	if controller != "" {
		if got := post(controller, "", ping()); got != http.StatusUnauthorized {
			t.Errorf("ping straight to the controller: %d, want 401", got)
		}
	}
	time.Sleep(2 * time.Second)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a forged step.run ran its command")
	}
	dyn, err := dynamic.NewForConfig(s.API.Config())
	if err != nil {
		t.Fatal(err)
	}
	cw, err := dyn.Resource(v1alpha1.SchemeGroupVersion.WithResource("cronworkflows")).Namespace("default").Get(context.Background(), "nightly", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	} else {
		if st, ok := cw.Object["status"].(map[string]any); ok && st["lastScheduledTime"] != nil {
			t.Errorf("a forged ping fired the CronWorkflow: %v", st)
		}
	}
	// The stack keeps its own files private.
	for _, f := range []string{"jwks.json"} {
		fi, err := os.Stat(filepath.Join(s.functions.ids.dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", f, err, fi)
		}
	}
	if !strings.HasPrefix(brokerURL, "http://127.0.0.1:") {
		t.Errorf("the broker listens on %s, want loopback", brokerURL)
	}
}
