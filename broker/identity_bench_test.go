package broker_test

import (
	"context"
	"fmt"
	"testing"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"

	"github.com/zeroflow-dev/zeroflow/broker"
	"github.com/zeroflow-dev/zeroflow/internal/identity"
)

// BenchmarkPublishWithPolicies and BenchmarkPublishWithoutIdentity are an
// in-process publish with and without EventPolicy enforcement (a policy set
// like the rendered one: a dozen policies, the sender's the last), the
// store included: the difference is what authorization costs per event.
func BenchmarkPublishWithPolicies(b *testing.B)    { benchmarkPublish(b, true) }
func BenchmarkPublishWithoutIdentity(b *testing.B) { benchmarkPublish(b, false) }

func benchmarkPublish(b *testing.B, on bool) {
	opts := broker.Options{DataDir: b.TempDir()}
	var eps []eventingv1alpha1.EventPolicy
	if on {
		iss, _ := identity.NewIssuer("https://zeroflow.dev/bench")
		opts.Identity = &broker.Identity{Verifier: iss.Verifier(), Issuer: iss}
		for i := range 11 {
			eps = append(eps, policy(fmt.Sprintf("p%d", i), []string{fmt.Sprintf("system:serviceaccount:ns:other%d", i)}, eventingv1.SubscriptionsAPIFilter{Exact: map[string]string{"type": "x"}}))
		}
		eps = append(eps, policy("webhook", []string{"system:serviceaccount:ns:zeroflow-eventsource"},
			eventingv1.SubscriptionsAPIFilter{All: []eventingv1.SubscriptionsAPIFilter{
				{Not: &eventingv1.SubscriptionsAPIFilter{Prefix: map[string]string{"type": "dev.zeroflow."}}},
				{Exact: map[string]string{"zfeventsource": "hooks"}},
			}}))
	}
	br, err := broker.Start(context.Background(), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	if err := br.Apply(context.Background(), broker.Config{Brokers: []eventingv1.Broker{kbroker(testBroker, nil)}, EventPolicies: eps}); err != nil {
		b.Fatal(err)
	}
	ev := idEvent("1", "webhook")
	ev.SetExtension("zfeventsource", "hooks")
	ctx := context.Background()
	for b.Loop() {
		if err := br.PublishAs(ctx, "system:serviceaccount:ns:zeroflow-eventsource", testNS, testBroker, ev); err != nil {
			b.Fatal(err)
		}
	}
}
