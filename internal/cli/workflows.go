package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/argocompat"
)

// workflowCommands are Argo's workflow commands.
func workflowCommands() []*cobra.Command {
	return []*cobra.Command{
		newSubmitCommand(), newListCommand(), newGetCommand(), newWatchCommand(), newLogsCommand(),
		newControlCommand("stop", "Stop a workflow: running steps fail, nothing new starts, exit handlers run", `{"spec":{"shutdown":"Stop"}}`),
		newControlCommand("terminate", "Terminate a workflow: running steps fail, nothing new starts, exit handlers do not run", `{"spec":{"shutdown":"Terminate"}}`),
		newControlCommand("suspend", "Suspend a workflow: running steps finish, nothing new starts until resume", `{"spec":{"suspend":true}}`),
		newResumeCommand(), newRetryCommand(), newResubmitCommand(), newDeleteCommand(), newWaitCommand(),
	}
}

// LabelWorkflowTemplate marks a run submitted from a WorkflowTemplate with
// its name.
const LabelWorkflowTemplate = "workflows.zeroflow.dev/workflow-template"

// fromTemplate is the run `submit --from workflowtemplate/NAME` creates,
// labelled as Argo's CLI labels it (workflows.argoproj.io/workflow-template)
// and with zeroflow's own label, so that selectors and
// {{workflow.labels.…}} tags of either kind find it.
func fromTemplate(name string) *v1alpha1.Workflow {
	return &v1alpha1.Workflow{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: name + "-",
			Labels:       map[string]string{LabelWorkflowTemplate: name, argocompat.LabelWorkflowTemplate: name},
		},
		Spec: v1alpha1.WorkflowSpec{WorkflowTemplateRef: &v1alpha1.WorkflowTemplateRef{Name: name}},
	}
}

func newSubmitCommand() *cobra.Command {
	var (
		c      conn
		watch  bool
		params []string
		from   string
	)
	cmd := &cobra.Command{
		Use:   "submit [FILE]",
		Short: "Submit a workflow from a file, or from a WorkflowTemplate with --from",
		Long: `submit validates the Workflow in FILE (as lint does) and creates it; an
invalid file is reported with its field paths and nothing is created. With
--from workflowtemplate/NAME it runs that template. -p name=value sets
arguments. --watch follows the run until it ends; the exit status is 1 if it
did not succeed.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var wf *v1alpha1.Workflow
			switch {
			case from != "" && len(args) == 0:
				kind, name, ok := strings.Cut(from, "/")
				if !ok || !strings.EqualFold(kind, "workflowtemplate") {
					return fmt.Errorf("--from %q: want workflowtemplate/NAME", from)
				}
				wf = fromTemplate(name)
			case len(args) == 1 && from == "":
				var err error
				if wf, err = readWorkflowFile(args[0]); err != nil {
					return err
				}
			default:
				return errors.New("give a FILE or --from workflowtemplate/NAME")
			}
			if err := setParams(wf, params); err != nil {
				return err
			}
			if wf.Namespace == "" {
				wf.Namespace = c.namespace
			}
			if err := c.offloadArguments(cmd.Context(), wf); err != nil {
				return err
			}
			if errs := v1alpha1.ValidateWorkflow(wf); len(errs) > 0 {
				return fmt.Errorf("invalid workflow, nothing submitted:\n%w", errs.ToAggregate())
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			created, err := cl.CreateWorkflow(cmd.Context(), wf)
			if err != nil {
				return fmt.Errorf("submit: %w", err)
			}
			if !watch {
				if ok, err := printObject(cmd.OutOrStdout(), c.output, created); ok {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "submitted %s/%s\n", created.Namespace, created.Name)
				return nil
			}
			return watchWorkflow(cmd.Context(), cmd.OutOrStdout(), cl, created.Namespace, created.Name, c.output == "wide")
		},
	}
	c.addFlags(cmd, true)
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "follow the run until it ends")
	cmd.Flags().StringArrayVarP(&params, "parameter", "p", nil, "an argument, name=value or name=@FILE (the file's content); values above the offload threshold (64 KiB, $ZEROFLOW_OFFLOAD_THRESHOLD) go to the artifact store (--artifacts) as a valueRef")
	cmd.Flags().StringVar(&from, "from", "", "submit from workflowtemplate/NAME")
	cmd.Flags().StringVar(&c.artifacts, "artifacts", "", "the artifact store large arguments go to (default $ZEROFLOW_ARTIFACTS, else the running zeroflow dev's)")
	return cmd
}

// readWorkflowFile reads and checks the one Workflow of a file.
func readWorkflowFile(path string) (*v1alpha1.Workflow, error) {
	wfs, err := readObjects[v1alpha1.Workflow]([]string{path}, "Workflow", "invalid workflow, nothing submitted")
	if err != nil {
		return nil, err
	}
	return wfs[0], nil
}

func setParams(wf *v1alpha1.Workflow, params []string) error {
	for _, p := range params {
		name, value, ok := strings.Cut(p, "=")
		if !ok {
			return fmt.Errorf("-p %q: want name=value", p)
		}
		if file, ok := strings.CutPrefix(value, "@"); ok {
			// -p name=@FILE: the value is the file's content, as curl's
			// --data @FILE, so that a large payload needs no shell quoting.
			b, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("-p %s=@%s: %w", name, file, err)
			}
			value = string(b)
		}
		v := v1alpha1.AnyString(value)
		set := false
		for i := range wf.Spec.Arguments.Parameters {
			if wf.Spec.Arguments.Parameters[i].Name == name {
				wf.Spec.Arguments.Parameters[i].Value = &v
				wf.Spec.Arguments.Parameters[i].ValueRef = nil
				set = true
			}
		}
		if !set {
			wf.Spec.Arguments.Parameters = append(wf.Spec.Arguments.Parameters, v1alpha1.Parameter{Name: name, Value: &v})
		}
	}
	return nil
}

func newListCommand() *cobra.Command {
	var c conn
	var all, noHeaders bool
	var sel selection
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List workflows, newest first",
		Long: `List workflows, newest first, as argo list: --status, --running,
--completed, -l, --prefix, --since and --older narrow the list; -o name
prints only the names.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := sel.compile()
			if err != nil {
				return err
			}
			if err := checkOutput(c.output, "name"); err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			ns := c.namespace
			if all {
				ns = ""
			}
			now := time.Now()
			items, err := selectWorkflows(cmd.Context(), cl, ns, m, now)
			if err != nil {
				return err
			}
			if c.output == "name" {
				for _, wf := range items {
					fmt.Fprintln(cmd.OutOrStdout(), wf.Name)
				}
				return nil
			}
			if ok, err := printObject(cmd.OutOrStdout(), c.output, items); ok {
				return err
			}
			printList(cmd.OutOrStdout(), items, c.output == "wide", !noHeaders, now)
			return nil
		},
	}
	c.addFlags(cmd, true)
	cmd.Flags().Lookup("output").Usage = "output format: json, yaml, wide or name"
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "list every namespace")
	cmd.Flags().BoolVar(&noHeaders, "no-headers", false, "print no header line")
	sel.addFlags(cmd)
	return cmd
}

// checkOutput refuses an -o value no command knows; extra are the ones
// only this command takes.
func checkOutput(o string, extra ...string) error {
	switch o {
	case "", "json", "yaml", "wide":
		return nil
	}
	for _, e := range extra {
		if o == e {
			return nil
		}
	}
	return fmt.Errorf("-o %q: want json, yaml, wide%s", o, strings.Join(append([]string{""}, extra...), " or "))
}

func newGetCommand() *cobra.Command {
	var c conn
	var showValues bool
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Show a workflow and its node tree, with phases and durations",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			wf, err := getWorkflow(cmd.Context(), cl, c.namespace, args[0])
			if err != nil {
				return err
			}
			if showValues {
				if err := c.resolveValues(cmd.Context(), wf); err != nil {
					return err
				}
			}
			if ok, err := printObject(cmd.OutOrStdout(), c.output, wf); ok {
				return err
			}
			printWorkflow(cmd.OutOrStdout(), offloadedShort(wf), c.output == "wide", time.Now())
			return nil
		},
	}
	c.addFlags(cmd, true)
	cmd.Flags().BoolVar(&showValues, "show-values", false, "load offloaded values (valueRef, parameterRefs, resultRef) from the artifact store and show them in place")
	cmd.Flags().StringVar(&c.artifacts, "artifacts", "", "the artifact store, for --show-values (default $ZEROFLOW_ARTIFACTS, else the running zeroflow dev's)")
	return cmd
}

// offloadArguments moves the arguments above the offload threshold to the
// artifact store before the Workflow is created, as the controller does
// for a submit event: the API keeps references, not payloads. With no
// store reachable, they stay inline (and a Workflow too large for the API
// is refused by it).
func (c *conn) offloadArguments(ctx context.Context, wf *v1alpha1.Workflow) error {
	limits, err := sdk.OffloadLimitsFromEnv()
	if err != nil {
		return err
	}
	// A store that cannot be opened matters only if a value needs it.
	store, openErr := c.artifactStore()
	var to sdk.ArtifactStore
	if openErr == nil {
		to = store
	}
	err = sdk.OffloadParameters(ctx, to, wf.Namespace, limits.Threshold, wf.Spec.Arguments.Parameters)
	if openErr != nil && errors.Is(err, sdk.ErrNoOffloadStore) {
		return fmt.Errorf("%w: %w", err, openErr)
	}
	return err
}

// offloadedText is how an offloaded value shows: short, with what finds it.
func offloadedText(ref v1alpha1.ValueRef) string {
	d := ref.Digest
	if len(d) > 19 {
		d = d[:19] + "…"
	}
	return fmt.Sprintf("(offloaded: %d bytes, %s, key %s)", ref.Size, d, ref.Key)
}

// offloadedShort is wf for the table view: each offloaded value in its
// short form where the value would be.
func offloadedShort(wf *v1alpha1.Workflow) *v1alpha1.Workflow {
	wf = wf.DeepCopy()
	for i := range wf.Spec.Arguments.Parameters {
		p := &wf.Spec.Arguments.Parameters[i]
		if p.ValueRef != nil && p.Value == nil {
			v := v1alpha1.AnyString(offloadedText(*p.ValueRef))
			p.Value = &v
		}
	}
	for id, n := range wf.Status.Nodes {
		if n.Outputs == nil {
			continue
		}
		for name, ref := range n.Outputs.ParameterRefs {
			if n.Outputs.Parameters == nil {
				n.Outputs.Parameters = map[string]string{}
			}
			n.Outputs.Parameters[name] = offloadedText(ref)
		}
		if n.Outputs.ResultRef != nil && n.Outputs.Result == nil {
			r := offloadedText(*n.Outputs.ResultRef)
			n.Outputs.Result = &r
		}
		wf.Status.Nodes[id] = n
	}
	return wf
}

// resolveValues loads wf's offloaded values from the store into place.
func (c *conn) resolveValues(ctx context.Context, wf *v1alpha1.Workflow) error {
	store, err := c.artifactStore()
	if err != nil {
		return err
	}
	limits, err := sdk.OffloadLimitsFromEnv()
	if err != nil {
		return err
	}
	load := func(ref v1alpha1.ValueRef) (string, error) {
		b, err := sdk.GetValue(ctx, store, wf.Namespace, ref, limits.MaxValue)
		return string(b), err
	}
	for i := range wf.Spec.Arguments.Parameters {
		p := &wf.Spec.Arguments.Parameters[i]
		if p.ValueRef == nil {
			continue
		}
		v, err := load(*p.ValueRef)
		if err != nil {
			return fmt.Errorf("argument %s: %w", p.Name, err)
		}
		av := v1alpha1.AnyString(v)
		p.Value, p.ValueRef = &av, nil
	}
	for id, n := range wf.Status.Nodes {
		if n.Outputs == nil {
			continue
		}
		for name, ref := range n.Outputs.ParameterRefs {
			v, err := load(ref)
			if err != nil {
				return fmt.Errorf("node %s output %s: %w", id, name, err)
			}
			if n.Outputs.Parameters == nil {
				n.Outputs.Parameters = map[string]string{}
			}
			n.Outputs.Parameters[name] = v
		}
		n.Outputs.ParameterRefs = nil
		if n.Outputs.ResultRef != nil {
			v, err := load(*n.Outputs.ResultRef)
			if err != nil {
				return fmt.Errorf("node %s result: %w", id, err)
			}
			n.Outputs.Result, n.Outputs.ResultRef = &v, nil
		}
		wf.Status.Nodes[id] = n
	}
	return nil
}

func getWorkflow(ctx context.Context, cl *controller.Client, ns, name string) (*v1alpha1.Workflow, error) {
	name, err := resolveName(ctx, cl, ns, name)
	if err != nil {
		return nil, err
	}
	wf, err := cl.GetWorkflow(ctx, ns, name)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("workflow %s/%s not found", ns, name)
	}
	if err != nil {
		return nil, fmt.Errorf("get workflow %s/%s: %w", ns, name, err)
	}
	return wf, nil
}

func newWatchCommand() *cobra.Command {
	var c conn
	cmd := &cobra.Command{
		Use:   "watch NAME",
		Short: "Follow a workflow's progress until it ends",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			name, err := resolveName(cmd.Context(), cl, c.namespace, args[0])
			if err != nil {
				return err
			}
			return watchWorkflow(cmd.Context(), cmd.OutOrStdout(), cl, c.namespace, name, c.output == "wide")
		},
	}
	c.addFlags(cmd, true)
	return cmd
}

// errNotSucceeded makes the exit status 1 when a watched run failed.
var errNotSucceeded = errors.New("the workflow did not succeed")

// watchWorkflow prints the workflow each time it changes, until it ends.
func watchWorkflow(ctx context.Context, w io.Writer, cl *controller.Client, ns, name string, wide bool) error {
	var lastRV string
	for {
		wf, err := getWorkflow(ctx, cl, ns, name)
		if err != nil {
			return err
		}
		if wf.ResourceVersion != lastRV {
			lastRV = wf.ResourceVersion
			fmt.Fprintf(w, "\n--- %s\n", time.Now().Format(time.TimeOnly))
			printWorkflow(w, wf, wide, time.Now())
		}
		if wf.Status.Phase.Completed() {
			if wf.Status.Phase != v1alpha1.WorkflowSucceeded {
				return fmt.Errorf("%w: %s %s", errNotSucceeded, wf.Status.Phase, wf.Status.Message)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func newLogsCommand() *cobra.Command {
	var c conn
	cmd := &cobra.Command{
		Use:   "logs NAME [NODE]",
		Short: "Print the logs a workflow's steps captured (all steps, or one node)",
		Long: `logs prints what each step logged through the SDK (or, for exec steps,
its output), read from the artifact store where the step stored it
(.zeroflow/artifacts for zeroflow dev, or --artifacts). Each attempt of a
retried step is shown.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			wf, err := getWorkflow(cmd.Context(), cl, c.namespace, args[0])
			if err != nil {
				return err
			}
			var ids []string
			for id, n := range wf.Status.Nodes {
				if n.Type != v1alpha1.NodeTypeLeaf || n.Phase == v1alpha1.NodeSkipped || n.Phase == v1alpha1.NodeOmitted || n.Phase == v1alpha1.NodePending {
					continue
				}
				if len(args) == 2 && id != args[1] && !strings.HasSuffix(id, "."+args[1]) {
					continue
				}
				ids = append(ids, id)
			}
			if len(ids) == 0 {
				if len(args) == 2 {
					return fmt.Errorf("workflow %s has no step %q", wf.Name, args[1])
				}
				return fmt.Errorf("workflow %s has run no steps yet", wf.Name)
			}
			sort.Slice(ids, func(i, j int) bool {
				return wf.Status.Nodes[ids[i]].Started < wf.Status.Nodes[ids[j]].Started || (wf.Status.Nodes[ids[i]].Started == wf.Status.Nodes[ids[j]].Started && ids[i] < ids[j])
			})
			out := cmd.OutOrStdout()
			store, err := c.artifactStore()
			if err != nil {
				return err
			}
			for _, id := range ids {
				n := wf.Status.Nodes[id]
				for attempt := int32(0); attempt <= n.Retries; attempt++ {
					b, err := readArtifact(cmd.Context(), store, events.StepLogKey(wf.Namespace, wf.Name, id, attempt))
					label := id
					if n.Retries > 0 {
						label = fmt.Sprintf("%s (attempt %d)", id, attempt)
					}
					switch {
					case errors.Is(err, sdk.ErrArtifactNotFound):
						fmt.Fprintf(out, "%s: no log stored\n", label)
					case err != nil:
						return err
					default:
						for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
							fmt.Fprintf(out, "%s: %s\n", label, line)
						}
					}
				}
			}
			return nil
		},
	}
	c.addFlags(cmd, false)
	cmd.Flags().StringVar(&c.artifacts, "artifacts", "", "the artifact store: a directory or s3://BUCKET[/PREFIX]?endpoint=HOST:PORT (default $ZEROFLOW_ARTIFACTS, else the running zeroflow dev's)")
	return cmd
}

// newControlCommand patches a workflow's spec, as Argo's CLI does.
func newControlCommand(name, short, patch string) *cobra.Command {
	var c conn
	var sel selection
	cmd := &cobra.Command{
		Use:   name + " [NAME...]",
		Short: short,
		Long:  short + ".\nName the workflows (@latest is the newest), or select them with -l, --prefix or --status, as argo " + name + " does.",
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			names, err := targets(cmd.Context(), cl, c.namespace, args, sel, false, time.Now())
			if err != nil {
				return err
			}
			if len(names) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no workflows selected")
			}
			for _, n := range names {
				if _, err := getWorkflow(cmd.Context(), cl, c.namespace, n); err != nil {
					return err
				}
				if _, err := cl.PatchWorkflow(cmd.Context(), c.namespace, n, []byte(patch)); err != nil {
					return fmt.Errorf("%s %s: %w", name, n, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "workflow %s: %s requested\n", n, name)
			}
			return nil
		},
	}
	c.addFlags(cmd, false)
	sel.addFlags(cmd)
	return cmd
}

// annotate puts a request annotation on a workflow for the controller.
func annotate(ctx context.Context, cl *controller.Client, ns, name, key string, value any) error {
	b, err := json.Marshal(value)
	if err != nil {
		return err
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{key: string(b)}}})
	_, err = cl.PatchWorkflow(ctx, ns, name, patch)
	return err
}

func newResumeCommand() *cobra.Command {
	var c conn
	var node string
	cmd := &cobra.Command{
		Use:   "resume NAME...",
		Short: "Resume a suspended workflow and its suspend steps",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			for _, a := range args {
				wf, err := getWorkflow(cmd.Context(), cl, c.namespace, a)
				if err != nil {
					return err
				}
				n := wf.Name
				req := controller.ResumeRequest{}
				if node != "" {
					req.Nodes = []string{node}
				}
				if err := annotate(cmd.Context(), cl, c.namespace, n, controller.AnnotationResume, req); err != nil {
					return fmt.Errorf("resume %s: %w", n, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "workflow %s: resume requested\n", n)
			}
			return nil
		},
	}
	c.addFlags(cmd, false)
	cmd.Flags().StringVar(&node, "node", "", "resume only this suspend node")
	return cmd
}

func newRetryCommand() *cobra.Command {
	var c conn
	var node string
	cmd := &cobra.Command{
		Use:   "retry NAME",
		Short: "Run a Failed or Error workflow's failed steps again (or one node with --node)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			wf, err := getWorkflow(cmd.Context(), cl, c.namespace, args[0])
			if err != nil {
				return err
			}
			if err := controller.CheckRetry(&wf.Status, node); err != nil {
				return fmt.Errorf("retry %s: %w", wf.Name, err)
			}
			if err := annotate(cmd.Context(), cl, c.namespace, wf.Name, controller.AnnotationRetry, controller.RetryRequest{Node: node}); err != nil {
				return fmt.Errorf("retry %s: %w", wf.Name, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "workflow %s: retry requested\n", wf.Name)
			return nil
		},
	}
	c.addFlags(cmd, false)
	cmd.Flags().StringVar(&node, "node", "", "retry only this node (an ID as `zeroflow get -o json` shows)")
	return cmd
}

func newResubmitCommand() *cobra.Command {
	var c conn
	var watch bool
	cmd := &cobra.Command{
		Use:   "resubmit NAME",
		Short: "Submit a new run with a workflow's spec and arguments",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			old, err := getWorkflow(cmd.Context(), cl, c.namespace, args[0])
			if err != nil {
				return err
			}
			wf := &v1alpha1.Workflow{
				ObjectMeta: metav1.ObjectMeta{GenerateName: old.Name + "-", Namespace: old.Namespace, Labels: old.Labels},
				Spec:       *old.Spec.DeepCopy(),
			}
			wf.Spec.Shutdown, wf.Spec.Suspend = "", nil
			created, err := cl.CreateWorkflow(cmd.Context(), wf)
			if err != nil {
				return fmt.Errorf("resubmit %s: %w", old.Name, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "submitted %s/%s\n", created.Namespace, created.Name)
			if watch {
				return watchWorkflow(cmd.Context(), cmd.OutOrStdout(), cl, created.Namespace, created.Name, false)
			}
			return nil
		},
	}
	c.addFlags(cmd, false)
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "follow the new run until it ends")
	return cmd
}

func newDeleteCommand() *cobra.Command {
	var c conn
	var sel selection
	var all, dryRun bool
	cmd := &cobra.Command{
		Use:   "delete [NAME...]",
		Short: "Delete workflows",
		Long: `Delete workflows, as argo delete: name them (@latest is the newest), or
select them with --all, --completed, --older, --status, -l or --prefix;
--dry-run prints what would go.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			names, err := targets(cmd.Context(), cl, c.namespace, args, sel, all, time.Now())
			if err != nil {
				return err
			}
			if len(names) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no workflows selected")
			}
			for _, n := range names {
				if dryRun {
					fmt.Fprintf(cmd.OutOrStdout(), "workflow %s deleted (dry run)\n", n)
					continue
				}
				if err := cl.DeleteWorkflow(cmd.Context(), c.namespace, n); err != nil {
					if apierrors.IsNotFound(err) {
						return fmt.Errorf("workflow %s/%s not found", c.namespace, n)
					}
					return fmt.Errorf("delete %s: %w", n, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "workflow %s deleted\n", n)
			}
			return nil
		},
	}
	c.addFlags(cmd, false)
	sel.addFlags(cmd)
	cmd.Flags().BoolVar(&all, "all", false, "delete every workflow of the namespace")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be deleted, delete nothing")
	return cmd
}

// readArtifact reads one whole artifact.
func readArtifact(ctx context.Context, store sdk.ArtifactReader, key string) ([]byte, error) {
	r, err := store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}
