package broker

import (
	"errors"
	"fmt"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/internal/manifestfile"
)

// DefaultNamespace is the namespace of objects that name none.
const DefaultNamespace = "default"

// LoadConfig reads the Knative Brokers and Triggers (eventing.knative.dev/v1)
// and EventPolicies (eventing.knative.dev/v1alpha1)
// in the given files or directories, strictly: an unknown field is an
// error. Documents of other kinds are ignored.
func LoadConfig(paths ...string) (Config, error) {
	docs, err := manifestfile.Load(paths...)
	var cfg Config
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, d := range docs {
		if d.APIVersion == eventingv1alpha1.SchemeGroupVersion.String() && d.Kind == "EventPolicy" {
			var err error
			cfg.EventPolicies, err = decodeInto(d, cfg.EventPolicies, func(p *eventingv1alpha1.EventPolicy) *string { return &p.Namespace })
			if err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if d.APIVersion != eventingv1.SchemeGroupVersion.String() {
			continue
		}
		var err error
		switch d.Kind {
		case "Broker":
			cfg.Brokers, err = decodeInto(d, cfg.Brokers, func(b *eventingv1.Broker) *string { return &b.Namespace })
		case "Trigger":
			cfg.Triggers, err = decodeInto(d, cfg.Triggers, func(t *eventingv1.Trigger) *string { return &t.Namespace })
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return cfg, errors.Join(errs...)
}

// decodeInto decodes d strictly, defaults its namespace and appends it.
func decodeInto[T any](d manifestfile.Document, list []T, namespace func(*T) *string) ([]T, error) {
	var obj T
	if err := yaml.UnmarshalStrict(d.Raw, &obj); err != nil {
		return list, fmt.Errorf("%s: %s: %v", d.Source(), d.Ref(), err)
	}
	if ns := namespace(&obj); *ns == "" {
		*ns = DefaultNamespace
	}
	return append(list, obj), nil
}
