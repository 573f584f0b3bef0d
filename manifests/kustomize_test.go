package manifests_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/zeroflow-dev/zeroflow/internal/knativecheck"
	"github.com/zeroflow-dev/zeroflow/render"
)

// object is one built object, as kustomize wrote it and as decoded.
type object struct {
	kind, name, namespace string
	yaml                  []byte
	value                 any
}

// build runs `kustomize build dir` with the kustomize Go API.
func build(t *testing.T, dir string) []object {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var out []object
	for _, r := range res.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		o := object{kind: r.GetKind(), name: r.GetName(), namespace: r.GetNamespace(), yaml: b}
		if r.GetKind() != "CustomResourceDefinition" && !strings.HasPrefix(r.GetApiVersion(), "zeroflow.dev/") {
			if o.value, err = knativecheck.Decode(b); err != nil {
				t.Errorf("%s: %s %s: %v", dir, o.kind, o.name, err)
				continue
			}
		}
		out = append(out, o)
	}
	return out
}

// TestKustomizeBuilds builds the install (Kafka and dev-cluster flavours)
// and the example overlay, checks every object as the cluster would, puts
// every namespaced object in the zeroflow namespace, and finds every
// reference between them (service accounts, Services, ConfigMaps, Secrets,
// Roles) satisfied by the install plus the example.
func TestKustomizeBuilds(t *testing.T) {
	install := build(t, ".")
	dev := build(t, "overlays/dev-cluster")
	builds := map[string][]object{"manifests": install, "overlays/dev-cluster": dev}
	var example []object
	for _, dir := range exampleOverlays(t) {
		objs := build(t, dir)
		builds[dir] = objs
		example = append(example, objs...)
	}
	for name, objs := range builds {
		if len(objs) == 0 {
			t.Errorf("%s builds nothing", name)
		}
		for _, o := range objs {
			if o.value != nil {
				if err := knativecheck.Object(context.Background(), o.value); err != nil {
					t.Errorf("%s: %s %s: %v", name, o.kind, o.name, err)
				}
			}
			clusterScoped := o.kind == "Namespace" || o.kind == "CustomResourceDefinition" || strings.HasPrefix(o.kind, "Cluster")
			if !clusterScoped && o.namespace != "zeroflow" {
				t.Errorf("%s: %s %s is in namespace %q, not zeroflow", name, o.kind, o.name, o.namespace)
			}
		}
	}
	for _, pair := range []struct {
		name string
		objs []object
	}{{"manifests + examples", append(append([]object(nil), install...), example...)}, {"dev-cluster + examples", append(append([]object(nil), dev...), example...)}} {
		for _, missing := range unresolved(pair.objs) {
			t.Errorf("%s: %s", pair.name, missing)
		}
	}
	// The controller's identity patch applies: it checks tokens and has
	// its broker token.
	for name, objs := range map[string][]object{"manifests": install, "overlays/dev-cluster": dev} {
		for _, o := range objs {
			if o.kind == "Deployment" && o.name == render.ControllerService {
				y := string(o.yaml)
				if !strings.Contains(y, render.EnvAudience) || !strings.Contains(y, render.EnvTokenFile) || !strings.Contains(y, "serviceAccountToken") || !strings.Contains(y, "name: POD_NAMESPACE") {
					t.Errorf("%s: the controller's identity patch did not apply:\n%s", name, y)
				}
			}
		}
	}
	classes := map[string]string{}
	for name, objs := range map[string][]object{"manifests": install, "overlays/dev-cluster": dev} {
		for _, o := range objs {
			if o.kind == "Broker" {
				classes[name] = string(o.yaml)
			}
		}
	}
	if !strings.Contains(classes["manifests"], "broker.class: Kafka") || !strings.Contains(classes["overlays/dev-cluster"], "broker.class: MTChannelBasedBroker") {
		t.Errorf("broker classes: %v", classes)
	}
}

// exampleOverlays are the directories under examples/ (one per example).
func exampleOverlays(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob("examples/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no example overlays: %v", err)
	}
	return dirs
}
