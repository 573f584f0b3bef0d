package broker

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// buildZeroflow builds the zeroflow binary into a temp dir (about 40 s
// the first time, seconds once the build cache has it).
func buildZeroflow(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the zeroflow binary; not with -short")
	}
	bin := filepath.Join(t.TempDir(), "zeroflow")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/zeroflow")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build zeroflow: %v\n%s", err, out)
	}
	return bin
}

// brokerProcess is a running `zeroflow broker`.
type brokerProcess struct {
	cmd     *exec.Cmd
	url     string // the ingress
	metrics string // http://host:port of --metrics-addr
	exited  chan struct{}
}

var (
	ingressLine = regexp.MustCompile(`ingress listening on (http://\S+)`)
	metricsLine = regexp.MustCompile(`metrics at (http://\S+)/metrics`)
)

// startBrokerProcess runs `zeroflow broker` on dir with config and waits
// until it prints its addresses.
func startBrokerProcess(t *testing.T, bin, dir, config string) *brokerProcess {
	t.Helper()
	cmd := exec.Command(bin, "broker", "--data-dir", dir, "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--config", config)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(filepath.Join(t.TempDir(), "broker.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start zeroflow broker: %v", err)
	}
	p := &brokerProcess{cmd: cmd, exited: make(chan struct{})}
	t.Cleanup(func() { p.kill(syscall.SIGKILL); logf.Close() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := metricsLine.FindStringSubmatch(sc.Text()); m != nil {
				p.metrics = m[1]
			}
			if m := ingressLine.FindStringSubmatch(sc.Text()); m != nil {
				p.url = m[1]
				close(ready)
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(p.exited) }()
	select {
	case <-ready:
	case <-p.exited:
		t.Fatalf("zeroflow broker exited before it was ready (log in %s)", logf.Name())
	case <-time.After(30 * time.Second):
		t.Fatalf("zeroflow broker not ready within 30s")
	}
	return p
}

func (p *brokerProcess) kill(sig syscall.Signal) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(40 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func writeBrokerConfig(t *testing.T, sub, dls string) string {
	t.Helper()
	yaml := fmt.Sprintf(`apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {namespace: ns, name: default}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {namespace: ns, name: t1}
spec:
  broker: default
  subscriber: {uri: %q}
  delivery:
    retry: 3
    backoffPolicy: linear
    backoffDelay: PT0.1S
    deadLetterSink: {uri: %q}
`, sub, dls)
	p := filepath.Join(t.TempDir(), "broker.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The restart window with the real binary: `zeroflow broker` is killed
// (SIGKILL, or SIGTERM every other time) and started again on the same
// data dir while four producers post events. An event answered 503 is
// never delivered; one whose POST got no answer at all (cut by the kill) may
// have been stored, and is delivered at most once. An event answered 202 is
// delivered (at least once: a SIGKILL between a delivery and its ack makes
// the store deliver it again, so a few redeliveries are allowed, bounded
// by what can be in flight at a kill); an event never answered 202 is
// never delivered; a retry of a refused event, and a resend of an accepted
// one after the restarts, make no second copy. /healthz and /readyz of the
// process answer 200 throughout.
func TestRestartProcessWindow(t *testing.T) {
	bin := buildZeroflow(t)
	dir := t.TempDir()
	sub, dls := newSink(t), newSink(t)
	config := writeBrokerConfig(t, sub.URL, dls.URL)

	var cur atomic.Pointer[string]
	prod := startProducers(&cur)
	const restarts = 5
	kills := 0
	for i := range restarts {
		p := startBrokerProcess(t, bin, dir, config)
		for _, path := range []string{"/healthz", "/readyz"} {
			if code, body := getStatus(t, p.metrics+path); code != http.StatusOK {
				t.Errorf("GET %s of zeroflow broker: %d %q, want 200", path, code, body)
			}
		}
		u := p.url
		cur.Store(&u)
		time.Sleep(400 * time.Millisecond)
		sig := syscall.SIGTERM
		if i%2 == 0 {
			sig = syscall.SIGKILL
			kills++
		}
		p.kill(sig)
		cur.Store(nil)
	}
	accepted, refused := prod.stop()

	p := startBrokerProcess(t, bin, dir, config)
	retried, abandoned, n := 0, 0, 0
	for id := range refused {
		n++
		if n%2 == 1 {
			abandoned++
			continue
		}
		if code, body, _ := postID(p.url, id); code != http.StatusAccepted {
			t.Fatalf("retry of %s: %d %s", id, code, body)
		}
		delete(refused, id)
		accepted[id] = true
		retried++
	}
	resent := 0
	for id := range accepted {
		if resent == 20 {
			break
		}
		if code, body, _ := postID(p.url, id); code != http.StatusAccepted {
			t.Fatalf("resend of %s: %d %s", id, code, body)
		}
		resent++
	}
	t.Logf("%d restarts (%d SIGKILL): %d events accepted, %d refused and retried, %d refused and given up, %d resent", restarts, kills, len(accepted)-retried, retried, abandoned, resent)
	if len(accepted) < 50 {
		t.Fatalf("only %d events accepted: the test did not exercise the broker", len(accepted))
	}
	// A SIGKILLed broker's claims run out after ackWait (10 s).
	waitFor(t, 40*time.Second, fmt.Sprintf("%d accepted events delivered", len(accepted)), func() bool {
		for id := range accepted {
			if sub.count(id) == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(2 * time.Second)
	got := sub.snapshot()
	var dups []string
	unanswered := 0
	for _, id := range sortedKeys(got) {
		code, wasRefused := refused[id]
		switch {
		case wasRefused && code != 0:
			t.Errorf("event %s was answered %d but was delivered %d time(s)", id, code, got[id])
		case wasRefused && got[id] > 1:
			t.Errorf("event %s (its POST got no answer) was delivered %d times", id, got[id])
		case wasRefused:
			unanswered++
		case got[id] > 1:
			dups = append(dups, fmt.Sprintf("%s×%d", id, got[id]))
		}
	}
	// What a trigger can have delivered and not yet acked at a kill: its
	// concurrency (100).
	if len(dups) > 100*kills {
		t.Errorf("%d events delivered more than once: %s", len(dups), strings.Join(dups, " "))
	} else if len(dups) > 0 {
		t.Logf("%d event(s) redelivered after a SIGKILL (delivered, ack not yet stored): %s", len(dups), strings.Join(dups, " "))
	}
	if unanswered > 0 {
		t.Logf("%d event(s) whose POST got no answer (cut by a SIGKILL after the store had it) were delivered once", unanswered)
	}
	if n := dls.total(); n != 0 {
		t.Errorf("%d dead letters (%v), want none", n, dls.reasons)
	}
}
