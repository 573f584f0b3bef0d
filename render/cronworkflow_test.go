package render_test

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/knativecheck"
	"github.com/zeroflow-dev/zeroflow/render"
)

// A CronWorkflow renders to its PingSources only, named with the cron
// prefix (so that the runtime's one EventPolicy admits them) and labelled
// with the CronWorkflow (so that the controller finds them); the runtime's
// one cron Trigger routes their firings.
func TestCronWorkflowRendersPrefixedPingSources(t *testing.T) {
	long := strings.Repeat("x", 60)
	for _, tc := range []struct {
		name      string
		schedules []string
		suspend   bool
		want      []string
	}{
		{"nightly", []string{"0 3 * * *"}, false, []string{"zeroflow-cron-nightly"}},
		{"twice", []string{"0 1 * * *", "0 2 * * *"}, false, []string{"zeroflow-cron-twice-0", "zeroflow-cron-twice-1"}},
		// Suspended keeps its PingSources: the controller skips the firings.
		{"paused", []string{"0 3 * * *"}, true, []string{"zeroflow-cron-paused"}},
		{long, []string{"0 3 * * *"}, false, nil},
	} {
		cw := &v1alpha1.CronWorkflow{ObjectMeta: metav1.ObjectMeta{Name: tc.name, Namespace: "team"}, Spec: v1alpha1.CronWorkflowSpec{Schedules: tc.schedules, Suspend: tc.suspend, Timezone: "Europe/Berlin"}}
		out := render.CronWorkflow(cw, "default")
		if len(out.Triggers) != 0 || len(out.EventPolicies) != 0 {
			t.Errorf("%s: rendered %d Triggers and %d EventPolicies, want the runtime's only", tc.name, len(out.Triggers), len(out.EventPolicies))
		}
		if len(out.PingSources) != len(tc.schedules) {
			t.Fatalf("%s: %d PingSources", tc.name, len(out.PingSources))
		}
		names := render.CronPingSourceNames(cw)
		for i := range out.PingSources {
			p := &out.PingSources[i]
			if tc.want != nil && p.Name != tc.want[i] {
				t.Errorf("%s: PingSource %d is %s, want %s", tc.name, i, p.Name, tc.want[i])
			}
			if p.Name != names[i] || !strings.HasPrefix(p.Name, render.CronPingSourcePrefix) || len(p.Name) > 63 {
				t.Errorf("%s: PingSource %s (names %v)", tc.name, p.Name, names)
			}
			if !strings.HasPrefix(render.PingSourceSubject("team", p.Name), "system:serviceaccount:team:"+render.CronPingSourcePrefix) {
				t.Errorf("%s: identity %s is not under the cron prefix", tc.name, render.PingSourceSubject("team", p.Name))
			}
			if p.Labels[render.LabelCronWorkflow] != tc.name || p.Spec.CloudEventOverrides.Extensions[events.ExtCronWorkflow] != tc.name || p.Spec.Timezone != "Europe/Berlin" {
				t.Errorf("%s: PingSource %+v", tc.name, p)
			}
			if err := knativecheck.Object(context.Background(), p); err != nil {
				t.Errorf("%s: Knative rejects %s: %v", tc.name, p.Name, err)
			}
		}
	}
}

// The runtime's cron Trigger takes the pings that name a CronWorkflow and
// its policy admits the cron PingSources by prefix; both pass Knative's
// validation.
func TestRuntimeCronTriggerAndPolicy(t *testing.T) {
	rt := render.Runtime("team", "default", render.Options{})
	found := false
	for i := range rt.Triggers {
		tr := &rt.Triggers[i]
		if tr.Name != "zeroflow-controller-cron" {
			continue
		}
		found = true
		attrs := tr.Spec.Filter.Attributes
		if attrs["type"] != events.TypeKnativePing || len(attrs) != 2 {
			t.Errorf("cron Trigger filter %v", attrs)
		}
		if v, ok := attrs[events.ExtCronWorkflow]; !ok || v != "" {
			t.Errorf("cron Trigger filter %v: want %s set to any value", attrs, events.ExtCronWorkflow)
		}
		if err := knativecheck.Object(context.Background(), tr); err != nil {
			t.Errorf("Knative rejects the cron Trigger: %v", err)
		}
	}
	if !found {
		t.Fatal("no cron Trigger in the runtime")
	}
	found = false
	for i := range rt.EventPolicies {
		p := &rt.EventPolicies[i]
		if p.Name != render.CronPolicy {
			continue
		}
		found = true
		if got := render.EventPolicySubjects(p); len(got) != 1 || got[0] != "system:serviceaccount:team:zeroflow-cron-*" {
			t.Errorf("cron policy subjects %v", got)
		}
		if err := knativecheck.Object(context.Background(), p); err != nil {
			t.Errorf("Knative rejects the cron policy: %v", err)
		}
	}
	if !found {
		t.Fatal("no cron EventPolicy in the runtime")
	}
}
