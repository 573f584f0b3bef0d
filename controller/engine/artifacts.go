package engine

import (
	"fmt"
	"strings"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/expression"
)

// Artifacts are passed by location, never by content: a node's
// outputs.artifacts maps a name to the key the step wrote (in the workflow's
// artifact repository) or to an s3:// location, and a consumer's input gets
// that location. Argo's rules for absent artifacts hold: an artifact that a
// skipped or omitted node did not produce, or that an optional output left
// out, is absent; an absent input is an error unless the input (or the
// argument passing it) is optional, and a task that does not run resolves
// nothing.

// artifactLocation is the text of an artifact's location, as
// {{inputs.artifacts.NAME}} and node outputs give it: its key, or an s3://
// URL when it names its own bucket, or "" for raw and http inputs (whose
// content is in the template).
func artifactLocation(a v1alpha1.Artifact) string {
	switch {
	case a.Key != "":
		return a.Key
	case a.S3 != nil && a.S3.Bucket != "":
		return "s3://" + a.S3.Bucket + "/" + strings.TrimPrefix(a.S3.Key, "/")
	}
	return ""
}

// hasLocation reports whether a names where its content is.
func hasLocation(a v1alpha1.Artifact) bool {
	return a.Key != "" || a.Raw != nil || a.HTTP != nil || (a.S3 != nil && a.S3.Key != "")
}

// resolveArtifact resolves an artifact argument or a dag's or steps' output
// artifact in s: from and fromExpression become a location, tags in a
// location's strings are substituted. It returns why the artifact is absent
// ("" when it is not), or an error for what no run could resolve.
func (op *operation) resolveArtifact(a v1alpha1.Artifact, s *scope) (v1alpha1.Artifact, string, error) {
	switch {
	case a.From != "":
		loc, why, err := op.artifactFrom(a.From, s)
		if err != nil || why != "" {
			return a, why, err
		}
		a.From, a.Key = "", loc
		return a, "", nil
	case a.FromExpression != "":
		v, err := expression.Eval(a.FromExpression, expression.Expand(s.flatten()))
		if err != nil {
			return a, "", fmt.Errorf("fromExpression: %w", err)
		}
		loc, ok := v.(string)
		if !ok && v != nil {
			return a, "", fmt.Errorf("fromExpression %q gave %T, not an artifact", a.FromExpression, v)
		}
		if loc == "" {
			return a, fmt.Sprintf("fromExpression %q gave no artifact", a.FromExpression), nil
		}
		a.FromExpression, a.Key = "", loc
		return a, "", nil
	}
	out, err := substituteJSON(&a, op.resolver(s))
	if err != nil || out == nil {
		return a, "", err
	}
	return *out, "", nil
}

// artifactFrom resolves a from reference ("{{tasks.A.outputs.artifacts.x}}").
func (op *operation) artifactFrom(from string, s *scope) (string, string, error) {
	tag, ok := wholeTag(from)
	if !ok {
		return "", "", fmt.Errorf("from %q must be one reference, e.g. {{tasks.A.outputs.artifacts.NAME}}", from)
	}
	v, _, found, err := s.find(tag)
	switch {
	case err != nil:
		// The producer ran and lacks it, or has not run: absent, as
		// Argo treats an artifact it cannot resolve.
		return "", fmt.Sprintf("%s is absent: %v", from, err), nil
	case !found:
		return "", "", fmt.Errorf("cannot resolve %s", from)
	case v == "":
		return "", fmt.Sprintf("%s is absent (its node did not produce it)", from), nil
	}
	return v, "", nil
}

// bindArtifact is a template's input artifact as the call gives it: the
// argument's location, else the input's own (raw, http, s3, key). It
// reports false for an optional input that is absent.
func (op *operation) bindArtifact(a v1alpha1.Artifact, args callArgs) (v1alpha1.Artifact, bool, error) {
	for _, arg := range args.Artifacts {
		if arg.Name != a.Name {
			continue
		}
		got := a
		got.From, got.FromExpression, got.Key, got.S3, got.Raw, got.HTTP = "", "", arg.Key, arg.S3, arg.Raw, arg.HTTP
		if arg.Archive != nil {
			got.Archive = arg.Archive
		}
		return got, true, nil
	}
	if why, ok := args.absent[a.Name]; ok {
		if a.Optional || why == "" {
			return a, false, nil
		}
		return a, false, fmt.Errorf("inputs.artifacts.%s: %s; mark the input optional to run without it", a.Name, why)
	}
	if hasLocation(a) || a.From != "" || a.FromExpression != "" {
		if a.From != "" || a.FromExpression != "" {
			got, why, err := op.resolveArtifact(a, op.globalScope())
			if err != nil {
				return a, false, fmt.Errorf("inputs.artifacts.%s: %w", a.Name, err)
			}
			if why != "" {
				if a.Optional {
					return a, false, nil
				}
				return a, false, fmt.Errorf("inputs.artifacts.%s: %s", a.Name, why)
			}
			return got, true, nil
		}
		return a, true, nil
	}
	if a.Optional {
		return a, false, nil
	}
	return a, false, fmt.Errorf("inputs.artifacts.%s was not supplied: pass it as an argument (from, s3, raw or http) or give the input a location", a.Name)
}

// checkOutputArtifact checks the location a step reports for an output
// artifact: a key of this workflow's own artifacts, or the s3:// location
// its template names. A step cannot make a later step read another
// workflow's objects.
func (op *operation) checkOutputArtifact(t *v1alpha1.Template, name, loc string) error {
	prefix := "artifacts/" + op.run.Namespace + "/" + op.run.Name + "/"
	if strings.HasPrefix(loc, prefix) && !strings.Contains(loc, "..") {
		return nil
	}
	for _, a := range t.Outputs.Artifacts {
		if a.Name == name && a.S3 != nil && loc == artifactLocation(a) {
			return nil
		}
	}
	return fmt.Errorf("outputs.artifacts.%s: location %q is not this workflow's (want a key under %s or the template's s3 location)", name, loc, prefix)
}
