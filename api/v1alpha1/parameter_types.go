package v1alpha1

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Arguments are the values passed to a template, a task or a workflow.
type Arguments struct {
	// +optional
	// +listType=map
	// +listMapKey=name
	Parameters []Parameter `json:"parameters,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=name
	Artifacts []Artifact `json:"artifacts,omitempty"`
}

// Inputs are what a template takes.
type Inputs struct {
	// +optional
	// +listType=map
	// +listMapKey=name
	Parameters []Parameter `json:"parameters,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=name
	Artifacts []Artifact `json:"artifacts,omitempty"`
}

// Outputs are what a template produces, and the workflow's global outputs.
type Outputs struct {
	// +optional
	// +listType=map
	// +listMapKey=name
	Parameters []Parameter `json:"parameters,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=name
	Artifacts []Artifact `json:"artifacts,omitempty"`
}

// Parameter is a named string value.
type Parameter struct {
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9_][-a-zA-Z0-9_.]*$`
	Name string `json:"name"`
	// Value is the parameter's value. Numbers and booleans are accepted and
	// kept as their text, as in Argo.
	// +optional
	Value *AnyString `json:"value,omitempty"`
	// Default is used when no value is given.
	// +optional
	Default *AnyString `json:"default,omitempty"`
	// Enum lists the allowed values.
	// +optional
	Enum []AnyString `json:"enum,omitempty"`
	// ValueFrom computes the value.
	// +optional
	ValueFrom *ValueFrom `json:"valueFrom,omitempty"`
	// GlobalName also publishes an output as
	// {{workflow.outputs.parameters.<globalName>}} and in status.outputs.
	// +optional
	GlobalName string `json:"globalName,omitempty"`
	// +optional
	Description string `json:"description,omitempty"`
	// ValueRef, set instead of Value, says the value was too large to
	// inline (above the offload threshold, 64 KiB by default) and lives in
	// the artifact store. zeroflow sets it; what reads the value resolves
	// it (docs/workflows.md, "Large values").
	// +optional
	ValueRef *ValueRef `json:"valueRef,omitempty"`
}

// ValueRef is where an offloaded value lives: an object in the artifact
// store, named by its content, with its size and digest so that a reader
// can check what it got.
type ValueRef struct {
	// Key is the object's key in the artifact store.
	// +kubebuilder:validation:MinLength=1
	Key string `json:"key"`
	// Size is the value's length in bytes.
	// +kubebuilder:validation:Minimum=0
	Size int64 `json:"size"`
	// Digest is "sha256:" and the value's SHA-256 in hex.
	// +kubebuilder:validation:Pattern=`^sha256:[0-9a-f]{64}$`
	Digest string `json:"digest"`
}

// ValueFrom is where a parameter's value comes from. One source is set,
// optionally with a default.
type ValueFrom struct {
	// Path is a file the exec function reads after the command exits.
	// +optional
	Path string `json:"path,omitempty"`
	// JSONPath selects from a resource template's object (gjson syntax).
	// +optional
	JSONPath string `json:"jsonPath,omitempty"`
	// Expression is evaluated over the finished dag's or steps' scope.
	// +optional
	Expression string `json:"expression,omitempty"`
	// Parameter is a single reference, e.g. "{{tasks.A.outputs.parameters.x}}",
	// resolved when the dag or steps finish.
	// +optional
	Parameter string `json:"parameter,omitempty"`
	// Supplied marks an output of a suspend template that `zeroflow resume`
	// provides.
	// +optional
	Supplied *SuppliedValueFrom `json:"supplied,omitempty"`
	// Default is used when the source yields nothing.
	// +optional
	Default *AnyString `json:"default,omitempty"`
}

// SuppliedValueFrom marks a value supplied at resume.
type SuppliedValueFrom struct{}

// AnyString is a string that may be written as a YAML/JSON number or boolean,
// as Argo allows ("value: 5"). It always holds the text.
//
// +kubebuilder:validation:Schemaless
// +kubebuilder:pruning:PreserveUnknownFields
// +kubebuilder:validation:Type=""
type AnyString string

// UnmarshalJSON accepts a string, number or boolean.
func (s *AnyString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = AnyString(v)
		return nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case bool:
		*s = AnyString(strconv.FormatBool(x))
	case float64:
		// Keep the text as written: 1.0 stays "1.0", 10 stays "10".
		*s = AnyString(b)
	default:
		return fmt.Errorf("parameter value must be a string, number or boolean, not %s", b)
	}
	return nil
}

// ParseAnyString returns a pointer to s, for literals in code and tests.
func ParseAnyString(s string) *AnyString {
	v := AnyString(s)
	return &v
}

// String returns the text.
func (s AnyString) String() string { return string(s) }

// ValueString returns the parameter's value, or "" when unset.
func (p Parameter) ValueString() string {
	if p.Value == nil {
		return ""
	}
	return string(*p.Value)
}
