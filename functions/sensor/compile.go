package sensor

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/filter"
	"github.com/zeroflow-dev/zeroflow/functions/sensor/params"
	"github.com/zeroflow-dev/zeroflow/internal/expression"
)

// Validate checks a Sensor completely: the API's structural validation,
// every dependency's filters compiled, every parameter list checked. lint,
// dev and the sensor at start all use it.
func Validate(s *v1alpha1.Sensor) field.ErrorList {
	errs := v1alpha1.ValidateSensor(s)
	// ValidateSensor already checks the time window and the logical
	// operators, with the bad value; filter.Compile checks them again, and
	// one mistake should be one error.
	reported := map[string]bool{}
	for _, e := range errs {
		reported[e.Field] = true
	}
	deps := map[string]bool{}
	spec := field.NewPath("spec")
	for i := range s.Spec.Dependencies {
		d := &s.Spec.Dependencies[i]
		deps[d.Name] = true
		if _, err := filter.Compile(d); err != nil {
			for _, e := range lineErrors(spec.Child("dependencies").Index(i).String()+".", err) {
				if !reported[e.Field] {
					errs = append(errs, e)
				}
			}
		}
	}
	for i := range s.Spec.Triggers {
		errs = append(errs, checkTriggerParams(&s.Spec.Triggers[i], deps, spec.Child("triggers").Index(i))...)
	}
	return errs
}

func checkTriggerParams(t *v1alpha1.Trigger, deps map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	check := func(ps []v1alpha1.TriggerParameter, at *field.Path, requireDest bool) {
		if err := params.Check(ps, deps, at.String(), requireDest); err != nil {
			errs = append(errs, lineErrors("", err)...)
		}
	}
	check(t.Parameters, p.Child("parameters"), true)
	if tt := t.Template; tt != nil {
		tp := p.Child("template")
		if w := tt.WorkflowTrigger(); w != nil {
			name := "workflow"
			if tt.Workflow == nil {
				name = "argoWorkflow"
			}
			check(w.Parameters, tp.Child(name, "parameters"), true)
		}
		if tt.K8s != nil {
			check(tt.K8s.Parameters, tp.Child("k8s", "parameters"), true)
		}
		if tt.HTTP != nil {
			check(tt.HTTP.Parameters, tp.Child("http", "parameters"), true)
			check(tt.HTTP.Payload, tp.Child("http", "payload"), false)
		}
		if tt.CloudEvent != nil {
			check(tt.CloudEvent.Payload, tp.Child("cloudEvent", "payload"), false)
		}
		if tt.Slack != nil {
			check(tt.Slack.Parameters, tp.Child("slack", "parameters"), true)
		}
	}
	if t.DLQTrigger != nil {
		errs = append(errs, checkTriggerParams(t.DLQTrigger, deps, p.Child("dlqTrigger"))...)
	}
	return errs
}

// lineErrors turns "path: message" lines (the errors of filter.Compile and
// params.Check) into field errors under prefix.
func lineErrors(prefix string, err error) field.ErrorList {
	var out field.ErrorList
	for _, line := range strings.Split(err.Error(), "\n") {
		if line == "" {
			continue
		}
		// expr-lang's errors go on with the expression and a caret under
		// the fault, on lines that start with a space: they belong to the
		// error above, and have no path of their own.
		if len(out) > 0 && (line[0] == ' ' || line[0] == '\t') {
			out[len(out)-1].Detail += "\n" + line
			continue
		}
		path, detail, ok := strings.Cut(line, ": ")
		if !ok {
			path, detail = "", line
		}
		out = append(out, &field.Error{Type: field.ErrorTypeInvalid, Field: prefix + path, BadValue: field.OmitValueType{}, Detail: detail})
	}
	return out
}

// compiledTrigger is a trigger ready to run.
type compiledTrigger struct {
	spec *v1alpha1.Trigger
	name string
	// conditions over the trigger's dependencies.
	conditions *expression.Depends
	// deps are the dependencies the conditions name.
	deps map[string]bool
	// stateless: every dependency alone satisfies the conditions (an OR of
	// names), so an event fires the trigger by itself and nothing needs to
	// be remembered.
	stateless bool
	resets    []cron.Schedule
	backoff   wait.Backoff
	limiter   *rate.Limiter
	dlq       *compiledTrigger
}

func compileTrigger(t *v1alpha1.Trigger, allDeps []string) (*compiledTrigger, error) {
	tt := t.Template
	c := &compiledTrigger{spec: t, name: tt.Name, deps: map[string]bool{}, backoff: wait.Backoff{Steps: 1}}
	cond, err := v1alpha1.ParseConditions(tt.Conditions, allDeps)
	if err != nil {
		return nil, fmt.Errorf("trigger %s: conditions: %w", tt.Name, err)
	}
	c.conditions = cond
	for _, d := range cond.Tasks() {
		c.deps[d] = true
	}
	c.stateless = true
	for d := range c.deps {
		holds, err := cond.Eval(func(o expression.Operand) bool { return o.Task == d })
		if err != nil {
			return nil, fmt.Errorf("trigger %s: conditions: %w", tt.Name, err)
		}
		c.stateless = c.stateless && holds
	}
	for i, r := range tt.ConditionsReset {
		if r.ByTime == nil {
			continue
		}
		sched, err := v1alpha1.ParseResetSchedule(r.ByTime)
		if err != nil {
			return nil, fmt.Errorf("trigger %s: conditionsReset[%d]: %w", tt.Name, i, err)
		}
		c.resets = append(c.resets, sched)
	}
	if t.RetryStrategy != nil {
		if c.backoff, err = t.RetryStrategy.Parse(); err != nil {
			return nil, fmt.Errorf("trigger %s: retryStrategy: %w", tt.Name, err)
		}
	}
	if rl := t.RateLimit; rl != nil && rl.RequestsPerUnit > 0 {
		unit := map[string]time.Duration{"": time.Second, "Second": time.Second, "Minute": time.Minute, "Hour": time.Hour}[rl.Unit]
		c.limiter = rate.NewLimiter(rate.Every(unit/time.Duration(rl.RequestsPerUnit)), int(rl.RequestsPerUnit))
	}
	if t.DLQTrigger != nil {
		if t.DLQTrigger.Template == nil {
			return nil, errors.New("dlqTrigger: no template")
		}
		if c.dlq, err = compileTrigger(t.DLQTrigger, allDeps); err != nil {
			return nil, fmt.Errorf("trigger %s: dlqTrigger: %w", tt.Name, err)
		}
	}
	return c, nil
}

// resetAfter returns the earliest reset time in (since, now], if any: a
// dependency satisfied at since was cleared then.
func (c *compiledTrigger) resetAfter(since, now time.Time) (time.Time, bool) {
	var first time.Time
	for _, s := range c.resets {
		next := s.Next(since)
		if next.IsZero() || next.After(now) {
			continue
		}
		if first.IsZero() || next.Before(first) {
			first = next
		}
	}
	return first, !first.IsZero()
}
