package manifestfile

import (
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sensor"
)

// Object is a decoded zeroflow object with its validation errors.
type Object struct {
	Document Document
	// Value is a *v1alpha1.Workflow, *v1alpha1.WorkflowTemplate,
	// *v1alpha1.CronWorkflow, *v1alpha1.EventSource, *v1alpha1.Sensor or a
	// Knative *servingv1.Service, by Document.Kind.
	Value  any
	Errors field.ErrorList
}

// Values are the decoded values of objs, in order (for render.InputOf).
func Values(objs []Object) []any {
	out := make([]any, len(objs))
	for i, o := range objs {
		out[i] = o.Value
	}
	return out
}

// ErrUnknownKind marks a document of a kind zeroflow does not serve (yet).
type ErrUnknownKind struct{ Document Document }

func (e ErrUnknownKind) Error() string {
	return fmt.Sprintf("%s: %s: kind %s of %s is not a zeroflow kind this version serves", e.Document.Source(), e.Document.Ref(), e.Document.Kind, e.Document.APIVersion)
}

// Decode decodes a zeroflow document strictly (an unknown field is an error,
// as kubectl's strict field validation makes it) and validates it.
func Decode(d Document) (Object, error) {
	if d.APIVersion == "serving.knative.dev/v1" && d.Kind == "Service" {
		return decodeService(d)
	}
	if d.APIVersion != v1alpha1.SchemeGroupVersion.String() {
		return Object{}, ErrUnknownKind{Document: d}
	}
	var (
		value any
		errs  func() field.ErrorList
	)
	switch d.Kind {
	case "Workflow":
		wf := &v1alpha1.Workflow{}
		value, errs = wf, func() field.ErrorList { return v1alpha1.ValidateWorkflow(wf) }
	case "WorkflowTemplate":
		wft := &v1alpha1.WorkflowTemplate{}
		value, errs = wft, func() field.ErrorList { return v1alpha1.ValidateWorkflowTemplate(wft) }
	case "CronWorkflow":
		cw := &v1alpha1.CronWorkflow{}
		value, errs = cw, func() field.ErrorList { return v1alpha1.ValidateCronWorkflow(cw) }
	case "EventSource":
		es := &v1alpha1.EventSource{}
		value, errs = es, func() field.ErrorList { return v1alpha1.ValidateEventSource(es) }
	case "Sensor":
		// sensor.Validate, not v1alpha1.ValidateSensor: it also compiles the
		// filters and checks the parameters, as the sensor does when it
		// starts, so that lint finds what would stop the sensor.
		sn := &v1alpha1.Sensor{}
		value, errs = sn, func() field.ErrorList { return sensor.Validate(sn) }
	default:
		return Object{}, ErrUnknownKind{Document: d}
	}
	// Every unknown field, with its path and line; strict decoding, which
	// stops at the first, stays as the backstop.
	if unknown, err := unknownFields(d.Raw, reflect.TypeOf(value)); err == nil && len(unknown) > 0 {
		return Object{}, unknownFieldsError(d, unknown)
	}
	if err := yaml.UnmarshalStrict(d.Raw, value); err != nil {
		return Object{}, fmt.Errorf("%s: %s: %v", d.Source(), d.Ref(), err)
	}
	obj := Object{Document: d, Value: value, Errors: errs()}
	// ValidateEventSource and ValidateSensor check the name themselves.
	if wf, ok := value.(*v1alpha1.Workflow); ok && wf.GenerateName != "" {
		return obj, nil // the API server names it
	}
	if d.Name == "" && !hasError(obj.Errors, "metadata.name") {
		obj.Errors = append(obj.Errors, field.Required(field.NewPath("metadata", "name"), "every object needs a name"))
	}
	return obj, nil
}

func hasError(errs field.ErrorList, path string) bool {
	for _, e := range errs {
		if e.Field == path {
			return true
		}
	}
	return false
}
