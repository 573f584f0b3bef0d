// Package broker is zeroflow's embedded broker: the data plane of a Knative
// Broker, with every accepted event stored in an embedded NATS JetStream
// before it is acknowledged. Routing is configured with Knative's own Broker
// and Trigger objects and filtered with Knative's own filter packages, so
// that functions and Triggers behave the same here and on a cluster.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/zeroflow-dev/zeroflow/internal/httpbound"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/kncloudevents"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// Options configures a broker.
type Options struct {
	// DataDir holds the event store.
	DataDir string
	// Addr is the ingress listen address; "127.0.0.1:0" chooses a free port.
	Addr string
	// MaxEventBytes bounds an event's HTTP body; larger ones get 413.
	// Default 1 MiB; anything below 64 KiB is raised to 64 KiB.
	MaxEventBytes int64
	// SyncAlways fsyncs every stored event (survives power loss, slower).
	SyncAlways bool
	// MaxAge bounds how long an event waits for a trigger that cannot take
	// it. Default 7 days.
	MaxAge time.Duration
	// Concurrency is the default number of deliveries in flight per
	// trigger. Default 100; a Trigger's annotation
	// zeroflow.dev/concurrency overrides it.
	Concurrency int
	// MaxRetrying is how many of a trigger's events may wait for a
	// scheduled retry beside those in flight before new events wait too.
	// Default 10,000.
	MaxRetrying int
	// AttemptTimeout bounds one delivery attempt when the Trigger's
	// delivery.timeout is unset. Default 60s.
	AttemptTimeout time.Duration
	// Resolve turns a Destination with a ref into a URL. Nil accepts only
	// destinations with an absolute uri.
	Resolve func(ctx context.Context, namespace string, d duckv1.Destination) (*apis.URL, error)
	// Identity, when set, turns on sender identity and EventPolicies
	// (Knative's authentication-oidc); nil takes any event, as Knative
	// does with the feature off.
	Identity *Identity
	Logger   *slog.Logger
	// Registerer receives the broker's metrics. Nil uses a private registry.
	Registerer prometheus.Registerer
}

const (
	defaultMaxEventBytes = 1 << 20
	minMaxEventBytes     = 64 << 10
	// maxHeaderBytes bounds a request's headers (the binary-mode attributes).
	maxHeaderBytes = 64 << 10
)

func (o *Options) setDefaults() {
	if o.MaxEventBytes == 0 {
		o.MaxEventBytes = defaultMaxEventBytes
	}
	if o.MaxEventBytes < minMaxEventBytes {
		o.MaxEventBytes = minMaxEventBytes
	}
	if o.MaxAge == 0 {
		o.MaxAge = 7 * 24 * time.Hour
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 100
	}
	if o.MaxRetrying <= 0 {
		o.MaxRetrying = 10_000
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 60 * time.Second
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
}

// Broker is a running embedded broker.
type Broker struct {
	opts       Options
	logger     *slog.Logger
	store      *store
	metrics    *metrics
	dispatcher *kncloudevents.Dispatcher
	// deadLetters sends to dead-letter sinks (see sendDeadLetter).
	deadLetters *http.Client

	listener net.Listener
	server   *http.Server
	served   chan error

	// brokers is replaced whole by Apply, so that the ingress reads it
	// without locking.
	brokers atomic.Pointer[map[string]*brokerState]
	// policies are the EventPolicies applying to each broker, replaced
	// whole by Apply.
	policies atomic.Pointer[map[string]policies]

	mu       sync.Mutex
	triggers map[string]*triggerWorker

	// heal supervises the store and restarts JetStream when it broke
	// (heal.go).
	heal *healer
}

// brokerState is one declared broker.
type brokerState struct {
	key     string // namespace/name
	subject string
	spec    brokerSpec
	// audience is what a sender's token must be for (Knative's).
	audience string
}

// Start opens the store and serves the ingress.
func Start(ctx context.Context, opts Options) (_ *Broker, err error) {
	opts.setDefaults()
	if opts.DataDir == "" {
		return nil, errors.New("start broker: a data dir is required")
	}
	b := &Broker{opts: opts, logger: opts.Logger, triggers: map[string]*triggerWorker{}}
	b.brokers.Store(&map[string]*brokerState{})
	b.policies.Store(&map[string]policies{})
	if b.metrics, err = newMetrics(opts.Registerer); err != nil {
		return nil, fmt.Errorf("start broker: metrics: %w", err)
	}
	// A stored event is its data and its attributes as headers; the
	// ingress bounds both, so the store's message limit can hold any
	// event the ingress accepts.
	maxPayload := int32(min(opts.MaxEventBytes+2*maxHeaderBytes, 64<<20))
	if b.store, err = openStore(ctx, storeOptions{dir: opts.DataDir, syncAlways: opts.SyncAlways, maxPayload: maxPayload}); err != nil {
		return nil, fmt.Errorf("start broker: %w", err)
	}
	defer func() {
		if err != nil {
			b.store.close()
		}
	}()
	b.dispatcher = newDispatcher(opts.Concurrency)
	b.deadLetters = &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}}
	if b.listener, err = net.Listen("tcp", opts.Addr); err != nil {
		return nil, fmt.Errorf("start broker: listen on %s: %w", opts.Addr, err)
	}
	// zeroflow's server limits (internal/httpbound): a body that
	// trickles is cut off with 408, a large one at normal speed is not.
	lim := httpbound.Limits{MaxHeaderBytes: maxHeaderBytes, Logger: b.logger}
	b.server = httpbound.NewServer(ingress{b: b}, lim)
	b.served = make(chan error, 1)
	go func() { b.served <- b.server.Serve(httpbound.Listener(b.listener, lim)) }()
	b.heal = startHealer(b)
	b.logger.Info("broker started", "url", b.URL(), "dataDir", opts.DataDir)
	return b, nil
}

// URL is the ingress base URL; a broker's address is URL()/<ns>/<name>.
func (b *Broker) URL() string { return "http://" + b.listener.Addr().String() }

// Address is where events for broker namespace/name are posted.
func (b *Broker) Address(namespace, name string) string {
	return b.URL() + "/" + namespace + "/" + name
}

// Handler is the ingress handler, for embedding in another server.
func (b *Broker) Handler() http.Handler { return ingress{b: b} }

// Publish stores an event for a broker as the ingress does (arrival time,
// TTL), for in-process producers. It returns an error the ingress would
// answer with a non-202 status.
func (b *Broker) Publish(ctx context.Context, namespace, name string, ev event.Event) error {
	return b.PublishAs(ctx, "", namespace, name, ev)
}

// PublishAs is Publish for a producer with an identity: with sender
// identity on, the event is authorized as sent by subject, as the ingress
// authorizes a token's subject. Without one ("") it is refused then.
func (b *Broker) PublishAs(ctx context.Context, subject, namespace, name string, ev event.Event) error {
	br, ok := b.lookupBroker(namespace, name)
	if !ok {
		return fmt.Errorf("publish to broker %s/%s: no such broker", namespace, name)
	}
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("publish to broker %s/%s: invalid event: %w", namespace, name, err)
	}
	if b.opts.Identity != nil && subject == "" {
		return fmt.Errorf("publish to broker %s/%s: %w: sender identity is on, and an in-process producer must say who it is", namespace, name, errForbidden)
	}
	if err := b.authorize(ctx, br, subject, &ev); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if code, reason := b.accept(ctx, br, ev.Clone(), nil); code != http.StatusAccepted {
		return fmt.Errorf("publish to broker %s/%s: %d %s", namespace, name, code, reason)
	}
	return nil
}

// brokerURL is a broker's ingress address as a URL.
func (b *Broker) brokerURL(br *brokerState) *apis.URL {
	u, _ := apis.ParseURL(b.URL() + "/" + br.key)
	return u
}

func (b *Broker) lookupBroker(namespace, name string) (*brokerState, bool) {
	br, ok := (*b.brokers.Load())[namespace+"/"+name]
	return br, ok
}

// Close stops accepting events, lets deliveries in flight finish and
// closes the store.
func (b *Broker) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := b.server.Shutdown(ctx)
	// Before b.mu: the supervisor takes it to re-create consumers.
	b.heal.stop()
	b.mu.Lock()
	for key, w := range b.triggers {
		w.stop()
		delete(b.triggers, key)
	}
	b.mu.Unlock()
	b.store.close()
	if serr := <-b.served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// ActiveTrigger is a Trigger the broker delivers for, with the subscriber
// address it resolved.
type ActiveTrigger struct {
	Trigger    *eventingv1.Trigger
	Subscriber *apis.URL
}

// Triggers lists the Triggers being served, by namespace/name.
func (b *Broker) Triggers() map[string]ActiveTrigger {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]ActiveTrigger, len(b.triggers))
	for key, w := range b.triggers {
		out[key] = ActiveTrigger{Trigger: w.plan.trigger.DeepCopy(), Subscriber: w.plan.subscriber}
	}
	return out
}
