package devstack

import (
	"context"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/zeroflow-dev/zeroflow/render"
)

// TestDevRunsWhatRenderPrints starts zeroflow dev on the log-pipeline
// example and checks that the Triggers its broker serves and the functions
// it runs are exactly the objects `zeroflow render` prints for the
// directory plus the runtime's (render.Runtime), and that each Trigger
// delivers to the function its subscriber names.
func TestDevRunsWhatRenderPrints(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the API server and builds the example's functions")
	}
	dir := copyExample(t, "../../examples/log-pipeline")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Paths: []string{dir}, DataDir: t.TempDir(), BrokerAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	objs, _, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var values []any
	wantFunctions := map[string]bool{}
	for _, o := range objs {
		values = append(values, o.Value)
		if svc, ok := o.Value.(*servingv1.Service); ok {
			wantFunctions[svc.Name] = true // the directory's own Services
		}
	}
	want, err := render.Render(render.InputOf(values, DefaultNamespace), DefaultNamespace, "default", render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want.Add(render.Runtime(DefaultNamespace, "default", render.Options{}))

	functions := s.Functions()
	for _, svc := range want.Services {
		wantFunctions[svc.Name] = true
	}
	if got, w := slices.Sorted(maps.Keys(functions)), slices.Sorted(maps.Keys(wantFunctions)); !slices.Equal(got, w) {
		t.Errorf("dev runs functions\n  %v\nrender makes Services\n  %v", got, w)
	}

	active := s.Broker.Triggers()
	wantTriggers := map[string]bool{}
	for _, tr := range want.Triggers {
		// The broker defaults what it serves, as Knative's webhook would.
		tr.SetDefaults(ctx)
		key := tr.Namespace + "/" + tr.Name
		wantTriggers[key] = true
		got, ok := active[key]
		if !ok {
			t.Errorf("rendered Trigger %s is not served by dev", key)
			continue
		}
		if !equality.Semantic.DeepEqual(got.Trigger.Spec.Filter, tr.Spec.Filter) || got.Trigger.Spec.Broker != tr.Spec.Broker ||
			!equality.Semantic.DeepEqual(got.Trigger.Spec.Subscriber.Ref, tr.Spec.Subscriber.Ref) {
			t.Errorf("Trigger %s: dev serves %+v, render prints %+v", key, got.Trigger.Spec, tr.Spec)
		}
		base, ok := functions[tr.Spec.Subscriber.Ref.Name]
		if tr.Spec.Subscriber.Ref.Name == render.ControllerService {
			continue // the controller is not a scale-to-zero function in dev
		}
		wantURL := base
		if tr.Spec.Subscriber.URI != nil {
			wantURL += tr.Spec.Subscriber.URI.Path
		}
		if !ok || got.Subscriber.String() != wantURL {
			t.Errorf("Trigger %s delivers to %s, want the function %s at %s", key, got.Subscriber, tr.Spec.Subscriber.Ref.Name, wantURL)
		}
	}
	for key := range active {
		if !wantTriggers[key] {
			t.Errorf("dev serves Trigger %s, which render does not print", key)
		}
	}
}

// copyExample copies an example directory, moving its webhook port to a
// free one so that the test does not collide with `make run`.
func copyExample(t *testing.T, from string) string {
	dir, _ := copyExampleMovingPort(t, from, "12000")
	return dir
}

// copyExampleMovingPort copies an example directory, moving the webhook
// port it declares (fixed) to a free one, which it returns.
func copyExampleMovingPort(t *testing.T, from, fixed string) (dir, port string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ = net.SplitHostPort(l.Addr().String())
	l.Close()
	dir = t.TempDir()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || (!strings.HasSuffix(e.Name(), ".yaml") && !strings.HasSuffix(e.Name(), ".yml")) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(strings.ReplaceAll(string(b), `"`+fixed+`"`, `"`+port+`"`))
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, port
}
