package broker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// healInterval is how often the supervisor checks the store, and so about
// how long a broken store goes unnoticed (a failed publish checks at once)
// and how soon a store that works again is used again.
const healInterval = time.Second

// probeBytes is the room the store's file system must have for the store to
// count as working: a little more than the largest event with its headers,
// so that a store that is let write again does not fail at its next event.
const probeBytes = 2 << 20

// probeName is the file the supervisor writes and removes in the store dir.
const probeName = ".zeroflow-probe"

// healer supervises the store. JetStream, on a write error (a full disk),
// marks the stream broken and answers no publish on it until JetStream
// restarts, and on a lack of space it may turn itself off; either way the
// broker used to stay down until the process restarted (issue 13). The
// healer notices (a probe write into the store dir, and JetStream's own
// health check), makes the ingress answer 503 at once with the reason, and
// once the file system takes writes again restarts JetStream on the same
// dir in the same server: the streams and the triggers' durable consumers
// are read back from disk, so every event that was acknowledged is still
// delivered. The in-process client connection and the triggers' pull loops
// survive the restart, since they talk to the server, not to JetStream.
type healer struct {
	b *Broker

	mu sync.Mutex
	// err is why the store does not work, nil while it does.
	err error
	// restarts counts JetStream restarts, for tests and logs.
	restarts int
	// inject, when set (by a test), is a storage failure the probe
	// reports, for tests that cannot fill a real file system.
	inject error

	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

func startHealer(b *Broker) *healer {
	ctx, cancel := context.WithCancel(context.Background())
	h := &healer{b: b, kick: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go h.run(ctx)
	return h
}

func (h *healer) stop() {
	h.cancel()
	<-h.done
}

func (h *healer) run(ctx context.Context) {
	defer close(h.done)
	t := time.NewTicker(healInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-h.kick:
		}
		h.check(ctx)
	}
}

// publishFailed asks for a check now: a publish that failed is the first
// sign of a broken store.
func (h *healer) publishFailed(error) {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// current is why the store does not work, or nil.
func (h *healer) current() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// restartCount is how often JetStream was restarted.
func (h *healer) restartCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.restarts
}

func (h *healer) set(err error) {
	h.mu.Lock()
	prev := h.err
	h.err = err
	h.mu.Unlock()
	switch {
	case err != nil && prev == nil:
		h.b.logger.Error("event store unavailable; the ingress answers 503 until it works again", "dir", h.b.opts.DataDir, "reason", err)
	case err == nil && prev != nil:
		h.b.logger.Info("event store works again", "dir", h.b.opts.DataDir)
	}
}

// check probes the store and restarts JetStream when it is broken and its
// file system takes writes again.
func (h *healer) check(ctx context.Context) {
	s := h.b.store
	if !s.ns.Running() {
		// Only a new server (and new triggers) could help; that is a
		// restart of the broker, and Close is under way or it crashed.
		h.set(errors.New("the embedded NATS server has stopped"))
		return
	}
	probeErr := probe(s.opts.dir)
	h.mu.Lock()
	if h.inject != nil {
		probeErr = h.inject
	}
	h.mu.Unlock()
	jsErr := jetStreamHealth(s.ns)
	if probeErr == nil && jsErr == nil {
		// JetStream keeps writing to the open files of a store dir that
		// was removed, and reports no error: the events would be lost at
		// its next start.
		if _, err := os.Stat(filepath.Join(s.opts.dir, server.JetStreamStoreDir)); errors.Is(err, fs.ErrNotExist) {
			jsErr = fmt.Errorf("the store dir %s was removed under JetStream; events accepted since the last check (%s) are lost", s.opts.dir, healInterval)
		}
	}
	switch {
	case probeErr != nil:
		// Do not restart JetStream onto a disk that fails: it would
		// break again at the next event.
		h.set(probeErr)
	case jsErr == nil:
		h.set(nil)
	default:
		h.set(jsErr)
		if err := h.restart(ctx); err != nil {
			h.b.logger.Warn("restart JetStream", "dir", s.opts.dir, "error", err)
			h.set(fmt.Errorf("%w; restarting JetStream failed: %w", jsErr, err))
			return
		}
		h.set(jetStreamHealth(s.ns))
	}
}

// restart turns JetStream off and on again in the running server, on the
// same store dir, then makes sure every declared broker's stream and every
// trigger's consumer exist (they do unless the dir itself was lost).
func (h *healer) restart(ctx context.Context) error {
	s := h.b.store
	if s.ns.JetStreamEnabled() {
		if err := s.ns.ShutdownJetStream(); err != nil {
			return fmt.Errorf("shut down JetStream: %w", err)
		}
	}
	if err := os.MkdirAll(s.opts.dir, 0o700); err != nil {
		return fmt.Errorf("store dir: %w", err)
	}
	err := s.ns.EnableJetStream(&server.JetStreamConfig{StoreDir: s.opts.dir, MaxStore: maxStore, SyncAlways: s.opts.syncAlways})
	if err != nil {
		return fmt.Errorf("enable JetStream on %s: %w", s.opts.dir, err)
	}
	h.mu.Lock()
	h.restarts++
	n := h.restarts
	h.mu.Unlock()
	h.b.logger.Warn("JetStream restarted on the same store", "dir", s.opts.dir, "restarts", n)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return h.b.recreate(ctx)
}

// recreate makes sure the declared streams and consumers exist, with the
// configuration they were created with.
func (b *Broker) recreate(ctx context.Context) error {
	var errs []error
	if _, err := b.store.ensureSeenStream(ctx); err != nil {
		errs = append(errs, err)
	}
	for _, br := range *b.brokers.Load() {
		namespace, name, _ := strings.Cut(br.key, "/")
		if _, err := b.store.ensureStream(ctx, namespace, name, b.opts.MaxAge); err != nil {
			errs = append(errs, err)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for key, w := range b.triggers {
		info := w.consumer.CachedInfo()
		if info == nil {
			continue
		}
		st, err := b.store.js.Stream(ctx, info.Stream)
		if err != nil {
			errs = append(errs, fmt.Errorf("trigger %s: stream %s: %w", key, info.Stream, err))
			continue
		}
		if _, err := st.Consumer(ctx, info.Name); err == nil {
			continue
		} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
			errs = append(errs, fmt.Errorf("trigger %s: consumer %s: %w", key, info.Name, err))
			continue
		}
		// The dir was lost with the consumer: its events are gone too,
		// and delivery starts again with new events.
		if _, err := st.CreateOrUpdateConsumer(ctx, info.Config); err != nil {
			errs = append(errs, fmt.Errorf("trigger %s: re-create consumer %s: %w", key, info.Name, err))
		}
	}
	return errors.Join(errs...)
}

// jetStreamHealth is JetStream's own health check (the server's /healthz):
// enabled, and every stream on disk loaded and without a write error.
func jetStreamHealth(ns *server.Server) error {
	if !ns.JetStreamEnabled() {
		return errors.New("JetStream is disabled (it turns itself off when it runs out of resources)")
	}
	hs := ns.Healthz(nil)
	if hs.Error != "" {
		return fmt.Errorf("JetStream: %s", hs.Error)
	}
	if hs.StatusCode >= 300 {
		return fmt.Errorf("JetStream health: %s (%d)", hs.Status, hs.StatusCode)
	}
	return nil
}

// probe checks that dir exists and its file system has room for
// probeBytes, and that a write there reaches the disk.
func probe(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		// Removed: made again, so that the store can start afresh
		// (check notices that JetStream's files are gone).
		if err = os.MkdirAll(dir, 0o700); err == nil {
			st, err = os.Stat(dir)
		}
	}
	if err != nil {
		return fmt.Errorf("store dir %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("store dir %s is not a directory", dir)
	}
	p := filepath.Join(dir, probeName)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write probe in store dir %s: %w", dir, err)
	}
	defer os.Remove(p)
	err = reserve(f, probeBytes)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write probe in store dir %s (needs %d bytes free): %w", dir, probeBytes, err)
	}
	return nil
}

// writeProbe writes one small block to f.
func writeProbe(f *os.File) error {
	_, err := f.Write(make([]byte, 4096))
	return err
}

// Healthy reports whether the broker can store events: nil, or why not.
// It is what zeroflow broker's /healthz and /readyz answer.
func (b *Broker) Healthy() error {
	if err := b.unhealthy(); err != nil {
		return fmt.Errorf("event store in %s unavailable: %w", b.opts.DataDir, err)
	}
	return nil
}

// unhealthy is the supervisor's last finding, nil while the store works.
func (b *Broker) unhealthy() error {
	if b.heal == nil {
		return nil
	}
	return b.heal.current()
}

// HealthHandler answers GET /healthz and /readyz: 200 "ok" while the store
// works, 503 with the reason while it does not. The broker heals by itself
// (see healer), so a liveness probe that restarts it is not needed, but an
// orchestrator and a load balancer must hear that it takes no events.
func (b *Broker) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, fmt.Sprintf("method %s is not allowed on %s: GET it", r.Method, r.URL.Path), http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if err := b.Healthy(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
}
