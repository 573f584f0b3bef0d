package controller_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/broker"
	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/functions/archive"
	"github.com/zeroflow-dev/zeroflow/functions/exec"
	zfhttp "github.com/zeroflow-dev/zeroflow/functions/http"
	"github.com/zeroflow-dev/zeroflow/functions/resource"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/kubeapi"
	"github.com/zeroflow-dev/zeroflow/manifests"
	"github.com/zeroflow-dev/zeroflow/render"
)

// The real in-process API server, the real broker and one controller
// (with its watch running) serve every test of the package; the step
// functions are real functions on loopback behind per-function Triggers.
var (
	apiServer *kubeapi.Server
	bus       *broker.Broker
	client    *controller.Client
	ctrl      *controller.Controller
	artifacts string
	userFns   = &registry{fns: map[string]sdk.Handler{}}
	logs      = &syncBuffer{}
)

// userFunctions are the names the tests' Triggers route; a test registers
// what each does.
// sharedTokenKey is the step-token key of every controller of the tests.
const sharedTokenKey = "controller-test-key-0123456789abcdef"

var userFunctions = []string{"parse", "enrich", "metrics", "store", "flaky", "crash", "sleepy", "count", "gate", "use", "ok"}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx, cancel := context.WithCancel(context.Background())
	fail := func(what string, err error) int {
		cancel()
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		return 1
	}
	crds, err := manifests.CRDs()
	if err != nil {
		return fail("crds", err)
	}
	if apiServer, err = kubeapi.Start(ctx, kubeapi.Options{CRDs: crds, UnsafeNoFsync: true}); err != nil {
		return fail("start api server", err)
	}
	defer apiServer.Stop()
	dir, err := os.MkdirTemp("", "controller-test-")
	if err != nil {
		return fail("tempdir", err)
	}
	defer os.RemoveAll(dir)
	artifacts = dir + "/artifacts"
	if bus, err = broker.Start(ctx, broker.Options{DataDir: dir + "/broker"}); err != nil {
		return fail("start broker", err)
	}
	defer bus.Close()
	// The functions and the controller stop before the broker and the API.
	defer cancel()
	if client, err = controller.NewClient(apiServer.Config()); err != nil {
		return fail("client", err)
	}
	sink := bus.Address("default", "default")
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctrl, err = controller.New(controller.Config{
		Client:            client,
		Send:              func(ctx context.Context, ev event.Event) error { return bus.Publish(ctx, "default", "default", ev) },
		Logger:            logger,
		TokenKey:          []byte(sharedTokenKey),
		HeartbeatInterval: time.Second,
		LostAfter:         3 * time.Second,
		StartTimeout:      10 * time.Second,
		ResyncPeriod:      time.Second,
	})
	if err != nil {
		return fail("controller", err)
	}
	go func() { _ = ctrl.Run(ctx) }()
	store := sdk.DirArtifacts{Dir: artifacts}
	serve := func(h sdk.Handler) (*apis.URL, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		go func() {
			_ = sdk.Serve(ctx, h, sdk.Options{Listener: l, Sink: sink, Logger: logger, DrainTimeout: time.Second})
		}()
		return apis.ParseURL("http://" + l.Addr().String())
	}
	var triggers []eventingv1.Trigger
	addrs := map[string]*apis.URL{}
	ctrlURL, err := serve(ctrl)
	if err != nil {
		return fail("serve controller", err)
	}
	triggers = append(triggers, render.ControllerTriggers("default", "default")...)
	addrs[render.ControllerService] = ctrlURL
	dyn, mapper, err := apiServer.Clients()
	if err != nil {
		return fail("clients", err)
	}
	for name, h := range map[string]sdk.Handler{
		"exec":     exec.New(exec.Options{Artifacts: store}),
		"http":     zfhttp.New(zfhttp.Options{Artifacts: store}),
		"resource": resource.New(resource.Options{Dynamic: dyn, Mapper: mapper, PollInterval: 50 * time.Millisecond, Artifacts: store}),
	} {
		u, err := serve(h)
		if err != nil {
			return fail("serve "+name, err)
		}
		triggers = append(triggers, render.StepFunctionTriggers("default", "default", name, render.BuiltinService(name))...)
		addrs[render.BuiltinService(name)] = u
	}
	userURL, err := serve(sdk.HandlerFunc(userFns.handle))
	if err != nil {
		return fail("serve user functions", err)
	}
	addrs["user-functions"] = userURL
	for _, name := range userFunctions {
		triggers = append(triggers, render.StepFunctionTriggers("default", "default", name, "user-functions")...)
	}
	archiveURL, err := serve(archive.New(store))
	if err != nil {
		return fail("serve archive", err)
	}
	triggers = append(triggers, render.ArchiveTrigger("default", "default"))
	addrs[render.BuiltinService(render.ArchiveFunction)] = archiveURL
	if triggers, err = render.WithSubscriberURLs(triggers, addrs); err != nil {
		return fail("route", err)
	}
	retry := int32(3)
	linear := eventingduckv1.BackoffPolicyLinear
	delay := "PT0.1S"
	delivery := eventingduckv1.DeliverySpec{Retry: &retry, BackoffPolicy: &linear, BackoffDelay: &delay}
	// The step Triggers carry zeroflow's whole delivery (a Trigger's
	// replaces the Broker's) for their long timeout; here they get the
	// harness's quick retries, and no dead-letter sink, which it does not
	// run, with that timeout.
	for i := range triggers {
		if d := triggers[i].Spec.Delivery; d != nil {
			own := delivery
			own.Timeout = d.Timeout
			triggers[i].Spec.Delivery = &own
		}
	}
	if err := bus.Apply(ctx, broker.Config{
		Brokers: []eventingv1.Broker{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "default"},
			Spec:       eventingv1.BrokerSpec{Delivery: &delivery},
		}},
		Triggers: triggers,
	}); err != nil {
		return fail("apply triggers", err)
	}
	return m.Run()
}

// registry holds the user functions the tests register, by name.
type registry struct {
	mu  sync.Mutex
	fns map[string]sdk.Handler
}

func (r *registry) set(t *testing.T, name string, h sdk.Handler) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fns[name] = h
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.fns, name)
	})
}

func (r *registry) handle(ctx context.Context, ev event.Event) (*event.Event, error) {
	name := fmt.Sprint(ev.Extensions()[events.ExtFunction])
	r.mu.Lock()
	h, ok := r.fns[name]
	r.mu.Unlock()
	if !ok {
		return nil, sdk.Status(http.StatusNotFound, fmt.Errorf("no function %q registered", name))
	}
	return h.Handle(ctx, ev)
}

// step registers a user step function.
func step(t *testing.T, name string, fn sdk.StepFunc) {
	t.Helper()
	userFns.set(t, name, sdk.Step(fn, sdk.StepOptions{Artifacts: sdk.DirArtifacts{Dir: artifacts}}))
}

// apply creates the objects of a YAML stream (WorkflowTemplates and
// Workflows) in namespace ns.
func apply(t *testing.T, ns, doc string) {
	t.Helper()
	ctx := context.Background()
	for _, part := range strings.Split(doc, "\n---\n") {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(part), &meta); err != nil {
			t.Fatalf("YAML: %v", err)
		}
		switch meta.Kind {
		case "WorkflowTemplate":
			wt := &v1alpha1.WorkflowTemplate{}
			if err := yaml.UnmarshalStrict([]byte(part), wt); err != nil {
				t.Fatalf("WorkflowTemplate YAML: %v", err)
			}
			wt.Namespace = ns
			if errs := v1alpha1.ValidateWorkflowTemplate(wt); len(errs) > 0 {
				t.Fatalf("invalid WorkflowTemplate: %v", errs.ToAggregate())
			}
			if err := client.CreateWorkflowTemplate(ctx, wt); err != nil {
				t.Fatalf("create WorkflowTemplate: %v", err)
			}
		case "Workflow":
			wf := workflow(t, part)
			wf.Namespace = ns
			if _, err := client.CreateWorkflow(ctx, wf); err != nil {
				t.Fatalf("create Workflow: %v", err)
			}
		default:
			t.Fatalf("apply: kind %q", meta.Kind)
		}
	}
}

func workflow(t *testing.T, doc string) *v1alpha1.Workflow {
	t.Helper()
	wf := &v1alpha1.Workflow{}
	if err := yaml.UnmarshalStrict([]byte(doc), wf); err != nil {
		t.Fatalf("Workflow YAML: %v", err)
	}
	return wf
}

// submit publishes a workflow.submit event for wf, with the given id.
func submit(t *testing.T, id string, wf *v1alpha1.Workflow) {
	t.Helper()
	ev := event.New()
	ev.SetID(id)
	ev.SetType(events.TypeWorkflowSubmit)
	ev.SetSource("/test")
	ev.SetExtension(events.ExtNamespace, wf.Namespace)
	if err := ev.SetData(event.ApplicationJSON, events.WorkflowSubmit{Workflow: wf}); err != nil {
		t.Fatal(err)
	}
	if err := bus.Publish(context.Background(), "default", "default", ev); err != nil {
		t.Fatalf("publish submit: %v", err)
	}
}

// waitDone waits for a workflow to complete and returns it.
func waitDone(t *testing.T, ns, name string, within time.Duration) *v1alpha1.Workflow {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		wf, err := client.GetWorkflow(context.Background(), ns, name)
		if err == nil && wf.Status.Phase.Completed() {
			return wf
		}
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatalf("get workflow: %v", err)
		}
		if time.Now().After(deadline) {
			phase := "not created"
			if wf != nil {
				phase = string(wf.Status.Phase)
			}
			t.Fatalf("workflow %s/%s not done after %s (phase %q); controller log tail:\n%s", ns, name, within, phase, logs.tail(40))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := strings.Split(s.b.String(), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var metav1ListAll = metav1.ListOptions{}

func submitEvent(t *testing.T, id string, wf *v1alpha1.Workflow) event.Event {
	t.Helper()
	ev := event.New()
	ev.SetID(id)
	ev.SetType(events.TypeWorkflowSubmit)
	ev.SetSource("/test")
	if err := ev.SetData(event.ApplicationJSON, events.WorkflowSubmit{Workflow: wf}); err != nil {
		t.Fatal(err)
	}
	return ev
}

var namespaces atomic.Int64

// uniqueNamespace gives each test run its own namespace, so that a test can
// run again (-count) in the same API server.
func uniqueNamespace(base string) string {
	return fmt.Sprintf("%s-%d", base, namespaces.Add(1))
}
