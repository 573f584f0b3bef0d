package manifestfile

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/yaml"
)

// decodeService decodes a Knative Service (a user function) and checks it
// with Knative's own defaulting and validation, as its admission webhook
// would on a cluster.
func decodeService(d Document) (Object, error) {
	svc := &servingv1.Service{}
	if err := yaml.UnmarshalStrict(d.Raw, svc); err != nil {
		return Object{}, fmt.Errorf("%s: %s: %v", d.Source(), d.Ref(), err)
	}
	ctx := apis.WithinCreate(context.Background())
	if svc.Namespace == "" {
		// Validate wants a namespace; the object keeps none, as applied.
		defer func() { svc.Namespace = "" }()
		svc.Namespace = "default"
	}
	svc.SetDefaults(ctx)
	var errs field.ErrorList
	if fe := svc.Validate(ctx).Filter(apis.ErrorLevel); fe != nil {
		for _, e := range fe.WrappedErrors() {
			errs = append(errs, field.Invalid(field.NewPath(strings.Join(e.Paths, ", ")), field.OmitValueType{}, e.Message+detail(e.Details)))
		}
	}
	return Object{Document: d, Value: svc, Errors: errs}, nil
}

func detail(d string) string {
	if d == "" {
		return ""
	}
	return ": " + d
}
