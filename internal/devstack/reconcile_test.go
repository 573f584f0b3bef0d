package devstack

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/render"
)

// syncBuffer is a log sink the test reads while the stack writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freePort is a port nothing listens on as the test starts.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	return port
}

// waitFor polls ok every 100ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func objectOf(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

const reconcileSensor = `apiVersion: zeroflow.dev/v1alpha1
kind: Sensor
metadata: {name: NAME}
spec:
  dependencies:
  - name: in
    eventSourceName: SOURCE
    eventName: in
  triggers:
  - template:
      name: run
      workflow:
        operation: submit
        source:
          resource:
            apiVersion: zeroflow.dev/v1alpha1
            kind: Workflow
            metadata: {generateName: NAME-}
            spec:
              entrypoint: main
              arguments: {parameters: [{name: keep, value: none}]}
              templates:
              - name: main
                script: {image: alpine, command: [sh], source: "echo {{workflow.parameters.keep}}"}
        parameters:
        - src: {dependencyName: in, dataKey: body.keep}
          dest: spec.arguments.parameters.0.value
`

func reconcileEventSource(name, port string) string {
	return fmt.Sprintf(`apiVersion: zeroflow.dev/v1alpha1
kind: EventSource
metadata: {name: %s}
spec:
  webhook:
    in: {port: "%s", endpoint: /in, method: POST}
`, name, port)
}

// TestEventSourcesAndSensorsFollowTheAPI: zeroflow dev runs the
// EventSources and Sensors that the API holds, as a reconciler on a
// cluster would. Created through the API, an EventSource's webhook
// listens on its port and a Sensor's workflow trigger submits from its
// events; a patched filter takes effect for the next event; a deleted
// EventSource's port stops answering. Each change is logged; the
// directory's own objects keep running untouched.
func TestEventSourcesAndSensorsFollowTheAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the API server")
	}
	dirPort, apiPort := freePort(t), freePort(t)
	doc := reconcileEventSource("dir-hook", dirPort) + "---\n" + strings.NewReplacer("NAME", "dir-sensor", "SOURCE", "dir-hook").Replace(reconcileSensor)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "manifests.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	logs := &syncBuffer{}
	s, err := Start(ctx, Options{Paths: []string{dir}, DataDir: t.TempDir(), BrokerAddr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	client, err := controller.NewClient(s.API.Config())
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(s.API.Config())
	if err != nil {
		t.Fatal(err)
	}
	dirSensor := &v1alpha1.Sensor{ObjectMeta: metav1.ObjectMeta{Name: "dir-sensor"}}
	dirFilter := s.Functions()[render.SensorFilterName(dirSensor)]
	if dirFilter == "" {
		t.Fatalf("the directory's sensor does not run: %v", s.Functions())
	}
	sensors := dyn.Resource(v1alpha1.SchemeGroupVersion.WithResource("sensors")).Namespace(DefaultNamespace)
	sources := dyn.Resource(v1alpha1.SchemeGroupVersion.WithResource("eventsources")).Namespace(DefaultNamespace)
	if _, err := sources.Create(ctx, objectOf(t, reconcileEventSource("api-hook", apiPort)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sensors.Create(ctx, objectOf(t, strings.NewReplacer("NAME", "api-sensor", "SOURCE", "api-hook").Replace(reconcileSensor)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "no log of the created EventSource and Sensor:\n"+logs.String(), func() bool {
		return strings.Contains(logs.String(), "eventsource created") && strings.Contains(logs.String(), "sensor created")
	})

	post := func(keep string) int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1:"+apiPort+"/in", strings.NewReader(`{"keep": "`+keep+`"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// submitted lists the keep argument of every workflow the API
	// sensor submitted.
	submitted := func() []string {
		l, err := client.ListWorkflows(ctx, DefaultNamespace, metav1.ListOptions{})
		if err != nil {
			return nil
		}
		var out []string
		for _, wf := range l.Items {
			if strings.HasPrefix(wf.Name, "api-sensor-") && len(wf.Spec.Arguments.Parameters) > 0 && wf.Spec.Arguments.Parameters[0].Value != nil {
				out = append(out, string(*wf.Spec.Arguments.Parameters[0].Value))
			}
		}
		return out
	}
	if code := post("first"); code != http.StatusOK {
		t.Fatalf("POST to the created webhook: %d, want 200", code)
	}
	waitFor(t, 60*time.Second, "no workflow from the created sensor", func() bool { return len(submitted()) == 1 })

	// The filter, patched in: only events that say keep=yes pass.
	patch := `{"spec": {"dependencies": [{"name": "in", "eventSourceName": "api-hook", "eventName": "in", "filters": {"data": [{"path": "body.keep", "type": "string", "value": ["yes"]}]}}]}}`
	if _, err := sensors.Patch(ctx, "api-sensor", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "no log of the updated Sensor:\n"+logs.String(), func() bool { return strings.Contains(logs.String(), "sensor updated") })
	if code := post("no"); code != http.StatusOK {
		t.Fatalf("POST: %d", code)
	}
	if code := post("yes"); code != http.StatusOK {
		t.Fatalf("POST: %d", code)
	}
	waitFor(t, 60*time.Second, "the event the filter passes submitted nothing", func() bool { return len(submitted()) == 2 })
	// The dropped event was posted first; give it the time the passed
	// one took, and more.
	time.Sleep(2 * time.Second)
	if got := submitted(); len(got) != 2 || strings.Contains(strings.Join(got, ","), "no") {
		t.Errorf("submitted %v, want first and yes only: the patched filter does not drop", got)
	}

	if got := s.Functions()[render.SensorFilterName(dirSensor)]; got != dirFilter {
		t.Errorf("the directory's sensor was restarted: filter at %s, was %s", got, dirFilter)
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "component=reconciler") && (strings.Contains(line, `object="Sensor default/dir-sensor"`) || strings.Contains(line, `object="EventSource default/dir-hook"`)) {
			t.Errorf("the watch acted on the directory's object: %s", line)
		}
	}

	// A port that is taken is an error naming it; the stack runs on.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, busyPort, _ := net.SplitHostPort(busy.Addr().String())
	if _, err := sources.Create(ctx, objectOf(t, reconcileEventSource("busy-hook", busyPort)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "no error naming the taken port:\n"+logs.String(), func() bool {
		return strings.Contains(logs.String(), "level=ERROR") && strings.Contains(logs.String(), "webhook port "+busyPort)
	})

	if err := sources.Delete(ctx, "api-hook", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the deleted EventSource's port still answers", func() bool {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+apiPort, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	waitFor(t, 10*time.Second, "no log of the deleted EventSource", func() bool { return strings.Contains(logs.String(), "eventsource deleted") })
	// The directory's webhook still runs.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1:"+dirPort+"/in", strings.NewReader(`{"keep": "dir"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the directory's webhook: %v", err)
	}
	resp.Body.Close()
}

// TestSensorOnABrokerMadeAtRunTime: an EventSource and a Sensor created
// through the API in a namespace and on an eventBusName that nothing in
// the directory names get their Broker (with the controller's Triggers on
// it and the policies render makes), and the webhook's event submits a
// workflow there.
func TestSensorOnABrokerMadeAtRunTime(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the API server")
	}
	ctx, s, client := startWith(t, strings.Replace(template, "ENTRY", "first", 1))
	dyn, err := dynamic.NewForConfig(s.API.Config())
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	es := objectOf(t, reconcileEventSource("hook", port))
	es.SetNamespace("team")
	_ = unstructured.SetNestedField(es.Object, "bus", "spec", "eventBusName")
	sn := objectOf(t, strings.NewReplacer("NAME", "on-hook", "SOURCE", "hook").Replace(reconcileSensor))
	sn.SetNamespace("team")
	_ = unstructured.SetNestedField(sn.Object, "bus", "spec", "eventBusName")
	if _, err := dyn.Resource(v1alpha1.SchemeGroupVersion.WithResource("eventsources")).Namespace("team").Create(ctx, es, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(v1alpha1.SchemeGroupVersion.WithResource("sensors")).Namespace("team").Create(ctx, sn, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// An event stored before the Sensor's Triggers exist is not theirs (as
	// on a cluster, a Trigger sees what arrives after it): post once the
	// broker routes to the sensor and to the controller there.
	waitFor(t, 30*time.Second, "the Sensor's and the controller's Triggers on team/bus", func() bool {
		var sensor, ctrl bool
		for k := range s.Broker.Triggers() {
			sensor = sensor || strings.HasPrefix(k, "team/on-hook-")
			ctrl = ctrl || k == "team/"+render.ControllerService+"-bus-submit"
		}
		return sensor && ctrl
	})
	waitFor(t, 30*time.Second, "the created webhook does not answer 200", func() bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1:"+port+"/in", strings.NewReader(`{"keep": "team"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	waitFor(t, 60*time.Second, "no Succeeded workflow in namespace team", func() bool {
		l, err := client.ListWorkflows(ctx, "team", metav1.ListOptions{})
		if err != nil {
			return false
		}
		for _, wf := range l.Items {
			if strings.HasPrefix(wf.Name, "on-hook-") && wf.Status.Phase == v1alpha1.WorkflowSucceeded {
				return true
			}
		}
		return false
	})
	if _, ok := s.Broker.Triggers()["team/"+render.ControllerService+"-bus-submit"]; !ok {
		var names []string
		for k := range s.Broker.Triggers() {
			names = append(names, k)
		}
		t.Errorf("no controller Trigger on team/bus: %v", names)
	}
}
