package engine_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
)

// live is the liveness the cases run with: heartbeats every 10s, lost after
// 60s of silence, 5m to start.
var live = engine.Liveness{LostAfter: time.Minute, StartTimeout: 5 * time.Minute, HeartbeatEvery: 10 * time.Second}

func beat(id string, attempt int32, runner string) Input {
	return Input{Kind: engine.Heartbeat, Liveness: live, Heartbeat: &engine.HeartbeatOf{NodeID: id, Attempt: attempt, Runner: runner, Function: "fn"}}
}

func liveTick() Input { return Input{Kind: engine.Tick, Liveness: live} }

// cancels checks that o cancels exactly want ("node#attempt@runner", runner
// empty for every copy), each with a reason containing why.
func cancels(why string, want ...string) func(t *testing.T, o engine.Outcome) {
	return func(t *testing.T, o engine.Outcome) {
		t.Helper()
		var got []string
		for _, c := range o.Cancel {
			got = append(got, c.NodeID+"#"+itoa(c.Attempt)+"@"+c.Runner)
			if c.Function == "" {
				t.Errorf("cancel %+v names no function to route to", c)
			}
			if !strings.Contains(c.Reason, why) {
				t.Errorf("cancel reason %q, want it to contain %q", c.Reason, why)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("cancels %v, want %v", got, want)
		}
	}
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func nodeIs(id string, check func(n v1alpha1.NodeStatus) string) func(t *testing.T, o engine.Outcome) {
	return func(t *testing.T, o engine.Outcome) {
		t.Helper()
		if why := check(o.Status.Nodes[id]); why != "" {
			t.Errorf("node %s %+v: %s", id, o.Status.Nodes[id], why)
		}
	}
}

func TestLiveness(t *testing.T) {
	s, m, h := time.Second, time.Minute, time.Hour
	running := P("main=Running", "main.A=Running")
	runningFor := func(want string, beatAt int64) func(n v1alpha1.NodeStatus) string {
		return func(n v1alpha1.NodeStatus) string {
			if n.Runner != want || n.Heartbeat != beatAt {
				return "want runner " + want + " heartbeat at " + time.Duration(beatAt*int64(time.Millisecond)).String()
			}
			return ""
		}
	}
	runCases(t, []engineCase{
		{
			name: "an attempt that heartbeats runs for hours: its age says nothing",
			wf:   dagWF(`- {name: A, template: fn}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A"}},
				{in: beat("main.A", 0, "r1"), at: 10 * s, dispatch: none, nodes: running, check: nodeIs("main.A", runningFor("r1", 10000))},
				{in: beat("main.A", 0, "r1"), at: 4 * h, dispatch: none, nodes: running, check: nodeIs("main.A", runningFor("r1", (4*h).Milliseconds()))},
				{in: liveTick(), at: 4*h + 59*s, dispatch: none, nodes: running, check: cancels("")},
				{in: ok("main.A"), at: 5 * h, finished: Succeeded, check: nodeIs("main.A", runningFor("", 0))},
			},
		},
		{
			name: "heartbeats closer than half the interval are not written",
			wf:   dagWF(`- {name: A, template: fn}`),
			steps: []step{
				{in: submit()},
				{in: beat("main.A", 0, "r1"), at: 10 * s, check: nodeIs("main.A", runningFor("r1", 10000))},
				{in: beat("main.A", 0, "r1"), at: 14 * s, check: nodeIs("main.A", runningFor("r1", 10000))},
				{in: beat("main.A", 0, "r1"), at: 15 * s, check: nodeIs("main.A", runningFor("r1", 15000))},
			},
		},
		{
			name: "silence after heartbeats loses the attempt after LostAfter, as Error",
			wf:   dagWF(`- {name: A, template: fn}`),
			steps: []step{
				{in: submit()},
				{in: beat("main.A", 0, "r1"), at: 10 * s},
				{in: liveTick(), at: 69 * s, nodes: running, check: cancels("")},
				{in: liveTick(), at: 70 * s, finished: Errored, nodes: P("main=Error", "main.A=Error"),
					nodeMessages: map[string]string{"main.A": "lost: attempt 0 sent no heartbeat for 1m0s"}, check: cancels("lost", "main.A#0@")},
			},
		},
		{
			name: "an attempt never heard of is lost after StartTimeout, not before",
			wf:   dagWF(`- {name: A, template: fn}`),
			steps: []step{
				{in: submit()},
				{in: liveTick(), at: 4*m + 59*s, nodes: running},
				{in: liveTick(), at: 5 * m, finished: Errored, nodeMessages: map[string]string{"main.A": "sent neither a heartbeat nor a result within 5m0s"}},
			},
		},
		{
			name: "a lost attempt is retried as a new attempt under retryPolicy Always; the old copy's result and heartbeats are refused",
			wf:   retryWF(`{limit: 1, retryPolicy: Always}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A"}},
				{in: beat("main.A", 0, "r1"), at: 10 * s},
				{in: liveTick(), at: 70 * s, dispatch: []string{"main.A#1"}, nodes: running, check: func(t *testing.T, o engine.Outcome) {
					cancels("lost", "main.A#0@")(t, o)
					nodeIs("main.A", runningFor("", 0))(t, o)
				}},
				{in: beat("main.A", 0, "r1"), at: 75 * s, dispatch: none, check: cancels("attempt 0 of node \"main.A\" is over", "main.A#0@r1")},
				{in: ok("main.A"), at: 76 * s, ignored: "stale", nodes: running},
				{in: beat("main.A", 1, "r2"), at: 80 * s, check: func(t *testing.T, o engine.Outcome) {
					cancels("")(t, o)
					nodeIs("main.A", runningFor("r2", 80000))(t, o)
				}},
				{in: okAttempt("main.A", 1), at: 90 * s, finished: Succeeded},
			},
		},
		{
			name: "retryPolicy OnFailure does not retry a lost attempt (Argo's rule for errors)",
			wf:   retryWF(`{limit: 1, retryPolicy: OnFailure}`),
			steps: []step{
				{in: submit()},
				{in: beat("main.A", 0, "r1"), at: 10 * s},
				{in: liveTick(), at: 70 * s, finished: Errored},
			},
		},
		{
			name: "a second copy of the current attempt is cancelled; the first keeps running",
			wf:   dagWF(`- {name: A, template: fn}`),
			steps: []step{
				{in: submit()},
				{in: beat("main.A", 0, "r1"), at: 10 * s},
				{in: beat("main.A", 0, "r2"), at: 11 * s, nodes: running, check: func(t *testing.T, o engine.Outcome) {
					cancels("runs as r1 already", "main.A#0@r2")(t, o)
					nodeIs("main.A", runningFor("r1", 10000))(t, o)
				}},
			},
		},
		{
			name: "heartbeats of a finished node, a completed workflow or an unknown node are cancelled",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: fn, dependencies: [A]}`),
			steps: []step{
				{in: submit()},
				{in: ok("main.A"), at: s},
				{in: beat("main.A", 0, "r1"), at: 2 * s, check: cancels("is Succeeded already", "main.A#0@r1")},
				{in: beat("main.X", 0, "r1"), at: 3 * s, check: cancels("no running node", "main.X#0@r1")},
				{in: ok("main.B"), at: 4 * s, finished: Succeeded},
				{in: beat("main.B", 0, "r1"), at: 5 * s, check: cancels("the workflow is Succeeded", "main.B#0@r1")},
			},
		},
		{
			name: "terminating a workflow cancels its running steps, naming their function",
			wf:   dagWF(`- {name: A, template: fn}`),
			steps: []step{
				{in: submit()},
				{in: beat("main.A", 0, "r1"), at: 10 * s},
				{in: stop(v1alpha1.ShutdownTerminate), at: 11 * s, finished: Failed, check: func(t *testing.T, o engine.Outcome) {
					cancels("Stopped with strategy 'Terminate'", "main.A#0@")(t, o)
					if o.Cancel[0].Function != "fn" {
						t.Errorf("cancel routed to %q, want fn", o.Cancel[0].Function)
					}
				}},
			},
		},
	})
}
