package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
)

// examples/infra-scaling end to end, as its README tells it, in namespace
// argo-events on the event bus eventbus: a peak event makes the Sensor
// create a CronWorkflow named after the event's date; it fires on
// schedule, its steps run, its exit handler notifies "Slack" (a local
// listener) with the title and date and deletes the CronWorkflow; a delete
// event removes another one before it fires.
func TestInfraScalingExample(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the API server and the broker")
	}
	slack := make(chan string, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		slack <- string(b)
		w.WriteHeader(http.StatusOK)
	}))
	defer hook.Close()

	dir, port := copyExampleMovingPort(t, "../../examples/infra-scaling", "12100")
	// Point the notification at the local listener.
	path := filepath.Join(dir, "workflowtemplates.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(b), "http://127.0.0.1:12101/slack", hook.URL+"/slack")), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Paths: []string{dir}, DataDir: t.TempDir(), BrokerAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	client, err := controller.NewClient(s.API.Config())
	if err != nil {
		t.Fatal(err)
	}
	webhook := "http://127.0.0.1:" + port
	post := func(endpoint string, body any) {
		t.Helper()
		raw, _ := json.Marshal(body)
		resp, err := http.Post(webhook+endpoint, "application/json", strings.NewReader(string(raw)))
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d %s", endpoint, resp.StatusCode, msg)
		}
	}
	waitFor := func(what string, d time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	const ns = "argo-events"

	// A peak a few seconds ahead (six fields: seconds first, UTC).
	at := time.Now().UTC().Add(12 * time.Second)
	schedule := fmt.Sprintf("%d %d %d %d %d *", at.Second(), at.Minute(), at.Hour(), at.Day(), int(at.Month()))
	post("/create-infra", map[string]any{"message": map[string]string{"title": "Spring sale", "eventDate": "20261203", "schedule": schedule}})
	const name = "peaktime-create-infra-20261203"
	var cw *v1alpha1.CronWorkflow
	waitFor("the CronWorkflow "+name, 30*time.Second, func() bool {
		cw, err = client.GetCronWorkflow(ctx, ns, name)
		return err == nil
	})
	args := map[string]string{}
	for _, p := range cw.Spec.WorkflowSpec.Arguments.Parameters {
		if p.Value != nil {
			args[p.Name] = p.Value.String()
		}
	}
	if args["title"] != "Spring sale" || args["eventDate"] != "20261203" || cw.Spec.Schedule != schedule {
		t.Fatalf("CronWorkflow arguments %v, schedule %q; want the event's title, date and schedule %q", args, cw.Spec.Schedule, schedule)
	}

	// It fires at the peak; the run succeeds with its exit handler.
	var run *v1alpha1.Workflow
	waitFor("a Succeeded run of "+name, 90*time.Second, func() bool {
		list, err := client.ListWorkflows(ctx, ns, metav1.ListOptions{LabelSelector: "workflows.argoproj.io/cron-workflow=" + name})
		if err != nil || len(list.Items) == 0 {
			return false
		}
		run = &list.Items[0]
		if run.Status.Phase == v1alpha1.WorkflowFailed || run.Status.Phase == v1alpha1.WorkflowError {
			t.Fatalf("run %s: %s %s: %v", run.Name, run.Status.Phase, run.Status.Message, run.Status.Nodes)
		}
		return run.Status.Phase == v1alpha1.WorkflowSucceeded
	})
	select {
	case msg := <-slack:
		if !strings.Contains(msg, "Spring sale") || !strings.Contains(msg, "20261203") {
			t.Errorf("the notification %q lacks the title or the date", msg)
		}
		if strings.Contains(msg, "{{") {
			t.Errorf("the notification %q carries an unresolved tag", msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification reached the Slack listener")
	}
	waitFor("the CronWorkflow to delete itself", 30*time.Second, func() bool {
		_, err := client.GetCronWorkflow(ctx, ns, name)
		return apierrors.IsNotFound(err)
	})

	// Another peak, far ahead, deleted by the delete event.
	post("/create-infra", map[string]any{"message": map[string]string{"title": "Summer sale", "eventDate": "20270701", "schedule": "0 9 1 7 *"}})
	const other = "peaktime-create-infra-20270701"
	waitFor("the CronWorkflow "+other, 30*time.Second, func() bool {
		_, err := client.GetCronWorkflow(ctx, ns, other)
		return err == nil
	})
	post("/delete-infra", map[string]any{"message": map[string]string{"name": other}})
	waitFor("the delete event to remove "+other, 30*time.Second, func() bool {
		_, err := client.GetCronWorkflow(ctx, ns, other)
		return apierrors.IsNotFound(err)
	})
}
