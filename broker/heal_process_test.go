package broker

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// `zeroflow broker` on a real full disk: /healthz and /readyz of
// --metrics-addr (and of the ingress) answer 503 with the reason while it
// is full and 200 once space returns, an event answered 503 meanwhile is
// never delivered, and the process, never restarted, delivers every event
// it accepted.
func TestDiskFullHealsProcess(t *testing.T) {
	dir := mountTmpfs(t, 16<<20)
	bin := buildZeroflow(t)
	sub, dls := newSink(t), newSink(t)
	p := startBrokerProcess(t, bin, dir, writeBrokerConfig(t, sub.URL, dls.URL))
	defer p.kill(syscall.SIGTERM)

	if code, body, _ := postID(p.url, "before"); code != http.StatusAccepted {
		t.Fatalf("post before: %d %s", code, body)
	}
	filler := fill(t, dir)
	waitFor(t, 3*healInterval, "/healthz to say 503", func() bool {
		code, _ := getStatus(t, p.metrics+"/healthz")
		return code == http.StatusServiceUnavailable
	})
	for _, u := range []string{p.metrics + "/healthz", p.metrics + "/readyz", p.url + "/healthz"} {
		if code, body := getStatus(t, u); code != http.StatusServiceUnavailable || !strings.Contains(body, "no space left") {
			t.Errorf("GET %s on a full disk: %d %q, want 503 with the reason", u, code, body)
		}
	}
	for i := range 3 {
		id := fmt.Sprintf("full-%d", i)
		if code, body, _ := postID(p.url, id); code != http.StatusServiceUnavailable {
			t.Errorf("post %s on a full disk: %d %q, want 503", id, code, body)
		}
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "/healthz to say 200", func() bool {
		code, _ := getStatus(t, p.metrics+"/healthz")
		return code == http.StatusOK
	})
	if code, body := getStatus(t, p.metrics+"/readyz"); code != http.StatusOK {
		t.Errorf("GET /readyz after space returned: %d %q", code, body)
	}
	if code, body, _ := postID(p.url, "after"); code != http.StatusAccepted {
		t.Fatalf("post after: %d %s", code, body)
	}
	waitFor(t, 10*time.Second, "both accepted events delivered", func() bool {
		return sub.count("before") == 1 && sub.count("after") == 1
	})
	time.Sleep(500 * time.Millisecond)
	for i := range 3 {
		if n := sub.count(fmt.Sprintf("full-%d", i)); n != 0 {
			t.Errorf("full-%d was answered 503 but delivered %d time(s)", i, n)
		}
	}
	if n := dls.total(); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
	select {
	case <-p.exited:
		t.Errorf("zeroflow broker exited")
	default:
	}
}
