package controller

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// Sources keeps what runs for EventSources and Sensors in step with the
// API: what the API holds is what runs. On a cluster it applies the
// objects render.EventSource and render.Sensor build (ClusterSources);
// another runtime may run them its own way.
type Sources interface {
	// ApplyEventSource makes es run as its spec says; applying the same
	// EventSource again changes nothing.
	ApplyEventSource(ctx context.Context, es *v1alpha1.EventSource) error
	// DeleteEventSource stops an EventSource that is gone.
	DeleteEventSource(ctx context.Context, namespace, name string) error
	// ApplySensor makes s run as its spec says.
	ApplySensor(ctx context.Context, s *v1alpha1.Sensor) error
	// DeleteSensor stops a Sensor that is gone.
	DeleteSensor(ctx context.Context, namespace, name string) error
}

// ListEventSources lists the EventSources of a namespace ("" for all).
func (c *Client) ListEventSources(ctx context.Context, namespace string, opts metav1.ListOptions) (*v1alpha1.EventSourceList, error) {
	l := &v1alpha1.EventSourceList{}
	err := c.rest.Get().Namespace(namespace).Resource("eventsources").VersionedParams(&opts, metav1.ParameterCodec).Do(ctx).Into(l)
	return l, err
}

// WatchEventSources watches the EventSources of a namespace ("" for all).
func (c *Client) WatchEventSources(ctx context.Context, namespace string, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return c.rest.Get().Namespace(namespace).Resource("eventsources").VersionedParams(&opts, metav1.ParameterCodec).Watch(ctx)
}

// ListSensors lists the Sensors of a namespace ("" for all).
func (c *Client) ListSensors(ctx context.Context, namespace string, opts metav1.ListOptions) (*v1alpha1.SensorList, error) {
	l := &v1alpha1.SensorList{}
	err := c.rest.Get().Namespace(namespace).Resource("sensors").VersionedParams(&opts, metav1.ParameterCodec).Do(ctx).Into(l)
	return l, err
}

// WatchSensors watches the Sensors of a namespace ("" for all).
func (c *Client) WatchSensors(ctx context.Context, namespace string, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return c.rest.Get().Namespace(namespace).Resource("sensors").VersionedParams(&opts, metav1.ParameterCodec).Watch(ctx)
}

// patchStatus applies a JSON merge patch to the status subresource of a
// zeroflow object. A merge patch, not an update: a Sensor's status also
// holds its triggers' condition state, which the sensor function writes,
// and the controller must not put back a copy older than that.
func (c *Client) patchStatus(ctx context.Context, resource, namespace, name string, patch []byte) error {
	return c.rest.Patch(types.MergePatchType).Namespace(namespace).Resource(resource).Name(name).SubResource("status").Body(patch).Do(ctx).Error()
}

// sourceResync is how often every CronWorkflow, EventSource and Sensor is
// applied again, even unchanged: it puts back an object someone deleted or
// changed, and retries one whose earlier failures ran out.
const sourceResync = 10 * time.Minute

// WatchSources reconciles the EventSources and Sensors of namespace (""
// for all) with s until ctx ends, as WatchSchedules does CronWorkflows:
// each one added or changed is applied, each one deleted is deleted, every
// one is applied again at start and every sourceResync, and a failure is
// retried with backoff. Controller.Run runs it when Config.Sources is set.
// Only one instance should run it.
func WatchSources(ctx context.Context, client *Client, namespace string, s Sources, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return watchOwners(ctx, ownerWatch[*v1alpha1.EventSource]{
			kind: "EventSource", resource: "eventsources", namespace: namespace, example: &v1alpha1.EventSource{},
			list: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
				return client.ListEventSources(ctx, namespace, opts)
			},
			watch: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				return client.WatchEventSources(ctx, namespace, opts)
			},
			apply: func(ctx context.Context, es *v1alpha1.EventSource) error {
				return s.ApplyEventSource(ctx, es.DeepCopy())
			},
			del: s.DeleteEventSource,
		}, logger)
	})
	g.Go(func() error {
		return watchOwners(ctx, ownerWatch[*v1alpha1.Sensor]{
			kind: "Sensor", resource: "sensors", namespace: namespace, example: &v1alpha1.Sensor{},
			list: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
				return client.ListSensors(ctx, namespace, opts)
			},
			watch: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				return client.WatchSensors(ctx, namespace, opts)
			},
			apply: func(ctx context.Context, sn *v1alpha1.Sensor) error { return s.ApplySensor(ctx, sn.DeepCopy()) },
			del:   s.DeleteSensor,
		}, logger)
	})
	return g.Wait()
}

// ownerWatch is the watch of one kind whose objects own what runs for them.
type ownerWatch[T interface {
	runtime.Object
	metav1.Object
}] struct {
	kind, resource, namespace string
	example                   T
	list                      func(context.Context, metav1.ListOptions) (runtime.Object, error)
	watch                     func(context.Context, metav1.ListOptions) (watch.Interface, error)
	apply                     func(context.Context, T) error
	del                       func(ctx context.Context, namespace, name string) error
}

// watchOwners runs w until ctx ends.
func watchOwners[T interface {
	runtime.Object
	metav1.Object
}](ctx context.Context, w ownerWatch[T], logger *slog.Logger) error {
	lw := &cache.ListWatch{ListWithContextFunc: w.list, WatchFuncWithContext: w.watch}
	informer := cache.NewSharedIndexInformer(lw, w.example, sourceResync, cache.Indexers{})
	queue := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[key](), workqueue.TypedRateLimitingQueueConfig[key]{Name: w.resource})
	enqueue := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if o, ok := obj.(T); ok {
			queue.Add(key{o.GetNamespace(), o.GetName()})
		}
	}
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue,
		UpdateFunc: func(oldObj, newObj any) {
			// A status write (the controller's Ready, a sensor's
			// condition state) changes nothing that runs; a spec change
			// bumps the generation, and the labels go into the spec
			// ConfigMap the functions read. The periodic resync (same
			// resourceVersion) applies every one again.
			old, ok1 := oldObj.(T)
			o, ok2 := newObj.(T)
			if ok1 && ok2 && old.GetResourceVersion() != o.GetResourceVersion() &&
				old.GetGeneration() == o.GetGeneration() && maps.Equal(old.GetLabels(), o.GetLabels()) {
				return
			}
			enqueue(newObj)
		},
		DeleteFunc: enqueue,
	}); err != nil {
		return fmt.Errorf("watch %s: %w", w.resource, err)
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
		<-done
		return nil
	}
	logger.InfoContext(ctx, "watching "+w.resource+" for what runs for them", "namespace", w.namespace)
	for {
		k, shutdown := queue.Get()
		if shutdown {
			<-done
			return nil
		}
		err := reconcileOwner(ctx, informer.GetIndexer(), w, k)
		switch {
		case err == nil:
			queue.Forget(k)
		case ctx.Err() != nil:
		default:
			logger.WarnContext(ctx, "keeping what runs for an "+w.kind+" in step failed; trying again", "kind", w.kind, "name", k.String(), "retries", queue.NumRequeues(k), "error", err)
			queue.AddRateLimited(k)
		}
		queue.Done(k)
	}
}

// reconcileOwner applies the object k as the watch last saw it, or
// deletes what ran for it if the watch saw it go.
func reconcileOwner[T interface {
	runtime.Object
	metav1.Object
}](ctx context.Context, store cache.Indexer, w ownerWatch[T], k key) error {
	obj, exists, err := store.GetByKey(k.String())
	if err != nil {
		return fmt.Errorf("%s %s: read the watch's copy: %w", w.kind, k, err)
	}
	if !exists {
		if err := w.del(ctx, k.namespace, k.name); err != nil {
			return fmt.Errorf("%s %s: delete what runs for it: %w", w.kind, k, err)
		}
		return nil
	}
	o, ok := obj.(T)
	if !ok {
		return fmt.Errorf("%s %s: the watch holds a %T", w.kind, k, obj)
	}
	// Not even a not-found error is taken as "deleted meanwhile": one
	// kind of object the API does not serve would look the same. If the
	// owner went, the retry finds the watch's copy gone and deletes.
	if err := w.apply(ctx, o); err != nil {
		return fmt.Errorf("%s %s: apply what runs for it: %w", w.kind, k, err)
	}
	return nil
}
