package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
)

// phaseMark is the symbol Argo's CLI shows for a phase.
func phaseMark(p v1alpha1.NodePhase) string {
	switch p {
	case v1alpha1.NodeSucceeded:
		return "✔"
	case v1alpha1.NodeFailed, v1alpha1.NodeError:
		return "✖"
	case v1alpha1.NodeRunning:
		return "●"
	case v1alpha1.NodeSkipped, v1alpha1.NodeOmitted:
		return "○"
	default:
		return "◷"
	}
}

// workflowDuration is how long a run took, or has taken so far.
func workflowDuration(wf *v1alpha1.Workflow, now time.Time) time.Duration {
	if wf.Status.StartedAt == nil {
		return 0
	}
	if wf.Status.Phase.Completed() {
		return controller.RunDuration(wf)
	}
	return now.Sub(wf.Status.StartedAt.Time).Truncate(time.Second)
}

func age(t time.Time, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

func shortDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	default:
		return d.Truncate(time.Second).String()
	}
}

func phaseOf(wf *v1alpha1.Workflow) string {
	if wf.Status.Phase == "" {
		return "Pending"
	}
	return string(wf.Status.Phase)
}

// printList prints workflows as `argo list` does.
func printList(w io.Writer, wfs []v1alpha1.Workflow, wide, headers bool, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	switch {
	case !headers:
	case wide:
		fmt.Fprintln(tw, "NAME\tSTATUS\tAGE\tDURATION\tPROGRESS\tMESSAGE\tTEMPLATE")
	default:
		fmt.Fprintln(tw, "NAME\tSTATUS\tAGE\tDURATION\tPROGRESS\tMESSAGE")
	}
	for i := range wfs {
		wf := &wfs[i]
		row := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", wf.Name, phaseOf(wf), age(wf.CreationTimestamp.Time, now), shortDuration(workflowDuration(wf, now)), wf.Status.Progress, oneLine(wf.Status.Message, 60))
		if wide {
			tmpl := ""
			if wf.Spec.WorkflowTemplateRef != nil {
				tmpl = wf.Spec.WorkflowTemplateRef.Name
			}
			row += "\t" + tmpl
		}
		fmt.Fprintln(tw, row)
	}
	tw.Flush()
}

func oneLine(s string, max int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > max {
		return s[:max-1] + "…"
	}
	return s
}

// printWorkflow prints a workflow's summary and node tree, as `argo get`.
func printWorkflow(w io.Writer, wf *v1alpha1.Workflow, wide bool, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	fmt.Fprintf(tw, "Name:\t%s\n", wf.Name)
	fmt.Fprintf(tw, "Namespace:\t%s\n", wf.Namespace)
	fmt.Fprintf(tw, "Status:\t%s\n", phaseOf(wf))
	if wf.Status.Message != "" {
		fmt.Fprintf(tw, "Message:\t%s\n", wf.Status.Message)
	}
	fmt.Fprintf(tw, "Created:\t%s (%s ago)\n", wf.CreationTimestamp.Format(time.RFC3339), age(wf.CreationTimestamp.Time, now))
	if wf.Status.StartedAt != nil {
		fmt.Fprintf(tw, "Started:\t%s\n", wf.Status.StartedAt.Format(time.RFC3339))
	}
	if wf.Status.FinishedAt != nil {
		fmt.Fprintf(tw, "Finished:\t%s\n", wf.Status.FinishedAt.Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "Duration:\t%s\n", shortDuration(workflowDuration(wf, now)))
	if wf.Status.Progress != "" {
		fmt.Fprintf(tw, "Progress:\t%s\n", wf.Status.Progress)
	}
	if ps := wf.Spec.Arguments.Parameters; len(ps) > 0 {
		fmt.Fprintln(tw, "Parameters:\t")
		for _, p := range ps {
			fmt.Fprintf(tw, "  %s:\t%s\n", p.Name, oneLine(p.ValueString(), 100))
		}
	}
	tw.Flush()
	if len(wf.Status.Nodes) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := "STEP\tPHASE\tDURATION\tRETRIES\tMESSAGE"
	if wide {
		header += "\tOUTPUTS"
	}
	fmt.Fprintln(tw, header)
	children := map[string][]string{}
	var roots []string
	for id := range wf.Status.Nodes {
		if p := parentID(id); p != "" {
			if _, ok := wf.Status.Nodes[p]; ok {
				children[p] = append(children[p], id)
				continue
			}
		}
		roots = append(roots, id)
	}
	base := time.Time{}
	if wf.Status.StartedAt != nil {
		base = wf.Status.StartedAt.Time
	}
	var walk func(id, prefix string, last bool, depth int)
	walk = func(id, prefix string, last bool, depth int) {
		n := wf.Status.Nodes[id]
		branch := ""
		if depth > 0 {
			branch = "├─ "
			if last {
				branch = "└─ "
			}
		}
		d := ""
		if n.Phase.Fulfilled() {
			d = shortDuration(time.Duration(n.Finished-n.Started) * time.Millisecond)
		} else if !base.IsZero() && n.Phase == v1alpha1.NodeRunning {
			d = shortDuration(now.Sub(base.Add(time.Duration(n.Started) * time.Millisecond)))
		}
		retries := ""
		if n.Retries > 0 {
			retries = fmt.Sprint(n.Retries)
		}
		row := fmt.Sprintf("%s%s%s %s\t%s\t%s\t%s\t%s", prefix, branch, phaseMark(n.Phase), engine.DisplayName(id), n.Phase, d, retries, oneLine(n.Message, 80))
		if wide {
			row += "\t" + outputsLine(n.Outputs)
		}
		fmt.Fprintln(tw, row)
		kids := children[id]
		sort.Slice(kids, func(i, j int) bool {
			return wf.Status.Nodes[kids[i]].Started < wf.Status.Nodes[kids[j]].Started || (wf.Status.Nodes[kids[i]].Started == wf.Status.Nodes[kids[j]].Started && kids[i] < kids[j])
		})
		next := prefix
		if depth > 0 {
			if last {
				next += "   "
			} else {
				next += "│  "
			}
		}
		for i, k := range kids {
			walk(k, next, i == len(kids)-1, depth+1)
		}
	}
	sort.Strings(roots)
	for _, r := range roots {
		walk(r, "", true, 0)
	}
	tw.Flush()
}

// parentID is the ID of a node's parent: "main" of "main.A", "main[0]" of
// "main[0].B", "main.A" of "main.A(2)".
func parentID(id string) string {
	i := strings.LastIndexAny(id, ".[(")
	if i <= 0 {
		return ""
	}
	return id[:i]
}

func outputsLine(o *v1alpha1.NodeOutputs) string {
	if o == nil {
		return ""
	}
	var parts []string
	if o.Result != nil {
		parts = append(parts, "result="+oneLine(*o.Result, 40))
	}
	keys := make([]string, 0, len(o.Parameters))
	for k := range o.Parameters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+"="+oneLine(o.Parameters[k], 40))
	}
	return strings.Join(parts, " ")
}
