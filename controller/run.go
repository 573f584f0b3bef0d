package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
)

// Run does the controller's background work until ctx ends. In every
// instance it fires the wake-ups that this instance's advances asked for
// (retry backoffs, timeouts, suspend durations). In one instance, the
// leader (Config.LeaderElection; without it, this one), it also watches
// Workflows (so that one created with kubectl or by GitOps starts), with
// Config.Schedules CronWorkflows (so that their schedules follow the API)
// and with Config.Sources EventSources and Sensors (so that what runs for
// them does), and every ResyncPeriod looks at each unfinished workflow,
// failing the attempts that went silent and firing what is due. Any
// number of instances may Handle.
func (c *Controller) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		<-ctx.Done()
		c.queue.ShutDown()
		return nil
	})
	// The workers take what the leader's watch and resync queue and the
	// wake-ups of this instance's own advances: advancing a workflow is
	// safe in any instance (a conflict is a re-read), as handling an
	// event is.
	for range c.cfg.Workers {
		g.Go(func() error {
			for c.processNext(ctx) {
			}
			return nil
		})
	}
	g.Go(func() error {
		if c.cfg.LeaderElection == nil {
			c.leader.set(true)
			defer c.leader.set(false)
			return c.lead(ctx)
		}
		le, err := c.cfg.LeaderElection.withDefaults()
		if err != nil {
			return err
		}
		return c.elect(ctx, le)
	})
	return g.Wait()
}

// lead runs the singular work (the watches and the resync) until ctx ends:
// in one instance at a time.
func (c *Controller) lead(ctx context.Context) error {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return c.cfg.Client.ListWorkflows(ctx, c.cfg.Namespace, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return c.cfg.Client.WatchWorkflows(ctx, c.cfg.Namespace, opts)
		},
	}
	informer := cache.NewSharedIndexInformer(lw, &v1alpha1.Workflow{}, 0, cache.Indexers{})
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			wf, ok := obj.(*v1alpha1.Workflow)
			if !ok || startedBySubmit(wf) {
				return
			}
			if !wf.Status.Phase.Completed() || hasRequest(wf) {
				c.queue.Add(key{wf.Namespace, wf.Name})
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, ok1 := oldObj.(*v1alpha1.Workflow)
			wf, ok2 := newObj.(*v1alpha1.Workflow)
			if !ok1 || !ok2 || (wf.Status.Phase.Completed() && !hasRequest(wf)) {
				return
			}
			// A status write (most of them this instance's own) changes
			// nothing the engine has not seen; a spec change (suspend,
			// shutdown) or an unstarted run needs an advance.
			if wf.Generation != old.Generation || (wf.Status.Phase == v1alpha1.WorkflowUnknown && !startedBySubmit(wf)) || hasRequest(wf) {
				c.queue.Add(key{wf.Namespace, wf.Name})
			}
		},
		DeleteFunc: func(obj any) {
			if wf, ok := obj.(*v1alpha1.Workflow); ok {
				c.cache.drop(key{wf.Namespace, wf.Name})
			}
		},
	}); err != nil {
		return fmt.Errorf("watch workflows: %w", err)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		informer.RunWithContext(ctx)
		return nil
	})
	if c.cfg.Schedules != nil {
		g.Go(func() error {
			return WatchSchedules(ctx, c.cfg.Client, c.cfg.Namespace, c.cfg.Schedules, c.cfg.Logger)
		})
	}
	if c.cfg.Sources != nil {
		g.Go(func() error {
			return WatchSources(ctx, c.cfg.Client, c.cfg.Namespace, c.cfg.Sources, c.cfg.Logger)
		})
	}
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		return errors.Join(ctx.Err(), g.Wait())
	}
	g.Go(func() error {
		t := time.NewTicker(c.cfg.ResyncPeriod)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				for _, obj := range informer.GetStore().List() {
					if wf, ok := obj.(*v1alpha1.Workflow); ok && !wf.Status.Phase.Completed() {
						c.queue.Add(key{wf.Namespace, wf.Name})
					}
				}
			}
		}
	})
	c.cfg.Logger.InfoContext(ctx, "controller leading", "resync", c.cfg.ResyncPeriod, "heartbeat", c.cfg.HeartbeatInterval, "lostAfter", c.cfg.LostAfter, "workers", c.cfg.Workers)
	return g.Wait()
}

func (c *Controller) processNext(ctx context.Context) bool {
	k, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(k)
	err := c.reconcile(ctx, k)
	if isPermanent(err) {
		// Retrying would be refused the same way; failRun logged it.
		return true
	}
	if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		c.cfg.Logger.WarnContext(ctx, "advance failed; trying again", "workflow", k.String(), "error", err)
		c.queue.AddAfter(k, time.Second)
	}
	return true
}

// reconcile brings a workflow up to date: it starts it if it has not
// started, and otherwise applies the passing of time.
func (c *Controller) reconcile(ctx context.Context, k key) error {
	// Someone else changed the workflow (its spec, a request annotation),
	// or time passed: read it, not this instance's last write of it.
	c.cache.drop(k)
	return c.advance(ctx, k, engine.Input{Kind: engine.Tick}, nil)
}

// resync reconciles every unfinished workflow now.
func (c *Controller) resync(ctx context.Context) error {
	l, err := c.cfg.Client.ListWorkflows(ctx, c.cfg.Namespace, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("resync: list workflows: %w", err)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range l.Items {
		wf := &l.Items[i]
		if wf.Status.Phase.Completed() {
			continue
		}
		g.Go(func() error {
			if err := c.reconcile(ctx, key{wf.Namespace, wf.Name}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			return nil
		})
	}
	return g.Wait()
}

// hasRequest reports whether a resume or retry waits on wf.
func hasRequest(wf *v1alpha1.Workflow) bool {
	_, resume := wf.Annotations[AnnotationResume]
	_, retry := wf.Annotations[AnnotationRetry]
	return resume || retry
}

// startedBySubmit reports whether wf was just created by a submit event,
// whose handler starts it: the watch need not start it too. Should that
// handler fail, the broker redelivers the submit, and the resync looks at
// every unstarted workflow anyway.
func startedBySubmit(wf *v1alpha1.Workflow) bool {
	_, ok := wf.Annotations[AnnotationSubmitID]
	return ok && wf.Status.Phase == v1alpha1.WorkflowUnknown
}
