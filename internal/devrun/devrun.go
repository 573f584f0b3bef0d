// Package devrun runs the zeroflow binary's `zeroflow dev` for end-to-end
// tests, as a user runs it: a built binary, a directory of manifests, a
// data directory of its own, every address on a free port.
package devrun

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/zeroflow-dev/zeroflow/controller"
)

// ReadyTimeout bounds the wait for `zeroflow dev` to print that it is
// ready; the first start builds the user functions.
const ReadyTimeout = 3 * time.Minute

// Build builds the zeroflow binary into a temporary directory.
func Build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "zeroflow")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/zeroflow-dev/zeroflow/cmd/zeroflow")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build zeroflow: %v\n%s", err, out)
	}
	return bin
}

// Run is one `zeroflow dev` process.
type Run struct {
	Cmd     *exec.Cmd
	DataDir string
	// BrokerURL is the default broker's ingress.
	BrokerURL string
	// Banner is what it printed up to "Press Ctrl-C".
	Banner string
	// Log is its standard error.
	Log *LockedBuffer
}

// Start runs `zeroflow dev` on the manifests in dir with extra flags and
// waits until it is ready. The test's cleanup interrupts it (and kills it
// after 30 s).
func Start(t *testing.T, bin, dir string, flags ...string) *Run {
	t.Helper()
	d := &Run{DataDir: t.TempDir(), Log: &LockedBuffer{}}
	args := append([]string{"dev", dir, "--data-dir", d.DataDir, "--broker-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--idle", "20s"}, flags...)
	d.Cmd = exec.Command(bin, args...)
	stdout, err := d.Cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.Cmd.Stderr = d.Log
	if err := d.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = d.Cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = d.Cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = d.Cmd.Process.Kill()
		}
	})
	ready := make(chan string, 1)
	go func() {
		var seen strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			seen.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Press Ctrl-C to stop.") {
				ready <- seen.String()
			}
		}
	}()
	select {
	case out := <-ready:
		d.Banner = out
		m := regexp.MustCompile(`broker   default/default at (\S+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no broker address in:\n%s", out)
		}
		d.BrokerURL = m[1]
	case <-time.After(ReadyTimeout):
		t.Fatalf("zeroflow dev did not become ready within %s; log:\n%s", ReadyTimeout, d.Log.Tail(40))
	}
	return d
}

// Client talks to the stack's API server.
func (d *Run) Client(t *testing.T) *controller.Client {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(d.DataDir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := controller.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// LockedBuffer is a process's output, safe to read while it writes.
type LockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Tail is the last n lines.
func (l *LockedBuffer) Tail(n int) string {
	lines := strings.Split(l.String(), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
