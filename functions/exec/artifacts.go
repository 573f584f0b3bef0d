package exec

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// sandboxPaths maps each absolute path the template names (output
// parameters' valueFrom.path, input and output artifacts' path) to a path
// in the call's sandbox, so that steps running at once do not write each
// other's /tmp/result.txt or read each other's staged inputs.
func sandboxPaths(t v1alpha1.Template, sandbox string) map[string]string {
	m := map[string]string{}
	add := func(p string) {
		if p != "" && filepath.IsAbs(p) {
			m[p] = filepath.Join(sandbox, "fs", filepath.Clean(p))
		}
	}
	for _, p := range t.Outputs.Parameters {
		if p.ValueFrom != nil {
			add(p.ValueFrom.Path)
		}
	}
	for _, a := range t.Inputs.Artifacts {
		add(a.Path)
	}
	for _, a := range t.Outputs.Artifacts {
		add(a.Path)
	}
	return m
}

// localPath is where an artifact's path is in the sandbox: its mapping
// when absolute, else under the sandbox (the command's directory by
// default), never outside it.
func localPath(p string, paths map[string]string, sandbox string) (string, error) {
	if local, ok := paths[p]; ok {
		return local, nil
	}
	if filepath.IsAbs(p) || !filepath.IsLocal(p) {
		return "", fmt.Errorf("path %q is outside the step's sandbox", p)
	}
	return filepath.Join(sandbox, p), nil
}

// newRewriter returns what turns the template's paths, in its command,
// args, script, env and workingDir, into their sandbox paths. A
// {{inputs.artifacts.NAME.path}} or {{outputs.artifacts.NAME.path}} left
// as written (the engine substitutes the declared path itself) becomes
// the sandbox path too. One pass, longest match first, so that a path
// already rewritten is not rewritten again and /tmp/ab is not taken for
// /tmp/a.
func newRewriter(t v1alpha1.Template, paths map[string]string, sandbox string) func(string) string {
	pairs := map[string]string{}
	for orig, local := range paths {
		pairs[orig] = local
	}
	for family, list := range map[string][]v1alpha1.Artifact{"inputs": t.Inputs.Artifacts, "outputs": t.Outputs.Artifacts} {
		for _, a := range list {
			local, err := localPath(a.Path, paths, sandbox)
			if a.Path == "" || err != nil {
				continue
			}
			tag := family + ".artifacts." + a.Name + ".path"
			pairs["{{"+tag+"}}"] = local
			pairs["{{ "+tag+" }}"] = local
		}
	}
	olds := make([]string, 0, len(pairs))
	for o := range pairs {
		olds = append(olds, o)
	}
	sort.Slice(olds, func(i, j int) bool {
		if len(olds[i]) != len(olds[j]) {
			return len(olds[i]) > len(olds[j])
		}
		return olds[i] < olds[j]
	})
	args := make([]string, 0, 2*len(olds))
	for _, o := range olds {
		args = append(args, o, pairs[o])
	}
	r := strings.NewReplacer(args...)
	return r.Replace
}

// stageInputs writes every input artifact at its path before the command
// starts. An optional one that is missing is not staged; a required one
// that is missing ends the step in Error, naming it.
func stageInputs(ctx context.Context, in sdk.StepInput, paths map[string]string, sandbox string) error {
	for _, a := range in.Template.Inputs.Artifacts {
		if a.Path == "" {
			return sdk.Errored(fmt.Errorf("input artifact %s has no path to be staged at", a.Name))
		}
		local, err := localPath(a.Path, paths, sandbox)
		if err != nil {
			return sdk.Errored(fmt.Errorf("input artifact %s: %w", a.Name, err))
		}
		staged, err := in.StageArtifact(ctx, a.Name, local)
		if err != nil {
			return err
		}
		sdk.Logger(ctx).Debug("staged input artifact", "name", a.Name, "path", a.Path, "staged", staged)
	}
	return nil
}

// collectOutputs stores every output artifact from its path after the
// command exited, and returns their keys. An optional one that the
// command did not write is skipped; a required one ends the step in Error
// (as Argo does when it cannot save an output).
func collectOutputs(ctx context.Context, in sdk.StepInput, paths map[string]string, sandbox string) (map[string]string, error) {
	keys := map[string]string{}
	for _, a := range in.Template.Outputs.Artifacts {
		if a.Path == "" {
			// A dag's or steps' output (from); nothing of an exec step's.
			continue
		}
		local, err := localPath(a.Path, paths, sandbox)
		if err != nil {
			return nil, sdk.Errored(fmt.Errorf("output artifact %s: %w", a.Name, err))
		}
		if _, err := os.Lstat(local); errors.Is(err, fs.ErrNotExist) {
			if a.Optional {
				continue
			}
			return nil, sdk.Errored(fmt.Errorf("output artifact %s: %s does not exist (mark it optional if the step may not write it)", a.Name, a.Path))
		}
		key, err := in.SaveArtifact(ctx, a.Name, local)
		if err != nil {
			return nil, err
		}
		keys[a.Name] = key
	}
	if len(keys) == 0 {
		return nil, nil
	}
	return keys, nil
}
