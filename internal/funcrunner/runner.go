// Package funcrunner runs functions on one machine with Knative's scaling
// contract, for `zeroflow dev`: a function has no instance until its first
// request, which is held while one starts (a cold start); under load more
// instances start, each taking up to its concurrency target at once; an
// instance idle for the idle window stops, down to zero. The Runner is the
// function's stable address, as Knative's activator and Service are.
package funcrunner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// Instance is one running copy of a function.
type Instance interface {
	// URL is where the instance serves.
	URL() *url.URL
	// Stop drains the instance and waits for it to end.
	Stop() error
	// Done is closed when the instance ends by itself (a crash).
	Done() <-chan struct{}
}

// Starter starts an instance and returns once it is ready for requests.
type Starter func(ctx context.Context) (Instance, error)

// Config configures a Runner.
type Config struct {
	// Name is the function's name, for logs and metrics.
	Name  string
	Start Starter
	// Target is the number of requests one instance takes at once before
	// another starts (Knative's autoscaling target, or containerConcurrency
	// when set); default 100.
	Target int
	// MinScale instances are kept even when idle; default 0.
	MinScale int
	// MaxScale bounds the instances; default 10.
	MaxScale int
	// IdleWindow is how long an instance with no requests lives; default
	// 60s (Knative's stable window).
	IdleWindow time.Duration
	Logger     *slog.Logger
	Metrics    *Metrics
	// FailureRate, for chaos testing, is the fraction of requests answered
	// 500 without reaching the function, as a crashing instance would.
	FailureRate float64
}

// Runner routes a function's requests to its instances, starting and
// stopping them.
type Runner struct {
	cfg Config

	mu        sync.Mutex
	instances []*slot
	starting  int
	// changed is closed and replaced whenever capacity may have appeared.
	changed chan struct{}
	closed  bool
	// startCtx ends when the runner closes, aborting starts in progress.
	startCtx    context.Context
	cancelStart context.CancelFunc
	wg          sync.WaitGroup
}

type slot struct {
	inst     Instance
	proxy    *httputil.ReverseProxy
	inflight int
	lastUsed time.Time
}

// New returns a Runner and starts its idle reaper and MinScale instances.
func New(cfg Config) *Runner {
	if cfg.Target <= 0 {
		cfg.Target = 100
	}
	if cfg.MaxScale <= 0 {
		cfg.MaxScale = 10
	}
	if cfg.IdleWindow <= 0 {
		cfg.IdleWindow = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{cfg: cfg, changed: make(chan struct{}), startCtx: ctx, cancelStart: cancel}
	r.wg.Add(1)
	go r.reap()
	for range cfg.MinScale {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.mu.Lock()
			r.starting++
			r.mu.Unlock()
			r.startOne("min-scale")
		}()
	}
	return r
}

// failedStartPause spaces the starts of a function that fails to start.
const failedStartPause = 500 * time.Millisecond

// ErrClosed is returned for requests after Close.
var ErrClosed = errors.New("function runner closed")

// Name is the function's name.
func (r *Runner) Name() string { return r.cfg.Name }

// ServeHTTP proxies the request to an instance with room, starting one if
// there is none.
func (r *Runner) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.cfg.FailureRate > 0 && req.Method == http.MethodPost && rand.Float64() < r.cfg.FailureRate {
		r.cfg.Metrics.injected(r.cfg.Name)
		http.Error(w, fmt.Sprintf("function %s: injected failure", r.cfg.Name), http.StatusInternalServerError)
		return
	}
	s, err := r.acquire(req.Context())
	if err != nil {
		status := http.StatusServiceUnavailable
		if req.Context().Err() != nil {
			status = 499 // the client gave up, as nginx records it
		}
		http.Error(w, fmt.Sprintf("function %s: %v", r.cfg.Name, err), status)
		return
	}
	defer r.release(s)
	s.proxy.ServeHTTP(w, req)
}

// acquire returns an instance with room for one more request, starting
// one when every instance is at its target and the maximum allows.
func (r *Runner) acquire(ctx context.Context) (*slot, error) {
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return nil, ErrClosed
		}
		var best *slot
		for _, s := range r.instances {
			if s.inflight < r.cfg.Target && (best == nil || s.inflight < best.inflight) {
				best = s
			}
		}
		if best != nil {
			best.inflight++
			best.lastUsed = time.Now()
			r.mu.Unlock()
			return best, nil
		}
		// Everything is busy (or there is nothing): start another
		// instance unless enough are starting for the requests waiting.
		if len(r.instances)+r.starting < r.cfg.MaxScale && r.starting == 0 {
			r.starting++
			reason := "scale-up"
			if len(r.instances) == 0 {
				reason = "cold-start"
			}
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				r.startOne(reason)
			}()
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-changed:
		}
	}
}

func (r *Runner) release(s *slot) {
	r.mu.Lock()
	s.inflight--
	s.lastUsed = time.Now()
	r.notifyLocked()
	r.mu.Unlock()
}

func (r *Runner) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// startOne starts an instance; the caller counted it in r.starting.
func (r *Runner) startOne(reason string) {
	began := time.Now()
	inst, err := r.cfg.Start(r.startCtx)
	took := time.Since(began)
	if err != nil {
		// Held requests would start another at once: space the tries.
		select {
		case <-time.After(failedStartPause):
		case <-r.startCtx.Done():
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starting--
	defer r.notifyLocked()
	if err != nil {
		if r.startCtx.Err() == nil {
			r.cfg.Logger.Error("function failed to start", "function", r.cfg.Name, "error", err)
			r.cfg.Metrics.startFailed(r.cfg.Name)
		}
		return
	}
	if r.closed {
		go inst.Stop()
		return
	}
	s := &slot{inst: inst, proxy: newProxy(inst.URL(), r.cfg.Name, r.cfg.Logger), lastUsed: time.Now()}
	r.instances = append(r.instances, s)
	r.cfg.Metrics.started(r.cfg.Name, reason, took, len(r.instances))
	r.cfg.Logger.Info("function instance started", "function", r.cfg.Name, "reason", reason, "took", took.Round(time.Microsecond), "instances", len(r.instances))
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		select {
		case <-inst.Done():
			r.remove(s, "exited")
		case <-r.startCtx.Done():
		}
	}()
}

// remove forgets an instance that ended by itself.
func (r *Runner) remove(s *slot, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, x := range r.instances {
		if x == s {
			r.instances = append(r.instances[:i], r.instances[i+1:]...)
			r.cfg.Metrics.stopped(r.cfg.Name, why, len(r.instances))
			r.cfg.Logger.Warn("function instance ended", "function", r.cfg.Name, "why", why, "instances", len(r.instances))
			r.notifyLocked()
			return
		}
	}
}

// reap stops instances idle for the idle window, keeping MinScale.
func (r *Runner) reap() {
	defer r.wg.Done()
	tick := time.NewTicker(max(r.cfg.IdleWindow/4, 50*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-r.startCtx.Done():
			return
		case <-tick.C:
		}
		r.mu.Lock()
		var idle []*slot
		keep := r.instances[:0]
		for _, s := range r.instances {
			if s.inflight == 0 && time.Since(s.lastUsed) >= r.cfg.IdleWindow && len(r.instances)-len(idle) > r.cfg.MinScale {
				idle = append(idle, s)
				continue
			}
			keep = append(keep, s)
		}
		r.instances = keep
		n := len(keep)
		r.mu.Unlock()
		for _, s := range idle {
			why := "idle"
			if n == 0 {
				why = "scaled to zero"
			}
			r.cfg.Logger.Info("function instance stopped", "function", r.cfg.Name, "why", why, "idle", r.cfg.IdleWindow, "instances", n)
			r.cfg.Metrics.stopped(r.cfg.Name, "idle", n)
			if err := s.inst.Stop(); err != nil {
				r.cfg.Logger.Warn("function instance stop", "function", r.cfg.Name, "error", err)
			}
		}
	}
}

// Instances returns how many instances run now.
func (r *Runner) Instances() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.instances)
}

// Close stops every instance and waits for them.
func (r *Runner) Close() error {
	r.mu.Lock()
	r.closed = true
	all := r.instances
	r.instances = nil
	r.notifyLocked()
	r.mu.Unlock()
	r.cancelStart()
	var errs []error
	for _, s := range all {
		errs = append(errs, s.inst.Stop())
	}
	r.wg.Wait()
	r.cfg.Metrics.stopped(r.cfg.Name, "closed", 0)
	return errors.Join(errs...)
}

func newProxy(target *url.URL, name string, logger *slog.Logger) *httputil.ReverseProxy {
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// The broker retries the 502; the log says why it happened.
			logger.Warn("function instance unreachable", "function", name, "error", err)
			http.Error(w, "function instance: "+err.Error(), http.StatusBadGateway)
		},
	}
	return p
}
