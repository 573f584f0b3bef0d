package controller

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

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

// scheduleResync is how often every CronWorkflow is applied again, even
// unchanged: it puts back a PingSource someone deleted, and retries one
// whose earlier failures ran out.
const scheduleResync = 10 * time.Minute

// WatchSchedules reconciles the CronWorkflows of namespace ("" for all)
// with s until ctx ends: each one added or changed is applied, each one
// deleted is deleted, and every one is applied again at start (so that
// changes made while no controller ran take effect) and every
// scheduleResync. A failure is retried with backoff. Controller.Run runs
// it when Config.Schedules is set; zeroflow dev runs it itself beside a
// controller of its own process. Only one instance should run it.
func WatchSchedules(ctx context.Context, client *Client, namespace string, s Schedules, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return client.ListCronWorkflows(ctx, namespace, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return client.WatchCronWorkflows(ctx, namespace, opts)
		},
	}
	informer := cache.NewSharedIndexInformer(lw, &v1alpha1.CronWorkflow{}, scheduleResync, cache.Indexers{})
	queue := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[key](), workqueue.TypedRateLimitingQueueConfig[key]{Name: "cronworkflows"})
	enqueue := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if cw, ok := obj.(*v1alpha1.CronWorkflow); ok {
			queue.Add(key{cw.Namespace, cw.Name})
		}
	}
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue,
		UpdateFunc: func(oldObj, newObj any) {
			// Status writes (each firing's) change no schedule; a spec
			// change bumps the generation, and the periodic resync
			// (same resourceVersion) applies every one again.
			old, ok1 := oldObj.(*v1alpha1.CronWorkflow)
			cw, ok2 := newObj.(*v1alpha1.CronWorkflow)
			if ok1 && ok2 && old.ResourceVersion != cw.ResourceVersion && old.Generation == cw.Generation {
				return
			}
			enqueue(newObj)
		},
		DeleteFunc: enqueue,
	}); err != nil {
		return fmt.Errorf("watch cronworkflows: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		informer.RunWithContext(ctx)
	}()
	go func() {
		<-ctx.Done()
		queue.ShutDown()
	}()
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		// Only the end of ctx stops the wait.
		<-done
		return nil
	}
	logger.InfoContext(ctx, "watching CronWorkflows for their schedules", "namespace", namespace)
	for {
		k, shutdown := queue.Get()
		if shutdown {
			<-done
			return nil
		}
		err := reconcileSchedule(ctx, informer.GetIndexer(), s, k)
		switch {
		case err == nil:
			queue.Forget(k)
		case ctx.Err() != nil:
		default:
			logger.WarnContext(ctx, "keeping a CronWorkflow's schedules in step failed; trying again", "cronWorkflow", k.String(), "retries", queue.NumRequeues(k), "error", err)
			queue.AddRateLimited(k)
		}
		queue.Done(k)
	}
}

// reconcileSchedule applies the CronWorkflow k as the watch last saw it,
// or deletes its schedules if the watch saw it go.
func reconcileSchedule(ctx context.Context, store cache.Indexer, s Schedules, k key) error {
	obj, exists, err := store.GetByKey(k.String())
	if err != nil {
		return fmt.Errorf("cron %s: read the watch's copy: %w", k, err)
	}
	if !exists {
		if err := s.Delete(ctx, k.namespace, k.name); err != nil {
			return fmt.Errorf("cron %s: delete its schedules: %w", k, err)
		}
		return nil
	}
	cw, ok := obj.(*v1alpha1.CronWorkflow)
	if !ok {
		return fmt.Errorf("cron %s: the watch holds a %T", k, obj)
	}
	if err := s.Apply(ctx, cw.DeepCopy()); err != nil {
		if apierrors.IsNotFound(err) {
			// Deleted meanwhile: the watch's delete comes next.
			return nil
		}
		return fmt.Errorf("cron %s: apply its schedules: %w", k, err)
	}
	return nil
}
