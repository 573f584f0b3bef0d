package devstack

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/pingsource"
	"github.com/zeroflow-dev/zeroflow/render"
)

// devSchedules is the dev stack's controller.Schedules: the PingSources
// render.CronWorkflow builds for a CronWorkflow (what the controller
// creates on a cluster) run in process, in the stack's scheduler. The
// controller's CronWorkflow watch drives it, so a CronWorkflow created,
// changed or deleted through the API at any time (by kubectl, a Sensor's
// k8s trigger, a resource step) fires as its spec says, like one in DIR.
type devSchedules struct {
	scheduler *pingsource.Scheduler
	// broker is the Broker the PingSources fire into, in the
	// CronWorkflow's namespace.
	broker string
	logger *slog.Logger
}

func (d *devSchedules) Apply(_ context.Context, cw *v1alpha1.CronWorkflow) error {
	objs := render.CronWorkflow(cw, d.broker)
	if err := d.scheduler.Apply(cw.Namespace+"/"+cw.Name, objs.PingSources); err != nil {
		return fmt.Errorf("cron %s/%s: %w", cw.Namespace, cw.Name, err)
	}
	d.logger.Info("cron scheduled", "cronWorkflow", cw.Namespace+"/"+cw.Name, "schedules", cw.Spec.AllSchedules(), "suspended", cw.Spec.Suspend)
	return nil
}

func (d *devSchedules) Delete(_ context.Context, namespace, name string) error {
	d.scheduler.Remove(namespace + "/" + name)
	d.logger.Info("cron unscheduled: the CronWorkflow is gone", "cronWorkflow", namespace+"/"+name)
	return nil
}
