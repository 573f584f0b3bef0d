package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
)

// latest is Argo's name for the newest workflow of a namespace.
const latest = "@latest"

// selection is how Argo's CLI picks workflows besides naming them:
// --status, --running, --completed, -l, --prefix, --since and --older,
// with Argo's meanings (docs/workflows.md, "The CLI").
type selection struct {
	statuses           []string
	running, completed bool
	selector           string
	prefix             string
	since, older       string
}

// addFlags adds the selection flags to cmd.
func (s *selection) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringSliceVar(&s.statuses, "status", nil, "only workflows in these phases (comma separated: Pending, Running, Succeeded, Failed, Error)")
	f.BoolVar(&s.running, "running", false, "only running workflows (not yet completed)")
	f.BoolVar(&s.completed, "completed", false, "only completed workflows (Succeeded, Failed or Error)")
	f.StringVarP(&s.selector, "selector", "l", "", "only workflows whose labels match this selector (e.g. key1=value1,key2!=value2)")
	f.StringVar(&s.prefix, "prefix", "", "only workflows whose name starts with this")
	f.StringVar(&s.since, "since", "", "only workflows created within this duration (e.g. 10m, 3h, 1d)")
	f.StringVar(&s.older, "older", "", "only completed workflows that finished longer ago than this duration (e.g. 10m, 3h, 1d)")
}

// any reports whether a filter flag is set.
func (s selection) any() bool {
	return len(s.statuses) > 0 || s.running || s.completed || s.selector != "" || s.prefix != "" || s.since != "" || s.older != ""
}

// matcher is a checked selection.
type matcher struct {
	phases         map[v1alpha1.WorkflowPhase]bool
	running, done  bool
	selector       labels.Selector
	prefix         string
	since, olderBy time.Duration
}

// compile checks the flags and returns what matches them.
func (s selection) compile() (*matcher, error) {
	m := &matcher{running: s.running, done: s.completed, prefix: s.prefix, selector: labels.Everything()}
	if s.running && s.completed {
		return nil, fmt.Errorf("--running and --completed: a workflow cannot be both")
	}
	if len(s.statuses) > 0 {
		m.phases = map[v1alpha1.WorkflowPhase]bool{}
		for _, p := range s.statuses {
			phase, ok := phaseNamed(p)
			if !ok {
				return nil, fmt.Errorf("--status %q: not a workflow phase (Pending, Running, Succeeded, Failed, Error)", p)
			}
			m.phases[phase] = true
		}
	}
	if s.selector != "" {
		sel, err := labels.Parse(s.selector)
		if err != nil {
			return nil, fmt.Errorf("--selector %q: %w", s.selector, err)
		}
		m.selector = sel
	}
	var err error
	if s.since != "" {
		if m.since, err = parseArgoDuration(s.since); err != nil {
			return nil, fmt.Errorf("--since: %w", err)
		}
	}
	if s.older != "" {
		if m.olderBy, err = parseArgoDuration(s.older); err != nil {
			return nil, fmt.Errorf("--older: %w", err)
		}
	}
	return m, nil
}

// phaseNamed is the phase a --status value names, in any case; "" is
// Pending, as Argo shows a workflow the controller has not seen.
func phaseNamed(s string) (v1alpha1.WorkflowPhase, bool) {
	for _, p := range []v1alpha1.WorkflowPhase{v1alpha1.WorkflowPending, v1alpha1.WorkflowRunning, v1alpha1.WorkflowSucceeded, v1alpha1.WorkflowFailed, v1alpha1.WorkflowError} {
		if strings.EqualFold(string(p), s) {
			return p, true
		}
	}
	return "", false
}

// phase is wf's phase as the selection sees it: Pending until the
// controller has started it.
func phase(wf *v1alpha1.Workflow) v1alpha1.WorkflowPhase {
	if wf.Status.Phase == v1alpha1.WorkflowUnknown {
		return v1alpha1.WorkflowPending
	}
	return wf.Status.Phase
}

// match reports whether wf is selected at now.
func (m *matcher) match(wf *v1alpha1.Workflow, now time.Time) bool {
	done := wf.Status.Phase.Completed()
	switch {
	case m.phases != nil && !m.phases[phase(wf)]:
		return false
	case m.running && done, m.done && !done:
		return false
	case !m.selector.Matches(labels.Set(wf.Labels)):
		return false
	case m.prefix != "" && !strings.HasPrefix(wf.Name, m.prefix):
		return false
	case m.since > 0 && now.Sub(wf.CreationTimestamp.Time) > m.since:
		return false
	case m.olderBy > 0 && (!done || wf.Status.FinishedAt == nil || now.Sub(wf.Status.FinishedAt.Time) <= m.olderBy):
		return false
	}
	return true
}

// parseArgoDuration reads a duration as Argo's CLI does: Go's units, and
// d for days (e.g. 1d, 2d12h).
func parseArgoDuration(s string) (time.Duration, error) {
	days := time.Duration(0)
	rest := s
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q: not a duration (e.g. 10m, 3h, 1d)", s)
		}
		days, rest = time.Duration(n)*24*time.Hour, s[i+1:]
	}
	d := time.Duration(0)
	if rest != "" {
		var err error
		if d, err = time.ParseDuration(rest); err != nil {
			return 0, fmt.Errorf("%q: not a duration (e.g. 10m, 3h, 1d)", s)
		}
	}
	if days+d <= 0 {
		return 0, fmt.Errorf("%q: want a positive duration", s)
	}
	return days + d, nil
}

// selectWorkflows lists ns's workflows that m matches, newest first. The
// label selector goes to the API server.
func selectWorkflows(ctx context.Context, cl *controller.Client, ns string, m *matcher, now time.Time) ([]v1alpha1.Workflow, error) {
	opts := metav1.ListOptions{}
	if !m.selector.Empty() {
		opts.LabelSelector = m.selector.String()
	}
	l, err := cl.ListWorkflows(ctx, ns, opts)
	if err != nil {
		return nil, fmt.Errorf("list workflows: %w", err)
	}
	out := l.Items[:0]
	for i := range l.Items {
		if m.match(&l.Items[i], now) {
			out = append(out, l.Items[i])
		}
	}
	newestFirst(out)
	return out, nil
}

// newestFirst sorts workflows by creation, newest first, then by name.
func newestFirst(wfs []v1alpha1.Workflow) {
	sort.Slice(wfs, func(i, j int) bool {
		a, b := wfs[i].CreationTimestamp, wfs[j].CreationTimestamp
		if a.Equal(&b) {
			return wfs[i].Name < wfs[j].Name
		}
		return b.Before(&a)
	})
}

// resolveName is the workflow name an argument stands for: itself, or for
// @latest the newest workflow of ns.
func resolveName(ctx context.Context, cl *controller.Client, ns, name string) (string, error) {
	if name != latest {
		return name, nil
	}
	l, err := cl.ListWorkflows(ctx, ns, metav1.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("find %s in %s: %w", latest, ns, err)
	}
	if len(l.Items) == 0 {
		return "", fmt.Errorf("%s: namespace %s has no workflows", latest, ns)
	}
	newestFirst(l.Items)
	return l.Items[0].Name, nil
}

// targets are the workflows a bulk command acts on: the named ones (with
// @latest resolved), and those the selection matches. Without names, a
// selection flag (or all) is required, so that a bare command acts on
// nothing.
func targets(ctx context.Context, cl *controller.Client, ns string, args []string, s selection, all bool, now time.Time) ([]string, error) {
	if len(args) > 0 && (s.any() || all) {
		return nil, fmt.Errorf("give workflow names or selection flags (--all, --status, -l, …), not both")
	}
	if len(args) > 0 {
		out := make([]string, 0, len(args))
		for _, a := range args {
			n, err := resolveName(ctx, cl, ns, a)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return out, nil
	}
	if !s.any() && !all {
		return nil, fmt.Errorf("name the workflows, or select them with --all, --status, --running, --completed, -l, --prefix, --since or --older")
	}
	m, err := s.compile()
	if err != nil {
		return nil, err
	}
	wfs, err := selectWorkflows(ctx, cl, ns, m, now)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(wfs))
	for i := range wfs {
		out[i] = wfs[i].Name
	}
	return out, nil
}
