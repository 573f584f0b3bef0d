package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zeroflow-dev/zeroflow/internal/httpbound"
	"github.com/zeroflow-dev/zeroflow/internal/identity"
)

// Options configure a function's server. The zero value reads Knative's
// contract from the environment: $PORT (default 8080) and $K_SINK.
type Options struct {
	// Addr is the listen address; default ":$PORT".
	Addr string
	// Listener, when set, is used instead of listening on Addr.
	Listener net.Listener
	// Sink is where Send delivers; default $K_SINK.
	Sink string
	// DrainTimeout bounds the wait for requests in flight on shutdown.
	// Default 30s.
	DrainTimeout time.Duration
	// MaxBodyBytes bounds an incoming request; default 10 MiB.
	MaxBodyBytes int64
	// Auth, when set, authenticates every CloudEvent request: a valid
	// audience token from an allowed subject, else 401 or 403 (Knative's
	// authentication-oidc). Serve reads it from the environment
	// (identity.EnvAudience …) when nil.
	Auth *identity.Authenticator
	// Token, when set, is presented to the sink with every event sent;
	// Serve reads identity.EnvTokenFile when nil.
	Token identity.TokenSource
	// Offload is where data above the threshold goes, in the events the
	// function sends and replies, and where the data of the events it
	// receives by reference is read from. Serve reads it from the
	// environment (EventOffloadFromEnv: $ZEROFLOW_ARTIFACTS and the
	// limits) when Offload.Store is nil; zero limits are the defaults.
	Offload EventOffload
	// Namespace is the function's own namespace, what offloaded data is
	// stored for when a request does not say the namespace it was
	// delivered in (see receiver.deliveryNamespace); default the sink's
	// (/NAMESPACE/BROKER).
	Namespace string
	// Limits bound the server's connections and requests (header and
	// body timeouts, connections at once); zero fields take
	// httpbound's defaults (docs/deploy.md, "Connection limits").
	Limits httpbound.Limits
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Addr == "" {
		port := os.Getenv("PORT")
		if port == "" {
			port = "8080"
		}
		o.Addr = ":" + port
	}
	if o.Sink == "" {
		o.Sink = os.Getenv("K_SINK")
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 30 * time.Second
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 10 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
}

// Main is the whole main of a CloudEvents function: it serves h until
// SIGTERM or SIGINT, drains, and exits.
func Main(h Handler) {
	os.Exit(run(func(ctx context.Context) error { return Serve(ctx, h, Options{}) }))
}

// MainHTTP is Main for a function that serves plain HTTP (a source that
// turns requests into events).
func MainHTTP(h http.Handler) {
	os.Exit(run(func(ctx context.Context) error { return ServeHTTP(ctx, h, Options{}) }))
}

func run(serve func(context.Context) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := serve(ctx); err != nil {
		slog.Error("function stopped", "error", err)
		return 1
	}
	return 0
}

// Serve serves h as a CloudEvents function until ctx ends, then drains.
func Serve(ctx context.Context, h Handler, opts Options) error {
	opts.setDefaults()
	if opts.Auth == nil {
		auth, err := identity.AuthenticatorFromEnv(ctx)
		if err != nil {
			return fmt.Errorf("function: sender identity: %w", err)
		}
		opts.Auth = auth
	}
	if opts.Token == nil {
		opts.Token = identity.TokenFromEnv()
	}
	if opts.Offload.Store == nil {
		env, err := EventOffloadFromEnv()
		if err != nil {
			return fmt.Errorf("function: offload: %w", err)
		}
		if opts.Offload.Limits.Threshold > 0 {
			env.Limits.Threshold = opts.Offload.Limits.Threshold
		}
		if opts.Offload.Limits.MaxValue > 0 {
			env.Limits.MaxValue = opts.Offload.Limits.MaxValue
		}
		opts.Offload = env
	}
	if opts.Namespace == "" {
		opts.Namespace = sinkNamespace(opts.Sink)
	}
	sender := newSender(opts.Sink).WithToken(opts.Token).WithOffload(opts.Offload, opts.Namespace)
	return ServeHTTP(ctx, receiver{h: h, sender: sender, logger: opts.Logger, maxBody: opts.MaxBodyBytes, auth: opts.Auth, offload: opts.Offload, namespace: opts.Namespace}, opts)
}

// ServeHTTP serves a plain HTTP function with the health endpoints until ctx
// ends, then drains: readiness turns 503, the listener closes, and requests
// in flight finish (up to DrainTimeout).
func ServeHTTP(ctx context.Context, h http.Handler, opts Options) error {
	opts.setDefaults()
	var draining atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/health/readiness", func(w http.ResponseWriter, _ *http.Request) {
		if draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("/health/liveness", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.Handle("/", h)

	l := opts.Listener
	if l == nil {
		var err error
		if l, err = net.Listen("tcp", opts.Addr); err != nil {
			return fmt.Errorf("function: listen on %s: %w", opts.Addr, err)
		}
	}
	fresh := &freshConns{conns: map[net.Conn]bool{}}
	lim := opts.Limits
	if lim.Logger == nil {
		lim.Logger = opts.Logger
	}
	srv := httpbound.NewServer(mux, lim)
	srv.ConnState = fresh.track
	served := make(chan error, 1)
	go func() { served <- srv.Serve(httpbound.Listener(l, lim)) }()
	opts.Logger.Info("function serving", "addr", l.Addr().String(), "sink", opts.Sink)

	select {
	case err := <-served:
		return fmt.Errorf("function: serve: %w", err)
	case <-ctx.Done():
	}
	draining.Store(true)
	drainCtx, cancel := context.WithTimeout(context.Background(), opts.DrainTimeout)
	defer cancel()
	shutdown := make(chan error, 1)
	go func() { shutdown <- srv.Shutdown(drainCtx) }()
	// Shutdown waits up to 5s for connections that never sent a request
	// (a client's spare dial); they carry nothing to drain. A request that
	// raced onto one fails at the client, which retries it elsewhere.
	fresh.closeAll()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var err error
wait:
	for {
		select {
		case err = <-shutdown:
			break wait
		case <-tick.C:
			fresh.closeAll()
		}
	}
	if err != nil {
		return fmt.Errorf("function: drain: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	opts.Logger.Info("function drained")
	return nil
}

// freshConns tracks the connections that have not carried a request yet.
type freshConns struct {
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func (f *freshConns) track(c net.Conn, state http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if state == http.StateNew {
		f.conns[c] = true
	} else {
		delete(f.conns, c)
	}
}

func (f *freshConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		_ = c.Close()
		delete(f.conns, c)
	}
}

// Port is the port a function serves on, from $PORT (default 8080).
func Port() int {
	p, err := strconv.Atoi(os.Getenv("PORT"))
	if err != nil || p <= 0 {
		return 8080
	}
	return p
}
