package broker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"knative.dev/eventing/pkg/kncloudevents"
)

// ackWait is how long an event handed to a worker stays claimed without a
// heartbeat; ackHeartbeat is how often a delivery in progress renews it.
const (
	ackWait      = 10 * time.Second
	ackHeartbeat = 3 * time.Second
)

// fetchWait bounds one pull request of a trigger. A pull that is not full
// never holds an event back (the store hands each event to it as it comes,
// while it has room, and a full one ends at once), so this only sets how
// often an idle trigger asks again.
const fetchWait = 5 * time.Second

// fetchErrorPause spaces the pulls of a trigger whose pulls fail (the store
// is down), so that a broken store is not asked in a busy loop.
const fetchErrorPause = 250 * time.Millisecond

// triggerWorker delivers a trigger's events: it pulls from the trigger's
// durable consumer as many events as it has free slots, and runs up to
// plan.concurrency deliveries at once. A slow subscriber holds up only its
// own trigger.
//
// The slots, not the consumer's MaxAckPending, bound the deliveries in
// flight. JetStream counts an event waiting for a scheduled retry
// (NakWithDelay) as pending, so with MaxAckPending at the concurrency, a
// burst in which some events fail filled every slot with events waiting
// out their backoff, and nothing else was delivered for seconds (issue 13:
// 14 s with the 0.5 s exponential backoff zeroflow renders). The consumer
// now has room for Options.MaxRetrying events waiting beside the ones in
// flight.
type triggerWorker struct {
	b    *Broker
	plan *triggerPlan
	// retry is the trigger's delivery policy; attempt is one try of it.
	retry   kncloudevents.RetryConfig
	attempt kncloudevents.RetryConfig

	consumer jetstream.Consumer
	slots    chan struct{}
	inflight sync.WaitGroup
	// cancel ends the pull loop; pulled is closed once it has ended.
	cancel context.CancelFunc
	pulled chan struct{}
	// failures remembers the last failure of events waiting to reach the
	// dead-letter sink, by stream sequence, for the knativeerror* extensions.
	failures sync.Map
}

func (b *Broker) startTrigger(ctx context.Context, p *triggerPlan) (*triggerWorker, error) {
	retry, err := kncloudevents.RetryConfigFromDeliverySpec(p.delivery)
	if err != nil {
		p.filter.Cleanup()
		return nil, fmt.Errorf("trigger %s: delivery: %w", p.key, err)
	}
	if retry.RequestTimeout <= 0 {
		retry.RequestTimeout = b.opts.AttemptTimeout
	}
	if retry.Backoff == nil {
		retry.Backoff = func(int, *http.Response) time.Duration { return 0 }
	}
	w := &triggerWorker{
		b:     b,
		plan:  p,
		retry: retry,
		attempt: kncloudevents.RetryConfig{
			RetryMax:       0,
			CheckRetry:     kncloudevents.SelectiveRetry,
			Backoff:        retry.Backoff,
			RequestTimeout: retry.RequestTimeout,
		},
		slots:  make(chan struct{}, p.concurrency),
		pulled: make(chan struct{}),
	}
	namespace, name := p.trigger.Namespace, p.trigger.Name
	brokerNamespace, brokerName := p.trigger.Namespace, p.broker.key[len(p.trigger.Namespace)+1:]
	stream, err := b.store.js.Stream(ctx, streamName(brokerNamespace, brokerName))
	if err != nil {
		p.filter.Cleanup()
		return nil, fmt.Errorf("trigger %s: stream of broker %s: %w", p.key, p.broker.key, err)
	}
	w.consumer, err = stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       consumerName(namespace, name),
		Description:   "trigger " + p.key,
		FilterSubject: p.broker.subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		// Short, so that events in flight when the process died are
		// delivered again soon after a restart; a delivery that takes
		// longer keeps its claim alive with heartbeats (see deliver).
		AckWait:    ackWait,
		MaxDeliver: -1,
		// In flight and waiting for a retry together (see triggerWorker).
		MaxAckPending: p.concurrency + b.opts.MaxRetrying,
		DeliverPolicy: jetstream.DeliverNewPolicy,
	})
	if err != nil {
		p.filter.Cleanup()
		return nil, fmt.Errorf("trigger %s: consumer: %w", p.key, err)
	}
	// The pull loop outlives Apply's context; stop ends it.
	pullCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.cancel = cancel
	go w.pull(pullCtx)
	b.logger.Info("trigger started", "trigger", p.key, "broker", p.broker.key, "subscriber", p.subscriber.String(), "concurrency", p.concurrency)
	return w, nil
}

// pull takes a free slot (waiting for one), then every other free one, and
// asks the store for that many events, until ctx ends. Pulling only for
// free slots means no event is claimed while it waits for a worker, so a
// claim never runs out before its delivery starts.
func (w *triggerWorker) pull(ctx context.Context) {
	defer close(w.pulled)
	for {
		select {
		case w.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
	free:
		for n < cap(w.slots) {
			select {
			case w.slots <- struct{}{}:
				n++
			default:
				break free
			}
		}
		got, err := w.fetch(ctx, n)
		for range n - got {
			<-w.slots
		}
		if err != nil {
			w.b.logger.Warn("pull events", "trigger", w.plan.key, "error", err)
			select {
			case <-time.After(fetchErrorPause):
			case <-ctx.Done():
				return
			}
		}
	}
}

// fetch asks for up to n events and starts a delivery for each, in one of
// the n slots the caller took; it returns how many slots it used.
func (w *triggerWorker) fetch(ctx context.Context, n int) (int, error) {
	fctx, cancel := context.WithTimeout(ctx, fetchWait)
	defer cancel()
	batch, err := w.consumer.Fetch(n, jetstream.FetchContext(fctx))
	if err != nil {
		return 0, err
	}
	got := 0
	for msg := range batch.Messages() {
		if ctx.Err() != nil {
			// Stopping: the claim runs out and the next worker of this
			// trigger delivers it.
			continue
		}
		got++
		w.inflight.Add(1)
		go func() {
			defer func() {
				<-w.slots
				w.inflight.Done()
			}()
			defer keepClaimed(msg)()
			w.deliver(context.Background(), msg)
		}()
	}
	err = batch.Error()
	if err != nil && (ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded)) {
		// Stopping, or an idle pull that ran its time.
		err = nil
	}
	return got, err
}

// stop stops pulling and waits for the deliveries in flight. Events not
// acknowledged are delivered again by the next worker of this trigger.
func (w *triggerWorker) stop() {
	w.cancel()
	<-w.pulled
	w.inflight.Wait()
	w.plan.filter.Cleanup()
}

func (w *triggerWorker) deleteConsumer(ctx context.Context) error {
	info := w.consumer.CachedInfo()
	stream, err := w.b.store.js.Stream(ctx, info.Stream)
	if err != nil {
		return err
	}
	return stream.DeleteConsumer(ctx, info.Name)
}

// keepClaimed renews msg's claim every ackHeartbeat until the returned
// function is called, so that a slow attempt is not delivered twice.
func keepClaimed(msg jetstream.Msg) (release func()) {
	done := make(chan struct{})
	t := time.AfterFunc(ackHeartbeat, func() {
		tick := time.NewTicker(ackHeartbeat)
		defer tick.Stop()
		for {
			_ = msg.InProgress()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() {
		t.Stop()
		close(done)
	}
}
