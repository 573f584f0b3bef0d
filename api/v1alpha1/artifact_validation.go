package v1alpha1

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/zeroflow-dev/zeroflow/internal/expression"
	"github.com/zeroflow-dev/zeroflow/internal/interpolate"
)

// validateArtifactSources checks that each artifact names at most one place
// its content comes from, that from is one reference and fromExpression
// compiles, and that its archive strategy is one.
func validateArtifactSources(artifacts []Artifact, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, a := range artifacts {
		ap := path.Index(i)
		var sources []string
		for _, s := range []struct {
			name string
			set  bool
		}{{"from", a.From != ""}, {"fromExpression", a.FromExpression != ""}, {"key", a.Key != ""},
			{"s3", a.S3 != nil}, {"raw", a.Raw != nil}, {"http", a.HTTP != nil}} {
			if s.set {
				sources = append(sources, s.name)
			}
		}
		if len(sources) > 1 && !(len(sources) == 2 && a.S3 != nil && a.Key != "") {
			allErrs = append(allErrs, field.Invalid(ap, a.Name,
				fmt.Sprintf("artifact %q names %s: give it one source", a.Name, strings.Join(sources, " and "))))
		}
		if a.From != "" {
			tags, err := interpolate.Find(a.From)
			if err != nil || len(tags) != 1 || tags[0].Expression || tags[0].Start != 0 || tags[0].End != len(a.From) {
				allErrs = append(allErrs, field.Invalid(ap.Child("from"), a.From,
					"from is one reference such as \"{{tasks.A.outputs.artifacts.NAME}}\"; use fromExpression for an expression"))
			}
		}
		if a.FromExpression != "" {
			if err := expression.Check(a.FromExpression); err != nil {
				allErrs = append(allErrs, field.Invalid(ap.Child("fromExpression"), a.FromExpression, err.Error()))
			}
		}
		if a.Archive != nil && a.Archive.Tar != nil && a.Archive.None != nil {
			allErrs = append(allErrs, field.Invalid(ap.Child("archive"), "tar and none", "choose one archive strategy: tar or none"))
		}
		if a.HTTP != nil && !strings.HasPrefix(a.HTTP.URL, "http://") && !strings.HasPrefix(a.HTTP.URL, "https://") && !interpolate.Has(a.HTTP.URL) {
			allErrs = append(allErrs, field.Invalid(ap.Child("http", "url"), a.HTTP.URL, "an http artifact's url starts with http:// or https://"))
		}
		if a.S3 != nil && a.S3.Bucket == "" && a.S3.Key == "" {
			allErrs = append(allErrs, field.Required(ap.Child("s3", "key"), "an s3 artifact needs a key (and a bucket, unless the repository gives one)"))
		}
	}
	return allErrs
}
