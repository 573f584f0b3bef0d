package resource_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/resource"
)

// A step that names a ServiceAccount acts as it on a cluster: the request
// the API server gets carries Kubernetes' impersonation header for that
// ServiceAccount, so the server checks its RBAC; a refusal names the
// missing permission.
func TestResourceStepImpersonatesItsServiceAccount(t *testing.T) {
	users := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		users <- r.Header.Get("Impersonate-User")
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/configmaps") {
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"note","namespace":"argo-events"}}`))
			return
		}
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
			"message": `cronworkflows.zeroflow.dev "x" is forbidden: User "system:serviceaccount:argo-events:scaler" cannot delete resource "cronworkflows" in API group "zeroflow.dev" in the namespace "argo-events"`})
	}))
	defer srv.Close()
	cfg := &rest.Config{Host: srv.URL}
	restMapper := meta.NewDefaultRESTMapper(nil)
	restMapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	restMapper.Add(v1alpha1.SchemeGroupVersion.WithKind("CronWorkflow"), meta.RESTScopeNamespace)
	fn := resource.New(resource.Options{Mapper: restMapper, Impersonate: resource.ImpersonatingClients(cfg)})

	step := func(action, manifest string) *event.Event {
		ev := event.New()
		// One id per step: a step function runs a step.run id once.
		ev.SetID("w/n-" + action + "/1")
		ev.SetType(events.TypeStepRun)
		ev.SetSource("/test")
		run := events.StepRun{Workflow: "w", Namespace: "argo-events", UID: "u", NodeID: "n", Attempt: 1, ServiceAccountName: "scaler",
			Template: v1alpha1.Template{Name: "t", Resource: &v1alpha1.ResourceTemplate{Action: action, Manifest: manifest}}}
		if err := ev.SetData(event.ApplicationJSON, run); err != nil {
			t.Fatal(err)
		}
		reply, err := fn.Handle(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		return reply
	}
	result := func(reply *event.Event) events.StepResult {
		var r events.StepResult
		if err := reply.DataAs(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := result(step("create", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: note}\n")); r.Phase != v1alpha1.NodeSucceeded {
		t.Errorf("create: %s %s", r.Phase, r.Message)
	}
	if u := <-users; u != "system:serviceaccount:argo-events:scaler" {
		t.Errorf("the API server was called as %q, want the step's ServiceAccount", u)
	}
	r := result(step("delete", "apiVersion: zeroflow.dev/v1alpha1\nkind: CronWorkflow\nmetadata: {name: x}\n"))
	if r.Phase == v1alpha1.NodeSucceeded || !strings.Contains(r.Message, `lacks "delete" on cronworkflows.zeroflow.dev in namespace argo-events`) || !strings.Contains(r.Message, "zeroflow render --rbac") {
		t.Errorf("a refused delete: %s %s", r.Phase, r.Message)
	}
	<-users
}
