package sdk_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// recordingSink is a broker stand-in on loopback that records what a step
// function sends by itself, and can refuse it.
type recordingSink struct {
	mu     sync.Mutex
	got    []event.Event
	refuse atomic.Bool
}

func (s *recordingSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.refuse.Load() {
		http.Error(w, "store down", http.StatusServiceUnavailable)
		return
	}
	ev, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.got = append(s.got, *ev)
	s.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (s *recordingSink) ofType(typ string) []event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []event.Event
	for _, ev := range s.got {
		if ev.Type() == typ {
			out = append(out, ev)
		}
	}
	return out
}

// serveStep serves h with sdk.Serve on loopback, sending to sink.
func serveStep(t *testing.T, h sdk.Handler, sink string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sdk.Serve(ctx, h, sdk.Options{Listener: l, Sink: sink, DrainTimeout: time.Second})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + l.Addr().String()
}

func stepRunFor(t *testing.T, id string, heartbeat, lostAfter int32) event.Event {
	t.Helper()
	ev := event.New()
	ev.SetID(id)
	ev.SetType(events.TypeStepRun)
	ev.SetSource("/test")
	ev.SetExtension(events.ExtWorkflow, "wf")
	ev.SetExtension(events.ExtNamespace, "default")
	ev.SetExtension(events.ExtNode, "main.A")
	ev.SetExtension(events.ExtAttempt, "0")
	ev.SetExtension(events.ExtFunction, "slow")
	ev.SetExtension(events.ExtStepToken, "token-of-"+id)
	run := events.StepRun{Workflow: "wf", Namespace: "default", NodeID: "main.A", Template: v1alpha1.Template{Name: "slow"}, HeartbeatSeconds: heartbeat, LostAfterSeconds: lostAfter}
	if err := ev.SetData(event.ApplicationJSON, run); err != nil {
		t.Fatal(err)
	}
	return ev
}

func cancelFor(t *testing.T, run event.Event, token, runner string) event.Event {
	t.Helper()
	ev := event.New()
	ev.SetID(run.ID() + "/cancel")
	ev.SetType(events.TypeStepCancel)
	ev.SetSource("/test")
	ev.SetExtension(events.ExtFunction, "slow")
	ev.SetExtension(events.ExtStepToken, token)
	if err := ev.SetData(event.ApplicationJSON, events.StepCancel{RunID: run.ID(), Runner: runner, Reason: "the test says stop"}); err != nil {
		t.Fatal(err)
	}
	return ev
}

// post delivers ev as the broker would and returns the status and the
// reply (nil when there is none), giving up after timeout.
func postStep(t *testing.T, url string, ev event.Event, timeout time.Duration) (int, *event.Event, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&ev), req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if resp.Header.Get("Ce-Id") == "" && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/cloudevents") {
		return resp.StatusCode, nil, nil
	}
	reply, err := cehttp.NewEventFromHTTPResponse(resp)
	if err != nil {
		t.Errorf("reply: %v", err)
	}
	return resp.StatusCode, reply, nil
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A step that outlives its request keeps running, heartbeats while it
// does, runs once however often its step.run is delivered, and sends its
// result by event when no request is left to carry it; a redelivery after
// the end gets the same result without a second run.
func TestStepOutlivesItsRequestAndRunsOnce(t *testing.T) {
	sink := &recordingSink{}
	broker := httptest.NewServer(sink)
	defer broker.Close()
	var starts atomic.Int32
	release := make(chan struct{})
	h := sdk.Step(func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		starts.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
			return sdk.StepOutput{}, ctx.Err()
		}
		r := "done"
		return sdk.StepOutput{Result: &r}, nil
	}, sdk.StepOptions{Artifacts: sdk.DirArtifacts{Dir: t.TempDir()}})
	url := serveStep(t, h, broker.URL)
	run := stepRunFor(t, "uid/main.A/0", 1, 30)

	// The broker gives up on the first delivery (its timeout) and on a
	// second one: neither starts a second copy.
	if _, _, err := postStep(t, url, run, 300*time.Millisecond); err == nil {
		t.Fatal("the first delivery was answered before the step finished")
	}
	if _, _, err := postStep(t, url, run, 300*time.Millisecond); err == nil {
		t.Fatal("the second delivery was answered before the step finished")
	}
	waitFor(t, "two heartbeats", 5*time.Second, func() bool { return len(sink.ofType(events.TypeStepHeartbeat)) >= 2 })
	hbs := sink.ofType(events.TypeStepHeartbeat)
	var first events.StepHeartbeat
	if err := hbs[0].DataAs(&first); err != nil || first.Runner == "" {
		t.Fatalf("heartbeat data %s: %v", hbs[0].Data(), err)
	}
	for i, hb := range hbs {
		var d events.StepHeartbeat
		_ = hb.DataAs(&d)
		if d.Runner != first.Runner || !strings.HasPrefix(hb.ID(), run.ID()+"/") || events.Extension(hb, events.ExtStepToken) != "token-of-"+run.ID() || events.Extension(hb, events.ExtNode) != "main.A" {
			t.Errorf("heartbeat %d: id %s, runner %s, extensions %v; want one runner, the run's id and its token and routing", i, hb.ID(), d.Runner, hb.Extensions())
		}
	}
	close(release)
	waitFor(t, "the result by event", 5*time.Second, func() bool { return len(sink.ofType(events.TypeStepResult)) == 1 })
	res := sink.ofType(events.TypeStepResult)[0]
	var data events.StepResult
	if err := res.DataAs(&data); err != nil || data.Phase != v1alpha1.NodeSucceeded || res.ID() != run.ID() {
		t.Fatalf("result %s %s: %v", res.ID(), res.Data(), err)
	}
	// Delivered again after the end: the same result, as the reply.
	code, reply, err := postStep(t, url, run, 5*time.Second)
	if err != nil || code != http.StatusOK || reply == nil || reply.Type() != events.TypeStepResult {
		t.Fatalf("redelivery: %d %v %v", code, reply, err)
	}
	if n := starts.Load(); n != 1 {
		t.Errorf("the step started %d times; want once", n)
	}
	time.Sleep(1500 * time.Millisecond)
	if n := len(sink.ofType(events.TypeStepResult)); n != 1 {
		t.Errorf("%d results sent by event; want 1 (the redelivery had a request to carry its reply)", n)
	}
	if n := len(sink.ofType(events.TypeStepHeartbeat)); n > len(hbs)+2 {
		t.Errorf("heartbeats go on after the end: %d", n)
	}
}

// A step shorter than the heartbeat interval sends no heartbeat: the hot
// path costs no event more.
func TestShortStepSendsNoHeartbeat(t *testing.T) {
	sink := &recordingSink{}
	broker := httptest.NewServer(sink)
	defer broker.Close()
	h := sdk.Step(func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) { return sdk.StepOutput{}, nil })
	url := serveStep(t, h, broker.URL)
	code, reply, err := postStep(t, url, stepRunFor(t, "uid/main.A/0", 1, 30), 5*time.Second)
	if err != nil || code != http.StatusOK || reply == nil {
		t.Fatalf("%d %v %v", code, reply, err)
	}
	time.Sleep(1200 * time.Millisecond)
	if n := len(sink.ofType(events.TypeStepHeartbeat)) + len(sink.ofType(events.TypeStepResult)); n != 0 {
		t.Errorf("%d events sent by a step that answered at once", n)
	}
}

// A step.cancel stops the attempt only with the attempt's token and, when
// it names a copy, only that copy; a stopped attempt sends no result; an
// undecodable cancel is 400.
func TestStepCancel(t *testing.T) {
	sink := &recordingSink{}
	broker := httptest.NewServer(sink)
	defer broker.Close()
	stopped := make(chan error, 1)
	h := sdk.Step(func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		<-ctx.Done()
		stopped <- context.Cause(ctx)
		return sdk.StepOutput{}, ctx.Err()
	})
	url := serveStep(t, h, broker.URL)
	run := stepRunFor(t, "uid/main.A/0", 1, 30)
	replied := make(chan int, 1)
	go func() {
		code, reply, err := postStep(t, url, run, 20*time.Second)
		if err != nil || reply != nil {
			t.Errorf("the cancelled step's request: %d %v %v; want an answer with no result", code, reply, err)
		}
		replied <- code
	}()
	waitFor(t, "a heartbeat", 5*time.Second, func() bool { return len(sink.ofType(events.TypeStepHeartbeat)) > 0 })
	var hb events.StepHeartbeat
	_ = sink.ofType(events.TypeStepHeartbeat)[0].DataAs(&hb)

	for name, c := range map[string]event.Event{
		"a forged token":     cancelFor(t, run, "token-of-something-else", ""),
		"no token":           cancelFor(t, run, "", ""),
		"another copy":       cancelFor(t, run, "token-of-"+run.ID(), "another-runner"),
		"an unknown attempt": cancelFor(t, stepRunFor(t, "uid/main.B/0", 1, 30), "token-of-uid/main.B/0", ""),
	} {
		if code, _, err := postStep(t, url, c, 5*time.Second); err != nil || code/100 != 2 {
			t.Errorf("%s: %d %v", name, code, err)
		}
	}
	select {
	case cause := <-stopped:
		t.Fatalf("stopped by a cancel it must ignore: %v", cause)
	case <-time.After(300 * time.Millisecond):
	}
	bad := cancelFor(t, run, "token-of-"+run.ID(), "")
	_ = bad.SetData(event.ApplicationJSON, map[string]int{"runID": 7})
	if code, _, err := postStep(t, url, bad, 5*time.Second); err != nil || code != http.StatusBadRequest {
		t.Errorf("undecodable cancel: %d %v; want 400", code, err)
	}
	if code, _, err := postStep(t, url, cancelFor(t, run, "token-of-"+run.ID(), hb.Runner), 5*time.Second); err != nil || code/100 != 2 {
		t.Fatalf("cancel: %d %v", code, err)
	}
	select {
	case cause := <-stopped:
		if !strings.Contains(cause.Error(), "the test says stop") {
			t.Errorf("cause %v, want the cancel's reason", cause)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the step was not stopped")
	}
	select {
	case <-replied:
	case <-time.After(5 * time.Second):
		t.Fatal("the cancelled step's request was not answered")
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(sink.ofType(events.TypeStepResult)); n != 0 {
		t.Errorf("a cancelled step sent %d results", n)
	}
}

// A step whose heartbeats have not reached the broker for the lost-after
// time stops itself: the controller has given it up.
func TestStepStopsWhenItsHeartbeatsAreRefused(t *testing.T) {
	sink := &recordingSink{}
	sink.refuse.Store(true)
	broker := httptest.NewServer(sink)
	defer broker.Close()
	stopped := make(chan error, 1)
	h := sdk.Step(func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		<-ctx.Done()
		stopped <- context.Cause(ctx)
		return sdk.StepOutput{}, ctx.Err()
	})
	url := serveStep(t, h, broker.URL)
	go func() { _, _, _ = postStep(t, url, stepRunFor(t, "uid/main.A/0", 1, 3), 20*time.Second) }()
	start := time.Now()
	select {
	case cause := <-stopped:
		if !strings.Contains(cause.Error(), "no heartbeat reached the broker for 3s") {
			t.Errorf("cause %v", cause)
		}
		if d := time.Since(start); d < 3*time.Second || d > 6*time.Second {
			t.Errorf("stopped after %s, want about 3-4s", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a step whose heartbeats all fail was not stopped")
	}
}
