package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
)

// tutorialPort is the webhook port docs/tutorial.md and examples/tutorial
// use; the test replaces it with a free one in both.
const tutorialPort = "12100"

// tutorialBlock is one ```sh block of docs/tutorial.md marked
// `# tutorial: run NAME`.
type tutorialBlock struct {
	name, script string
}

// tutorialBlocks returns the runnable blocks of the tutorial, in order.
func tutorialBlocks(t *testing.T, doc string) []tutorialBlock {
	t.Helper()
	var blocks []tutorialBlock
	re := regexp.MustCompile("(?s)```sh\n(.*?)```")
	for _, m := range re.FindAllStringSubmatch(doc, -1) {
		first, rest, _ := strings.Cut(m[1], "\n")
		name, ok := strings.CutPrefix(strings.TrimSpace(first), "# tutorial: run ")
		if !ok {
			continue
		}
		blocks = append(blocks, tutorialBlock{name: strings.TrimSpace(name), script: rest})
	}
	return blocks
}

// TestTutorial runs the commands of docs/tutorial.md that a user types
// against the tutorial's manifests, as the tutorial says: from a directory
// holding bin/zeroflow, examples/tutorial and the dev stack's .zeroflow, on
// a free webhook port. The webhook path, the Sensor's filter and the
// script step are the real ones: an order the filter drops starts no
// workflow, and the one it passes starts exactly one, which Succeeds and
// logs the line the tutorial shows.
func TestTutorial(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	raw, err := os.ReadFile("../../docs/tutorial.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	// What the test does itself must be what the tutorial tells the user to
	// do, or the test would pass on a tutorial nobody can follow.
	for _, want := range []string{"go build -o bin/zeroflow ./cmd/zeroflow", "bin/zeroflow dev examples/tutorial", "http://127.0.0.1:" + tutorialPort + "/orders"} {
		if !strings.Contains(doc, want) {
			t.Fatalf("docs/tutorial.md no longer says %q: update the test with it", want)
		}
	}
	blocks := tutorialBlocks(t, doc)
	var names []string
	for _, b := range blocks {
		names = append(names, b.name)
	}
	if got, want := strings.Join(names, " "), "lint filtered list-empty matching inspect"; got != want {
		t.Fatalf("runnable blocks of docs/tutorial.md are %q, the test checks %q: update one or the other", got, want)
	}

	// The user's directory: bin/zeroflow, the example (on a free port), and
	// .zeroflow, which is the dev stack's data dir.
	work := t.TempDir()
	port := freePort(t)
	example := filepath.Join(work, "examples", "tutorial")
	if err := os.MkdirAll(example, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("../../examples/tutorial/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples/tutorial/*.yaml: %v", err)
	}
	replaced := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if strings.Contains(s, `"`+tutorialPort+`"`) {
			replaced = true
			s = strings.ReplaceAll(s, `"`+tutorialPort+`"`, fmt.Sprintf("%q", port))
		}
		if err := os.WriteFile(filepath.Join(example, filepath.Base(f)), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !replaced {
		// Else the dev stack would bind the fixed port.
		t.Fatalf("examples/tutorial has no port %q to replace", tutorialPort)
	}
	bin := buildBinary(t)
	if err := os.MkdirAll(filepath.Join(work, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(work, "bin", "zeroflow")); err != nil {
		t.Fatal(err)
	}

	d := startDevOn(t, bin, example)
	if err := os.Symlink(d.DataDir, filepath.Join(work, ".zeroflow")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.Banner, "POST http://127.0.0.1:"+port+"/orders") {
		t.Fatalf("zeroflow dev does not serve the tutorial's webhook on port %s:\n%s", port, d.Banner)
	}
	c := d.Client(t)

	// run runs one block as the user's shell would, stopping at the first
	// failing command.
	run := func(b tutorialBlock) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "sh", "-ec", strings.ReplaceAll(b.script, tutorialPort, port))
		cmd.Dir = work
		// The user's environment, without what would point the commands
		// elsewhere than the dev stack of this directory.
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "KUBECONFIG=") && !strings.HasPrefix(kv, "ZEROFLOW_ARTIFACTS=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tutorial block %q failed: %v\n%s\n%s\ndev log:\n%s", b.name, err, b.script, out, d.Log.Tail(30))
		}
		t.Logf("tutorial block %q:\n%s", b.name, out)
		return string(out)
	}
	workflows := func() []v1alpha1.Workflow {
		t.Helper()
		l, err := c.ListWorkflows(context.Background(), "default", metav1.ListOptions{})
		if err != nil {
			t.Fatalf("list workflows: %v", err)
		}
		return l.Items
	}

	for _, b := range blocks {
		out := run(b)
		switch b.name {
		case "lint":
			if n := strings.Count(out, "ok: examples/tutorial/"); n != 3 {
				t.Errorf("lint: %d ok lines, want 3:\n%s", n, out)
			}
		case "filtered":
			if !strings.Contains(out, "success") {
				t.Errorf("the webhook did not answer success:\n%s", out)
			}
			// A run that the filter let through appears within a second
			// (the matching one below does); give it five.
			assertNoWorkflowFor(t, c, 5*time.Second)
		case "list-empty":
			if strings.Contains(out, "process-order-") {
				t.Errorf("list shows a workflow for the filtered-out order:\n%s", out)
			}
		case "matching":
			if !strings.Contains(out, "success") {
				t.Errorf("the webhook did not answer success:\n%s", out)
			}
			// The user types the next command a moment later; so does the test.
			deadline := time.Now().Add(60 * time.Second)
			for len(workflows()) == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("no workflow 60s after the matching order; dev log:\n%s", d.Log.Tail(30))
				}
				time.Sleep(100 * time.Millisecond)
			}
		case "inspect":
			for _, want := range []string{"Succeeded at", "order:    A-2", "main: processing order A-2"} {
				if !strings.Contains(out, want) {
					t.Errorf("inspect output lacks %q:\n%s", want, out)
				}
			}
		}
	}

	// Exactly one run, for the matching order, even after the filtered-out
	// event had every chance to arrive.
	time.Sleep(2 * time.Second)
	wfs := workflows()
	if len(wfs) != 1 {
		var got []string
		for _, wf := range wfs {
			got = append(got, wf.Name+" "+string(wf.Status.Phase))
		}
		t.Fatalf("%d workflows, want exactly 1: %v", len(wfs), got)
	}
	wf := wfs[0]
	if wf.Status.Phase != v1alpha1.WorkflowSucceeded || !strings.HasPrefix(wf.Name, "process-order-") {
		t.Errorf("workflow %s is %s (%s), want a Succeeded process-order-…", wf.Name, wf.Status.Phase, wf.Status.Message)
	}
	params := wf.Spec.Arguments.Parameters
	if len(params) != 1 || params[0].Name != "order" || params[0].Value == nil || params[0].Value.String() != "A-2" {
		t.Errorf("workflow %s has arguments %+v, want order=A-2", wf.Name, params)
	}
}

// assertNoWorkflowFor fails as soon as a workflow exists, and otherwise
// returns after d.
func assertNoWorkflowFor(t *testing.T, c *controller.Client, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		l, err := c.ListWorkflows(context.Background(), "default", metav1.ListOptions{})
		if err != nil {
			t.Fatalf("list workflows: %v", err)
		}
		if len(l.Items) > 0 {
			t.Fatalf("the filter let the low-priority order through: workflow %s", l.Items[0].Name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
