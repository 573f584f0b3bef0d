package render

import (
	"fmt"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// WithSubscriberURLs returns copies of ts whose subscriber refs are replaced
// by URLs: addrs maps a Service name to its address, and a relative uri in
// the subscriber is resolved against it. It is for brokers that resolve no
// refs (tests, benchmarks); `zeroflow dev` gives its broker a resolver
// instead.
func WithSubscriberURLs(ts []eventingv1.Trigger, addrs map[string]*apis.URL) ([]eventingv1.Trigger, error) {
	out := make([]eventingv1.Trigger, len(ts))
	for i, t := range ts {
		t = *t.DeepCopy()
		sub := t.Spec.Subscriber
		if sub.Ref != nil {
			base, ok := addrs[sub.Ref.Name]
			if !ok {
				return nil, fmt.Errorf("trigger %s: no address for %s %s", t.Name, sub.Ref.Kind, sub.Ref.Name)
			}
			u := base
			if sub.URI != nil {
				u = base.ResolveReference(sub.URI)
			}
			t.Spec.Subscriber = duckv1.Destination{URI: u, Audience: sub.Audience}
		}
		out[i] = t
	}
	return out, nil
}
