package cli

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/zeroflow-dev/zeroflow/internal/knativecheck"
)

// TestRenderLogPipelineGolden checks `zeroflow render examples/log-pipeline`
// against the committed manifests/examples/log-pipeline/knative.yaml (which
// `make generate` writes with the same builders): a change to render shows
// up as a diff of that file.
func TestRenderLogPipelineGolden(t *testing.T) {
	var out, errOut bytes.Buffer
	root := NewRoot(&out, &errOut)
	root.SetArgs([]string{"render", "../../examples/log-pipeline"})
	if err := root.Execute(); err != nil {
		t.Fatalf("render: %v\n%s", err, errOut.String())
	}
	const golden = "../../manifests/examples/log-pipeline/knative.yaml"
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := withoutFirstLine(out.Bytes()), withoutFirstLine(want); !bytes.Equal(got, want) {
		t.Errorf("zeroflow render examples/log-pipeline differs from %s: if the change is meant, run make generate and commit the diff.\ngot:\n%s", golden, got)
	}
}

// withoutFirstLine drops the header comment, which says who generated it.
func withoutFirstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

// `zeroflow render --rbac` prints, for a directory with a non-default
// eventBusName in another namespace, the Brokers it names (with
// zeroflow's delivery) and the RBAC its Sensor's triggers and its
// CronWorkflow's resource steps need, with the ServiceAccount the Sensor
// names (and the EventSource's own); every document is valid as the
// cluster checks it.
func TestRenderRBACAndEventBuses(t *testing.T) {
	var out, errOut bytes.Buffer
	root := NewRoot(&out, &errOut)
	root.SetArgs([]string{"render", "--rbac", "--broker-class", "MTChannelBasedBroker", "-n", "zeroflow", "../../render/testdata/eventbus"})
	if err := root.Execute(); err != nil {
		t.Fatalf("render: %v\n%s", err, errOut.String())
	}
	docs := strings.Split(string(withoutFirstLine(out.Bytes())), "\n---\n")
	kinds := map[string]int{}
	for i, doc := range docs {
		obj, err := knativecheck.Decode([]byte(doc))
		if err == nil {
			err = knativecheck.Object(context.Background(), obj)
		}
		if err != nil {
			t.Errorf("document %d: %v\n%s", i+1, err, doc)
		}
		for _, line := range strings.Split(doc, "\n") {
			if k, ok := strings.CutPrefix(line, "kind: "); ok {
				kinds[k]++
			}
		}
	}
	for kind, want := range map[string]int{"Role": 4, "RoleBinding": 4, "Broker": 2, "ServiceAccount": 2} {
		if kinds[kind] != want {
			t.Errorf("%d %s, want %d (%v)", kinds[kind], kind, want, kinds)
		}
	}
	for _, want := range []string{"name: sensor-scaling-operate-workflow-sa", "name: eventbus", "name: zeroflow-controller-eventbus-submit", "impersonate"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
