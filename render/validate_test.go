package render_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zeroflow-dev/zeroflow/internal/devstack"
	"github.com/zeroflow-dev/zeroflow/internal/knativecheck"
	"github.com/zeroflow-dev/zeroflow/internal/manifestfile"
	"github.com/zeroflow-dev/zeroflow/render"
)

// TestEveryShippedAndRenderedObjectIsValid walks every YAML document under
// manifests/ and examples/ and checks it as the cluster would (zeroflow's
// kinds with zeroflow's validation, Knative's and Kubernetes' with their
// own), then renders each example directory (and the runtime) and checks
// every object render prints, after a round trip through its YAML.
func TestEveryShippedAndRenderedObjectIsValid(t *testing.T) {
	docs, err := manifestfile.Load("../manifests", "../examples")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, d := range docs {
		switch {
		case d.Kind == "CustomResourceDefinition":
			// Installed into a real API server by internal/kubeapi's tests.
			continue
		case strings.HasSuffix(d.File, "-patch.yaml"):
			// A kustomize patch is part of an object: manifests' kustomize
			// test checks the objects it patches.
			continue
		case strings.HasPrefix(d.APIVersion, "zeroflow.dev/"):
			obj, err := manifestfile.Decode(d)
			if err == nil && len(obj.Errors) > 0 {
				err = obj.Errors.ToAggregate()
			}
			if err != nil {
				t.Errorf("%s: %s: %v", d.Source(), d.Ref(), err)
			}
		case d.APIVersion == "serving.knative.dev/v1" && d.Kind == "Service":
			// A user's function: checked by manifestfile as dev loads it.
			obj, err := manifestfile.Decode(d)
			if err == nil && len(obj.Errors) > 0 {
				err = obj.Errors.ToAggregate()
			}
			if err != nil {
				t.Errorf("%s: %s: %v", d.Source(), d.Ref(), err)
			}
		default:
			checkDoc(t, d.Source(), d.Raw)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no documents found")
	}

	examples, err := os.ReadDir("../examples")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range examples {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join("../examples", e.Name())
		objs := renderDir(t, dir)
		objs.Add(render.Runtime("default", "default", render.Options{}))
		if len(objs.List()) == 0 {
			t.Errorf("%s renders nothing", dir)
		}
		for _, o := range objs.List() {
			if err := knativecheck.Object(context.Background(), o); err != nil {
				t.Errorf("%s: rendered %T: %v", dir, o, err)
			}
		}
		out, err := objs.YAML()
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range strings.Split(string(out), "\n---\n") {
			checkDoc(t, fmt.Sprintf("%s: rendered document %d", dir, i+1), []byte(doc))
		}
	}
}

func checkDoc(t *testing.T, where string, doc []byte) {
	t.Helper()
	obj, err := knativecheck.Decode(doc)
	if errors.Is(err, knativecheck.ErrUnknownKind) {
		t.Errorf("%s: %v: add it to knativecheck, or validate it elsewhere", where, err)
		return
	}
	if err == nil {
		err = knativecheck.Object(context.Background(), obj)
	}
	if err != nil {
		t.Errorf("%s: %v", where, err)
	}
}

// renderDir renders a directory as `zeroflow render` does.
func renderDir(t *testing.T, dir string) render.Objects {
	t.Helper()
	objs, _, err := devstack.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := render.Render(render.InputOf(manifestfile.Values(objs), "default"), "default", "default", render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// inputOf loads a directory as render's input, in namespace default.
func inputOf(t *testing.T, dir string) render.Input {
	t.Helper()
	objs, _, err := devstack.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return render.InputOf(manifestfile.Values(objs), "default")
}
