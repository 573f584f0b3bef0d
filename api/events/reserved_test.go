package events_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/api/events"
)

func external(typ string, ext map[string]string) event.Event {
	ev := event.New()
	ev.SetID("1")
	ev.SetSource("/outside")
	ev.SetType(typ)
	for k, v := range ext {
		ev.SetExtension(k, v)
	}
	return ev
}

func TestCheckExternalPassesOrdinaryEvents(t *testing.T) {
	for _, ev := range []event.Event{
		external("webhook", nil),
		external("invoice.paid", map[string]string{"tenant": "acme", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}),
		// Near misses: not the prefixes themselves.
		external("dev.zeroflowx.step.run", map[string]string{"fz": "1", "knativ": "1"}),
		external("dev.knative.sources.pingx", nil),
		external("com.example.dev.zeroflow.step.run", nil),
	} {
		if err := events.CheckExternal(ev); err != nil {
			t.Errorf("%s %v: %v", ev.Type(), ev.Extensions(), err)
		}
	}
}

func TestCheckExternalRefusesReservedTypes(t *testing.T) {
	for _, typ := range []string{
		events.TypeStepRun, events.TypeStepResult, events.TypeWorkflowSubmit, events.TypeWorkflowFinished,
		events.TypeDependency, events.TypeWorkflowTick, "dev.zeroflow.anything.new",
		events.TypeKnativePing,
		"dev.knative.apiserver.resource.add", "dev.knative.apiserver.resource.update", "dev.knative.apiserver.resource.delete",
		"dev.knative.apiserver.ref.add",
		"DEV.ZeroFlow.step.run",
	} {
		err := events.CheckExternal(external(typ, nil))
		var re *events.ReservedError
		if !errors.As(err, &re) || re.Attribute != "type" || re.Value != typ {
			t.Errorf("%s: %v", typ, err)
			continue
		}
		if !strings.Contains(err.Error(), "type") || !strings.Contains(err.Error(), typ) {
			t.Errorf("%s: the error does not name the attribute and value: %v", typ, err)
		}
	}
}

func TestCheckExternalRefusesReservedExtensions(t *testing.T) {
	for _, name := range []string{
		events.ExtFunction, events.ExtWorkflow, events.ExtNode, events.ExtAttempt, events.ExtSensor, events.ExtDependency,
		events.ExtNamespace, events.ExtEventSource, events.ExtEvent, events.ExtCronWorkflow, "zfanything",
		"knativearrivaltime", "knativeerrorcode", "knativeerrordata", "knativeerrordest", "knativehistory",
	} {
		err := events.CheckExternal(external("invoice.paid", map[string]string{"tenant": "acme", name: "exec"}))
		var re *events.ReservedError
		if !errors.As(err, &re) || re.Attribute != name || re.Value != "exec" {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !strings.Contains(err.Error(), name+`="exec"`) {
			t.Errorf("%s: the error does not name the attribute and value: %v", name, err)
		}
	}
}

// Every reserved attribute is named, in a stable order, so that a caller
// fixes them all at once.
func TestCheckExternalNamesEveryReservedAttribute(t *testing.T) {
	err := events.CheckExternal(external(events.TypeStepRun, map[string]string{"zfnode": "main", "zffunction": "exec", "knativeerrorcode": "500"}))
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	last := -1
	for _, want := range []string{`type "dev.zeroflow.step.run"`, `knativeerrorcode="500"`, `zffunction="exec"`, `zfnode="main"`} {
		i := strings.Index(msg, want)
		if i < 0 || i < last {
			t.Errorf("%q missing or out of order in %q", want, msg)
		}
		last = i
	}
}

// A long value is cut in the error: a caller cannot make the answer as
// large as its request.
func TestReservedErrorBoundsTheValue(t *testing.T) {
	long := "dev.zeroflow." + strings.Repeat("x", 10000)
	err := events.CheckExternal(external(long, nil))
	if err == nil || len(err.Error()) > 300 {
		t.Fatalf("%d bytes: %v", len(err.Error()), err)
	}
}
