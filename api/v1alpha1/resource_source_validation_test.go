package v1alpha1_test

import (
	"strings"
	"testing"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

func TestValidateResourceEvents(t *testing.T) {
	valid := v1alpha1.ResourceEventSource{Version: "v1", Resource: "pods", Kind: "Pod"}
	for _, tc := range []struct {
		name   string
		change func(*v1alpha1.ResourceEventSource)
		// want is a piece of the error; "" means valid.
		want string
	}{
		{"valid", func(*v1alpha1.ResourceEventSource) {}, ""},
		{"all event types", func(r *v1alpha1.ResourceEventSource) { r.EventTypes = []string{"ADD", "UPDATE", "DELETE"} }, ""},
		{"labels", func(r *v1alpha1.ResourceEventSource) {
			r.Filter = &v1alpha1.ResourceFilter{Labels: []v1alpha1.Selector{{Key: "app", Value: "x"}, {Key: "tier", Operation: "in", Value: "(a, b)"}}}
		}, ""},
		{"no kind", func(r *v1alpha1.ResourceEventSource) { r.Kind = "" }, "resource[changed].kind"},
		{"no version", func(r *v1alpha1.ResourceEventSource) { r.Version = "" }, "resource[changed].version"},
		{"some event types", func(r *v1alpha1.ResourceEventSource) { r.EventTypes = []string{"ADD"} }, "eventTypes"},
		{"bad operation", func(r *v1alpha1.ResourceEventSource) {
			r.Filter = &v1alpha1.ResourceFilter{Labels: []v1alpha1.Selector{{Key: "app", Operation: "~="}}}
		}, "operation"},
		{"prefix", func(r *v1alpha1.ResourceEventSource) { r.Filter = &v1alpha1.ResourceFilter{Prefix: "my-"} }, "filter.prefix"},
		{"fields", func(r *v1alpha1.ResourceEventSource) {
			r.Filter = &v1alpha1.ResourceFilter{Fields: []v1alpha1.Selector{{Key: "metadata.name", Value: "x"}}}
		}, "filter.fields"},
		{"afterStart", func(r *v1alpha1.ResourceEventSource) { r.Filter = &v1alpha1.ResourceFilter{AfterStart: true} }, "filter.afterStart"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := valid
			tc.change(&r)
			es := &v1alpha1.EventSource{}
			es.Name = "k8s"
			es.Spec.Resource = map[string]v1alpha1.ResourceEventSource{"changed": r}
			errs := v1alpha1.ValidateEventSource(es)
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Errorf("rejected: %v", errs.ToAggregate())
			case tc.want != "" && (len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), tc.want)):
				t.Errorf("want an error at %s, got %v", tc.want, errs.ToAggregate())
			}
		})
	}
}
