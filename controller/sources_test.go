package controller_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/internal/knativecheck"
	"github.com/zeroflow-dev/zeroflow/internal/kubeapi"
	"github.com/zeroflow-dev/zeroflow/manifests"
	"github.com/zeroflow-dev/zeroflow/render"
)

// coreSplit sends the core kinds (ConfigMaps, ServiceAccounts) to core and
// everything else to api: the in-process API server has no core API, so
// those two live in client-go's fake dynamic client, the rest in the real
// server with Knative's CRDs.
type coreSplit struct{ api, core dynamic.Interface }

func (d coreSplit) Resource(r schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	if r.Group == "" {
		return d.core.Resource(r)
	}
	return d.api.Resource(r)
}

// sourceCluster is a real API server serving the Knative kinds render makes
// for EventSources and Sensors (from the serving and eventing modules'
// config/, as a cluster installs them) beside zeroflow's, and a controller
// that keeps their objects (ClusterSources).
type sourceCluster struct {
	client *controller.Client
	dyn    dynamic.Interface
	ns     string
	// calls are the controller's own requests.
	calls *apiCalls
}

// sourceOptions() are the render options the test's controller runs with.
func sourceOptions() render.Options {
	return render.Options{Image: "registry.example/zeroflow@sha256:0000000000000000000000000000000000000000000000000000000000000000"}
}

func startSourceCluster(t *testing.T) *sourceCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts an API server")
	}
	crds, err := manifests.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	for mod, files := range map[string][]string{
		"knative.dev/serving":  {"config/core/300-resources/service.yaml"},
		"knative.dev/eventing": {"config/core/resources/trigger.yaml", "config/core/resources/sinkbindings.yaml", "config/core/resources/pingsource.yaml", "config/core/resources/apiserversource.yaml", "config/core/resources/eventpolicy.yaml"},
	} {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod).Output()
		if err != nil {
			t.Fatalf("find %s: %v", mod, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), f))
			if err != nil {
				t.Fatal(err)
			}
			crds = append(crds, b)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	api, err := kubeapi.Start(ctx, kubeapi.Options{CRDs: crds, UnsafeNoFsync: true})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c, err := controller.NewClient(api.Config())
	if err != nil {
		t.Fatal(err)
	}
	real, err := dynamic.NewForConfig(api.Config())
	if err != nil {
		t.Fatal(err)
	}
	calls := &apiCalls{}
	ctrlClient, err := controller.NewClient(calls.recorded(api.Config()))
	if err != nil {
		t.Fatal(err)
	}
	ctrlReal, err := dynamic.NewForConfig(calls.recorded(api.Config()))
	if err != nil {
		t.Fatal(err)
	}
	core := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		{Version: "v1", Resource: "configmaps"}:      "ConfigMapList",
		{Version: "v1", Resource: "serviceaccounts"}: "ServiceAccountList",
	})
	dyn := coreSplit{api: real, core: core}
	ctrlDyn := coreSplit{api: ctrlReal, core: recordedDynamic{core, calls}}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	ctrl, err := controller.New(controller.Config{
		Client:  ctrlClient,
		Send:    func(context.Context, event.Event) error { return nil },
		Logger:  logger,
		Sources: &controller.ClusterSources{Dynamic: ctrlDyn, Client: ctrlClient, Options: sourceOptions(), Logger: logger},
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
	return &sourceCluster{client: c, dyn: dyn, calls: calls}
}

func (sc sourceCluster) in(ns string) *sourceCluster {
	sc.ns = ns
	return &sc
}

func zeroflowResource(kind string) schema.GroupVersionResource {
	return v1alpha1.SchemeGroupVersion.WithResource(strings.ToLower(kind) + "s")
}

// put creates or replaces (spec and labels) the zeroflow object doc
// through the API, and returns it as the API holds it.
func (sc *sourceCluster) put(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	ctx := context.Background()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetNamespace(sc.ns)
	r := sc.dyn.Resource(zeroflowResource(u.GetKind())).Namespace(sc.ns)
	cur, err := r.Get(ctx, u.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		out, err := r.Create(ctx, u, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	case err != nil:
		t.Fatal(err)
	}
	cur.Object["spec"] = u.Object["spec"]
	cur.SetLabels(u.GetLabels())
	out, err := r.Update(ctx, cur, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (sc *sourceCluster) remove(t *testing.T, kind, name string) {
	t.Helper()
	if err := sc.dyn.Resource(zeroflowResource(kind)).Namespace(sc.ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

func eventSourceOf(t *testing.T, u *unstructured.Unstructured) *v1alpha1.EventSource {
	t.Helper()
	es := &v1alpha1.EventSource{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, es); err != nil {
		t.Fatal(err)
	}
	if errs := v1alpha1.ValidateEventSource(es); len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	return es
}

func sensorOf(t *testing.T, u *unstructured.Unstructured) *v1alpha1.Sensor {
	t.Helper()
	s := &v1alpha1.Sensor{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, s); err != nil {
		t.Fatal(err)
	}
	if errs := v1alpha1.ValidateSensor(s); len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	return s
}

// kindResources are the kinds render makes for EventSources and Sensors.
func kindResources() map[string]schema.GroupVersionResource {
	return map[string]schema.GroupVersionResource{
		"ServiceAccount":  {Version: "v1", Resource: "serviceaccounts"},
		"ConfigMap":       {Version: "v1", Resource: "configmaps"},
		"EventPolicy":     {Group: "eventing.knative.dev", Version: "v1alpha1", Resource: "eventpolicies"},
		"Service":         {Group: "serving.knative.dev", Version: "v1", Resource: "services"},
		"SinkBinding":     {Group: "sources.knative.dev", Version: "v1", Resource: "sinkbindings"},
		"Trigger":         {Group: "eventing.knative.dev", Version: "v1", Resource: "triggers"},
		"PingSource":      {Group: "sources.knative.dev", Version: "v1", Resource: "pingsources"},
		"ApiServerSource": {Group: "sources.knative.dev", Version: "v1", Resource: "apiserversources"},
	}
}

// objects are the namespace's objects of every kind render makes, as
// "Kind/name", sorted.
func (sc *sourceCluster) objects(t *testing.T) []string {
	t.Helper()
	var out []string
	for kind, gvr := range kindResources() {
		l, err := sc.dyn.Resource(gvr).Namespace(sc.ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatalf("list %s: %v", gvr.Resource, err)
		}
		for _, u := range l.Items {
			out = append(out, kind+"/"+u.GetName())
		}
	}
	slices.Sort(out)
	return out
}

// namesOf are the "Kind/name" of objs, sorted.
func namesOf(t *testing.T, objs render.Objects) []string {
	t.Helper()
	var out []string
	for _, obj := range objs.List() {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			t.Fatal(err)
		}
		u := unstructured.Unstructured{Object: m}
		out = append(out, u.GetKind()+"/"+u.GetName())
	}
	slices.Sort(out)
	return out
}

// waitObjects waits until the namespace holds exactly the objects want.
func (sc *sourceCluster) waitObjects(t *testing.T, want []string) {
	t.Helper()
	want = slices.Clone(want)
	slices.Sort(want)
	want = slices.Compact(want)
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := sc.objects(t)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("objects\n got %v\nwant %v\ncontroller log tail:\n%s", got, want, logs.tail(20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkOwned checks that each object render makes in objs is in the API
// with render's content and labels, the owner's reference (as controller
// for its own objects, beside others for shared ones), and valid to
// Knative.
func (sc *sourceCluster) checkOwned(t *testing.T, kind string, owner *unstructured.Unstructured, label string, objs render.Objects) {
	t.Helper()
	ctx := context.Background()
	for _, obj := range objs.List() {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			t.Fatal(err)
		}
		want := unstructured.Unstructured{Object: m}
		got, err := sc.dyn.Resource(kindResources()[want.GetKind()]).Namespace(sc.ns).Get(ctx, want.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Errorf("%s %s: %v", want.GetKind(), want.GetName(), err)
			continue
		}
		what := want.GetKind() + " " + want.GetName()
		for k, v := range want.GetLabels() {
			if got.GetLabels()[k] != v {
				t.Errorf("%s: label %s=%q, want %q", what, k, got.GetLabels()[k], v)
			}
		}
		for _, field := range []string{"spec", "data"} {
			w, _ := json.Marshal(want.Object[field])
			g, _ := json.Marshal(got.Object[field])
			var wv, gv any
			_ = json.Unmarshal(w, &wv)
			_ = json.Unmarshal(g, &gv)
			if !jsonEqual(wv, gv) {
				t.Errorf("%s: %s\n got %s\nwant %s", what, field, g, w)
			}
		}
		own := want.GetLabels()[label] == owner.GetName()
		var mine []metav1.OwnerReference
		for _, r := range got.GetOwnerReferences() {
			if r.UID == owner.GetUID() {
				mine = append(mine, r)
			}
		}
		switch {
		case len(mine) != 1 || mine[0].Kind != kind || mine[0].Name != owner.GetName():
			t.Errorf("%s: owners %+v, want %s %s (%s)", what, got.GetOwnerReferences(), kind, owner.GetName(), owner.GetUID())
		case own && (len(got.GetOwnerReferences()) != 1 || mine[0].Controller == nil || !*mine[0].Controller):
			t.Errorf("%s: owners %+v, want %s %s alone, as controller", what, got.GetOwnerReferences(), kind, owner.GetName())
		case !own && mine[0].Controller != nil && *mine[0].Controller:
			t.Errorf("%s is shared, but %s %s is its controller", what, kind, owner.GetName())
		}
		doc, err := json.Marshal(got.Object)
		if err != nil {
			t.Fatal(err)
		}
		typed, err := knativecheck.Decode(doc)
		if err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		if err := knativecheck.Object(ctx, typed); err != nil {
			t.Errorf("Knative rejects %s: %v", what, err)
		}
	}
}

// jsonEqual compares decoded JSON, where a missing key and an empty value
// are the same (the dynamic client's round trip drops some empties).
func jsonEqual(a, b any) bool {
	na, _ := json.Marshal(prune(a))
	nb, _ := json.Marshal(prune(b))
	return string(na) == string(nb)
}

func prune(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, c := range t {
			if p := prune(c); p != nil {
				out[k] = p
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		out := make([]any, 0, len(t))
		for _, c := range t {
			out = append(out, prune(c))
		}
		return out
	case string:
		if t == "" {
			return nil
		}
	case float64:
		if t == 0 {
			return nil
		}
	}
	return v
}

// waitReady waits until the zeroflow object's Ready condition has status
// and reason, for its current generation, and returns it.
func (sc *sourceCluster) waitReady(t *testing.T, kind, name, status, reason string) *apis.Condition {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		u, err := sc.dyn.Resource(zeroflowResource(kind)).Namespace(sc.ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Status struct {
				ObservedGeneration int64            `json:"observedGeneration"`
				Conditions         []apis.Condition `json:"conditions"`
			} `json:"status"`
		}
		b, _ := json.Marshal(u.Object)
		_ = json.Unmarshal(b, &st)
		for _, c := range st.Status.Conditions {
			if c.Type == apis.ConditionReady && string(c.Status) == status && c.Reason == reason && st.Status.ObservedGeneration == u.GetGeneration() {
				return &c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: status %+v, want Ready=%s (%s) at generation %d", kind, name, st.Status, status, reason, u.GetGeneration())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// EventSources and Sensors created, changed and deleted through the API:
// the controller keeps what render makes for them in the API, each owned
// by its EventSource or Sensor and valid to Knative; what GitOps applied
// is adopted, what another owns is not taken over.
func TestClusterSources(t *testing.T) {
	cluster := startSourceCluster(t)
	t.Run("eventsource follows the API", func(t *testing.T) { eventSourceFollowsTheAPI(t, cluster.in("es")) })
	t.Run("sensor follows the API", func(t *testing.T) { sensorFollowsTheAPI(t, cluster.in("sensor")) })
	t.Run("adopt rendered, keep others", func(t *testing.T) { sourcesAdoptRenderedAndKeepOthers(t, cluster.in("adopt")) })
	// Every request the controller made above, its shipped Role allows.
	t.Run("rbac", func(t *testing.T) {
		calls := cluster.calls.list()
		t.Logf("the controller called: %v", calls)
		checkControllerRole(t, calls)
	})
}

const webhookSource = `apiVersion: zeroflow.dev/v1alpha1
kind: EventSource
metadata: {name: hooks}
spec:
  webhook:
    a: {endpoint: /a, method: POST, port: "12000"}
  calendar:
    nightly: {schedule: "0 3 * * *"}
  resource:
    settings: {version: v1, resource: configmaps, kind: ConfigMap}
`

const webhookSourceChanged = `apiVersion: zeroflow.dev/v1alpha1
kind: EventSource
metadata: {name: hooks}
spec:
  webhook:
    a: {endpoint: /a, method: POST, port: "12000"}
    b: {endpoint: /b, method: POST, port: "12000"}
  resource:
    settings: {version: v1, resource: configmaps, kind: ConfigMap}
`

func eventSourceFollowsTheAPI(t *testing.T, sc *sourceCluster) {
	u := sc.put(t, webhookSource)
	es := eventSourceOf(t, u)
	objs, err := render.EventSource(es, sourceOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(objs.ApiServerSources) != 1 || len(objs.PingSources) != 1 || len(objs.Services) != 1 || len(objs.ServiceAccounts) != 1 {
		t.Fatalf("the test's EventSource renders %v", namesOf(t, objs))
	}
	sc.waitObjects(t, namesOf(t, objs))
	sc.checkOwned(t, "EventSource", u, render.LabelEventSource, objs)
	sc.waitReady(t, "EventSource", "hooks", "True", controller.ReasonApplied)

	// A new webhook endpoint, and the calendar event removed: the spec
	// ConfigMap carries the new endpoint, the PingSource and its policy
	// are deleted.
	u = sc.put(t, webhookSourceChanged)
	es = eventSourceOf(t, u)
	if len(es.Spec.Webhook) != 2 || len(es.Spec.Calendar) != 0 {
		t.Fatalf("the changed EventSource: %+v", es.Spec)
	}
	objs, err = render.EventSource(es, sourceOptions())
	if err != nil {
		t.Fatal(err)
	}
	sc.waitObjects(t, namesOf(t, objs))
	deadline := time.Now().Add(20 * time.Second)
	for {
		cm, err := sc.dyn.Resource(kindResources()["ConfigMap"]).Namespace(sc.ns).Get(context.Background(), objs.ConfigMaps[0].Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		data, _, _ := unstructured.NestedString(cm.Object, "data", "spec.yaml")
		if strings.Contains(data, "/b") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the spec ConfigMap never got the new endpoint:\n%s", data)
		}
		time.Sleep(20 * time.Millisecond)
	}
	sc.checkOwned(t, "EventSource", u, render.LabelEventSource, objs)
	sc.waitReady(t, "EventSource", "hooks", "True", controller.ReasonApplied)

	// Deleted: its objects go (the garbage collector would too, by the
	// owner references; this API server runs none).
	sc.remove(t, "EventSource", "hooks")
	sc.waitObjects(t, nil)
}

func sensorDoc(name string, deps ...string) string {
	doc := "apiVersion: zeroflow.dev/v1alpha1\nkind: Sensor\nmetadata: {name: " + name + "}\nspec:\n  dependencies:\n"
	for _, d := range deps {
		doc += "  - {name: " + d + ", eventSourceName: hooks, eventName: " + d + "}\n"
	}
	return doc + "  triggers:\n  - template: {name: log-it, log: {}}\n"
}

func sensorFollowsTheAPI(t *testing.T, sc *sourceCluster) {
	u := sc.put(t, sensorDoc("watcher", "a"))
	s := sensorOf(t, u)
	objs, err := render.Sensor(s, sourceOptions())
	if err != nil {
		t.Fatal(err)
	}
	sc.waitObjects(t, namesOf(t, objs))
	sc.checkOwned(t, "Sensor", u, render.LabelSensor, objs)
	ready := sc.waitReady(t, "Sensor", "watcher", "True", controller.ReasonApplied)

	// Applied again unchanged (what every resync does): nothing is written.
	before := sc.versions(t)
	cs := &controller.ClusterSources{Dynamic: sc.dyn, Client: sc.client, Options: sourceOptions()}
	if err := cs.ApplySensor(context.Background(), sensorOf(t, sc.get(t, "Sensor", "watcher"))); err != nil {
		t.Fatal(err)
	}
	if after := sc.versions(t); !slicesEqualMap(before, after) {
		t.Errorf("applying an unchanged Sensor wrote objects:\nbefore %v\n after %v", before, after)
	}

	// A second Sensor on the same Broker shares the sensor ServiceAccount's
	// EventPolicy: both hold a reference to it.
	u2 := sc.put(t, sensorDoc("other", "c"))
	objs2, err := render.Sensor(sensorOf(t, u2), sourceOptions())
	if err != nil {
		t.Fatal(err)
	}
	sc.waitObjects(t, append(namesOf(t, objs), namesOf(t, objs2)...))
	sc.checkOwned(t, "Sensor", u2, render.LabelSensor, objs2)

	// Dependency a replaced by b: its Trigger and policy are deleted,
	// b's made, the spec ConfigMap and the filter's callers updated.
	u = sc.put(t, sensorDoc("watcher", "b"))
	s = sensorOf(t, u)
	objs, err = render.Sensor(s, sourceOptions())
	if err != nil {
		t.Fatal(err)
	}
	sc.waitObjects(t, append(namesOf(t, objs), namesOf(t, objs2)...))
	if slices.Contains(sc.objects(t), "Trigger/watcher-dep-a") {
		t.Error("the Trigger of the removed dependency is still there")
	}
	sc.waitReady(t, "Sensor", "watcher", "True", controller.ReasonApplied)
	sc.checkOwned(t, "Sensor", u, render.LabelSensor, objs)
	if ready.LastTransitionTime.Inner.IsZero() {
		t.Error("Ready has no transition time")
	}

	// Deleted: its own objects go, the shared policy stays for the other
	// Sensor (without the deleted one's reference) and goes with the last.
	sc.remove(t, "Sensor", "watcher")
	sc.waitObjects(t, namesOf(t, objs2))
	sc.checkOwned(t, "Sensor", u2, render.LabelSensor, objs2)
	sc.remove(t, "Sensor", "other")
	sc.waitObjects(t, nil)
}

func (sc *sourceCluster) get(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	u, err := sc.dyn.Resource(zeroflowResource(kind)).Namespace(sc.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// versions are the resourceVersions of the namespace's objects of the
// kinds the real API server serves (the fake core client keeps none).
func (sc *sourceCluster) versions(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for kind, gvr := range kindResources() {
		if gvr.Group == "" {
			continue
		}
		l, err := sc.dyn.Resource(gvr).Namespace(sc.ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range l.Items {
			out[kind+"/"+u.GetName()] = u.GetResourceVersion()
		}
	}
	return out
}

func slicesEqualMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// What `zeroflow render` printed and GitOps applied, and what the
// controller makes for the same Sensor, are the same objects: the
// controller adopts them and makes no second set. An object of a name the
// controller would use that is labelled for another Sensor is left alone,
// and the Sensor is not Ready.
func sourcesAdoptRenderedAndKeepOthers(t *testing.T, sc *sourceCluster) {
	ctx := context.Background()
	pre := sensorOf(t, mustUnstructured(t, sensorDoc("gitops", "a")))
	pre.Namespace = sc.ns
	rendered, err := render.Sensor(pre, sourceOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range rendered.List() {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: m}
		delete(u.Object, "status")
		if _, err := sc.dyn.Resource(kindResources()[u.GetKind()]).Namespace(sc.ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	u := sc.put(t, sensorDoc("gitops", "a"))
	sc.waitReady(t, "Sensor", "gitops", "True", controller.ReasonApplied)
	sc.waitObjects(t, namesOf(t, rendered))
	sc.checkOwned(t, "Sensor", u, render.LabelSensor, rendered)

	// Sensor "x" with dependency "dep-y" and Sensor "x-dep" with
	// dependency "y" would both have a Trigger x-dep-dep-y... here the
	// clash is made by hand: a Trigger of the name Sensor "clash" needs,
	// labelled for Sensor "someone-else".
	theirs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "eventing.knative.dev/v1", "kind": "Trigger",
		"metadata": map[string]any{"name": "clash-dep-a", "namespace": sc.ns, "labels": map[string]any{render.LabelSensor: "someone-else", render.LabelPartOf: "zeroflow"}},
		"spec":     map[string]any{"broker": "default", "subscriber": map[string]any{"uri": "http://someone-else.example"}},
	}}
	theirs, err = sc.dyn.Resource(kindResources()["Trigger"]).Namespace(sc.ns).Create(ctx, theirs, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc.put(t, sensorDoc("clash", "a"))
	cond := sc.waitReady(t, "Sensor", "clash", "False", controller.ReasonNameTaken)
	if !strings.Contains(cond.Message, "clash-dep-a") {
		t.Errorf("Ready's message does not name the object: %q", cond.Message)
	}
	got, err := sc.dyn.Resource(kindResources()["Trigger"]).Namespace(sc.ns).Get(ctx, "clash-dep-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetResourceVersion() != theirs.GetResourceVersion() || len(got.GetOwnerReferences()) != 0 {
		t.Errorf("the other Sensor's Trigger was taken over: %+v", got.Object)
	}
	// Its other objects are applied all the same.
	if !slices.Contains(sc.objects(t), "Service/clash-filter") {
		t.Error("the clashing Sensor's other objects were not applied")
	}

	// Deleting the clashing Sensor leaves the other's Trigger alone.
	sc.remove(t, "Sensor", "clash")
	sc.waitObjects(t, append(namesOf(t, rendered), "Trigger/clash-dep-a"))
}

func mustUnstructured(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}
