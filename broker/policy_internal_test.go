package broker

import (
	"context"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.uber.org/zap"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/auth"
)

// The broker's built policies decide as Knative's SubjectAndFiltersPass
// does over the same subjects and filters (the first policy listing the
// sender decides), for every sender and event of a small table. (Under
// -race this test reports Knative's own race, the reason the broker builds
// its filters once.)
func TestPoliciesDecideAsKnative(t *testing.T) {
	swfs := []auth.SubjectsWithFilters{
		{Subjects: []string{"system:serviceaccount:ns:controller"}, Filters: []eventingv1.SubscriptionsAPIFilter{{Any: []eventingv1.SubscriptionsAPIFilter{
			{Exact: map[string]string{"type": "dev.zeroflow.step.run"}}, {Exact: map[string]string{"type": "dev.zeroflow.workflow.finished"}},
		}}}},
		{Subjects: []string{"system:serviceaccount:ns:hook"}, Filters: []eventingv1.SubscriptionsAPIFilter{
			{Not: &eventingv1.SubscriptionsAPIFilter{Prefix: map[string]string{"type": "dev.zeroflow."}}},
			{Exact: map[string]string{"zfeventsource": "hooks"}},
		}},
		{Subjects: []string{"system:serviceaccount:ns:cron-*"}, Filters: []eventingv1.SubscriptionsAPIFilter{{Exact: map[string]string{"type": "dev.knative.sources.ping"}}}},
		// The same subject again: never consulted, the first decides.
		{Subjects: []string{"system:serviceaccount:ns:hook"}, Filters: []eventingv1.SubscriptionsAPIFilter{{Exact: map[string]string{"type": "dev.zeroflow.step.run"}}}},
	}
	var ps policies
	for _, swf := range swfs {
		fs, err := materialize(swf.Filters)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, compiledPolicy{subjects: swf.Subjects, filter: allFilter(fs)})
	}
	ev := func(typ string, ext map[string]string) *event.Event {
		e := event.New()
		e.SetID("1")
		e.SetSource("/t")
		e.SetType(typ)
		for k, v := range ext {
			e.SetExtension(k, v)
		}
		return &e
	}
	ctx := context.Background()
	for _, sub := range []string{"system:serviceaccount:ns:controller", "system:serviceaccount:ns:hook", "system:serviceaccount:ns:cron-a", "system:serviceaccount:ns:other", "system:serviceaccount:other:controller"} {
		for _, e := range []*event.Event{
			ev("dev.zeroflow.step.run", nil), ev("dev.zeroflow.workflow.finished", nil), ev("webhook", map[string]string{"zfeventsource": "hooks"}),
			ev("webhook", map[string]string{"zfeventsource": "other"}), ev("dev.knative.sources.ping", nil), ev("dev.zeroflow.step.result", nil),
		} {
			want := auth.SubjectAndFiltersPass(ctx, sub, swfs, e, zap.NewNop().Sugar())
			if got := ps.allows(ctx, sub, e); got != want {
				t.Errorf("%s sends %s %v: broker %v, Knative %v", sub, e.Type(), e.Extensions(), got, want)
			}
		}
	}
}
