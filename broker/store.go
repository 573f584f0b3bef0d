package broker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// publishTimeout bounds the wait for the store to acknowledge an event,
// the re-check included (see publish).
const publishTimeout = 10 * time.Second

// recheckTimeout is the part of publishTimeout kept for the re-check.
const recheckTimeout = 2 * time.Second

// dedupeWindow is how long JetStream remembers an event's Nats-Msg-Id
// (its CloudEvents source and id): the same event stored again within it is
// acknowledged and not stored twice. JetStream rebuilds the window from the
// stored events on a restart.
const dedupeWindow = 2 * time.Minute

// maxStore is JetStream's own limit on the bytes it stores. By default
// JetStream takes 75% of the disk space free when it starts, so a broker
// that (re)started on a nearly full disk would refuse events for ever after
// space returned; the file system's real limit is the one that counts, and
// the supervisor (heal.go) notices when it is reached.
const maxStore = 1 << 40

// Headers the broker adds to a stored event. They are not pass-through
// headers, so a subscriber never sees them.
const (
	// msgIDHeader makes JetStream store an event once within dedupeWindow.
	msgIDHeader = "Nats-Msg-Id"
	// deadlineHeader is when the ingress stops waiting for the store (unix
	// nanoseconds): an event stored after it was answered 503, so it must
	// not be delivered (see lateCopy).
	deadlineHeader = "Zeroflow-Publish-Deadline"
)

// store is the durable log under the broker: an embedded NATS server with
// JetStream on disk. Each broker is a stream; each trigger is a durable
// consumer of its broker's stream.
//
// A publish returns once JetStream has written the event to its file store.
// JetStream flushes to the OS at once and fsyncs periodically, so an accepted
// event survives the process being killed (kill -9); with SyncAlways it also
// survives the machine losing power, at a cost in throughput.
type store struct {
	opts storeOptions
	ns   *server.Server
	nc   *nats.Conn
	js   jetstream.JetStream
	// seen is the stream of the ids of accepted events (see seenStream).
	seen jetstream.Stream
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
		// See maxStore.
		JetStreamMaxStore: maxStore,
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
	st := &store{opts: o, ns: ns, nc: nc, js: js}
	if st.seen, err = st.ensureSeenStream(ctx); err != nil {
		nc.Close()
		ns.Shutdown()
		return nil, err
	}
	return st, nil
}

// seenStream holds, for dedupeWindow, one empty message per accepted event,
// on a subject made of its broker and its Nats-Msg-Id. JetStream's own
// duplicate detection forgets an id across a restart once its event was
// delivered (a broker's stream keeps an event only until every trigger has
// it, and the window is rebuilt from what is stored), so a sender's retry
// after a restart made a second event; this stream keeps the ids whatever
// became of the events.
const seenStream = "zeroflow_seen"

func (s *store) ensureSeenStream(ctx context.Context) (jetstream.Stream, error) {
	st, err := s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              seenStream,
		Description:       "ids of accepted events, for duplicate detection across restarts",
		Subjects:          []string{"zeroflow.seen.>"},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		MaxAge:            dedupeWindow,
		MaxMsgsPerSubject: 1,
		Discard:           jetstream.DiscardOld,
		AllowDirect:       true,
	})
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", seenStream, err)
	}
	return st, nil
}

// seenSubject is where the id of an event published on subj is kept.
// subj is broker.<ns>.<name>, whose tokens hold no dots.
func seenSubject(subj, msgID string) string {
	return "zeroflow.seen." + strings.TrimPrefix(subj, "broker.") + "." + msgID
}

func (s *store) close() {
	if s.js != nil {
		// The seen records are published without waiting (see publish);
		// let them reach the store before it stops.
		select {
		case <-s.js.PublishAsyncComplete():
		case <-time.After(5 * time.Second):
		}
	}
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
		// See msgIDHeader.
		Duplicates: min(dedupeWindow, maxAge),
	}
	st, err := s.js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("stream for broker %s/%s: %w", namespace, broker, err)
	}
	return st, nil
}

// eventMsgID is the Nats-Msg-Id of an event: a digest of its CloudEvents
// source and id, which together identify an event (a producer's retry
// reuses them), in a form that is always a valid header value.
func eventMsgID(source, id string) string {
	sum := sha256.Sum256([]byte(source + "\x00" + id))
	return hex.EncodeToString(sum[:16])
}

// publish writes one event, with the HTTP headers that travel with it, and
// returns once it is stored (or found stored already, within dedupeWindow).
// header must hold msgIDHeader.
//
// An error means that no copy of this publish will ever be delivered: a
// copy the store writes after the deadline (the ack was lost, or the store
// was too slow) is marked late by its deadlineHeader and dropped by every
// trigger (lateCopy). Before giving up, publish asks the store once more
// with the same Nats-Msg-Id: the store handles a stream's publishes in
// order, so an answer to the second says what became of the first (stored:
// a duplicate; not stored: stored now).
func (s *store) publish(ctx context.Context, subj string, data []byte, header nats.Header) error {
	if !s.nc.IsConnected() {
		return fmt.Errorf("store event: the store is not connected (%s)", s.nc.Status())
	}
	// The producer hanging up does not stop a publish half way: the
	// outcome is decided by the deadline alone.
	ctx = context.WithoutCancel(ctx)
	deadline := time.Now().Add(publishTimeout)
	seen := seenSubject(subj, header.Get(msgIDHeader))
	lctx, cancel := context.WithDeadline(ctx, deadline.Add(-recheckTimeout))
	_, err := s.seen.GetLastMsgForSubject(lctx, seen)
	cancel()
	switch {
	case err == nil:
		// Accepted before, within dedupeWindow: stored once is enough.
		return nil
	case !errors.Is(err, jetstream.ErrMsgNotFound):
		return fmt.Errorf("store event: look up its id in %s: %w", seenStream, err)
	}
	header.Set(deadlineHeader, strconv.FormatInt(deadline.UnixNano(), 10))
	msg := &nats.Msg{Subject: subj, Data: data, Header: header}
	err = s.publishOnce(ctx, msg, deadline.Add(-recheckTimeout))
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		// The store did not answer: the event may be stored or queued.
		if rerr := s.publishOnce(ctx, msg, deadline); rerr == nil {
			err = nil
		}
	}
	if err != nil {
		return err
	}
	// Not waited for: the event is stored, and a lost record (the
	// process killed within a moment of the ack) costs only the
	// duplicate detection of a retry after a restart.
	_, _ = s.js.PublishMsgAsync(&nats.Msg{Subject: seen})
	return nil
}

// publishOnce sends msg and waits for the store's ack until deadline.
func (s *store) publishOnce(ctx context.Context, msg *nats.Msg, deadline time.Time) error {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	future, err := s.js.PublishMsgAsync(msg)
	if err != nil {
		return fmt.Errorf("store event: %w", err)
	}
	select {
	case ack := <-future.Ok():
		if ack.Duplicate {
			return s.checkDuplicate(ctx, msg, ack)
		}
		return nil
	case err := <-future.Err():
		return fmt.Errorf("store event: %w", err)
	case <-ctx.Done():
		return fmt.Errorf("store event: no answer from the store within %s: %w", publishTimeout, ctx.Err())
	}
}

// checkDuplicate decides about an event the store says it holds already.
// If the copy it holds is a late one (stored after its publish had been
// answered 503), that copy is never delivered, so this one is stored under
// a Nats-Msg-Id of its own. If the copy is gone, it was delivered (a late
// copy is kept, undelivered, for the whole dedupe window: see lateCopy).
func (s *store) checkDuplicate(ctx context.Context, msg *nats.Msg, ack *jetstream.PubAck) error {
	st, err := s.js.Stream(ctx, ack.Stream)
	if err != nil {
		return fmt.Errorf("store event: check the stored copy in %s: %w", ack.Stream, err)
	}
	held, err := st.GetMsg(ctx, ack.Sequence)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store event: check the stored copy %s#%d: %w", ack.Stream, ack.Sequence, err)
	}
	if !lateCopy(held.Header, held.Time) {
		return nil
	}
	again := &nats.Msg{Subject: msg.Subject, Data: msg.Data, Header: nats.Header(http.Header(msg.Header).Clone())}
	again.Header.Set(msgIDHeader, msg.Header.Get(msgIDHeader)+"-"+strconv.FormatUint(ack.Sequence, 10))
	future, err := s.js.PublishMsgAsync(again)
	if err != nil {
		return fmt.Errorf("store event: %w", err)
	}
	select {
	case <-future.Ok():
		return nil
	case err := <-future.Err():
		return fmt.Errorf("store event: %w", err)
	case <-ctx.Done():
		return fmt.Errorf("store event: no answer from the store: %w", ctx.Err())
	}
}

// lateCopy reports whether a stored event was written after its publish's
// deadline, when the producer had been (or was being) answered 503.
func lateCopy(h nats.Header, stored time.Time) bool {
	v := h.Get(deadlineHeader)
	if v == "" {
		return false
	}
	ns, err := strconv.ParseInt(v, 10, 64)
	return err == nil && stored.UnixNano() > ns
}
