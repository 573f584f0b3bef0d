package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/zeroflow-dev/zeroflow/internal/identity"
)

// Sender posts CloudEvents to a sink (a broker address) in binary mode.
type Sender struct {
	sink   string
	client *http.Client
	// token, when set, is presented with every event (sender identity).
	token identity.TokenSource
	// offload keeps data above its threshold out of the events sent.
	offload EventOffload
	// namespace is the one offloaded data is stored for: the namespace
	// of the broker the events go to, which is where its receivers are
	// delivered from (see WithOffload).
	namespace string
}

// NewSender returns a sender to sink; "" means $K_SINK.
func NewSender(sink string) *Sender { return newSender(sink) }

func newSender(sink string) *Sender {
	if sink == "" {
		sink = envSink()
	}
	return &Sender{sink: sink, offload: eventOffloadFromEnvLazy(), namespace: sinkNamespace(sink), client: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second},
	}}
}

// WithOffload sets where the sender offloads data above the threshold
// (default: what the environment configures, see EventOffloadFromEnv)
// and the namespace it stores it for. "" keeps the namespace of the
// sink's address (/NAMESPACE/BROKER, the form of Knative's broker
// ingresses and the embedded broker's): the receivers of the events are
// delivered from that broker's namespace and read the data as its.
func (s *Sender) WithOffload(o EventOffload, namespace string) *Sender {
	s.offload = o
	if namespace != "" {
		s.namespace = namespace
	}
	return s
}

// WithToken makes the sender present the token of ts with every event, as
// Knative's senders do when authentication-oidc is on; nil presents none.
func (s *Sender) WithToken(ts identity.TokenSource) *Sender {
	s.token = ts
	return s
}

// ErrNoSink is returned by Send when no sink is configured.
var ErrNoSink = errors.New("no sink: set K_SINK to the broker's address")

// SendError is a sink that did not accept an event.
type SendError struct {
	Code int
	Body string
}

func (e *SendError) Error() string { return fmt.Sprintf("the sink answered %d: %s", e.Code, e.Body) }

// Sink is where Send posts.
func (s *Sender) Sink() string { return s.sink }

// Send posts ev and returns once the sink accepted it (2xx).
func (s *Sender) Send(ctx context.Context, ev event.Event) error {
	if s.sink == "" {
		return ErrNoSink
	}
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("send event %s: %w", ev.ID(), err)
	}
	// ev is the caller's: offload into a copy.
	ev = ev.Clone()
	if _, err := offloadEvent(ctx, s.offload, s.namespace, &ev, nil); err != nil {
		return fmt.Errorf("send event %s: %w", ev.ID(), err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.sink, nil)
	if err != nil {
		return fmt.Errorf("send event %s: %w", ev.ID(), err)
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&ev), req); err != nil {
		return fmt.Errorf("send event %s: %w", ev.ID(), err)
	}
	if s.token != nil {
		tok, err := s.token(ctx)
		if err != nil {
			return fmt.Errorf("send event %s: %w", ev.ID(), err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("send event %s to %s: %w", ev.ID(), s.sink, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("send event %s to %s: %w", ev.ID(), s.sink, &SendError{Code: resp.StatusCode, Body: string(body)})
	}
	return nil
}
