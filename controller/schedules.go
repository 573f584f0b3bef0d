package controller

import (
	"context"
	"log/slog"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// Schedules keeps the firing of CronWorkflows in step with the API: what
// the API holds is what fires. On a cluster it creates, updates and deletes
// the CronWorkflows' PingSources (ClusterSchedules); in zeroflow dev it
// runs them in process. Either way the schedules are the PingSources
// render.CronWorkflow builds.
type Schedules interface {
	// Apply makes cw's schedules fire as its spec says, now and from now
	// on; applying the same CronWorkflow again changes nothing.
	Apply(ctx context.Context, cw *v1alpha1.CronWorkflow) error
	// Delete stops the schedules of a CronWorkflow that is gone.
	Delete(ctx context.Context, namespace, name string) error
}

// ListCronWorkflows lists the CronWorkflows of a namespace ("" for all).
func (c *Client) ListCronWorkflows(ctx context.Context, namespace string, opts metav1.ListOptions) (*v1alpha1.CronWorkflowList, error) {
	l := &v1alpha1.CronWorkflowList{}
	err := c.rest.Get().Namespace(namespace).Resource("cronworkflows").VersionedParams(&opts, metav1.ParameterCodec).Do(ctx).Into(l)
	return l, err
}

// WatchCronWorkflows watches the CronWorkflows of a namespace ("" for all).
func (c *Client) WatchCronWorkflows(ctx context.Context, namespace string, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return c.rest.Get().Namespace(namespace).Resource("cronworkflows").VersionedParams(&opts, metav1.ParameterCodec).Watch(ctx)
}

// WatchSchedules reconciles the CronWorkflows of namespace ("" for all)
// with s until ctx ends: each one added or changed is applied, each one
// deleted is deleted, and every one is applied again at start (so that
// changes made while no controller ran take effect) and every
// sourceResync (which puts back a PingSource someone deleted). A failure
// is retried with backoff. Controller.Run runs it when Config.Schedules is
// set; zeroflow dev runs it itself beside a controller of its own process.
// Only one instance should run it.
func WatchSchedules(ctx context.Context, client *Client, namespace string, s Schedules, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return watchOwners(ctx, ownerWatch[*v1alpha1.CronWorkflow]{
		kind: "CronWorkflow", resource: "cronworkflows", namespace: namespace, example: &v1alpha1.CronWorkflow{},
		list: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return client.ListCronWorkflows(ctx, namespace, opts)
		},
		watch: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return client.WatchCronWorkflows(ctx, namespace, opts)
		},
		apply: func(ctx context.Context, cw *v1alpha1.CronWorkflow) error { return s.Apply(ctx, cw.DeepCopy()) },
		del:   s.Delete,
	}, logger)
}
