package broker

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// publishTimeout bounds the wait for the store to acknowledge an event.
const publishTimeout = 10 * time.Second

// store is the durable log under the broker: an embedded NATS server with
// JetStream on disk. Each broker is a stream; each trigger is a durable
// consumer of its broker's stream.
//
// A publish returns once JetStream has written the event to its file store.
// JetStream flushes to the OS at once and fsyncs periodically, so an accepted
// event survives the process being killed (kill -9); with SyncAlways it also
// survives the machine losing power, at a cost in throughput.
type store struct {
	ns *server.Server
	nc *nats.Conn
	js jetstream.JetStream
}

type storeOptions struct {
	dir string
	// maxPayload is the largest message, headers and body together.
	maxPayload int32
	// syncAlways fsyncs every write.
	syncAlways bool
}

func openStore(ctx context.Context, o storeOptions) (*store, error) {
	ns, err := server.NewServer(&server.Options{
		ServerName: "zeroflow-broker",
		JetStream:  true,
		StoreDir:   o.dir,
		SyncAlways: o.syncAlways,
		MaxPayload: o.maxPayload,
		// Clients connect in-process; nothing listens on the network.
		DontListen: true,
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("start embedded nats in %s: not ready within 30s", o.dir)
	}
	// No reconnect buffer: while the store is unreachable a publish must
	// fail at once (503), not wait in a buffer with the producer's request.
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.Name("zeroflow-broker"), nats.MaxReconnects(-1), nats.ReconnectBufSize(-1))
	if err != nil {
		ns.Shutdown()
		return nil, fmt.Errorf("connect to embedded nats: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		ns.Shutdown()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &store{ns: ns, nc: nc, js: js}, nil
}

func (s *store) close() {
	if s.nc != nil {
		// Drain lets in-flight acks and publishes finish.
		_ = s.nc.Drain()
		s.nc.Close()
	}
	if s.ns != nil {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	}
}

// streamName is the JetStream stream of a broker. Names may not hold dots,
// and Kubernetes names may, so dots are escaped.
func streamName(namespace, broker string) string {
	return "broker_" + escapeToken(namespace) + "_" + escapeToken(broker)
}

// subject is where a broker's events are published.
func subject(namespace, broker string) string {
	return "broker." + escapeToken(namespace) + "." + escapeToken(broker)
}

// consumerName is the durable consumer of a trigger.
func consumerName(namespace, trigger string) string {
	return "trigger_" + escapeToken(namespace) + "_" + escapeToken(trigger)
}

func escapeToken(s string) string { return strings.ReplaceAll(s, ".", "_dot_") }

// ensureStream creates a broker's stream, or keeps the one that exists.
// Retention is by interest: an event is kept until every trigger's consumer
// has acknowledged it, and at most maxAge.
func (s *store) ensureStream(ctx context.Context, namespace, broker string, maxAge time.Duration) (jetstream.Stream, error) {
	cfg := jetstream.StreamConfig{
		Name:      streamName(namespace, broker),
		Subjects:  []string{subject(namespace, broker)},
		Storage:   jetstream.FileStorage,
		Retention: jetstream.InterestPolicy,
		MaxAge:    maxAge,
		Discard:   jetstream.DiscardOld,
	}
	st, err := s.js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("stream for broker %s/%s: %w", namespace, broker, err)
	}
	return st, nil
}

// publish writes one event, with the HTTP headers that travel with it, and
// returns once it is stored.
func (s *store) publish(ctx context.Context, subj string, data []byte, header nats.Header) error {
	if !s.nc.IsConnected() {
		return fmt.Errorf("store event: the store is not connected (%s)", s.nc.Status())
	}
	// The store acks in well under a millisecond; a store that does not
	// answer within this is down, and the producer hears so.
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	future, err := s.js.PublishMsgAsync(&nats.Msg{Subject: subj, Data: data, Header: header})
	if err != nil {
		return fmt.Errorf("store event: %w", err)
	}
	select {
	case <-future.Ok():
		return nil
	case err := <-future.Err():
		return fmt.Errorf("store event: %w", err)
	case <-ctx.Done():
		return fmt.Errorf("store event: %w", ctx.Err())
	}
}
