package trigger

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// sourceJSON returns a trigger's object as JSON, from resource or from the
// inline YAML or JSON string.
func sourceJSON(src *v1alpha1.ArtifactLocation) ([]byte, error) {
	switch {
	case src == nil:
		return nil, fmt.Errorf("no source: set source.resource or source.inline")
	case src.Resource != nil:
		return src.Resource.Raw, nil
	case src.Inline != "":
		b, err := yaml.YAMLToJSON([]byte(src.Inline))
		if err != nil {
			return nil, fmt.Errorf("source.inline is not YAML or JSON: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("no source: set source.resource or source.inline")
}

// decodeObject decodes an object and checks it names its kind.
func decodeObject(doc []byte) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(doc); err != nil {
		return nil, fmt.Errorf("the object is not a Kubernetes object (apiVersion, kind, metadata): %w", err)
	}
	return u, nil
}
