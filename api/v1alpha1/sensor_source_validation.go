package v1alpha1

import (
	"encoding/json"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// argoAPIVersion is Argo's group version: a trigger's Workflow,
// CronWorkflow or WorkflowTemplate written for Argo is run as zeroflow's
// kind, so it is validated as one.
const argoAPIVersion = "argoproj.io/v1alpha1"

// validateSourceObject validates the object a trigger creates (or
// replaces) when it is one of zeroflow's workflow kinds (or Argo's): the
// same decoding and validation as a file of that kind gets, each error at
// its path inside the Sensor (p is the trigger's source). An error at a
// path a parameter sets (its dest) is left out: the value written there
// is a placeholder until the event fills it in.
func validateSourceObject(src *ArtifactLocation, params []TriggerParameter, p *field.Path) field.ErrorList {
	if src == nil {
		return nil
	}
	var (
		doc  []byte
		path *field.Path
	)
	switch {
	case src.Resource != nil:
		doc, path = src.Resource.Raw, p.Child("resource")
	case src.Inline != "":
		b, err := yaml.YAMLToJSON([]byte(src.Inline))
		if err != nil {
			return field.ErrorList{field.Invalid(p.Child("inline"), "(YAML)", "not YAML or JSON: "+err.Error())}
		}
		doc, path = b, p.Child("inline")
	default:
		return nil
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(doc, &head); err != nil {
		return nil // the trigger reports an object it cannot read when it starts
	}
	if head.APIVersion != SchemeGroupVersion.String() && head.APIVersion != argoAPIVersion {
		return nil
	}
	var (
		obj      any
		validate func() field.ErrorList
	)
	switch head.Kind {
	case "Workflow":
		wf := &Workflow{}
		obj, validate = wf, func() field.ErrorList { return ValidateWorkflow(wf) }
	case "CronWorkflow":
		cw := &CronWorkflow{}
		obj, validate = cw, func() field.ErrorList { return ValidateCronWorkflow(cw) }
	case "WorkflowTemplate":
		wft := &WorkflowTemplate{}
		obj, validate = wft, func() field.ErrorList { return ValidateWorkflowTemplate(wft) }
	default:
		return nil
	}
	// Strict, as a file is decoded: a field zeroflow does not know would
	// be dropped by the API server without a word.
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return field.ErrorList{field.Invalid(path, head.Kind, err.Error())}
	}
	set := make([]string, 0, len(params))
	for _, tp := range params {
		if tp.Dest != "" {
			set = append(set, destFieldPath(tp.Dest))
		}
	}
	var errs field.ErrorList
	for _, e := range validate() {
		if setByParameter(e.Field, set) {
			continue
		}
		e.Field = path.String() + "." + e.Field
		errs = append(errs, e)
	}
	return errs
}

// destFieldPath writes a parameter's dest (an sjson path:
// spec.arguments.parameters.0.value) as a field path
// (spec.arguments.parameters[0].value).
func destFieldPath(dest string) string {
	var b strings.Builder
	for i, part := range strings.Split(dest, ".") {
		if part != "" && strings.Trim(part, "0123456789") == "" {
			b.WriteString("[" + part + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(part)
	}
	return b.String()
}

// setByParameter says whether a parameter writes at f, under it, or
// above it.
func setByParameter(f string, dests []string) bool {
	within := func(inner, outer string) bool {
		return inner == outer || strings.HasPrefix(inner, outer+".") || strings.HasPrefix(inner, outer+"[")
	}
	for _, d := range dests {
		if within(f, d) || within(d, f) {
			return true
		}
	}
	return false
}
