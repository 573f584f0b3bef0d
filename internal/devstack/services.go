package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/zeroflow-dev/zeroflow/internal/manifestfile"
	"github.com/zeroflow-dev/zeroflow/internal/proctree"
)

// builtService is a Knative Service of the directory with the local
// program that runs it.
type builtService struct {
	svc    *servingv1.Service
	binary string
}

// koPrefix marks an image that ko builds from a Go import path.
const koPrefix = "ko://"

// buildServices builds the program of every Knative Service whose image
// is a ko:// Go import path, as `ko` would, but for this machine: `go
// build` in the module that holds the manifest. A Service with another
// image cannot run without a container runtime; it is listed in skipped.
func buildServices(ctx context.Context, objs []manifestfile.Object, binDir string, logger *slog.Logger) (built []builtService, skipped []string, err error) {
	type job struct {
		svc        *servingv1.Service
		importPath string
		moduleDir  string
		out        string
	}
	// go build runs in the module's directory, and the runner starts the
	// binary from the current one: the path must not depend on either.
	if binDir, err = filepath.Abs(binDir); err != nil {
		return nil, nil, fmt.Errorf("functions' binary dir: %w", err)
	}
	var jobs []job
	for _, o := range objs {
		svc, ok := o.Value.(*servingv1.Service)
		if !ok {
			continue
		}
		containers := svc.Spec.Template.Spec.Containers
		if len(containers) != 1 || !strings.HasPrefix(containers[0].Image, koPrefix) {
			img := ""
			if len(containers) > 0 {
				img = containers[0].Image
			}
			skipped = append(skipped, fmt.Sprintf("%s: %s: image %q is not a ko:// Go import path; zeroflow dev runs only those (there is no container runtime)", o.Document.Source(), o.Document.Ref(), img))
			continue
		}
		mod, err := moduleRoot(filepath.Dir(o.Document.File))
		if err != nil {
			// Manifests outside a module (a copy elsewhere) build in the
			// module zeroflow dev runs in, if any.
			if mod, err = moduleRoot("."); err != nil {
				return nil, nil, fmt.Errorf("%s: %s: %w", o.Document.Source(), o.Document.Ref(), err)
			}
		}
		jobs = append(jobs, job{svc: svc, importPath: strings.TrimPrefix(containers[0].Image, koPrefix), moduleDir: mod, out: filepath.Join(binDir, svc.Name)})
	}
	if len(jobs) == 0 {
		return nil, skipped, nil
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("build functions: %w", err)
	}
	began := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for _, j := range jobs {
		g.Go(func() error {
			// A build dies with the stack, its compiler and linker too, even
			// when the stack is killed.
			cmd := proctree.CommandContext(gctx, "go", "build", "-o", j.out, j.importPath)
			cmd.Dir = j.moduleDir
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("build Service %s (%s%s): %v\n%s", j.svc.Name, koPrefix, j.importPath, err, out.String())
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	logger.Info("functions built", "count", len(jobs), "took", time.Since(began).Round(time.Millisecond))
	for _, j := range jobs {
		built = append(built, builtService{svc: j.svc, binary: j.out})
	}
	return built, skipped, nil
}

// moduleRoot finds the directory of the go.mod that holds dir.
func moduleRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s: a ko:// image is built from a Go module", abs)
		}
	}
}

// logWriter logs each line a function process writes. A JSON log line
// (the SDK's) is re-logged with its own message, level and attributes.
type logWriter struct{ logger *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			w.logger.Info(line)
			continue
		}
		msg, _ := rec["msg"].(string)
		var level slog.Level
		if l, ok := rec["level"].(string); ok {
			_ = level.UnmarshalText([]byte(l))
		}
		attrs := make([]any, 0, 2*len(rec))
		for k, v := range rec {
			if k != "msg" && k != "level" && k != "time" {
				attrs = append(attrs, k, v)
			}
		}
		w.logger.Log(context.Background(), level, msg, attrs...)
	}
	return len(p), nil
}
