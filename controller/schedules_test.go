package controller_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/internal/knativecheck"
	"github.com/zeroflow-dev/zeroflow/internal/kubeapi"
	"github.com/zeroflow-dev/zeroflow/manifests"
	"github.com/zeroflow-dev/zeroflow/render"
)

// scheduleCluster is a real API server that serves Knative's PingSource
// CRD (from the eventing module, as a cluster installs it) beside
// zeroflow's, and a controller that keeps CronWorkflows' PingSources there
// (ClusterSchedules). It is its own server: the package's shared one has
// no Knative kinds, and a CRD installed late makes its first objects wait.
type scheduleCluster struct {
	client *controller.Client
	pings  dynamic.ResourceInterface
	dyn    dynamic.Interface
	ns     string
}

func startScheduleCluster(t *testing.T) *scheduleCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts an API server")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "knative.dev/eventing").Output()
	if err != nil {
		t.Fatalf("find knative.dev/eventing: %v", err)
	}
	ping, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "config/core/resources/pingsource.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crds, err := manifests.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	api, err := kubeapi.Start(ctx, kubeapi.Options{CRDs: append(crds, ping), UnsafeNoFsync: true})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c, err := controller.NewClient(api.Config())
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(api.Config())
	if err != nil {
		t.Fatal(err)
	}
	ctrl, err := controller.New(controller.Config{
		Client:    c,
		Send:      func(context.Context, event.Event) error { return nil },
		Logger:    slog.New(slog.NewTextHandler(logs, nil)),
		Schedules: &controller.ClusterSchedules{Dynamic: dyn, Broker: "default", Logger: slog.New(slog.NewTextHandler(logs, nil))},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ctrl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller: %v", err)
		}
		api.Stop()
	})
	return &scheduleCluster{client: c, dyn: dyn}
}

// in is sc for the objects of namespace ns.
func (sc scheduleCluster) in(ns string) *scheduleCluster {
	sc.ns = ns
	sc.pings = sc.dyn.Resource(sourcesv1.SchemeGroupVersion.WithResource("pingsources")).Namespace(ns)
	return &sc
}

// pingSources waits until the namespace's PingSources have the names want
// and returns them, sorted by name.
func (sc *scheduleCluster) pingSources(t *testing.T, want ...string) []sourcesv1.PingSource {
	t.Helper()
	slices.Sort(want)
	return sc.waitFor(t, func(ps []sourcesv1.PingSource) bool {
		names := make([]string, 0, len(ps))
		for _, p := range ps {
			names = append(names, p.Name)
		}
		return slices.Equal(names, want)
	})
}

// checkPingSources checks that every PingSource is what render.CronWorkflow builds
// for cw (spec and labels), owned by cw, and valid to Knative.
func checkPingSources(t *testing.T, cw *v1alpha1.CronWorkflow, got []sourcesv1.PingSource) {
	t.Helper()
	want := render.CronWorkflow(cw, "default").PingSources
	if len(got) != len(want) {
		t.Fatalf("%d PingSources, render makes %d", len(got), len(want))
	}
	for i := range got {
		g, w := &got[i], &want[i]
		if g.Name != w.Name || g.Spec.Schedule != w.Spec.Schedule || g.Spec.Timezone != w.Spec.Timezone ||
			g.Spec.CloudEventOverrides.Extensions["zfcronworkflow"] != cw.Name || g.Spec.Sink.Ref.Name != "default" {
			t.Errorf("PingSource %s: %+v, render makes %+v", g.Name, g.Spec, w.Spec)
		}
		for k, v := range w.Labels {
			if g.Labels[k] != v {
				t.Errorf("PingSource %s: label %s=%q, want %q", g.Name, k, g.Labels[k], v)
			}
		}
		if len(g.OwnerReferences) != 1 || g.OwnerReferences[0].UID != cw.UID || g.OwnerReferences[0].Kind != "CronWorkflow" || g.OwnerReferences[0].Controller == nil || !*g.OwnerReferences[0].Controller {
			t.Errorf("PingSource %s: owners %+v, want CronWorkflow %s (%s)", g.Name, g.OwnerReferences, cw.Name, cw.UID)
		}
		if err := knativecheck.Object(context.Background(), g); err != nil {
			t.Errorf("Knative rejects PingSource %s: %v", g.Name, err)
		}
	}
}

func (sc *scheduleCluster) createCron(t *testing.T, name, spec string) *v1alpha1.CronWorkflow {
	t.Helper()
	cw := &v1alpha1.CronWorkflow{}
	doc := "apiVersion: zeroflow.dev/v1alpha1\nkind: CronWorkflow\nmetadata: {name: " + name + "}\nspec:\n" + spec +
		"\n  workflowSpec: {entrypoint: main, templates: [{name: main, script: {image: alpine, command: [sh], source: 'true'}}]}\n"
	if err := yaml.UnmarshalStrict([]byte(doc), cw); err != nil {
		t.Fatal(err)
	}
	cw.Namespace = sc.ns
	if errs := v1alpha1.ValidateCronWorkflow(cw); len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	out, err := sc.client.CreateCronWorkflow(context.Background(), cw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// update changes a CronWorkflow's spec through the API.
func (sc *scheduleCluster) update(t *testing.T, name string, change func(*v1alpha1.CronWorkflowSpec)) *v1alpha1.CronWorkflow {
	t.Helper()
	ctx := context.Background()
	r := sc.dyn.Resource(v1alpha1.SchemeGroupVersion.WithResource("cronworkflows")).Namespace(sc.ns)
	u, err := r.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var cw v1alpha1.CronWorkflow
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &cw); err != nil {
		t.Fatal(err)
	}
	change(&cw.Spec)
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&cw)
	if err != nil {
		t.Fatal(err)
	}
	u, err = r.Update(ctx, &unstructured.Unstructured{Object: m}, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &cw); err != nil {
		t.Fatal(err)
	}
	return &cw
}

// A CronWorkflow created, changed (a new schedule, a second one, one
// removed), suspended and deleted through the API: the controller keeps
// its PingSources in step, each what render builds, owned by it and valid
// to Knative.
func TestCronWorkflowSchedules(t *testing.T) {
	cluster := startScheduleCluster(t)
	t.Run("follow the API", func(t *testing.T) { cronSchedulesFollowTheAPI(t, cluster.in("follow")) })
	t.Run("adopt rendered, keep others", func(t *testing.T) { cronSchedulesAdoptRenderedAndKeepOthers(t, cluster.in("adopt")) })
}

func cronSchedulesFollowTheAPI(t *testing.T, sc *scheduleCluster) {
	cw := sc.createCron(t, "nightly", `  schedules: ["0 3 * * *"]`)
	checkPingSources(t, cw, sc.pingSources(t, "zeroflow-cron-nightly"))

	// A new schedule: the PingSource is updated in place.
	cw = sc.update(t, "nightly", func(s *v1alpha1.CronWorkflowSpec) { s.Schedules = []string{"0 4 * * *"}; s.Timezone = "Europe/Berlin" })
	got := sc.waitFor(t, func(ps []sourcesv1.PingSource) bool { return len(ps) == 1 && ps[0].Spec.Schedule == "0 4 * * *" })
	checkPingSources(t, cw, got)

	// A second schedule: one PingSource per schedule, the single one gone.
	cw = sc.update(t, "nightly", func(s *v1alpha1.CronWorkflowSpec) { s.Schedules = []string{"0 4 * * *", "30 5 * * 1-5"} })
	checkPingSources(t, cw, sc.pingSources(t, "zeroflow-cron-nightly-0", "zeroflow-cron-nightly-1"))

	// A schedule removed: its PingSource is deleted.
	cw = sc.update(t, "nightly", func(s *v1alpha1.CronWorkflowSpec) { s.Schedules = []string{"30 5 * * 1-5"} })
	got = sc.pingSources(t, "zeroflow-cron-nightly")
	checkPingSources(t, cw, got)
	if got[0].Spec.Schedule != "30 5 * * 1-5" {
		t.Errorf("schedule %q", got[0].Spec.Schedule)
	}

	// Suspended: the PingSources stay (the controller skips their
	// firings: no run starts, as in Argo). The time zone changed with it
	// shows the controller saw the change.
	cw = sc.update(t, "nightly", func(s *v1alpha1.CronWorkflowSpec) { s.Suspend = true; s.Timezone = "Asia/Tokyo" })
	got = sc.waitFor(t, func(ps []sourcesv1.PingSource) bool { return len(ps) == 1 && ps[0].Spec.Timezone == "Asia/Tokyo" })
	checkPingSources(t, cw, got)

	// Deleted: its PingSources go (the garbage collector would too, by
	// the owner reference; this API server runs none).
	if err := sc.dyn.Resource(v1alpha1.SchemeGroupVersion.WithResource("cronworkflows")).Namespace(sc.ns).Delete(context.Background(), "nightly", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	sc.pingSources(t)
}

// What `zeroflow render` printed and GitOps applied, and what the
// controller makes for the same CronWorkflow, are the same objects: the
// controller adopts them (owner reference) and makes no second set. A
// PingSource of another CronWorkflow whose name would be reused is left
// alone, with an error.
func cronSchedulesAdoptRenderedAndKeepOthers(t *testing.T, sc *scheduleCluster) {
	ctx := context.Background()
	spec := `  schedules: ["0 3 * * *"]`
	pre := &v1alpha1.CronWorkflow{}
	if err := yaml.Unmarshal([]byte("metadata: {name: gitops}\nspec:\n"+spec+"\n"), pre); err != nil {
		t.Fatal(err)
	}
	pre.Namespace = sc.ns
	for _, p := range render.CronWorkflow(pre, "default").PingSources {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sc.pings.Create(ctx, &unstructured.Unstructured{Object: m}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cw := sc.createCron(t, "gitops", spec)
	got := sc.waitFor(t, func(ps []sourcesv1.PingSource) bool { return len(ps) == 1 && len(ps[0].OwnerReferences) == 1 })
	checkPingSources(t, cw, got)

	// "twice" has two schedules, so its first PingSource is named as the
	// one schedule of a CronWorkflow "twice-0" would be.
	twice := sc.createCron(t, "twice", `  schedules: ["0 1 * * *", "0 2 * * *"]`)
	sc.pingSources(t, "zeroflow-cron-gitops", "zeroflow-cron-twice-0", "zeroflow-cron-twice-1")
	clash := sc.createCron(t, "twice-0", `  schedules: ["0 9 * * *"]`)
	s := &controller.ClusterSchedules{Dynamic: sc.dyn, Broker: "default"}
	if err := s.Apply(ctx, clash); err == nil || !strings.Contains(err.Error(), "belongs to something else") {
		t.Errorf("applying a CronWorkflow whose PingSource name is another's: %v", err)
	}
	got = sc.pingSources(t, "zeroflow-cron-gitops", "zeroflow-cron-twice-0", "zeroflow-cron-twice-1")
	checkPingSources(t, twice, got[1:])
	if err := s.Delete(ctx, sc.ns, "twice-0"); err != nil {
		t.Fatal(err)
	}
	sc.pingSources(t, "zeroflow-cron-gitops", "zeroflow-cron-twice-0", "zeroflow-cron-twice-1")
	if err := s.Delete(ctx, sc.ns, "missing"); err != nil {
		t.Errorf("deleting the schedules of a CronWorkflow that has none: %v", err)
	}
}

// waitFor waits until the namespace's PingSources pass ok.
func (sc *scheduleCluster) waitFor(t *testing.T, ok func([]sourcesv1.PingSource) bool) []sourcesv1.PingSource {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		l, err := sc.pings.List(context.Background(), metav1.ListOptions{})
		var got []sourcesv1.PingSource
		if err == nil {
			for _, u := range l.Items {
				var p sourcesv1.PingSource
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p); err != nil {
					t.Fatal(err)
				}
				got = append(got, p)
			}
			slices.SortFunc(got, func(a, b sourcesv1.PingSource) int { return strings.Compare(a.Name, b.Name) })
			if ok(got) {
				return got
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("PingSources never got there: %+v (%v)", got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
