package v1alpha1

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/zeroflow-dev/zeroflow/internal/expression"
	"github.com/zeroflow-dev/zeroflow/internal/interpolate"
)

// validateLeaf checks the kind-specific fields of function, container,
// script, http, resource and suspend templates.
func validateLeaf(t *Template, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if t.Function != nil {
		allErrs = append(allErrs, validateFunction(t.Function, path.Child("function"))...)
	}
	if t.Container != nil {
		allErrs = append(allErrs, validateContainer(t.Container, path.Child("container"))...)
	}
	if t.Script != nil {
		allErrs = append(allErrs, validateScript(t.Script, path.Child("script"))...)
	}
	if t.HTTP != nil {
		allErrs = append(allErrs, validateHTTP(t.HTTP, path.Child("http"))...)
	}
	if t.Resource != nil {
		allErrs = append(allErrs, validateResource(t.Resource, path.Child("resource"))...)
	}
	if t.Suspend != nil && t.Suspend.Duration != "" && !interpolate.Has(t.Suspend.Duration) {
		allErrs = append(allErrs, validateSeconds(path.Child("suspend", "duration"), t.Suspend.Duration)...)
	}
	return allErrs
}

// validateFunction checks the function name, which is a Knative Service
// name. A name with tags is chosen at run time.
func validateFunction(fn *FunctionTemplate, path *field.Path) field.ErrorList {
	namePath := path.Child("name")
	switch {
	case fn.Name == "":
		return field.ErrorList{field.Required(namePath, "name the function (its Knative Service) to run")}
	case interpolate.Has(fn.Name):
		return nil
	}
	if msgs := validation.IsDNS1035Label(fn.Name); len(msgs) > 0 {
		return field.ErrorList{field.Invalid(namePath, fn.Name,
			"must be a Knative Service name: "+strings.Join(msgs, "; "))}
	}
	return nil
}

func validateContainer(c *ContainerTemplate, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(c.Command) == 0 && c.Image == "" {
		allErrs = append(allErrs, field.Required(path.Child("command"),
			"set command (what to run) or image (whose entrypoint runs on a cluster)"))
	}
	names := make([]string, len(c.Env))
	for i, e := range c.Env {
		names[i] = e.Name
		if e.Name == "" {
			allErrs = append(allErrs, field.Required(path.Child("env").Index(i).Child("name"), "every environment variable needs a name"))
		}
	}
	return append(allErrs, uniqueNames(names, func(i int) *field.Path { return path.Child("env").Index(i).Child("name") }, "environment variable", "rename one of them")...)
}

func validateScript(s *ScriptTemplate, path *field.Path) field.ErrorList {
	allErrs := validateContainer(&s.ContainerTemplate, path)
	if strings.TrimSpace(s.Source) == "" {
		allErrs = append(allErrs, field.Required(path.Child("source"), "write the script to run, e.g. source: print('hello')"))
	}
	return allErrs
}

// httpMethods are the methods of an http template, as the schema enumerates.
func httpMethods() []string {
	return []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
}

func validateHTTP(h *HTTPTemplate, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if h.URL == "" {
		allErrs = append(allErrs, field.Required(path.Child("url"), "set the URL to request, e.g. url: https://example.com/api"))
	}
	if h.Method != "" && !slices.Contains(httpMethods(), h.Method) {
		allErrs = append(allErrs, field.NotSupported(path.Child("method"), h.Method, httpMethods()))
	}
	for i, hd := range h.Headers {
		hp := path.Child("headers").Index(i)
		if hd.Name == "" {
			allErrs = append(allErrs, field.Required(hp.Child("name"), "every header needs a name"))
		}
		if ref := secretRef(hd); ref != nil {
			allErrs = append(allErrs, validateSecretRef(ref, hp.Child("valueFrom", "secretKeyRef"))...)
		}
	}
	if h.TimeoutSeconds != nil && *h.TimeoutSeconds < 1 {
		allErrs = append(allErrs, field.Invalid(path.Child("timeoutSeconds"), *h.TimeoutSeconds, "must be at least 1 second"))
	}
	if h.SuccessCondition != "" {
		if err := expression.CheckWithTags(h.SuccessCondition); err != nil {
			allErrs = append(allErrs, field.Invalid(path.Child("successCondition"), h.SuccessCondition, err.Error()))
		}
	}
	return allErrs
}

func secretRef(h HTTPHeader) *SecretKeySelector {
	if h.ValueFrom == nil {
		return nil
	}
	return h.ValueFrom.SecretKeyRef
}

func validateSecretRef(ref *SecretKeySelector, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if ref.Name == "" {
		allErrs = append(allErrs, field.Required(path.Child("name"), "name the secret that holds the header value"))
	}
	if ref.Key == "" {
		allErrs = append(allErrs, field.Required(path.Child("key"), "name the key of the secret that holds the header value"))
	}
	return allErrs
}

// resourceActions and mergeStrategies are as the schema enumerates them.
func resourceActions() []string {
	return []string{"get", "create", "apply", "delete", "replace", "patch"}
}

func mergeStrategies() []string { return []string{"strategic", "merge", "json"} }

func validateResource(r *ResourceTemplate, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case r.Action == "":
		allErrs = append(allErrs, field.Required(path.Child("action"),
			"say what to do with the object: one of "+strings.Join(resourceActions(), ", ")))
	case !slices.Contains(resourceActions(), r.Action):
		allErrs = append(allErrs, field.NotSupported(path.Child("action"), r.Action, resourceActions()))
	}
	if r.MergeStrategy != "" && !slices.Contains(mergeStrategies(), r.MergeStrategy) {
		allErrs = append(allErrs, field.NotSupported(path.Child("mergeStrategy"), r.MergeStrategy, mergeStrategies()))
	}
	if strings.TrimSpace(r.Manifest) == "" {
		allErrs = append(allErrs, field.Required(path.Child("manifest"), fmt.Sprintf(
			"write the object to %s as YAML or JSON (for get and delete, its apiVersion, kind and metadata are enough)", actionOr(r.Action))))
	}
	return append(allErrs, validateResourceFlags(r, path.Child("flags"))...)
}

// validateResourceFlags checks Argo's kubectl flags. zeroflow runs no
// kubectl: it honours --ignore-not-found on delete and reports the others,
// which it would otherwise silently ignore.
func validateResourceFlags(r *ResourceTemplate, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, f := range r.Flags {
		switch {
		case f != "--ignore-not-found" && f != "--ignore-not-found=true":
			allErrs = append(allErrs, field.NotSupported(path.Index(i), f, []string{"--ignore-not-found"}))
		case r.Action != "delete":
			allErrs = append(allErrs, field.Forbidden(path.Index(i), fmt.Sprintf(
				"--ignore-not-found applies to delete (a missing object then succeeds), and the action is %q", r.Action)))
		}
	}
	return allErrs
}

func actionOr(action string) string {
	if action == "" {
		return "act on"
	}
	return action
}
