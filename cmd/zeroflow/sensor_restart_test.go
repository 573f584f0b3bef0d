package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/broker"
	"github.com/zeroflow-dev/zeroflow/functions/filter"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/kubeapi"
	"github.com/zeroflow-dev/zeroflow/manifests"
	"github.com/zeroflow-dev/zeroflow/render"
)

// TestSensorKilledBetweenDependenciesKeepsTheFirst runs the sensor function
// as its own process (`zeroflow function sensor`), lets the first
// dependency of an AND condition arrive, kills the process with SIGKILL,
// starts a new one, and sends the second: the trigger fires with both,
// because the first was kept in the Sensor's status, not in memory.
func TestSensorKilledBetweenDependenciesKeepsTheFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	ctx := context.Background()
	dir := t.TempDir()

	crds, err := manifests.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	api, err := kubeapi.Start(ctx, kubeapi.Options{CRDs: crds, UnsafeNoFsync: true, KubeconfigPath: kubeconfig})
	if err != nil {
		t.Fatal(err)
	}
	defer api.Stop()
	bus, err := broker.Start(ctx, broker.Options{DataDir: filepath.Join(dir, "broker")})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()

	fired := make(chan map[string]any, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		fired <- body
	}))
	defer hook.Close()

	sensorYAML := fmt.Sprintf(`
apiVersion: zeroflow.dev/v1alpha1
kind: Sensor
metadata: {name: pair, namespace: default}
spec:
  dependencies:
  - {name: first, eventSourceName: src, eventName: first}
  - {name: second, eventSourceName: src, eventName: second}
  triggers:
  - template:
      name: both
      conditions: first && second
      http:
        url: %s
        payload:
        - {src: {dependencyName: first, dataKey: value}, dest: first}
        - {src: {dependencyName: second, dataKey: value}, dest: second}
`, hook.URL)
	specFile := filepath.Join(dir, "sensor.yaml")
	if err := os.WriteFile(specFile, []byte(sensorYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	var s v1alpha1.Sensor
	if err := yaml.Unmarshal([]byte(sensorYAML), &s); err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(api.Config())
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(sensorYAML), &obj); err != nil {
		t.Fatal(err)
	}
	sensors := dyn.Resource(v1alpha1.SchemeGroupVersion.WithResource("sensors")).Namespace("default")
	if _, err := sensors.Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The filter runs in this process; the sensor is the process we kill.
	fn, err := filter.NewFunction(&s, nil)
	if err != nil {
		t.Fatal(err)
	}
	fl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink := bus.Address("default", "default")
	fctx, stopFilter := context.WithCancel(ctx)
	defer stopFilter()
	go sdk.Serve(fctx, fn, sdk.Options{Listener: fl, Sink: sink, Logger: slog.New(slog.DiscardHandler)})
	sensorAddr := freeAddr(t)
	filterURL, _ := apis.ParseURL("http://" + fl.Addr().String())
	sensorURL, _ := apis.ParseURL("http://" + sensorAddr)
	triggers, err := render.WithSubscriberURLs(render.SensorTriggers(&s), map[string]*apis.URL{render.SensorFilterName(&s): filterURL, render.SensorFunctionName(&s): sensorURL})
	if err != nil {
		t.Fatal(err)
	}
	err = bus.Apply(ctx, broker.Config{
		Brokers:  []eventingv1.Broker{{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "default"}}},
		Triggers: triggers,
	})
	if err != nil {
		t.Fatal(err)
	}

	startSensor := func() *exec.Cmd {
		cmd := exec.Command(bin, "function", "sensor", "--sensor", specFile, "--kubeconfig", kubeconfig, "--addr", sensorAddr, "--sink", sink)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get("http://" + sensorAddr + "/health/readiness")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return cmd
				}
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatal("the sensor process did not get ready")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	publish := func(name, id, value string) {
		ev := event.New()
		ev.SetID(id)
		ev.SetType("webhook")
		ev.SetSource("src")
		ev.SetSubject(name)
		ev.SetExtension(events.ExtEventSource, "src")
		ev.SetExtension(events.ExtEvent, name)
		_ = ev.SetData(event.ApplicationJSON, map[string]string{"value": value})
		if err := bus.Publish(ctx, "default", "default", ev); err != nil {
			t.Fatal(err)
		}
	}
	waiting := func() map[string]string {
		u, err := sensors.Get(ctx, "pair", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		triggers, _, _ := unstructured.NestedSlice(u.Object, "status", "triggers")
		for _, tr := range triggers {
			deps, _, _ := unstructured.NestedSlice(tr.(map[string]any), "dependencies")
			for _, d := range deps {
				dm := d.(map[string]any)
				out[dm["name"].(string)] = dm["eventID"].(string)
			}
		}
		return out
	}

	proc := startSensor()
	publish("first", "first-1", "kept")
	deadline := time.Now().Add(15 * time.Second)
	for waiting()["first"] != "first-1" {
		if time.Now().After(deadline) {
			t.Fatal("the first dependency never showed in the status")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = proc.Wait()

	proc = startSensor()
	defer func() { proc.Process.Kill(); _ = proc.Wait() }()
	publish("second", "second-1", "arrived")
	select {
	case body := <-fired:
		if body["first"] != "kept" || body["second"] != "arrived" {
			t.Fatalf("fired with %v", body)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the trigger did not fire after the restart")
	}
	if w := waiting(); len(w) != 0 {
		t.Errorf("state after firing: %v", w)
	}
}
