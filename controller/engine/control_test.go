package engine_test

import (
	"testing"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
)

func cancelled(ids ...string) func(*testing.T, engine.Outcome) {
	return func(t *testing.T, o engine.Outcome) {
		t.Helper()
		var got []string
		for _, c := range o.Cancel {
			got = append(got, c.NodeID)
		}
		if len(got) != len(ids) {
			t.Errorf("cancel = %v, want %v", got, ids)
			return
		}
		for i := range ids {
			if got[i] != ids[i] {
				t.Errorf("cancel = %v, want %v", got, ids)
			}
		}
	}
}

func TestControl(t *testing.T) {
	s := time.Second
	runCases(t, []engineCase{
		{
			name: "a submit the runtime found invalid ends the run in Error with the reason, dispatching nothing",
			wf: dagWF(`
- {name: A, template: fn}`),
			steps: []step{
				{in: Input{Kind: engine.Submit, Invalid: "spec.workflowTemplateRef: WorkflowTemplate default/nope not found"}, dispatch: none,
					finished: Errored, message: "spec.workflowTemplateRef: WorkflowTemplate default/nope not found"},
				{in: submit(), dispatch: none},
			},
		},
		{
			name: "activeDeadlineSeconds fails running steps and the exit handler still runs",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: fn, dependencies: [A]}`, "activeDeadlineSeconds: 60\nonExit: fn"),
			steps: []step{
				{in: submit(), wake: wakeAt(60 * s)},
				{in: tick(), at: 59 * s, dispatch: none, wake: wakeAt(60 * s)},
				{in: tick(), at: 60 * s, dispatch: []string{"main.onExit"}, check: cancelled("main.A"),
					nodes:        P("main=Failed", "main.A=Failed", "main.B=Omitted", "main.onExit=Running"),
					nodeMessages: map[string]string{"main.A": "Step exceeded its deadline"}},
				{in: ok("main.onExit"), at: 61 * s, finished: Failed},
			},
		},
		{
			name: "stop fails running steps, starts nothing new and runs the exit handler",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: fn}
- {name: C, template: fn, dependencies: [A]}`, "onExit: fn"),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A", "main.B"}},
				{in: ok("main.B")},
				{in: stop(v1alpha1.ShutdownStop), dispatch: []string{"main.onExit"}, check: checks(cancelled("main.A"), func(t *testing.T, o engine.Outcome) {
					if o.SpecPatch == nil || o.SpecPatch.Shutdown != v1alpha1.ShutdownStop {
						t.Errorf("spec patch %+v", o.SpecPatch)
					}
				}), nodes: P("main=Failed", "main.A=Failed", "main.B=Succeeded", "main.C=Omitted", "main.onExit=Running")},
				{in: ok("main.A"), ignored: "no running attempt"},
				{in: ok("main.onExit"), finished: Failed, message: "Stopped with strategy 'Stop'"},
			},
		},
		{
			name: "terminate does not run the exit handler",
			wf: dagWF(`
- {name: A, template: fn}`, "onExit: fn"),
			steps: []step{
				{in: submit()},
				{in: stop(v1alpha1.ShutdownTerminate), dispatch: none, check: cancelled("main.A"), finished: Failed, message: "Stopped with strategy 'Terminate'",
					nodes: P("main=Failed", "main.A=Failed")},
			},
		},
		{
			name: "terminate also ends an exit handler that is running",
			wf: dagWF(`
- {name: A, template: fn}`, "onExit: fn"),
			steps: []step{
				{in: submit()},
				{in: fail("main.A"), dispatch: []string{"main.onExit"}},
				{in: stop(v1alpha1.ShutdownStop), dispatch: none, nodes: P("main=Failed", "main.A=Failed", "main.onExit=Running")},
				{in: stop(v1alpha1.ShutdownTerminate), check: cancelled("main.onExit"), finished: Failed, nodes: P("main=Failed", "main.A=Failed", "main.onExit=Failed")},
			},
		},
		{
			name: "spec.shutdown set by kubectl acts on the next tick",
			wf: dagWF(`
- {name: A, template: fn}`, "shutdown: Terminate"),
			steps: []step{
				{in: submit(), finished: Failed, message: "Stopped with strategy 'Terminate'", nodes: P("main=Failed")},
			},
		},
		{
			name: "spec.suspend starts nothing new until resumed",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: fn, dependencies: [A]}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A"}},
			},
		},
		{
			name: "a suspended workflow lets running steps finish and resumes",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: fn, dependencies: [A]}`, "suspend: true"),
			steps: []step{
				{in: submit(), dispatch: none, nodes: P()},
				{in: tick(), dispatch: none},
				{in: resume(), dispatch: []string{"main.A"}, check: func(t *testing.T, o engine.Outcome) {
					if o.SpecPatch == nil || o.SpecPatch.Suspend == nil || *o.SpecPatch.Suspend {
						t.Errorf("spec patch %+v", o.SpecPatch)
					}
				}},
				{in: ok("main.A"), dispatch: []string{"main.B"}},
				{in: ok("main.B"), finished: Succeeded},
			},
		},
		{
			name: "a suspend template with a duration resumes itself",
			wf: dagWF(`
- {name: wait, template: pause}
- {name: B, template: fn, dependencies: [wait]}`, "", `
- name: pause
  suspend: {duration: "20"}`),
			steps: []step{
				{in: submit(), nodes: P("main=Running", "main.wait=Running"), wake: wakeAt(20 * s)},
				{in: tick(), at: 19 * s, dispatch: none, wake: wakeAt(20 * s)},
				{in: tick(), at: 20 * s, dispatch: []string{"main.B"}, nodes: P("main=Running", "main.wait=Succeeded", "main.B=Running")},
			},
		},
		{
			name: "resume ends a suspend node and supplies its outputs",
			wf: dagWF(`
- {name: approve, template: gate}
- {name: B, template: echo, dependencies: [approve], arguments: {parameters: [{name: x, value: "{{tasks.approve.outputs.parameters.answer}}"}]}}`, "", `
- name: gate
  outputs:
    parameters: [{name: answer, valueFrom: {supplied: {}}}]
  suspend: {}`),
			steps: []step{
				{in: submit(), wake: noWake},
				{in: tick(), at: time.Hour, dispatch: none},
				{in: engine.Input{Kind: engine.Resume, Outputs: map[string]string{"answer": "yes"}}, dispatch: []string{"main.B"},
					check: dispatchedInput("main.B", "x", "yes"), nodeMessages: map[string]string{"main.approve": "Resumed"}},
			},
		},
		{
			name: "resume without a supplied value and no default errors the node",
			wf: dagWF(`
- {name: approve, template: gate}`, "", `
- name: gate
  outputs:
    parameters: [{name: answer, valueFrom: {supplied: {}}}]
  suspend: {}`),
			steps: []step{
				{in: submit()},
				{in: resume(), finished: Errored, nodeMessages: map[string]string{"main.approve": "outputs.parameters.answer was not supplied and has no default"}},
			},
		},
		{
			name: "stop with a node selector fails only that suspend node",
			wf: dagWF(`
- {name: gate1, template: pause}
- {name: gate2, template: pause}`, "", `
- name: pause
  suspend: {}`),
			steps: []step{
				{in: submit()},
				{in: engine.Input{Kind: engine.Stop, Nodes: []string{"main.gate1"}, Message: "rejected"}, nodes: P("main=Running", "main.gate1=Failed", "main.gate2=Running"),
					nodeMessages: map[string]string{"main.gate1": "rejected"}},
				{in: resume("main.gate2"), finished: Failed},
			},
		},
		{
			name: "a duplicated result changes nothing",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: fn, dependencies: [A]}`),
			steps: []step{
				{in: submit()},
				{in: okResult("main.A", "first"), dispatch: []string{"main.B"}},
				{in: okResult("main.A", "second"), dispatch: none, ignored: "no running attempt", check: func(t *testing.T, o engine.Outcome) {
					if *o.Status.Nodes["main.A"].Outputs.Result != "first" {
						t.Error("a completed node changed")
					}
				}},
				{in: fail("main.A"), dispatch: none, ignored: "no running attempt", nodes: P("main=Running", "main.A=Succeeded", "main.B=Running")},
			},
		},
		{
			name: "results out of order and for unknown nodes",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: fn}
- {name: C, template: fn, dependencies: [A, B]}`),
			steps: []step{
				{in: submit()},
				{in: ok("main.C"), ignored: "no running attempt", dispatch: none},
				{in: ok("main.nope"), ignored: "no running attempt"},
				{in: result("main.A", 7, v1alpha1.NodeSucceeded, "", nil), ignored: "stale", nodes: P("main=Running", "main.A=Running", "main.B=Running")},
				{in: ok("main.B")},
				{in: ok("main.A"), dispatch: []string{"main.C"}},
				{in: ok("main.C"), finished: Succeeded},
				{in: ok("main.C"), ignored: "workflow already Succeeded"},
			},
		},
		{
			name: "inputs before submit change nothing",
			wf: dagWF(`
- {name: A, template: fn}`),
			steps: []step{
				{in: tick(), nodes: P(), dispatch: none},
				{in: ok("main.A"), ignored: "workflow has not started"},
				{in: submit(), dispatch: []string{"main.A"}},
				{in: submit(), dispatch: none},
			},
		},
	})
}
