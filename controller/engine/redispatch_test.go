package engine_test

import (
	"testing"
	"time"
)

// redelivered is in with Redispatch: what the controller advances with
// when in is one the workflow took already.
func redelivered(in Input) Input {
	in.Redispatch = true
	in.Liveness = live
	return in
}

func TestRedispatchSendsAgainTheAttemptsNotHeardFrom(t *testing.T) {
	s := time.Second
	runCases(t, []engineCase{
		{
			name: "a redelivered result sends again the running attempts that sent nothing yet, not those that heartbeat",
			wf:   dagWF("- {name: A, template: fn}\n- {name: B, template: fn, depends: A}\n- {name: C, template: fn, depends: A}"),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A"}},
				{in: ok("main.A"), at: s, dispatch: []string{"main.B", "main.C"}},
				{in: beat("main.B", 0, "r1"), at: 2 * s, dispatch: none},
				{in: redelivered(ok("main.A")), at: 3 * s, dispatch: []string{"main.C"}, nodes: P("main=Running", "main.A=Succeeded", "main.B=Running", "main.C=Running")},
				// Without Redispatch the same input sends nothing.
				{in: ok("main.A"), at: 4 * s, dispatch: none},
				{in: ok("main.B"), at: 5 * s, dispatch: none},
				{in: ok("main.C"), at: 6 * s, finished: Succeeded},
			},
		},
		{
			name: "a redelivered submit sends again the first attempt",
			wf:   dagWF("- {name: A, template: fn}"),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A"}},
				{in: redelivered(submit()), at: s, dispatch: []string{"main.A"}},
				{in: beat("main.A", 0, "r1"), at: 2 * s, dispatch: none},
				{in: redelivered(submit()), at: 3 * s, dispatch: none},
				{in: ok("main.A"), at: 4 * s, finished: Succeeded},
			},
		},
	})
}
