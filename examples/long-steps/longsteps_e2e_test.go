// Package longsteps_test runs examples/long-steps end to end. It is a
// package of its own so that `go test ./...` runs its minutes of sleeping
// steps beside the other packages' tests.
package longsteps_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/internal/devrun"
)

// The liveness times the long-step tests run with: short, so that a lost
// attempt shows within seconds.
const (
	longStepHeartbeat = time.Second
	longStepLostAfter = 5 * time.Second
)

// longStepSeconds is the length of the step that must complete once: 5
// minutes in `make test`, ZEROFLOW_LONG_STEP (e.g. 20m, `make e2e-long`)
// when set.
func longStepSeconds(t *testing.T) int {
	t.Helper()
	v := os.Getenv("ZEROFLOW_LONG_STEP")
	if v == "" {
		return 300
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second {
		t.Fatalf("ZEROFLOW_LONG_STEP=%q: want a duration of a second or more", v)
	}
	return int(d / time.Second)
}

// journalLine is one line a step of examples/long-steps wrote.
type journalLine struct {
	what, workflow, node string
	attempt, pid         int
}

// readJournal parses the journal: "WHAT WORKFLOW NODE ATTEMPT PID" from
// the function, "WHAT WORKFLOW script PID" from the script.
func readJournal(t *testing.T, path string) []journalLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []journalLine
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		var l journalLine
		switch {
		case len(f) == 5:
			l = journalLine{what: f[0], workflow: f[1], node: f[2]}
			l.attempt, _ = strconv.Atoi(f[3])
			l.pid, _ = strconv.Atoi(f[4])
		case len(f) == 4 && f[2] == "script":
			l = journalLine{what: f[0], workflow: f[1], node: "script", attempt: -1}
			l.pid, _ = strconv.Atoi(f[3])
		default:
			t.Fatalf("journal %s: unexpected line %q", path, line)
		}
		out = append(out, l)
	}
	return out
}

func count(lines []journalLine, what, node string) int {
	n := 0
	for _, l := range lines {
		if l.what == what && (node == "" || l.node == node) {
			n++
		}
	}
	return n
}

func find(lines []journalLine, what, node string) (journalLine, bool) {
	for _, l := range lines {
		if l.what == what && l.node == node {
			return l, true
		}
	}
	return journalLine{}, false
}

// alive says whether a process runs (a zombie counts as gone).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// submitLongSteps creates a workflow of the long-steps template.
func submitLongSteps(t *testing.T, c *controller.Client, template, name string, seconds int, journal string) {
	t.Helper()
	wf := &v1alpha1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: v1alpha1.WorkflowSpec{
			WorkflowTemplateRef: &v1alpha1.WorkflowTemplateRef{Name: template},
			Arguments: v1alpha1.Arguments{Parameters: []v1alpha1.Parameter{
				{Name: "seconds", Value: v1alpha1.ParseAnyString(strconv.Itoa(seconds))},
				{Name: "journal", Value: v1alpha1.ParseAnyString(journal)},
			}},
		},
	}
	if _, err := c.CreateWorkflow(context.Background(), wf); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
}

// waitUntil polls cond every 200 ms until it holds or within passes.
func waitUntil(t *testing.T, d *devrun.Run, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; log tail:\n%s", what, within, d.Log.Tail(40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// finished waits for the workflow to end and returns it.
func finished(t *testing.T, d *devrun.Run, c *controller.Client, name string, within time.Duration) *v1alpha1.Workflow {
	t.Helper()
	var wf *v1alpha1.Workflow
	waitUntil(t, d, "workflow "+name+" finished", within, func() bool {
		got, err := c.GetWorkflow(context.Background(), "default", name)
		if err != nil {
			return false
		}
		wf = got
		return got.Status.Phase == v1alpha1.WorkflowSucceeded || got.Status.Phase == v1alpha1.WorkflowFailed || got.Status.Phase == v1alpha1.WorkflowError
	})
	return wf
}

// TestLongStepsEndToEnd runs examples/long-steps on `zeroflow dev` with a
// user function process (the sleeper) and a script step (the exec
// built-in), as a user would, and checks issue 13's cases side by side:
// a 5-minute step completes once; a function process SIGKILLed mid-run is
// retried once as a new attempt after the grace time; stopping a workflow
// kills its running script (and the script's child) within seconds;
// deleting a workflow stops its steps. The case that kills a function
// process has its own copy of the sleeper (sleeper-kill), so that the
// others' steps run on.
func TestLongStepsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds zeroflow and runs steps for minutes")
	}
	bin := devrun.Build(t)
	dir := t.TempDir()
	copyTo := func(from, to string, edit func(string) string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, to), []byte(edit(string(b))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	same := func(s string) string { return s }
	copyTo("services.yaml", "services.yaml", same)
	copyTo("workflowtemplate.yaml", "workflowtemplate.yaml", same)
	copyTo("services.yaml", "services-kill.yaml", func(s string) string {
		return strings.Replace(s, "name: sleeper\n", "name: sleeper-kill\n", 1)
	})
	copyTo("workflowtemplate.yaml", "workflowtemplate-kill.yaml", func(s string) string {
		s = strings.Replace(s, "name: long-steps\n", "name: long-steps-kill\n", 1)
		return strings.Replace(s, "function: {name: sleeper}", "function: {name: sleeper-kill}", 1)
	})
	d := devrun.Start(t, bin, dir, "--heartbeat-interval", longStepHeartbeat.String(), "--lost-after", longStepLostAfter.String())
	c := d.Client(t)
	journals := t.TempDir()

	t.Run("a long step completes once", func(t *testing.T) {
		t.Parallel()
		seconds := longStepSeconds(t)
		journal := filepath.Join(journals, "long")
		start := time.Now()
		submitLongSteps(t, c, "long-steps", "long", seconds, journal)
		wf := finished(t, d, c, "long", time.Duration(seconds)*time.Second+3*time.Minute)
		took := time.Since(start)
		lines := readJournal(t, journal)
		if wf.Status.Phase != v1alpha1.WorkflowSucceeded {
			t.Fatalf("phase %s (%s), want Succeeded; journal %v", wf.Status.Phase, wf.Status.Message, lines)
		}
		for _, node := range []string{"main.function", "script"} {
			if s, e := count(lines, "start", node), count(lines, "end", node); s != 1 || e != 1 {
				t.Errorf("%s: %d starts and %d ends, want one of each; journal %v", node, s, e, lines)
			}
		}
		if took < time.Duration(seconds)*time.Second {
			t.Errorf("the run took %s, less than its %d s steps", took, seconds)
		}
		t.Logf("%d s steps: the run took %s", seconds, took.Round(time.Second))
	})

	t.Run("a killed function is retried once after the grace time", func(t *testing.T) {
		t.Parallel()
		journal := filepath.Join(journals, "killed")
		submitLongSteps(t, c, "long-steps-kill", "killed", 30, journal)
		var first journalLine
		waitUntil(t, d, "the function step starts", 3*time.Minute, func() bool {
			var ok bool
			first, ok = find(readJournal(t, journal), "start", "main.function")
			return ok
		})
		time.Sleep(2 * longStepHeartbeat)
		killed := time.Now()
		if err := syscall.Kill(first.pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill the function process %d: %v", first.pid, err)
		}
		wf := finished(t, d, c, "killed", 3*time.Minute)
		lines := readJournal(t, journal)
		if wf.Status.Phase != v1alpha1.WorkflowSucceeded {
			t.Fatalf("phase %s (%s), want Succeeded after one retry; journal %v", wf.Status.Phase, wf.Status.Message, lines)
		}
		n := wf.Status.Nodes["main.function"]
		if n.Retries != 1 {
			t.Errorf("main.function ended at attempt %d, want 1 (one retry); journal %v", n.Retries, lines)
		}
		var retried []journalLine
		for _, l := range lines {
			if l.what == "start" && l.node == "main.function" && l.attempt == 1 {
				retried = append(retried, l)
			}
		}
		if len(retried) != 1 || count(lines, "end", "main.function") != 1 {
			t.Fatalf("attempt 1 started %d times and the step ended %d times, want once each; journal %v", len(retried), count(lines, "end", "main.function"), lines)
		}
		// Attempt 0's copy is the killed one; a redelivery of its step.run
		// to a new process may start another copy of attempt 0, which
		// the controller cancels at its first heartbeat: it never ends.
		for _, l := range lines {
			if l.what == "end" && l.attempt == 0 {
				t.Errorf("attempt 0 ran to its end after its process was killed: %v", lines)
			}
		}
		// The retry came once attempt 0 was lost: after the grace time,
		// not before.
		if s := wf.Status.StartedAt; s != nil && n.AttemptStarted > 0 {
			retryAt := s.Add(time.Duration(n.AttemptStarted) * time.Millisecond)
			if gap := retryAt.Sub(killed); gap < longStepLostAfter-2*longStepHeartbeat || gap > longStepLostAfter+30*time.Second {
				t.Errorf("attempt 1 was dispatched %s after the kill; want about the grace time %s", gap.Round(time.Millisecond), longStepLostAfter)
			}
			t.Logf("attempt 1 dispatched %s after the kill (grace %s)", retryAt.Sub(killed).Round(time.Millisecond), longStepLostAfter)
		}
	})

	stopsWithin := func(t *testing.T, journal string, how func()) {
		t.Helper()
		var child journalLine
		waitUntil(t, d, "both steps start", 3*time.Minute, func() bool {
			lines := readJournal(t, journal)
			var ok bool
			child, ok = find(lines, "child", "script")
			_, fn := find(lines, "start", "main.function")
			return ok && fn
		})
		if !alive(child.pid) {
			t.Fatalf("the script's child %d is not running", child.pid)
		}
		start := time.Now()
		how()
		waitUntil(t, d, "the script's child process dies", 15*time.Second, func() bool { return !alive(child.pid) })
		waitUntil(t, d, "the function step is cancelled", 15*time.Second, func() bool {
			return count(readJournal(t, journal), "cancelled", "main.function") == 1
		})
		t.Logf("both steps stopped %s after the request", time.Since(start).Round(time.Millisecond))
		if lines := readJournal(t, journal); count(lines, "end", "") != 0 {
			t.Errorf("a step ran to its end: %v", lines)
		}
	}

	t.Run("a stopped workflow's steps are killed", func(t *testing.T) {
		t.Parallel()
		journal := filepath.Join(journals, "stopped")
		submitLongSteps(t, c, "long-steps", "stopped", 600, journal)
		stopsWithin(t, journal, func() {
			if _, err := c.PatchWorkflow(context.Background(), "default", "stopped", []byte(`{"spec":{"shutdown":"Stop"}}`)); err != nil {
				t.Fatal(err)
			}
		})
		if wf := finished(t, d, c, "stopped", 30*time.Second); wf.Status.Phase != v1alpha1.WorkflowFailed {
			t.Errorf("phase %s (%s), want Failed", wf.Status.Phase, wf.Status.Message)
		}
	})

	t.Run("deleting a workflow stops its steps", func(t *testing.T) {
		t.Parallel()
		journal := filepath.Join(journals, "deleted")
		submitLongSteps(t, c, "long-steps", "deleted", 600, journal)
		stopsWithin(t, journal, func() {
			if err := c.DeleteWorkflow(context.Background(), "default", "deleted"); err != nil {
				t.Fatal(err)
			}
		})
	})
}
