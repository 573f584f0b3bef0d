// Package httpbound is the one place where zeroflow's HTTP servers get
// their limits: how long a request's header may take, how slowly its body
// may arrive, how long an idle connection lives, how large a header may
// be, and how many connections one listener holds at once. Every server
// zeroflow runs (webhooks, the broker's ingress, functions, the
// controller, metrics, the dev stack's listeners) is built by NewServer
// and serves through Listener, so that a slow or greedy client is cut off
// the same way everywhere (docs/deploy.md, "Connection limits").
//
// A body is bounded by a minimum rate rather than a total time, so that a
// large body at normal speed always gets through while a trickle is cut
// off after the grace time: with the defaults a 10 MB body may take 5
// minutes, a byte every 300 ms is answered 408 after 10 s.
package httpbound

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// The defaults, documented in docs/deploy.md ("Connection limits").
const (
	// DefaultReadHeaderTimeout bounds the request line and headers.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultBodyGrace is how long a body has before its rate counts:
	// any body that arrives within it is read whole.
	DefaultBodyGrace = 10 * time.Second
	// DefaultBodyMinRate is the average rate (bytes per second) a body
	// must keep after the grace time: 32 KiB/s is 256 kbit/s, so a 10 MB
	// body may take 5 minutes; on a LAN it takes a second.
	DefaultBodyMinRate = 32 << 10
	// DefaultBodyIdle is the longest pause between two reads of a body
	// that sent something.
	DefaultBodyIdle = 10 * time.Second
	// DefaultIdleTimeout is how long a keep-alive connection waits for
	// its next request (http.DefaultTransport keeps its side 90 s).
	DefaultIdleTimeout = 90 * time.Second
	// DefaultMaxHeaderBytes bounds the request line and headers; a
	// CloudEvent in binary mode carries its attributes there.
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultMaxConns is the number of connections one listener holds at
	// once; the next ones are answered 503 with Retry-After at accept.
	DefaultMaxConns = 4096
	// DefaultMetricsWriteTimeout and DefaultMetricsMaxConns are the
	// bounds Metrics adds for quick servers.
	DefaultMetricsWriteTimeout = 30 * time.Second
	DefaultMetricsMaxConns     = 64
)

// Limits are one server's bounds. A zero field takes its default; a
// negative one turns that bound off.
type Limits struct {
	ReadHeaderTimeout time.Duration
	// BodyGrace, BodyMinRate and BodyIdle bound the reading of a body:
	// it is cut off (408) when it has not arrived by BodyGrace plus its
	// size at BodyMinRate, or when it pauses longer than BodyIdle.
	BodyGrace   time.Duration
	BodyMinRate int64
	BodyIdle    time.Duration
	// WriteTimeout bounds the writing of a response; off by default,
	// since a step or a reply may legitimately take long (set only on
	// servers whose answers are quick, such as metrics).
	WriteTimeout   time.Duration
	IdleTimeout    time.Duration
	MaxHeaderBytes int
	MaxConns       int
	// Logger records refused connections (at most once per 10 s per
	// listener); default none.
	Logger *slog.Logger
}

// Metrics are the limits of a server whose answers are quick and small
// (metrics, health): the defaults, and a response must be written within
// DefaultMetricsWriteTimeout, on at most DefaultMetricsMaxConns
// connections. Not for pprof's /debug/pprof/profile, which answers after
// its 30 s sample.
func Metrics(logger *slog.Logger) Limits {
	return Limits{WriteTimeout: DefaultMetricsWriteTimeout, MaxConns: DefaultMetricsMaxConns, Logger: logger}
}

// WithDefaults fills the zero fields with the defaults.
func (l Limits) WithDefaults() Limits {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&l.BodyGrace, DefaultBodyGrace)
	def(&l.BodyIdle, DefaultBodyIdle)
	def(&l.IdleTimeout, DefaultIdleTimeout)
	if l.BodyMinRate == 0 {
		l.BodyMinRate = DefaultBodyMinRate
	}
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxConns == 0 {
		l.MaxConns = DefaultMaxConns
	}
	if l.Logger == nil {
		l.Logger = slog.New(slog.DiscardHandler)
	}
	return l
}

// off turns a negative bound into net/http's "none".
func off[T int | time.Duration](v T) T {
	if v < 0 {
		return 0
	}
	return v
}

// NewServer is an http.Server for h with the limits; serve it on
// Listener(l, lim) for the connection bound.
func NewServer(h http.Handler, lim Limits) *http.Server {
	lim = lim.WithDefaults()
	return &http.Server{
		Handler:           BoundBody(h, lim),
		ReadHeaderTimeout: off(lim.ReadHeaderTimeout),
		WriteTimeout:      off(lim.WriteTimeout),
		IdleTimeout:       off(lim.IdleTimeout),
		MaxHeaderBytes:    max(lim.MaxHeaderBytes, 0),
	}
}

// ErrSlowBody is what reading a request body returns (also matching
// os.ErrDeadlineExceeded) when it did not arrive in time.
var ErrSlowBody = errors.New("the request body was not sent in time")

// BoundBody cuts off a request body that arrives slower than the limits
// allow: its reads fail with ErrSlowBody, and an error status the
// handler answers then becomes 408. A request without a body is not
// touched: its connection has no read deadline while the handler runs,
// however long that is.
func BoundBody(h http.Handler, lim Limits) http.Handler {
	lim = lim.WithDefaults()
	if lim.BodyGrace < 0 && lim.BodyIdle < 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		b := &body{ReadCloser: r.Body, rc: http.NewResponseController(w), lim: lim, start: time.Now()}
		if err := b.arm(b.start); err != nil {
			// A server that cannot set deadlines (a test recorder) has
			// only its own bounds.
			h.ServeHTTP(w, r)
			return
		}
		r.Body = b
		h.ServeHTTP(&slowAnswer{ResponseWriter: w, b: b}, r)
	})
}

// body is a request body with a deadline that moves with what has been
// read.
type body struct {
	io.ReadCloser
	rc    *http.ResponseController
	lim   Limits
	start time.Time
	n     int64
	// slow is set once a read ran into the deadline.
	slow atomic.Bool
	done bool
}

// arm sets the read deadline for the next read: the earlier of the rate
// bound (grace plus what was read at the minimum rate) and the pause
// bound from now.
func (b *body) arm(now time.Time) error {
	var deadline time.Time
	if b.lim.BodyGrace >= 0 {
		d := b.lim.BodyGrace
		if b.lim.BodyMinRate > 0 {
			d += time.Duration(float64(b.n) / float64(b.lim.BodyMinRate) * float64(time.Second))
		}
		deadline = b.start.Add(d)
	}
	if b.lim.BodyIdle >= 0 && b.n > 0 {
		if idle := now.Add(b.lim.BodyIdle); deadline.IsZero() || idle.Before(deadline) {
			deadline = idle
		}
	}
	return b.rc.SetReadDeadline(deadline)
}

func (b *body) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	switch {
	case errors.Is(err, io.EOF):
		// The whole body is in. The server now watches the connection
		// for the client going away; a deadline left set would end the
		// request's context while the handler still works.
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.slow.Store(true)
		return n, fmt.Errorf("%w: %d bytes in %v (at least %d bytes/s after %v, pauses under %v): %w",
			ErrSlowBody, b.n, time.Since(b.start).Round(time.Millisecond), b.lim.BodyMinRate, b.lim.BodyGrace, b.lim.BodyIdle, err)
	case err == nil && n > 0:
		_ = b.arm(time.Now())
	}
	return n, err
}

// slowAnswer turns the error status of a request whose body was cut off
// into 408, so that every handler answers a slow sender alike (the
// handler may only see a read error).
type slowAnswer struct {
	http.ResponseWriter
	b *body
}

func (s *slowAnswer) WriteHeader(code int) {
	if code >= 400 && code != http.StatusRequestEntityTooLarge && s.b.slow.Load() {
		code = http.StatusRequestTimeout
	}
	s.ResponseWriter.WriteHeader(code)
}

// Flush serves handlers that assert http.Flusher directly.
func (s *slowAnswer) Flush() { _ = http.NewResponseController(s.ResponseWriter).Flush() }

// Unwrap serves http.ResponseController.
func (s *slowAnswer) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Listener bounds the connections l holds at once to lim.MaxConns: a
// connection over the bound is answered 503 with Retry-After and closed,
// without reaching the server.
func Listener(l net.Listener, lim Limits) net.Listener {
	lim = lim.WithDefaults()
	if lim.MaxConns < 0 {
		return l
	}
	return &listener{Listener: l, max: int64(lim.MaxConns), logger: lim.Logger, refusing: make(chan struct{}, maxRefusing)}
}

// maxRefusing bounds the refusals answered at once; beyond it a
// connection over the bound is closed without an answer.
const maxRefusing = 64

type listener struct {
	net.Listener
	max      int64
	active   atomic.Int64
	refused  atomic.Int64
	logger   *slog.Logger
	refusing chan struct{}
	// lastLog is the unix nanoseconds of the last refusal logged.
	lastLog atomic.Int64
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.active.Add(1) <= l.max {
			return &conn{Conn: c, l: l}, nil
		}
		l.active.Add(-1)
		l.refuse(c)
	}
}

// Active is the number of connections l holds (for tests and metrics).
func Active(l net.Listener) int {
	if b, ok := l.(*listener); ok {
		return int(b.active.Load())
	}
	return -1
}

func (l *listener) refuse(c net.Conn) {
	n := l.refused.Add(1)
	now := time.Now().UnixNano()
	if last := l.lastLog.Load(); now-last > int64(10*time.Second) && l.lastLog.CompareAndSwap(last, now) {
		l.logger.Warn("connection refused: listener at its bound", "addr", l.Addr().String(), "maxConns", l.max, "refusedSoFar", n)
	}
	select {
	case l.refusing <- struct{}{}:
	default:
		_ = c.Close()
		return
	}
	go func() {
		defer func() { <-l.refusing }()
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		msg := fmt.Sprintf("too many connections: %s holds at most %d at once; retry\n", l.Addr(), l.max)
		_, err := fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(msg), msg)
		if err != nil {
			return
		}
		// Closing with the request unread would reset the connection
		// and could lose the answer at the client: half-close, then
		// drain a little of what it sent.
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	}()
}

// conn gives its place back once, when closed.
type conn struct {
	net.Conn
	l    *listener
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.active.Add(-1) })
	return err
}
