package broker

import (
	"context"
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

// triggerWorker delivers a trigger's events: it pulls from the trigger's
// durable consumer and runs up to plan.concurrency deliveries at once. A
// slow subscriber holds up only its own trigger.
type triggerWorker struct {
	b    *Broker
	plan *triggerPlan
	// retry is the trigger's delivery policy; attempt is one try of it.
	retry   kncloudevents.RetryConfig
	attempt kncloudevents.RetryConfig

	consumer jetstream.Consumer
	consume  jetstream.ConsumeContext
	slots    chan struct{}
	inflight sync.WaitGroup
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
		slots: make(chan struct{}, p.concurrency),
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
		AckWait:       ackWait,
		MaxDeliver:    -1,
		MaxAckPending: p.concurrency,
		DeliverPolicy: jetstream.DeliverNewPolicy,
	})
	if err != nil {
		p.filter.Cleanup()
		return nil, fmt.Errorf("trigger %s: consumer: %w", p.key, err)
	}
	w.consume, err = w.consumer.Consume(w.receive, jetstream.PullMaxMessages(p.concurrency))
	if err != nil {
		p.filter.Cleanup()
		return nil, fmt.Errorf("trigger %s: consume: %w", p.key, err)
	}
	b.logger.Info("trigger started", "trigger", p.key, "broker", p.broker.key, "subscriber", p.subscriber.String(), "concurrency", p.concurrency)
	return w, nil
}

// receive is called for each message, one at a time; it blocks while all
// slots are busy, which holds back fetching for this trigger only.
func (w *triggerWorker) receive(msg jetstream.Msg) {
	w.slots <- struct{}{}
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

// stop stops fetching and waits for the deliveries in flight. Events not
// acknowledged are delivered again by the next worker of this trigger.
func (w *triggerWorker) stop() {
	w.consume.Stop()
	<-w.consume.Closed()
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
