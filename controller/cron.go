package controller

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/argocompat"
	"github.com/zeroflow-dev/zeroflow/render"
)

// LabelCronWorkflow marks the runs of a CronWorkflow with its name.
const LabelCronWorkflow = "workflows.zeroflow.dev/cron-workflow"

// AnnotationScheduledTime is when a CronWorkflow's run was scheduled.
const AnnotationScheduledTime = "workflows.zeroflow.dev/scheduled-time"

// History limits when a CronWorkflow sets none (Argo's).
const (
	defaultSuccessfulHistory = 3
	defaultFailedHistory     = 1
)

// PingSourceNamespace reads the namespace out of a PingSource event's
// source, /apis/v1/namespaces/<namespace>/pingsources/<name>.
func PingSourceNamespace(source string) string {
	ns, _ := pingSourceOf(source)
	return ns
}

// pingSourceOf reads the namespace and name of the PingSource out of its
// event's source; both "" if the source names none.
func pingSourceOf(source string) (namespace, name string) {
	parts := strings.Split(strings.Trim(source, "/"), "/")
	if len(parts) == 6 && parts[0] == "apis" && parts[2] == "namespaces" && parts[4] == "pingsources" {
		return parts[3], parts[5]
	}
	return "", ""
}

// CronRunName is the name of the run a CronWorkflow's firing at t starts:
// a redelivered firing names the same run, so it starts once.
func CronRunName(cronWorkflow string, t time.Time) string {
	return cronWorkflow + "-" + strconv.FormatInt(t.Unix(), 10)
}

// handleCron takes a PingSource's firing of a CronWorkflow: unless the
// CronWorkflow is suspended, the firing is too late, or its concurrency
// policy says otherwise, it starts a run; then it trims the finished runs
// to the history limits and records what it saw in the status.
func (c *Controller) handleCron(ctx context.Context, ev event.Event) error {
	name := events.Extension(ev, events.ExtCronWorkflow)
	ns, pingSource := pingSourceOf(ev.Source())
	if name == "" || ns == "" {
		return sdk.Status(http.StatusBadRequest, fmt.Errorf("ping %s: the %s extension and a PingSource source (/apis/v1/namespaces/NS/pingsources/NAME) are required", ev.ID(), events.ExtCronWorkflow))
	}
	if extNS := events.Extension(ev, events.ExtNamespace); extNS != "" && extNS != ns {
		return sdk.Status(http.StatusForbidden, fmt.Errorf("ping %s: from PingSource %s/%s, which cannot fire a CronWorkflow of namespace %s", ev.ID(), ns, pingSource, extNS))
	}
	scheduled := ev.Time().Truncate(time.Second)
	if ev.Time().IsZero() {
		scheduled = c.cfg.Now().Truncate(time.Second)
	}
	unlock := c.lock(key{ns, "cron/" + name})
	defer unlock()
	cw, err := c.cfg.Client.GetCronWorkflow(ctx, ns, name)
	if apierrors.IsNotFound(err) {
		c.cfg.Logger.InfoContext(ctx, "firing of a CronWorkflow that does not exist", "cronWorkflow", ns+"/"+name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("cron %s/%s: %w", ns, name, err)
	}
	// One EventPolicy admits the pings of every CronWorkflow's
	// PingSources (render.CronEventPolicy), so which CronWorkflow a ping
	// may fire is checked here: its source (set by Knative's ping adapter
	// from the PingSource itself) must be one of this CronWorkflow's.
	if !slices.Contains(render.CronPingSourceNames(cw), pingSource) {
		c.metrics.refused.Add(1)
		c.cfg.Logger.WarnContext(ctx, "cron firing refused: the PingSource is not the CronWorkflow's", "cronWorkflow", ns+"/"+name, "pingSource", ns+"/"+pingSource, "id", ev.ID())
		return sdk.Status(http.StatusForbidden, fmt.Errorf("ping %s: PingSource %s/%s is not one of CronWorkflow %s's (%v)", ev.ID(), ns, pingSource, name, render.CronPingSourceNames(cw)))
	}
	runs, err := c.cfg.Client.ListWorkflows(ctx, ns, metav1.ListOptions{LabelSelector: LabelCronWorkflow + "=" + name})
	if err != nil {
		return fmt.Errorf("cron %s/%s: list runs: %w", ns, name, err)
	}
	runName := CronRunName(name, scheduled)
	var active []v1alpha1.Workflow
	exists := false
	for _, r := range runs.Items {
		if r.Name == runName {
			exists = true
			if r.Status.Phase.Completed() {
				// A redelivery of a firing whose run is over.
				return nil
			}
		}
		if !r.Status.Phase.Completed() {
			active = append(active, r)
		}
	}
	skip := ""
	switch {
	case exists:
		// A redelivery: start it again in case the first try failed.
	case cw.Spec.Suspend:
		skip = "suspended"
	case cw.Spec.StartingDeadlineSeconds != nil && c.cfg.Now().Sub(scheduled) > time.Duration(*cw.Spec.StartingDeadlineSeconds)*time.Second:
		skip = fmt.Sprintf("%s late, past startingDeadlineSeconds %d", c.cfg.Now().Sub(scheduled).Round(time.Second), *cw.Spec.StartingDeadlineSeconds)
	case cw.Spec.ConcurrencyPolicy == v1alpha1.ConcurrencyForbid && len(active) > 0:
		skip = fmt.Sprintf("concurrencyPolicy Forbid and %s is running", active[0].Name)
	}
	if skip != "" {
		c.cfg.Logger.InfoContext(ctx, "cron firing skipped", "cronWorkflow", ns+"/"+name, "scheduled", scheduled, "why", skip)
	}
	// The run goes on the Active list before it starts, so that however
	// fast it finishes, cronRunFinished finds it there and counts it.
	if err := c.recordFiring(ctx, ns, name, scheduled, runName, skip); err != nil {
		return err
	}
	if skip == "" {
		if cw.Spec.ConcurrencyPolicy == v1alpha1.ConcurrencyReplace && !exists {
			for _, r := range active {
				if _, err := c.cfg.Client.PatchWorkflow(ctx, ns, r.Name, []byte(`{"spec":{"shutdown":"Terminate"}}`)); err != nil && !apierrors.IsNotFound(err) {
					return fmt.Errorf("cron %s/%s: replace %s: %w", ns, name, r.Name, err)
				}
				c.cfg.Logger.InfoContext(ctx, "cron run replaced", "cronWorkflow", ns+"/"+name, "workflow", r.Name)
			}
		}
		if err := c.start(ctx, cronRun(cw, runName, scheduled), ev.ID()); err != nil {
			return fmt.Errorf("cron %s/%s: %w", ns, name, err)
		}
	}
	return c.trimHistory(ctx, cw, runs.Items)
}

// recordFiring writes a firing into the CronWorkflow's status: a skip is
// counted; a run is put on the Active list and becomes the last scheduled.
func (c *Controller) recordFiring(ctx context.Context, ns, name string, scheduled time.Time, runName, skip string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := c.cfg.Client.GetCronWorkflow(ctx, ns, name)
		if err != nil {
			return err
		}
		st := &cur.Status
		switch {
		case skip != "":
			st.Skipped++
		case slices.Contains(st.Active, runName):
			return nil // a redelivery
		default:
			st.Active = append(st.Active, runName)
			sort.Strings(st.Active)
			if st.LastScheduledTime == nil || st.LastScheduledTime.Time.Before(scheduled) {
				st.LastScheduledTime = &metav1.Time{Time: scheduled}
			}
		}
		st.ObservedGeneration = cur.Generation
		_, err = c.cfg.Client.UpdateCronWorkflowStatus(ctx, cur)
		return err
	})
}

// cronRun is the Workflow a CronWorkflow's firing at scheduled starts.
func cronRun(cw *v1alpha1.CronWorkflow, name string, scheduled time.Time) *v1alpha1.Workflow {
	wf := &v1alpha1.Workflow{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: cw.Namespace,
			Labels: map[string]string{},
			Annotations: map[string]string{
				AnnotationScheduledTime:            scheduled.UTC().Format(time.RFC3339),
				argocompat.AnnotationScheduledTime: scheduled.UTC().Format(time.RFC3339),
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "CronWorkflow", Name: cw.Name, UID: cw.UID,
			}},
		},
		Spec: *cw.Spec.WorkflowSpec.DeepCopy(),
	}
	if m := cw.Spec.WorkflowMetadata; m != nil {
		for k, v := range m.Labels {
			wf.Labels[k] = v
		}
		for k, v := range m.Annotations {
			wf.Annotations[k] = v
		}
	}
	wf.Labels[LabelCronWorkflow] = cw.Name
	// Argo's names too, for selectors and {{workflow.labels.…}} tags
	// written for Argo.
	wf.Labels[argocompat.LabelCronWorkflow] = cw.Name
	return wf
}

// trimHistory deletes the oldest finished runs beyond the history limits.
func (c *Controller) trimHistory(ctx context.Context, cw *v1alpha1.CronWorkflow, runs []v1alpha1.Workflow) error {
	keepOK, keepFailed := int32(defaultSuccessfulHistory), int32(defaultFailedHistory)
	if cw.Spec.SuccessfulJobsHistoryLimit != nil {
		keepOK = *cw.Spec.SuccessfulJobsHistoryLimit
	}
	if cw.Spec.FailedJobsHistoryLimit != nil {
		keepFailed = *cw.Spec.FailedJobsHistoryLimit
	}
	var ok, bad []v1alpha1.Workflow
	for _, r := range runs {
		switch {
		case r.Status.Phase == v1alpha1.WorkflowSucceeded:
			ok = append(ok, r)
		case r.Status.Phase.Completed():
			bad = append(bad, r)
		}
	}
	for _, group := range []struct {
		runs []v1alpha1.Workflow
		keep int32
	}{{ok, keepOK}, {bad, keepFailed}} {
		sort.Slice(group.runs, func(i, j int) bool {
			return group.runs[i].CreationTimestamp.After(group.runs[j].CreationTimestamp.Time)
		})
		for i := int(group.keep); i < len(group.runs); i++ {
			if err := c.cfg.Client.DeleteWorkflow(ctx, cw.Namespace, group.runs[i].Name); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("cron %s/%s: delete old run %s: %w", cw.Namespace, cw.Name, group.runs[i].Name, err)
			}
		}
	}
	return nil
}

// cronRunFinished takes a finished run off its CronWorkflow's Active list
// and counts it; a run not on the list (counted already) changes nothing.
func (c *Controller) cronRunFinished(ctx context.Context, wf *v1alpha1.Workflow) error {
	name := wf.Labels[LabelCronWorkflow]
	// No cron lock here: it runs under the run's lock, which a firing of
	// the same CronWorkflow may be waiting for while holding the cron lock
	// (a redelivered firing advancing its run). The status write's
	// optimistic concurrency is enough.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cw, err := c.cfg.Client.GetCronWorkflow(ctx, wf.Namespace, name)
		if err != nil {
			return err
		}
		i := slices.Index(cw.Status.Active, wf.Name)
		if i < 0 {
			return nil
		}
		cw.Status.Active = append(cw.Status.Active[:i:i], cw.Status.Active[i+1:]...)
		if wf.Status.Phase == v1alpha1.WorkflowSucceeded {
			cw.Status.Succeeded++
		} else {
			cw.Status.Failed++
		}
		_, err = c.cfg.Client.UpdateCronWorkflowStatus(ctx, cw)
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("cron %s/%s: record %s finished: %w", wf.Namespace, name, wf.Name, err)
	}
	return nil
}
