package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/internal/kubeapi"
	"github.com/zeroflow-dev/zeroflow/manifests"
)

func TestParseArgoDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"10m": 10 * time.Minute, "3h": 3 * time.Hour, "1d": 24 * time.Hour, "2d12h": 60 * time.Hour, "1d30m": 24*time.Hour + 30*time.Minute,
	} {
		if got, err := parseArgoDuration(in); err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "1x", "-1h", "0s", "d", "-1d", "1dd"} {
		if got, err := parseArgoDuration(in); err == nil {
			t.Errorf("%q: %v, want an error", in, got)
		}
	}
}

func TestSelectionRefusesBadFlags(t *testing.T) {
	for name, tc := range map[string]struct {
		s    selection
		want string
	}{
		"both":     {selection{running: true, completed: true}, "--running and --completed"},
		"phase":    {selection{statuses: []string{"Succeeded", "Done"}}, `--status "Done"`},
		"selector": {selection{selector: "a=(b"}, "--selector"},
		"since":    {selection{since: "yesterday"}, "--since"},
		"older":    {selection{older: "-3h"}, "--older"},
	} {
		if _, err := tc.s.compile(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", name, err, tc.want)
		}
	}
}

func TestSelectionMatches(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *metav1.Time { t := metav1.NewTime(now.Add(-d)); return &t }
	wf := func(name string, phase v1alpha1.WorkflowPhase, created time.Duration, finished *metav1.Time, labels map[string]string) *v1alpha1.Workflow {
		w := &v1alpha1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, CreationTimestamp: *at(created)}}
		w.Status.Phase, w.Status.FinishedAt = phase, finished
		return w
	}
	old := wf("etl-old", v1alpha1.WorkflowSucceeded, 3*time.Hour, at(2*time.Hour), map[string]string{"team": "a"})
	failed := wf("etl-failed", v1alpha1.WorkflowFailed, 30*time.Minute, at(20*time.Minute), map[string]string{"team": "b"})
	running := wf("report", v1alpha1.WorkflowRunning, 5*time.Minute, nil, map[string]string{"team": "a"})
	pending := wf("new", v1alpha1.WorkflowUnknown, time.Minute, nil, nil)
	all := []*v1alpha1.Workflow{old, failed, running, pending}
	for name, tc := range map[string]struct {
		s    selection
		want string
	}{
		"nothing set":     {selection{}, "etl-old etl-failed report new"},
		"status":          {selection{statuses: []string{"succeeded", "Failed"}}, "etl-old etl-failed"},
		"pending":         {selection{statuses: []string{"Pending"}}, "new"},
		"running":         {selection{running: true}, "report new"},
		"completed":       {selection{completed: true}, "etl-old etl-failed"},
		"selector":        {selection{selector: "team=a"}, "etl-old report"},
		"selector not":    {selection{selector: "team!=a"}, "etl-failed new"},
		"prefix":          {selection{prefix: "etl-"}, "etl-old etl-failed"},
		"since":           {selection{since: "10m"}, "report new"},
		"older":           {selection{older: "1h"}, "etl-old"},
		"older, not done": {selection{older: "1m"}, "etl-old etl-failed"},
		"combined":        {selection{completed: true, selector: "team=a"}, "etl-old"},
	} {
		m, err := tc.s.compile()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got []string
		for _, w := range all {
			if m.match(w, now) {
				got = append(got, w.Name)
			}
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s: %v, want %s", name, got, tc.want)
		}
	}
}

// cliStack is a real in-process API server with a kubeconfig, and a way to
// run zeroflow commands against it.
type cliStack struct {
	kubeconfig string
	client     *controller.Client
}

func startCLIStack(t *testing.T) *cliStack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	crds, err := manifests.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	api, err := kubeapi.Start(ctx, kubeapi.Options{KubeconfigPath: kubeconfig, CRDs: crds, UnsafeNoFsync: true})
	if err != nil {
		t.Fatalf("start the API server: %v", err)
	}
	t.Cleanup(func() { _ = api.Stop() })
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := controller.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &cliStack{kubeconfig: kubeconfig, client: cl}
}

// run runs zeroflow with args (and --kubeconfig) and returns its exit
// status and what it printed.
func (s *cliStack) run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := Execute(context.Background(), append(args, "--kubeconfig", s.kubeconfig), &out, &out)
	return code, out.String()
}

// workflow creates a workflow and gives it a status as the controller
// would.
func (s *cliStack) workflow(t *testing.T, name string, labels map[string]string, phase v1alpha1.WorkflowPhase, finishedAgo time.Duration) {
	t.Helper()
	wf := &v1alpha1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Labels: labels},
		Spec:       v1alpha1.WorkflowSpec{Entrypoint: "main", Templates: []v1alpha1.Template{{Name: "main", Suspend: &v1alpha1.SuspendTemplate{}}}},
	}
	created, err := s.client.CreateWorkflow(context.Background(), wf)
	if err != nil {
		t.Fatal(err)
	}
	if phase == v1alpha1.WorkflowUnknown {
		return
	}
	now := metav1.Now()
	created.Status.Phase, created.Status.StartedAt = phase, &now
	if phase.Completed() {
		at := metav1.NewTime(time.Now().Add(-finishedAgo))
		created.Status.FinishedAt = &at
	}
	if _, err := s.client.UpdateWorkflowStatus(context.Background(), created); err != nil {
		t.Fatal(err)
	}
}

func lines(s string) string {
	l := strings.Fields(s)
	sort.Strings(l)
	return strings.Join(l, " ")
}

// Argo's list, delete, stop, wait and @latest, through the real API
// server.
func TestArgoSelectionFlagsEndToEnd(t *testing.T) {
	s := startCLIStack(t)
	s.workflow(t, "etl-old", map[string]string{"team": "a"}, v1alpha1.WorkflowSucceeded, 2*time.Hour)
	s.workflow(t, "etl-failed", map[string]string{"team": "b"}, v1alpha1.WorkflowFailed, 10*time.Minute)
	s.workflow(t, "report", map[string]string{"team": "a"}, v1alpha1.WorkflowRunning, 0)
	time.Sleep(1100 * time.Millisecond) // creation times are to the second
	s.workflow(t, "newest", nil, v1alpha1.WorkflowUnknown, 0)

	for args, want := range map[string]string{
		"list -o name":                                "etl-failed etl-old newest report",
		"list -o name --status Succeeded,Failed":      "etl-failed etl-old",
		"list -o name --running":                      "newest report",
		"list -o name --completed -l team=a":          "etl-old",
		"list -o name --prefix etl-":                  "etl-failed etl-old",
		"list -o name --older 1h":                     "etl-old",
		"list -o name --since 1d --status Pending":    "newest",
		"list --no-headers --completed -l team=b":     "etl-failed Failed",
		"delete --completed --older 1h --dry-run":     "workflow etl-old deleted (dry run)",
		"stop -l team=a --running":                    "workflow report: stop requested",
		"wait --ignore-not-found missing etl-old":     "missing not found, ignored && etl-old Succeeded at",
		"get @latest -o json":                         `"name": "newest"`,
		"list -o name --status Pending,Running -l x=": "",
	} {
		code, out := s.run(t, strings.Fields(args)...)
		if code != 0 {
			t.Errorf("%s: exit %d:\n%s", args, code, out)
			continue
		}
		if strings.HasPrefix(args, "list -o name") {
			if lines(out) != want {
				t.Errorf("%s: %q, want %q", args, lines(out), want)
			}
		} else {
			// Each && part, in any order (wait reports as each ends).
			for _, part := range strings.Split(want, " && ") {
				if !strings.Contains(strings.Join(strings.Fields(out), " "), part) {
					t.Errorf("%s: %q, want it to contain %q", args, out, part)
				}
			}
		}
	}
	// The dry run deleted nothing; stop reached only the running one.
	if _, err := s.client.GetWorkflow(context.Background(), "default", "etl-old"); err != nil {
		t.Errorf("the dry run deleted etl-old: %v", err)
	}
	if wf, _ := s.client.GetWorkflow(context.Background(), "default", "report"); wf.Spec.Shutdown != v1alpha1.ShutdownStop {
		t.Errorf("report: shutdown %q, want Stop", wf.Spec.Shutdown)
	}
	if wf, _ := s.client.GetWorkflow(context.Background(), "default", "etl-old"); wf.Spec.Shutdown != "" {
		t.Errorf("stop -l team=a --running stopped the completed etl-old")
	}

	// Refusals: each says what is wrong, nothing changes.
	for args, want := range map[string]string{
		"delete":                        "name the workflows, or select them",
		"delete etl-old --completed":    "not both",
		"list --running --completed":    "--running and --completed",
		"list --status Done":            `--status "Done"`,
		"list -o table":                 `-o "table"`,
		"wait etl-failed etl-old":       "did not succeed: etl-failed Failed",
		"wait missing":                  "workflow default/missing not found",
		"wait report --timeout 300ms":   "still Running",
		"get @latest -n empty":          "@latest: namespace empty has no workflows",
		"delete --older soon --dry-run": "--older",
	} {
		code, out := s.run(t, strings.Fields(args)...)
		if code == 0 || !strings.Contains(out, want) {
			t.Errorf("%s: exit %d, want a failure saying %q:\n%s", args, code, want, out)
		}
	}
	l, _ := s.client.ListWorkflows(context.Background(), "default", metav1.ListOptions{})
	if len(l.Items) != 4 {
		t.Errorf("%d workflows after the refusals, want 4", len(l.Items))
	}

	// And a real bulk delete.
	if code, out := s.run(t, "delete", "--completed"); code != 0 || !strings.Contains(out, "workflow etl-old deleted") || !strings.Contains(out, "workflow etl-failed deleted") {
		t.Errorf("delete --completed: exit %d:\n%s", code, out)
	}
	if code, out := s.run(t, "list", "-o", "name"); code != 0 || lines(out) != "newest report" {
		t.Errorf("after delete --completed: %q", lines(out))
	}
}

// Argo's template and cron commands, through the real API server.
func TestTemplateAndCronCommands(t *testing.T) {
	s := startCLIStack(t)
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tmpl := write("template.yaml", `apiVersion: zeroflow.dev/v1alpha1
kind: WorkflowTemplate
metadata: {name: hello}
spec:
  entrypoint: main
  templates: [{name: main, suspend: {}}]
`)
	cron := write("cron.yaml", `apiVersion: zeroflow.dev/v1alpha1
kind: CronWorkflow
metadata: {name: nightly}
spec:
  schedules: ["0 2 * * *"]
  workflowSpec:
    entrypoint: main
    templates: [{name: main, suspend: {}}]
`)
	bad := write("bad.yaml", `apiVersion: zeroflow.dev/v1alpha1
kind: WorkflowTemplate
metadata: {name: broken}
spec:
  entrypoint: nowhere
  templates: [{name: main, suspend: {}}]
`)
	steps := []struct {
		args []string
		ok   bool
		want string
	}{
		{[]string{"template", "create", tmpl}, true, "workflow template hello created"},
		{[]string{"template", "create", tmpl, bad}, false, "nothing created"},
		{[]string{"template", "list"}, true, "hello"},
		{[]string{"template", "list", "-o", "name"}, true, "hello"},
		{[]string{"template", "get", "hello"}, true, "entrypoint: main"},
		{[]string{"template", "get", "nope"}, false, "workflow template default/nope not found"},
		{[]string{"cron", "create", cron}, true, "cron workflow nightly created"},
		{[]string{"cron", "create", tmpl}, false, "no CronWorkflow"},
		{[]string{"cron", "suspend", "nightly"}, true, "cron workflow nightly suspended"},
		{[]string{"cron", "list"}, true, "0 2 * * *"},
		{[]string{"cron", "resume", "nightly"}, true, "cron workflow nightly resumed"},
		{[]string{"cron", "get", "nightly", "-o", "json"}, true, `"nightly"`},
		{[]string{"cron", "delete", "nightly"}, true, "cron workflow nightly deleted"},
		{[]string{"cron", "suspend", "nightly"}, false, "cron workflow default/nightly not found"},
		{[]string{"template", "delete", "hello"}, true, "workflow template hello deleted"},
	}
	for _, st := range steps {
		code, out := s.run(t, st.args...)
		if (code == 0) != st.ok || !strings.Contains(out, st.want) {
			t.Errorf("%v: exit %d, want ok=%v and %q:\n%s", st.args, code, st.ok, st.want, out)
		}
		if st.args[0] == "cron" && st.args[1] == "suspend" && st.ok {
			cw, err := s.client.GetCronWorkflow(context.Background(), "default", "nightly")
			if err != nil || !cw.Spec.Suspend {
				t.Errorf("cron suspend: spec.suspend %v, %v", cw.Spec.Suspend, err)
			}
		}
	}
	if l, err := s.client.ListWorkflowTemplates(context.Background(), "default"); err != nil || len(l.Items) != 0 {
		t.Errorf("templates left: %v %v", l, err)
	}
}
