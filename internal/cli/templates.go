package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/internal/manifestfile"
)

// readObjects reads every object of type T (the kind named kind) in the
// files: all of them are validated first, and nothing is returned when one
// is invalid (an error that starts with invalid), so that a create makes
// all or none.
func readObjects[T any](paths []string, kind, invalid string) ([]*T, error) {
	docs, err := manifestfile.Load(paths...)
	if err != nil {
		return nil, err
	}
	var found []*T
	var problems []string
	for _, d := range docs {
		obj, err := manifestfile.Decode(d)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		for _, e := range obj.Errors {
			problems = append(problems, fmt.Sprintf("%s: %s: %v", d.Source(), d.Ref(), e))
		}
		if v, ok := obj.Value.(*T); ok {
			found = append(found, v)
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s:\n  %s", invalid, strings.Join(problems, "\n  "))
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("%s has no %s", strings.Join(paths, ", "), kind)
	}
	return found, nil
}

// newTemplateCommand is Argo's `argo template`.
func newTemplateCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "template", Short: "List, show, create, delete and lint WorkflowTemplates"}
	var c conn
	list := &cobra.Command{
		Use: "list", Short: "List WorkflowTemplates", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(c.output, "name"); err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			l, err := cl.ListWorkflowTemplates(cmd.Context(), c.namespace)
			if err != nil {
				return fmt.Errorf("list workflow templates: %w", err)
			}
			sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
			if ok, err := printObject(cmd.OutOrStdout(), orEmpty(c.output, "name"), l.Items); ok {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 3, ' ', 0)
			if c.output != "name" {
				fmt.Fprintln(tw, "NAME\tENTRYPOINT\tTEMPLATES\tAGE")
			}
			for _, t := range l.Items {
				if c.output == "name" {
					fmt.Fprintln(tw, t.Name)
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", t.Name, t.Spec.Entrypoint, len(t.Spec.Templates), age(t.CreationTimestamp.Time, time.Now()))
			}
			return tw.Flush()
		},
	}
	lint := newLintCommand()
	lint.Short = "Validate WorkflowTemplate files (zeroflow lint)"
	k := objectKind[v1alpha1.WorkflowTemplate]{
		kind: "WorkflowTemplate", noun: "workflow template",
		get: func(ctx context.Context, cl *controller.Client, ns, name string) (*v1alpha1.WorkflowTemplate, error) {
			return cl.GetWorkflowTemplate(ctx, ns, name)
		},
		create: func(ctx context.Context, cl *controller.Client, t *v1alpha1.WorkflowTemplate) error {
			return cl.CreateWorkflowTemplate(ctx, t)
		},
		delete: func(ctx context.Context, cl *controller.Client, ns, name string) error {
			return cl.DeleteWorkflowTemplate(ctx, ns, name)
		},
		meta: func(t *v1alpha1.WorkflowTemplate) *metav1.ObjectMeta { return &t.ObjectMeta },
	}
	c.addFlags(list, true)
	cmd.AddCommand(list, k.getCommand(), k.createCommand(), k.deleteCommand(), lint)
	return cmd
}

// newCronCommand is Argo's `argo cron`.
func newCronCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "cron", Short: "List, show, create, delete, suspend and resume CronWorkflows"}
	var c conn
	list := &cobra.Command{
		Use: "list", Short: "List CronWorkflows", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(c.output, "name"); err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			l, err := cl.ListCronWorkflows(cmd.Context(), c.namespace, metav1.ListOptions{})
			if err != nil {
				return fmt.Errorf("list cron workflows: %w", err)
			}
			sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
			if ok, err := printObject(cmd.OutOrStdout(), orEmpty(c.output, "name"), l.Items); ok {
				return err
			}
			printCronList(cmd.OutOrStdout(), l.Items, c.output == "name", time.Now())
			return nil
		},
	}
	suspend := cronSwitch(&c, "suspend", "suspended", "Suspend CronWorkflows: no new runs until resume", true)
	resume := cronSwitch(&c, "resume", "resumed", "Resume suspended CronWorkflows", false)
	k := objectKind[v1alpha1.CronWorkflow]{
		kind: "CronWorkflow", noun: "cron workflow",
		get: func(ctx context.Context, cl *controller.Client, ns, name string) (*v1alpha1.CronWorkflow, error) {
			return cl.GetCronWorkflow(ctx, ns, name)
		},
		create: func(ctx context.Context, cl *controller.Client, cw *v1alpha1.CronWorkflow) error {
			_, err := cl.CreateCronWorkflow(ctx, cw)
			return err
		},
		delete: func(ctx context.Context, cl *controller.Client, ns, name string) error {
			return cl.DeleteCronWorkflow(ctx, ns, name)
		},
		meta: func(cw *v1alpha1.CronWorkflow) *metav1.ObjectMeta { return &cw.ObjectMeta },
	}
	c.addFlags(list, true)
	for _, sub := range []*cobra.Command{suspend, resume} {
		c.addFlags(sub, false)
	}
	cmd.AddCommand(list, k.getCommand(), k.createCommand(), k.deleteCommand(), suspend, resume)
	return cmd
}

// objectKind is what the get, create and delete commands of a kind need.
type objectKind[T any] struct {
	kind, noun string
	get        func(ctx context.Context, cl *controller.Client, ns, name string) (*T, error)
	create     func(ctx context.Context, cl *controller.Client, obj *T) error
	delete     func(ctx context.Context, cl *controller.Client, ns, name string) error
	meta       func(*T) *metav1.ObjectMeta
}

func (k objectKind[T]) getCommand() *cobra.Command {
	var c conn
	cmd := &cobra.Command{
		Use: "get NAME", Short: "Show a " + k.kind, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			obj, err := k.get(cmd.Context(), cl, c.namespace, args[0])
			if err != nil {
				return notFound(err, k.noun, c.namespace, args[0])
			}
			_, err = printObject(cmd.OutOrStdout(), documentFormat(c.output), obj)
			return err
		},
	}
	c.addFlags(cmd, true)
	return cmd
}

func (k objectKind[T]) createCommand() *cobra.Command {
	var c conn
	cmd := &cobra.Command{
		Use: "create FILE...", Short: "Create the " + k.kind + "s in files (all or none: every one is validated first)", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			objs, err := readObjects[T](args, k.kind, "invalid manifests, nothing created")
			if err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			for _, obj := range objs {
				m := k.meta(obj)
				if m.Namespace == "" {
					m.Namespace = c.namespace
				}
				if err := k.create(cmd.Context(), cl, obj); err != nil {
					return fmt.Errorf("create %s %s/%s: %w", k.noun, m.Namespace, m.Name, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s created\n", k.noun, m.Name)
			}
			return nil
		},
	}
	c.addFlags(cmd, false)
	return cmd
}

func (k objectKind[T]) deleteCommand() *cobra.Command {
	var c conn
	cmd := &cobra.Command{
		Use: "delete NAME...", Short: "Delete " + k.kind + "s", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			for _, n := range args {
				if err := k.delete(cmd.Context(), cl, c.namespace, n); err != nil {
					return notFound(err, k.noun, c.namespace, n)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s deleted\n", k.noun, n)
			}
			return nil
		},
	}
	c.addFlags(cmd, false)
	return cmd
}

// cronSwitch is `cron suspend` or `cron resume`: it sets spec.suspend.
func cronSwitch(c *conn, verb, done, short string, suspend bool) *cobra.Command {
	return &cobra.Command{
		Use: verb + " NAME...", Short: short, Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			patch := fmt.Appendf(nil, `{"spec":{"suspend":%t}}`, suspend)
			for _, n := range args {
				if _, err := cl.PatchCronWorkflow(cmd.Context(), c.namespace, n, patch); err != nil {
					return notFound(err, "cron workflow", c.namespace, n)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "cron workflow %s %s\n", n, done)
			}
			return nil
		},
	}
}

// printCronList prints CronWorkflows as `argo cron list`.
func printCronList(w io.Writer, cws []v1alpha1.CronWorkflow, namesOnly bool, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	if !namesOnly {
		fmt.Fprintln(tw, "NAME\tAGE\tLAST RUN\tSCHEDULE\tTIMEZONE\tSUSPENDED\tACTIVE")
	}
	for _, cw := range cws {
		if namesOnly {
			fmt.Fprintln(tw, cw.Name)
			continue
		}
		last := "N/A"
		if t := cw.Status.LastScheduledTime; t != nil {
			last = age(t.Time, now)
		}
		schedules := append([]string{}, cw.Spec.Schedules...)
		if cw.Spec.Schedule != "" {
			schedules = append(schedules, cw.Spec.Schedule)
		}
		tz := cw.Spec.Timezone
		if tz == "" {
			tz = "UTC"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%t\t%d\n", cw.Name, age(cw.CreationTimestamp.Time, now), last, strings.Join(schedules, ","), tz, cw.Spec.Suspend, len(cw.Status.Active))
	}
	tw.Flush()
}

// orEmpty maps the output format only this command knows to the table
// (printObject prints nothing for "").
func orEmpty(output, own string) string {
	if output == own {
		return ""
	}
	return output
}

// documentFormat is the format `get` prints one object in: yaml unless
// json is asked for.
func documentFormat(output string) string {
	if output == "json" {
		return "json"
	}
	return "yaml"
}

// notFound names a missing object; other errors pass with context.
func notFound(err error, kind, ns, name string) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%s %s/%s not found", kind, ns, name)
	}
	return fmt.Errorf("%s %s/%s: %w", kind, ns, name, err)
}
