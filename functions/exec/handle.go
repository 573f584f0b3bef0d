// Package exec is the built-in function that runs container and script
// templates: in `zeroflow dev` as a local subprocess (the image is not
// used), on a cluster inside the exec runner image. stdout becomes
// outputs.result, the exit code outputs.exitCode, and output parameters
// with valueFrom.path are read from their files after the command exits.
// Input artifacts are staged at their paths before the command starts and
// output artifacts collected from theirs after it exits (through the SDK:
// tar+gzip by default, archive none for a single file as it is).
package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/proctree"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
)

// maxResult bounds outputs.result, as Argo bounds it (256 KiB): larger
// outputs belong in artifacts.
const maxResult = 256 << 10

// Options configure the function.
type Options struct {
	// WorkDir holds each call's sandbox directory; default the system's
	// temporary directory.
	WorkDir string
	// Artifacts, when set, receives each step's log, and is the artifact
	// repository of workflows that name none.
	Artifacts sdk.ArtifactStore
	// ArtifactLimits bound each staged or collected artifact; zero fields
	// are the SDK's defaults.
	ArtifactLimits sdk.ArtifactLimits
	// Secrets resolves the credentials of s3 artifact locations; default
	// the environment (secrets.Local{}).
	Secrets secrets.Resolver
}

// New returns the exec function.
func New(opts Options) sdk.Handler {
	return sdk.Step(func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		return run(ctx, opts, in)
	}, sdk.StepOptions{Artifacts: opts.Artifacts, ArtifactLimits: opts.ArtifactLimits, Secrets: opts.Secrets})
}

func run(ctx context.Context, opts Options, in sdk.StepInput) (sdk.StepOutput, error) {
	t := in.Template
	var c *v1alpha1.ContainerTemplate
	var source string
	switch {
	case t.Container != nil:
		c = t.Container
	case t.Script != nil:
		c, source = &t.Script.ContainerTemplate, t.Script.Source
	default:
		return sdk.StepOutput{}, sdk.Errored(fmt.Errorf("template %s is neither container nor script", t.Name))
	}
	sandbox, err := os.MkdirTemp(opts.WorkDir, "zeroflow-step-*")
	if err != nil {
		return sdk.StepOutput{}, sdk.Errored(fmt.Errorf("step sandbox: %w", err))
	}
	defer os.RemoveAll(sandbox)
	paths := sandboxPaths(t, sandbox)
	rewrite := newRewriter(t, paths, sandbox)
	for _, local := range paths {
		if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
			return sdk.StepOutput{}, sdk.Errored(fmt.Errorf("step sandbox: %w", err))
		}
	}
	if err := stageInputs(ctx, in, paths, sandbox); err != nil {
		return sdk.StepOutput{}, err
	}
	argv := append(append([]string(nil), c.Command...), c.Args...)
	if t.Script != nil {
		file := filepath.Join(sandbox, "script")
		if err := os.WriteFile(file, []byte(rewrite(source)), 0o755); err != nil {
			return sdk.StepOutput{}, sdk.Errored(fmt.Errorf("write script: %w", err))
		}
		argv = append(append([]string(nil), c.Command...), file)
		if len(c.Command) == 0 {
			argv = []string{"sh", file}
		}
	}
	if len(argv) == 0 {
		return sdk.StepOutput{}, sdk.Errored(fmt.Errorf("template %s: no command or args to run (locally the image's entrypoint is unknown)", t.Name))
	}
	for i := range argv {
		argv[i] = rewrite(argv[i])
	}
	cmd := proctree.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = sandbox
	if c.WorkingDir != "" {
		cmd.Dir = rewrite(c.WorkingDir)
	}
	cmd.Env, err = stepEnv(c.Env, sandbox, rewrite)
	if err != nil {
		return sdk.StepOutput{}, sdk.Errored(err)
	}
	// The command's children die with it when the step times out.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	logw := sdk.LogWriter(ctx)
	var stdout limitedBuffer
	stdout.max = maxResult
	cmd.Stdout = io.MultiWriter(&stdout, logw)
	cmd.Stderr = logw
	sdk.Logger(ctx).Debug("running", "argv", argv, "dir", cmd.Dir)
	runErr := cmd.Run()
	if cl, ok := logw.(io.Closer); ok {
		_ = cl.Close()
	}
	out := sdk.StepOutput{}
	result := strings.TrimSuffix(stdout.String(), "\n")
	out.Result = &result
	var exitErr *osexec.ExitError
	switch {
	case runErr == nil:
		code := int32(0)
		out.ExitCode = &code
	case ctx.Err() != nil:
		return out, fmt.Errorf("step %s: %w", t.Name, context.Cause(ctx))
	case errors.As(runErr, &exitErr):
		code := int32(exitErr.ExitCode())
		out.ExitCode = &code
		//lint:ignore ST1005 Argo's message for a failed container, verbatim
		return out, fmt.Errorf("Error (exit code %d)", code)
	default:
		return out, sdk.Errored(fmt.Errorf("run %s: %w", argv[0], runErr))
	}
	params, err := readOutputs(t, paths)
	if err != nil {
		return out, err
	}
	out.Parameters = params
	if out.Artifacts, err = collectOutputs(ctx, in, paths, sandbox); err != nil {
		return out, err
	}
	return out, nil
}

// defaultPath is the PATH of a step whose template sets none, when the
// function itself has none either: the usual one of a Linux image.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// stepEnv is the whole environment of a step's command: what its template
// declares, plus what the step contract needs. Nothing of the function's
// own environment is passed on but PATH, so that a step cannot read the
// artifact store's keys, the function's secrets or its broker address;
// a container on a cluster gets no more than its env either. HOME and
// TMPDIR point into the call's sandbox, so that what a step leaves there
// goes with it and steps running side by side do not share it.
func stepEnv(declared []v1alpha1.EnvVar, sandbox string, rewrite func(string) string) ([]string, error) {
	tmp := filepath.Join(sandbox, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("step sandbox: %w", err)
	}
	path := os.Getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	env := []string{"PATH=" + path, "HOME=" + sandbox, "TMPDIR=" + tmp}
	// Declared last: where a name repeats, exec uses the last value, so the
	// template's own PATH, HOME or TMPDIR wins.
	for _, e := range declared {
		env = append(env, e.Name+"="+rewrite(e.Value))
	}
	return env, nil
}

// readOutputs reads the output parameters whose values come from files.
func readOutputs(t v1alpha1.Template, paths map[string]string) (map[string]string, error) {
	params := map[string]string{}
	for _, p := range t.Outputs.Parameters {
		if p.ValueFrom == nil || p.ValueFrom.Path == "" {
			continue
		}
		path := p.ValueFrom.Path
		if local, ok := paths[path]; ok {
			path = local
		}
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			params[p.Name] = strings.TrimSuffix(string(b), "\n")
		case p.ValueFrom.Default != nil:
			params[p.Name] = string(*p.ValueFrom.Default)
		default:
			return nil, sdk.Errored(fmt.Errorf("output parameter %s: %s: %w", p.Name, p.ValueFrom.Path, err))
		}
	}
	if len(params) == 0 {
		return nil, nil
	}
	return params, nil
}

// limitedBuffer keeps the first max bytes written and drops the rest.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
