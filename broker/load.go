package broker

import (
	"errors"
	"fmt"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/internal/manifestfile"
)

// DefaultNamespace is the namespace of objects that name none.
const DefaultNamespace = "default"

// LoadConfig reads the Knative Brokers and Triggers (eventing.knative.dev/v1)
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
		if d.APIVersion != eventingv1.SchemeGroupVersion.String() {
			continue
		}
		switch d.Kind {
		case "Broker":
			var br eventingv1.Broker
			if err := yaml.UnmarshalStrict(d.Raw, &br); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %v", d.Source(), d.Ref(), err))
				continue
			}
			if br.Namespace == "" {
				br.Namespace = DefaultNamespace
			}
			cfg.Brokers = append(cfg.Brokers, br)
		case "Trigger":
			var t eventingv1.Trigger
			if err := yaml.UnmarshalStrict(d.Raw, &t); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %v", d.Source(), d.Ref(), err))
				continue
			}
			if t.Namespace == "" {
				t.Namespace = DefaultNamespace
			}
			cfg.Triggers = append(cfg.Triggers, t)
		}
	}
	return cfg, errors.Join(errs...)
}
