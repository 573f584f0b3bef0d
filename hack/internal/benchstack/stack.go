// Package benchstack runs `zeroflow dev` on a copy of examples/log-pipeline
// for the benches that measure Workflow-A end to end (hack/workflowbench,
// hack/largebench): one process on loopback with free ports, its webhook,
// its metrics and a client of its API server.
package benchstack

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
)

const (
	// exampleDir is the example the stack runs, relative to the module root.
	exampleDir = "examples/log-pipeline"
	// examplePort is the webhook port the example's files name, replaced by
	// a free one so that runs and other benches do not collide.
	examplePort = `"12000"`
	// startTimeout bounds the wait for the dev banner: a first start
	// pulls nothing but builds the functions, which takes a while.
	startTimeout = 3 * time.Minute
	// stopTimeout is how long Stop waits after SIGINT before it kills.
	stopTimeout = 30 * time.Second
	// namespace is where the example's workflows run.
	namespace = "default"
)

// metricsLine finds the metrics address in the dev banner.
var metricsLine = regexp.MustCompile(`metrics   (\S+)`)

// Options says how to start a Stack.
type Options struct {
	// Binary is the zeroflow binary (see BuildZeroflow).
	Binary string
	// Name prefixes the temporary directories, so a left-over one says
	// which bench made it.
	Name string
	// ExtraFiles are more manifests, by file name, applied with the
	// example's.
	ExtraFiles map[string]string
	// HTTPClient posts the webhooks; nil is http.DefaultClient. It is the
	// bench's choice because the client's connection reuse is part of what
	// a latency or throughput figure measures.
	HTTPClient *http.Client
	// KeepDirs leaves the temporary directories behind after Stop, to
	// look into.
	KeepDirs bool
}

// Stack is one running `zeroflow dev` process.
type Stack struct {
	// DataDir is the process's --data-dir (kubeconfig, artifacts, runs).
	DataDir string
	// ExampleDir is the copy of the example the process runs.
	ExampleDir string
	// Webhook is the URL of the example's Workflow-A webhook.
	Webhook string
	// MetricsURL is the process's /metrics, as its banner gives it.
	MetricsURL string
	// Client talks to the process's API server.
	Client *controller.Client

	cmd      *exec.Cmd
	http     *http.Client
	keepDirs bool
}

// Start copies the example into a temporary directory with a free webhook
// port, starts `zeroflow dev` on it and returns once the process is ready
// (its banner printed) and its API server has a client.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	dir, err := os.MkdirTemp("", opts.Name+"-example-")
	if err != nil {
		return nil, fmt.Errorf("example directory: %w", err)
	}
	data, err := os.MkdirTemp("", opts.Name+"-data-")
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("data directory: %w", err)
	}
	cmd, port, err := startDev(opts, dir, data)
	if err != nil {
		_ = os.RemoveAll(dir)
		_ = os.RemoveAll(data)
		return nil, err
	}
	client := opts.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	s := &Stack{DataDir: data, ExampleDir: dir, Webhook: "http://127.0.0.1:" + port + "/workflow-a", cmd: cmd.cmd, http: client, keepDirs: opts.KeepDirs}
	if err := s.connect(ctx, cmd.stdout); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// devProcess is a started `zeroflow dev` and the pipe its banner comes on.
type devProcess struct {
	cmd    *exec.Cmd
	stdout io.Reader
}

// startDev writes the example into dir with a free webhook port and starts
// `zeroflow dev` on it with data as its data directory.
func startDev(opts Options, dir, data string) (devProcess, string, error) {
	port, err := freePort()
	if err != nil {
		return devProcess{}, "", err
	}
	if err := writeExample(dir, port, opts.ExtraFiles); err != nil {
		return devProcess{}, "", err
	}
	// Not CommandContext: the process lives until Stop, which lets it shut
	// down cleanly with SIGINT rather than be killed when ctx ends.
	cmd := exec.Command(opts.Binary, "dev", dir, "--data-dir", data, "--broker-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--idle", "30s")
	cmd.Stderr = io.Discard
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return devProcess{}, "", fmt.Errorf("zeroflow dev stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return devProcess{}, "", fmt.Errorf("start zeroflow dev: %w", err)
	}
	return devProcess{cmd: cmd, stdout: stdout}, port, nil
}

// connect waits for the banner, takes the metrics address from it and
// makes the API client from the kubeconfig the process wrote.
func (s *Stack) connect(ctx context.Context, stdout io.Reader) error {
	banner := make(chan string, 1)
	go func() {
		var seen strings.Builder
		sent := false
		sc := bufio.NewScanner(stdout)
		// Read to the end even after the banner: a full pipe would block
		// the process's writes.
		for sc.Scan() {
			if sent {
				continue
			}
			seen.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Press Ctrl-C") {
				banner <- seen.String()
				sent = true
			}
		}
	}()
	var text string
	select {
	case text = <-banner:
	case <-time.After(startTimeout):
		return fmt.Errorf("zeroflow dev did not start in %s", startTimeout)
	case <-ctx.Done():
		return fmt.Errorf("wait for zeroflow dev: %w", ctx.Err())
	}
	m := metricsLine.FindStringSubmatch(text)
	if m == nil {
		return errors.New("zeroflow dev's banner names no metrics address")
	}
	s.MetricsURL = m[1]
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(s.DataDir, "kubeconfig"))
	if err != nil {
		return fmt.Errorf("read kubeconfig: %w", err)
	}
	c, err := controller.NewClient(cfg)
	if err != nil {
		return fmt.Errorf("api client: %w", err)
	}
	s.Client = c
	return nil
}

// Stop interrupts the process, kills it if it does not exit in time and
// removes the temporary directories unless they are to be kept.
func (s *Stack) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
	}
	if !s.keepDirs {
		_ = os.RemoveAll(s.DataDir)
		_ = os.RemoveAll(s.ExampleDir)
	}
}

// Pid is the dev process's id.
func (s *Stack) Pid() int { return s.cmd.Process.Pid }

// Post sends body to the webhook and fails on any answer but 200.
func (s *Stack) Post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Webhook, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webhook answered %d for %d bytes", resp.StatusCode, len(body))
	}
	return nil
}

// Workflows lists the example namespace's workflows.
func (s *Stack) Workflows(ctx context.Context) ([]v1alpha1.Workflow, error) {
	l, err := s.Client.ListWorkflows(ctx, namespace, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list workflows: %w", err)
	}
	return l.Items, nil
}

// writeExample copies the example's manifests into dir with its webhook on
// port, and writes extra beside them.
func writeExample(dir, port string, extra map[string]string) error {
	for _, f := range []string{"eventsource.yaml", "sensor.yaml", "workflowtemplate.yaml", "services.yaml"} {
		b, err := os.ReadFile(filepath.Join(exampleDir, f))
		if err != nil {
			return fmt.Errorf("read example: %w", err)
		}
		s := strings.ReplaceAll(string(b), examplePort, strconv.Quote(port))
		if err := os.WriteFile(filepath.Join(dir, f), []byte(s), 0o644); err != nil {
			return fmt.Errorf("write example: %w", err)
		}
	}
	for f, s := range extra {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(s), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f, err)
		}
	}
	return nil
}

// freePort is a loopback port nothing listens on now. Another process may
// take it before zeroflow dev does; on loopback in a bench that is rare
// enough not to guard against.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	_, p, err := net.SplitHostPort(l.Addr().String())
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	return p, nil
}
