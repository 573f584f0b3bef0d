package controller_test

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// cronWorkflow creates the CronWorkflow "nightly" in ns; script is its one
// step.
func cronWorkflow(t *testing.T, ns, extra, script string) *v1alpha1.CronWorkflow {
	t.Helper()
	doc := `apiVersion: zeroflow.dev/v1alpha1
kind: CronWorkflow
metadata: {name: nightly}
spec:
  schedules: ["0 3 * * *"]
` + extra + `
  workflowMetadata: {labels: {team: a}}
  workflowSpec:
    entrypoint: main
    templates:
    - name: main
      script: {image: alpine, command: [sh], source: "` + script + `"}
`
	cw := &v1alpha1.CronWorkflow{}
	if err := yaml.UnmarshalStrict([]byte(doc), cw); err != nil {
		t.Fatal(err)
	}
	cw.Namespace = ns
	if errs := v1alpha1.ValidateCronWorkflow(cw); len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	out, err := client.CreateCronWorkflow(context.Background(), cw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fire publishes the PingSource event of nightly in ns, scheduled at at.
func fire(t *testing.T, ns string, at time.Time) {
	t.Helper()
	ev := event.New()
	ev.SetID(ns + "-" + at.Format(time.RFC3339))
	ev.SetType(events.TypeKnativePing)
	ev.SetSource("/apis/v1/namespaces/" + ns + "/pingsources/zeroflow-cron-nightly")
	ev.SetTime(at)
	ev.SetExtension(events.ExtCronWorkflow, "nightly")
	ev.SetExtension(events.ExtNamespace, ns) // the test's Trigger lives in default
	if err := bus.Publish(context.Background(), "default", "default", ev); err != nil {
		t.Fatal(err)
	}
}

func runsOf(t *testing.T, ns string) []v1alpha1.Workflow {
	t.Helper()
	l, err := client.ListWorkflows(context.Background(), ns, metav1.ListOptions{LabelSelector: controller.LabelCronWorkflow + "=nightly"})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	return l.Items
}

func cronStatus(t *testing.T, ns string, ok func(*v1alpha1.CronWorkflow) bool) *v1alpha1.CronWorkflow {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		cw, err := client.GetCronWorkflow(context.Background(), ns, "nightly")
		if err == nil && ok(cw) {
			return cw
		}
		if time.Now().After(deadline) {
			t.Fatalf("CronWorkflow status never got there: %+v, %v", cw.Status, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCronWorkflowFiringStartsOneRunAndCountsIt(t *testing.T) {
	ns := uniqueNamespace("cron")
	cronWorkflow(t, ns, "", "echo nightly")
	at := time.Now().Truncate(time.Second)
	fire(t, ns, at)
	fire(t, ns, at) // a redelivery starts nothing more
	name := controller.CronRunName("nightly", at)
	done := waitDone(t, ns, name, 30*time.Second)
	if done.Status.Phase != v1alpha1.WorkflowSucceeded || done.Labels["team"] != "a" || len(done.OwnerReferences) != 1 {
		t.Fatalf("run %s: %s, labels %v, owners %v", name, done.Status.Phase, done.Labels, done.OwnerReferences)
	}
	cw := cronStatus(t, ns, func(cw *v1alpha1.CronWorkflow) bool { return cw.Status.Succeeded == 1 && len(cw.Status.Active) == 0 })
	if cw.Status.LastScheduledTime == nil || !cw.Status.LastScheduledTime.Time.Equal(at) {
		t.Errorf("lastScheduledTime %v, want %v", cw.Status.LastScheduledTime, at)
	}
	if runs := runsOf(t, ns); len(runs) != 1 {
		t.Errorf("%d runs, want 1", len(runs))
	}
}

func TestCronWorkflowSkipsWhenSuspendedLateOrForbidden(t *testing.T) {
	for _, tc := range []struct {
		name, extra string
		// busy starts a long run first.
		busy bool
		late time.Duration
	}{
		{name: "suspended", extra: "  suspend: true"},
		{name: "late", extra: "  startingDeadlineSeconds: 60", late: 5 * time.Minute},
		{name: "forbid", extra: "  concurrencyPolicy: Forbid", busy: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := uniqueNamespace("cron-" + tc.name)
			script := "echo ok"
			if tc.busy {
				script = "sleep 3"
			}
			cronWorkflow(t, ns, tc.extra, script)
			want := 0
			if tc.busy {
				fire(t, ns, time.Now().Add(-time.Minute).Truncate(time.Second))
				cronStatus(t, ns, func(cw *v1alpha1.CronWorkflow) bool { return len(cw.Status.Active) == 1 })
				want = 1
			}
			fire(t, ns, time.Now().Add(-tc.late).Truncate(time.Second))
			cronStatus(t, ns, func(cw *v1alpha1.CronWorkflow) bool { return cw.Status.Skipped == 1 })
			if runs := runsOf(t, ns); len(runs) != want {
				t.Errorf("%d runs, want %d", len(runs), want)
			}
		})
	}
}

func TestCronWorkflowReplaceTerminatesTheRunningOne(t *testing.T) {
	ns := uniqueNamespace("cron-replace")
	cronWorkflow(t, ns, "  concurrencyPolicy: Replace", "sleep 3")
	first := time.Now().Add(-time.Minute).Truncate(time.Second)
	fire(t, ns, first)
	cronStatus(t, ns, func(cw *v1alpha1.CronWorkflow) bool { return len(cw.Status.Active) == 1 })
	waitPhase(t, ns, controller.CronRunName("nightly", first), v1alpha1.WorkflowRunning)
	second := time.Now().Truncate(time.Second)
	fire(t, ns, second)
	old := waitDone(t, ns, controller.CronRunName("nightly", first), 30*time.Second)
	if old.Status.Phase == v1alpha1.WorkflowSucceeded {
		t.Errorf("the replaced run %s", old.Status.Phase)
	}
	if done := waitDone(t, ns, controller.CronRunName("nightly", second), 30*time.Second); done.Status.Phase != v1alpha1.WorkflowSucceeded {
		t.Errorf("the new run: %s %s", done.Status.Phase, done.Status.Message)
	}
	cronStatus(t, ns, func(cw *v1alpha1.CronWorkflow) bool {
		return cw.Status.Failed == 1 && cw.Status.Succeeded == 1 && len(cw.Status.Active) == 0
	})
}

func TestCronWorkflowKeepsItsHistoryLimit(t *testing.T) {
	ns := uniqueNamespace("cron-history")
	cronWorkflow(t, ns, "  successfulJobsHistoryLimit: 1", "echo ok")
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	for i := range 3 {
		at := base.Add(time.Duration(i) * time.Minute)
		fire(t, ns, at)
		waitDone(t, ns, controller.CronRunName("nightly", at), 30*time.Second)
		cronStatus(t, ns, func(cw *v1alpha1.CronWorkflow) bool { return cw.Status.Succeeded == int64(i+1) })
	}
	// The third firing kept the newest finished run before it, plus itself.
	var names []string
	for _, r := range runsOf(t, ns) {
		names = append(names, strings.TrimPrefix(r.Name, "nightly-"))
	}
	if len(names) != 2 {
		t.Errorf("runs left %v, want the last 2", names)
	}
}

// One EventPolicy lets every CronWorkflow's PingSources send pings, so the
// controller checks that a firing comes from one of the CronWorkflow's own
// PingSources (its source, which Knative's adapter sets): another's, or
// one claiming another namespace, starts nothing.
func TestCronWorkflowFiringFromAnotherPingSourceIsRefused(t *testing.T) {
	ns := uniqueNamespace("cron-refused")
	cronWorkflow(t, ns, "", "echo nightly")
	at := time.Now().Truncate(time.Second)
	for _, tc := range []struct{ name, source, extNS string }{
		{"another CronWorkflow's PingSource", "/apis/v1/namespaces/" + ns + "/pingsources/zeroflow-cron-other", ""},
		{"the old name", "/apis/v1/namespaces/" + ns + "/pingsources/nightly-cron", ""},
		{"another namespace's PingSource", "/apis/v1/namespaces/elsewhere/pingsources/zeroflow-cron-nightly", ns},
	} {
		ev := event.New()
		ev.SetID(tc.name)
		ev.SetType(events.TypeKnativePing)
		ev.SetSource(tc.source)
		ev.SetTime(at)
		ev.SetExtension(events.ExtCronWorkflow, "nightly")
		if tc.extNS != "" {
			ev.SetExtension(events.ExtNamespace, tc.extNS)
		}
		_, err := ctrl.Handle(context.Background(), ev)
		var se *sdk.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusForbidden {
			t.Errorf("%s: %v, want 403", tc.name, err)
		}
	}
	if runs := runsOf(t, ns); len(runs) != 0 {
		t.Errorf("%d runs started by refused firings", len(runs))
	}
}
