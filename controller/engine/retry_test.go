package engine_test

import (
	"testing"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
)

// retryWF is a dag with one task A running template "flaky" that has the
// given retryStrategy (YAML flow map).
func retryWF(strategy string) string {
	return dagWF(`
- {name: A, template: flaky}`, "", `
- name: flaky
  retryStrategy: `+strategy+`
  function: {name: flaky}`)
}

func TestRetries(t *testing.T) {
	s := time.Second
	runCases(t, []engineCase{
		{
			name: "a retry succeeds without backoff",
			wf:   retryWF(`{limit: 2}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A"}},
				{in: fail("main.A"), at: s, dispatch: []string{"main.A#1"}, nodes: P("main=Running", "main.A=Running")},
				{in: okAttempt("main.A", 1), at: 2 * s, finished: Succeeded, check: func(t *testing.T, o engine.Outcome) {
					n := o.Status.Nodes["main.A"]
					if n.Retries != 1 || n.AttemptStarted != 1000 || n.Started != 0 || n.Finished != 2000 {
						t.Errorf("node record %+v", n)
					}
				}},
			},
		},
		{
			name: "retries exhausted fail the node with the last error",
			wf:   retryWF(`{limit: "2"}`),
			steps: []step{
				{in: submit()},
				{in: fail("main.A"), dispatch: []string{"main.A#1"}},
				{in: failAttempt("main.A", 1), dispatch: []string{"main.A#2"}},
				{in: failAttempt("main.A", 2), dispatch: none, finished: Failed,
					nodeMessages: map[string]string{"main.A": "exit status 1 (no more retries left after 3 attempts)"}},
			},
		},
		{
			name: "exponential backoff is a wake action, never a sleep",
			wf:   retryWF(`{limit: 3, backoff: {duration: "10", factor: 2}}`),
			steps: []step{
				{in: submit(), wake: noWake},
				{in: fail("main.A"), at: 1 * s, dispatch: none, wake: wakeAt(11 * s), nodeMessages: map[string]string{"main.A": "Backoff for 10s after attempt 0: exit status 1"}},
				{in: tick(), at: 5 * s, dispatch: none, wake: wakeAt(11 * s)},
				{in: tick(), at: 11 * s, dispatch: []string{"main.A#1"}, wake: noWake},
				{in: failAttempt("main.A", 1), at: 12 * s, dispatch: none, wake: wakeAt(32 * s)},
				{in: tick(), at: 32 * s, dispatch: []string{"main.A#2"}},
				{in: failAttempt("main.A", 2), at: 33 * s, wake: wakeAt(73 * s)},
			},
		},
		{
			name: "backoff cap bounds the wait",
			wf:   retryWF(`{backoff: {duration: 10s, factor: 10, cap: 30s}}`),
			steps: []step{
				{in: submit()},
				{in: fail("main.A"), wake: wakeAt(10 * s)},
				{in: tick(), at: 10 * s, dispatch: []string{"main.A#1"}},
				{in: failAttempt("main.A", 1), at: 10 * s, wake: wakeAt(40 * s)},
			},
		},
		{
			name: "maxDuration stops retrying when the next wait would pass it",
			wf:   retryWF(`{limit: 5, backoff: {duration: 10s, factor: 2, maxDuration: 25s}}`),
			steps: []step{
				{in: submit()},
				{in: fail("main.A"), at: s, wake: wakeAt(11 * s)},
				{in: tick(), at: 11 * s, dispatch: []string{"main.A#1"}},
				{in: failAttempt("main.A", 1), at: 12 * s, finished: Failed, nodeMessages: map[string]string{"main.A": "backoff would exceed max duration limit"}},
			},
		},
		{
			name: "OnError retries errors but not failures",
			wf:   retryWF(`{limit: 3, retryPolicy: OnError}`),
			steps: []step{
				{in: submit()},
				{in: errored("main.A"), dispatch: []string{"main.A#1"}},
				{in: failAttempt("main.A", 1), finished: Failed, nodeMessages: map[string]string{"main.A": "exit status 1"}},
			},
		},
		{
			name: "the default policy OnFailure does not retry errors",
			wf:   retryWF(`{limit: 3}`),
			steps: []step{
				{in: submit()},
				{in: errored("main.A"), finished: Errored},
			},
		},
		{
			name: "Always retries both",
			wf:   retryWF(`{limit: 3, retryPolicy: Always}`),
			steps: []step{
				{in: submit()},
				{in: errored("main.A"), dispatch: []string{"main.A#1"}},
				{in: failAttempt("main.A", 1), dispatch: []string{"main.A#2"}},
			},
		},
		{
			name: "OnTransientError retries only transient messages",
			wf:   retryWF(`{limit: 3, retryPolicy: OnTransientError}`),
			steps: []step{
				{in: submit()},
				{in: result("main.A", 0, v1alpha1.NodeError, "dial tcp: connection refused", nil), dispatch: []string{"main.A#1"}},
				{in: result("main.A", 1, v1alpha1.NodeFailed, "invalid input", nil), finished: Failed},
			},
		},
		{
			name: "a retry expression over the last exit code",
			wf:   retryWF(`{limit: 5, expression: "asInt(lastRetry.exitCode) == 2 && lastRetry.status == 'Failed' && asInt(retries) < 3"}`),
			steps: []step{
				{in: submit()},
				{in: result("main.A", 0, v1alpha1.NodeFailed, "exit 2", &v1alpha1.NodeOutputs{ExitCode: exitCode(2)}), dispatch: []string{"main.A#1"}},
				{in: result("main.A", 1, v1alpha1.NodeError, "exit 2", &v1alpha1.NodeOutputs{ExitCode: exitCode(2)}), finished: Errored,
					nodeMessages: map[string]string{"main.A": "retryStrategy.expression evaluated to false"}},
			},
		},
		{
			name:    "a bad retry expression errors the node",
			invalid: true,
			wf:      retryWF(`{limit: 5, expression: "lastRetry.exitCode >"}`),
			steps: []step{
				{in: submit()},
				{in: fail("main.A"), finished: Errored, nodeMessages: map[string]string{"main.A": "retryStrategy.expression"}},
			},
		},
		{
			name: "no limit retries without end, as in Argo",
			wf:   retryWF(`{retryPolicy: Always}`),
			steps: []step{
				{in: submit()},
				{in: fail("main.A"), dispatch: []string{"main.A#1"}},
				{in: failAttempt("main.A", 1), dispatch: []string{"main.A#2"}},
				{in: failAttempt("main.A", 2), dispatch: []string{"main.A#3"}},
				{in: okAttempt("main.A", 3), finished: Succeeded},
			},
		},
		{
			name: "the workflow retryStrategy applies to templates without one",
			wf: dagWF(`
- {name: A, template: fn}`, "retryStrategy: {limit: 1}"),
			steps: []step{
				{in: submit()},
				{in: fail("main.A"), dispatch: []string{"main.A#1"}},
				{in: failAttempt("main.A", 1), finished: Failed},
			},
		},
		{
			name: "a result of an earlier attempt is ignored",
			wf:   retryWF(`{limit: 3}`),
			steps: []step{
				{in: submit()},
				{in: fail("main.A"), dispatch: []string{"main.A#1"}},
				{in: ok("main.A"), dispatch: none, ignored: "stale: the current attempt is 1", nodes: P("main=Running", "main.A=Running")},
				{in: okAttempt("main.A", 1), finished: Succeeded},
			},
		},
		{
			name: "a result that arrives during the backoff is ignored",
			wf:   retryWF(`{limit: 3, backoff: {duration: 5s}}`),
			steps: []step{
				{in: submit()},
				{in: fail("main.A"), wake: wakeAt(5 * s)},
				{in: ok("main.A"), at: 2 * s, ignored: "waits to retry", wake: wakeAt(5 * s)},
				{in: okAttempt("main.A", 1), at: 3 * s, ignored: "waits to retry"},
				{in: tick(), at: 5 * s, dispatch: []string{"main.A#1"}},
			},
		},
		{
			name: "a timeout fails the attempt and the retry runs",
			wf: dagWF(`
- {name: A, template: slow}`, "", `
- name: slow
  timeout: 30s
  retryStrategy: {limit: 1}
  function: {name: slow}`),
			steps: []step{
				{in: submit(), wake: wakeAt(30 * s), check: func(t *testing.T, o engine.Outcome) {
					if !o.Dispatch[0].Deadline.Equal(t0.Add(30 * s)) {
						t.Errorf("deadline %v", o.Dispatch[0].Deadline)
					}
				}},
				{in: tick(), at: 29 * s, dispatch: none, wake: wakeAt(30 * s)},
				{in: tick(), at: 30 * s, dispatch: []string{"main.A#1"}, wake: wakeAt(60 * s), check: func(t *testing.T, o engine.Outcome) {
					if len(o.Cancel) != 1 || o.Cancel[0].NodeID != "main.A" || o.Cancel[0].Attempt != 0 {
						t.Errorf("cancel = %+v", o.Cancel)
					}
				}},
				{in: tick(), at: 60 * s, finished: Failed, nodeMessages: map[string]string{"main.A": "timeout: attempt 1 did not finish within 30s"}},
			},
		},
	})
}

func exitCode(c int32) *int32 { return &c }
