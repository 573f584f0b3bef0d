package render_test

import (
	"context"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"
	"knative.dev/eventing/pkg/auth"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/render"
)

const ns = "team"

// policyInput has one of each sender: a webhook, calendar and resource
// EventSource, a sensor with two dependencies, a CronWorkflow and a
// template calling a user function.
func policyInput() render.Input {
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: ns} }
	return render.Input{
		EventSources: []*v1alpha1.EventSource{{ObjectMeta: meta("hooks"), Spec: v1alpha1.EventSourceSpec{
			Webhook:  map[string]v1alpha1.WebhookEventSource{"push": {WebhookContext: v1alpha1.WebhookContext{Endpoint: "/push", Method: "POST", Port: "12000"}}},
			Calendar: map[string]v1alpha1.CalendarEventSource{"nightly": {Schedule: "0 3 * * *"}},
			Resource: map[string]v1alpha1.ResourceEventSource{"cms": {Version: "v1", Resource: "configmaps", Kind: "ConfigMap"}},
		}}, {ObjectMeta: meta("other"), Spec: v1alpha1.EventSourceSpec{
			Webhook: map[string]v1alpha1.WebhookEventSource{"push": {WebhookContext: v1alpha1.WebhookContext{Endpoint: "/push", Method: "POST", Port: "12000"}}},
		}}},
		Sensors: []*v1alpha1.Sensor{{ObjectMeta: meta("s"), Spec: v1alpha1.SensorSpec{
			Dependencies: []v1alpha1.EventDependency{{Name: "a", EventSourceName: "hooks", EventName: "push"}, {Name: "b", EventSourceName: "other", EventName: "push"}},
		}}, {ObjectMeta: meta("t"), Spec: v1alpha1.SensorSpec{
			Dependencies: []v1alpha1.EventDependency{{Name: "a", EventSourceName: "hooks", EventName: "push"}},
		}}},
		CronWorkflows: []*v1alpha1.CronWorkflow{{ObjectMeta: meta("nightly"), Spec: v1alpha1.CronWorkflowSpec{Schedules: []string{"0 1 * * *", "0 2 * * *"}}}},
		WorkflowTemplates: []*v1alpha1.WorkflowTemplate{{ObjectMeta: meta("wt"), Spec: v1alpha1.WorkflowSpec{
			Templates: []v1alpha1.Template{{Name: "main", Function: &v1alpha1.FunctionTemplate{Name: "enrich"}}},
		}}},
	}
}

// Every sender identity is in exactly one policy per Broker: Knative
// decides by the first policy listing a subject, in no fixed order, so a
// second listing would make its rights depend on the order.
func TestEachSubjectInOnePolicy(t *testing.T) {
	policies, err := render.EventPolicies(policyInput(), ns, "default")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for i := range policies {
		p := &policies[i]
		subjects := render.EventPolicySubjects(p)
		if len(subjects) == 0 {
			t.Errorf("policy %s lets no one send", p.Name)
		}
		for _, s := range subjects {
			key := p.Spec.To[0].Ref.Name + " " + s
			if other, ok := seen[key]; ok {
				t.Errorf("%s is in policies %s and %s", s, other, p.Name)
			}
			seen[key] = p.Name
		}
	}
}

// The policies say who may send what, as Knative's broker ingress reads
// them (auth.SubjectAndFiltersPass over the policies' resolved subjects).
func TestWhoMaySendWhat(t *testing.T) {
	policies, err := render.EventPolicies(policyInput(), ns, "default")
	if err != nil {
		t.Fatal(err)
	}
	var allowed []auth.SubjectsWithFilters
	for i := range policies {
		allowed = append(allowed, auth.SubjectsWithFilters{Subjects: render.EventPolicySubjects(&policies[i]), Filters: policies[i].Spec.Filters})
	}
	controller := sdk.ServiceAccountSubject(ns, render.ControllerServiceAccount)
	sensor := sdk.ServiceAccountSubject(ns, render.SensorServiceAccount)
	webhook := sdk.ServiceAccountSubject(ns, "hooks-eventsource")
	stepExec := render.TriggerSubject(ns, "zeroflow-step-exec")
	stepEnrich := render.TriggerSubject(ns, "zeroflow-step-enrich")
	depA := render.TriggerSubject(ns, "s-dep-a")
	cron0 := render.PingSourceSubject(ns, "zeroflow-cron-nightly-0")
	// A CronWorkflow the controller learns of at run time, with a name
	// long enough that Knative hashes its PingSource's ServiceAccount.
	cronLater := render.PingSourceSubject(ns, render.CronPingSourceNames(&v1alpha1.CronWorkflow{
		ObjectMeta: metav1.ObjectMeta{Name: "scale-up-for-the-black-friday-peak-20261203"}, Spec: v1alpha1.CronWorkflowSpec{Schedule: "0 8 * * *"}})[0])
	calendar := render.PingSourceSubject(ns, "hooks-calendar-nightly")
	resource := render.ApiServerSourceSubject(ns, "hooks-resource-cms")
	for _, tc := range []struct {
		name, sub, typ string
		ext            map[string]string
		want           bool
	}{
		{"controller runs steps", controller, events.TypeStepRun, map[string]string{events.ExtFunction: "exec"}, true},
		{"controller finishes workflows", controller, events.TypeWorkflowFinished, nil, true},
		{"controller ticks", controller, events.TypeWorkflowTick, nil, true},
		{"controller forges no result", controller, events.TypeStepResult, nil, false},
		{"step exec replies with its result", stepExec, events.TypeStepResult, map[string]string{events.ExtFunction: "exec"}, true},
		{"step exec forges no http result", stepExec, events.TypeStepResult, map[string]string{events.ExtFunction: "http"}, false},
		{"step exec runs no step", stepExec, events.TypeStepRun, map[string]string{events.ExtFunction: "exec"}, false},
		{"user function replies with its result", stepEnrich, events.TypeStepResult, map[string]string{events.ExtFunction: "enrich"}, true},
		{"filter reply is its dependency", depA, events.TypeDependency, map[string]string{events.ExtSensor: "s", events.ExtDependency: "a"}, true},
		{"filter reply for another dependency", depA, events.TypeDependency, map[string]string{events.ExtSensor: "s", events.ExtDependency: "b"}, false},
		{"filter reply for another sensor", depA, events.TypeDependency, map[string]string{events.ExtSensor: "t", events.ExtDependency: "a"}, false},
		{"sensor submits", sensor, events.TypeWorkflowSubmit, nil, true},
		{"sensor sends a cloudEvent", sensor, "com.example.done", nil, true},
		{"sensor runs no step", sensor, events.TypeStepRun, nil, false},
		{"sensor fires no cron", sensor, events.TypeKnativePing, map[string]string{events.ExtCronWorkflow: "nightly"}, false},
		{"webhook forwards its events", webhook, "webhook", map[string]string{events.ExtEventSource: "hooks"}, true},
		{"webhook posing as another EventSource", webhook, "webhook", map[string]string{events.ExtEventSource: "other"}, false},
		{"webhook forwards no step.run", webhook, events.TypeStepRun, map[string]string{events.ExtEventSource: "hooks"}, false},
		{"webhook forwards no ping", webhook, events.TypeKnativePing, map[string]string{events.ExtEventSource: "hooks", events.ExtCronWorkflow: "nightly"}, false},
		{"webhook forwards no apiserver event", webhook, "dev.knative.apiserver.resource.add", map[string]string{events.ExtEventSource: "hooks"}, false},
		{"cron fires its CronWorkflow", cron0, events.TypeKnativePing, map[string]string{events.ExtCronWorkflow: "nightly"}, true},
		{"a CronWorkflow made at run time fires", cronLater, events.TypeKnativePing, map[string]string{events.ExtCronWorkflow: "scale-up-for-the-black-friday-peak-20261203"}, true},
		// Which CronWorkflow a ping may fire the controller checks (by
		// its source): the policy lets any cron PingSource send pings.
		{"cron runs no step", cron0, events.TypeStepRun, map[string]string{events.ExtFunction: "exec"}, false},
		{"cron submits nothing", cronLater, events.TypeWorkflowSubmit, nil, false},
		{"another namespace's cron", render.PingSourceSubject("other", "zeroflow-cron-nightly"), events.TypeKnativePing, map[string]string{events.ExtCronWorkflow: "nightly"}, false},
		{"calendar pings for its EventSource", calendar, events.TypeKnativePing, map[string]string{events.ExtEventSource: "hooks", events.ExtEvent: "nightly"}, true},
		{"calendar fires no CronWorkflow", calendar, events.TypeKnativePing, map[string]string{events.ExtCronWorkflow: "nightly"}, false},
		{"resource source sends its objects", resource, "dev.knative.apiserver.resource.add", map[string]string{events.ExtEventSource: "hooks"}, true},
		{"resource source submits nothing", resource, events.TypeWorkflowSubmit, map[string]string{events.ExtEventSource: "hooks"}, false},
		{"anyone else sends nothing", sdk.ServiceAccountSubject(ns, "default"), "webhook", nil, false},
		{"another namespace's controller", sdk.ServiceAccountSubject("other", render.ControllerServiceAccount), events.TypeStepRun, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := cloudevents.NewEvent()
			ev.SetID("1")
			ev.SetSource("/test")
			ev.SetType(tc.typ)
			for k, v := range tc.ext {
				ev.SetExtension(k, v)
			}
			if got := auth.SubjectAndFiltersPass(context.Background(), tc.sub, allowed, &ev, zap.NewNop().Sugar()); got != tc.want {
				t.Errorf("%s sending %s %v: allowed %v, want %v", tc.sub, tc.typ, tc.ext, got, tc.want)
			}
		})
	}
}

// A from.ref resolves as Knative resolves it: to the referent's OIDC
// identity in the policy's namespace.
func TestEventPolicySubjects(t *testing.T) {
	p := render.StepFunctionEventPolicy(ns, "default", "exec")
	if got, want := render.EventPolicySubjects(&p), []string{render.TriggerSubject(ns, "zeroflow-step-exec")}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("subjects %v, want %v", got, want)
	}
	// Rendered without a namespace, identities name the install's.
	p = render.ControllerEventPolicy("", "default")
	if got := render.EventPolicySubjects(&p); len(got) != 1 || got[0] != sdk.ServiceAccountSubject(render.DefaultNamespace, render.ControllerServiceAccount) {
		t.Errorf("subjects %v", got)
	}
	var _ eventingv1alpha1.EventPolicy = p
}
