package funcrunner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/zeroflow-dev/zeroflow/internal/proctree"
)

// InProcess starts instances that serve in this process: serve is given a
// listener and a context that ends when the instance is to stop, and
// returns once it has drained. The built-in functions run this way in
// `zeroflow dev`.
func InProcess(serve func(ctx context.Context, l net.Listener) error) Starter {
	return func(_ context.Context) (Instance, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		inst := &inProcess{url: &url.URL{Scheme: "http", Host: l.Addr().String()}, cancel: cancel, done: make(chan struct{})}
		go func() {
			defer close(inst.done)
			inst.err = serve(ctx, l)
		}()
		return inst, nil
	}
}

type inProcess struct {
	url    *url.URL
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func (i *inProcess) URL() *url.URL         { return i.url }
func (i *inProcess) Done() <-chan struct{} { return i.done }
func (i *inProcess) Stop() error {
	i.cancel()
	<-i.done
	return i.err
}

// ProcessConfig configures Process.
type ProcessConfig struct {
	// Path and Args are the program to run.
	Path string
	Args []string
	// Env is added to this process's environment; PORT is set for each
	// instance, as Knative sets it.
	Env []string
	// Output receives the instance's stdout and stderr.
	Output io.Writer
	// ReadyTimeout bounds the wait for /health/readiness; default 30s.
	ReadyTimeout time.Duration
	// DrainTimeout bounds the wait after SIGTERM before SIGKILL; default 30s.
	DrainTimeout time.Duration
}

// Process starts instances as local processes: each gets a free PORT and
// is ready once its /health/readiness answers 200 (or, for a program
// without it, once the port accepts connections).
func Process(cfg ProcessConfig) Starter {
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 30 * time.Second
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	if cfg.Output == nil {
		cfg.Output = io.Discard
	}
	return func(ctx context.Context) (Instance, error) {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		// Its own group under a guard: it and its children die with
		// zeroflow, even on SIGKILL.
		cmd := proctree.Command(cfg.Path, cfg.Args...)
		cmd.Env = append(append(os.Environ(), cfg.Env...), "PORT="+strconv.Itoa(port))
		cmd.Stdout, cmd.Stderr = cfg.Output, cfg.Output
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start %s: %w", cfg.Path, err)
		}
		p := &process{cmd: cmd, url: &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}, done: make(chan struct{}), drain: cfg.DrainTimeout}
		go func() {
			p.err = cmd.Wait()
			close(p.done)
		}()
		if err := p.waitReady(ctx, cfg.ReadyTimeout); err != nil {
			_ = p.Stop()
			return nil, fmt.Errorf("%s: %w", cfg.Path, err)
		}
		return p, nil
	}
}

type process struct {
	cmd   *exec.Cmd
	url   *url.URL
	done  chan struct{}
	err   error
	drain time.Duration
	once  sync.Once
}

func (p *process) URL() *url.URL         { return p.url }
func (p *process) Done() <-chan struct{} { return p.done }

// Stop sends SIGTERM, as Knative does, and SIGKILL after the drain timeout.
func (p *process) Stop() error {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(p.drain):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
	var exit *exec.ExitError
	if errors.As(p.err, &exit) && exit.ExitCode() == -1 {
		return nil // ended by the signal
	}
	return p.err
}

func (p *process) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for delay := time.Millisecond; ; delay = min(delay*2, 50*time.Millisecond) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url.String()+"/health/readiness", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNotFound {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited before it was ready: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("not ready within %s", timeout)
		case <-time.After(delay):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
