package v1alpha1

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/zeroflow-dev/zeroflow/internal/expression"
)

// ValidateSensor reports what the schema cannot: unique names, conditions
// that name known dependencies, one kind per trigger, cron schedules, time
// windows and durations. Filters and parameters are compiled, and so
// checked, by the packages that run them (functions/filter,
// functions/sensor/params); functions/sensor.Validate runs all of it.
func ValidateSensor(s *Sensor) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	if s.Name == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), "every object needs a name"))
	}
	if len(s.Spec.Dependencies) == 0 {
		errs = append(errs, field.Required(spec.Child("dependencies"), "a sensor waits for at least one event"))
	}
	deps := map[string]bool{}
	for i, d := range s.Spec.Dependencies {
		p := spec.Child("dependencies").Index(i)
		errs = append(errs, validateDependency(d, p)...)
		if deps[d.Name] {
			errs = append(errs, field.Duplicate(p.Child("name"), d.Name))
		}
		deps[d.Name] = true
	}
	if len(s.Spec.Triggers) == 0 {
		errs = append(errs, field.Required(spec.Child("triggers"), "a sensor does at least one thing"))
	}
	if s.Spec.Template != nil {
		errs = append(errs, validateServiceAccountName(s.Spec.Template.ServiceAccountName, spec.Child("template", "serviceAccountName"))...)
	}
	names := map[string]bool{}
	for i := range s.Spec.Triggers {
		t := &s.Spec.Triggers[i]
		p := spec.Child("triggers").Index(i)
		errs = append(errs, validateTrigger(t, deps, p)...)
		if t.Template != nil {
			if names[t.Template.Name] {
				errs = append(errs, field.Duplicate(p.Child("template", "name"), t.Template.Name))
			}
			names[t.Template.Name] = true
		}
	}
	return errs
}

// dependencyName is the pattern of the schema, restated for lint, which
// does not run the API server's schema.
var dependencyName = regexp.MustCompile(`^[a-zA-Z0-9][-a-zA-Z0-9_]*$`)

func validateDependency(d EventDependency, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !dependencyName.MatchString(d.Name) {
		errs = append(errs, field.Invalid(p.Child("name"), d.Name, "letters, digits, '-' and '_', starting with a letter or digit; conditions refer to it"))
	}
	if d.EventSourceName == "" {
		errs = append(errs, field.Required(p.Child("eventSourceName"), "the EventSource the event comes from"))
	}
	if d.EventName == "" {
		errs = append(errs, field.Required(p.Child("eventName"), "the event of that EventSource"))
	}
	errs = append(errs, validateOperator(d.FiltersLogicalOperator, p.Child("filtersLogicalOperator"))...)
	if f := d.Filters; f != nil {
		fp := p.Child("filters")
		errs = append(errs, validateOperator(f.DataLogicalOperator, fp.Child("dataLogicalOperator"))...)
		errs = append(errs, validateOperator(f.ExprLogicalOperator, fp.Child("exprLogicalOperator"))...)
		if f.Time != nil {
			errs = append(errs, validateTimeFilter(f.Time, fp.Child("time"))...)
		}
	}
	return errs
}

func validateOperator(op LogicalOperator, p *field.Path) field.ErrorList {
	switch op {
	case "", And, Or:
		return nil
	}
	return field.ErrorList{field.NotSupported(p, op, []string{string(And), string(Or)})}
}

// ParseTimeOfDay parses the "HH:MM:SS" of a time filter into the offset
// from midnight.
func ParseTimeOfDay(s string) (time.Duration, error) {
	// time.Parse alone would take "9:05:00", which the filter function
	// (functions/filter) refuses: Argo's format is fixed width.
	t, err := time.Parse(time.TimeOnly, s)
	if err != nil || len(s) != len(time.TimeOnly) {
		return 0, fmt.Errorf("%q is not a time of day HH:MM:SS", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second, nil
}

func validateTimeFilter(t *TimeFilter, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if _, err := ParseTimeOfDay(t.Start); err != nil {
		errs = append(errs, field.Invalid(p.Child("start"), t.Start, err.Error()))
	}
	if _, err := ParseTimeOfDay(t.Stop); err != nil {
		errs = append(errs, field.Invalid(p.Child("stop"), t.Stop, err.Error()))
	}
	if _, err := time.LoadLocation(t.Timezone); err != nil {
		errs = append(errs, field.Invalid(p.Child("timezone"), t.Timezone, "not an IANA time zone, e.g. Asia/Seoul"))
	}
	return errs
}

// ParseConditions parses a trigger's conditions. Empty conditions mean
// every dependency, ANDed, as in Argo.
func ParseConditions(conditions string, deps []string) (*expression.Depends, error) {
	if strings.TrimSpace(conditions) == "" {
		return expression.DependenciesAsDepends(deps)
	}
	return expression.ParseDepends(conditions)
}

func validateTrigger(t *Trigger, deps map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Template == nil {
		return append(errs, field.Required(p.Child("template"), "a trigger has a template with a name and a kind, e.g. workflow or http"))
	}
	tp := p.Child("template")
	tt := t.Template
	if !dependencyName.MatchString(tt.Name) {
		errs = append(errs, field.Invalid(tp.Child("name"), tt.Name, "letters, digits, '-' and '_', starting with a letter or digit"))
	}
	errs = append(errs, validateConditions(tt.Conditions, deps, tp.Child("conditions"))...)
	for i, r := range tt.ConditionsReset {
		rp := tp.Child("conditionsReset").Index(i)
		if r.ByTime == nil {
			errs = append(errs, field.Required(rp.Child("byTime"), "the only reset criterion is byTime"))
			continue
		}
		if _, err := time.LoadLocation(r.ByTime.Timezone); err != nil {
			errs = append(errs, field.Invalid(rp.Child("byTime", "timezone"), r.ByTime.Timezone, "not an IANA time zone, e.g. Asia/Seoul"))
		} else if _, err := ParseResetSchedule(r.ByTime); err != nil {
			errs = append(errs, field.Invalid(rp.Child("byTime", "cron"), r.ByTime.Cron, err.Error()))
		}
	}
	errs = append(errs, validateTriggerKind(tt, t.Parameters, tp)...)
	if t.RetryStrategy != nil {
		if _, err := t.RetryStrategy.Parse(); err != nil {
			errs = append(errs, field.Invalid(p.Child("retryStrategy"), *t.RetryStrategy, err.Error()))
		}
	}
	if t.Policy != nil && t.Policy.Status != nil {
		for i, code := range t.Policy.Status.Allow {
			if code < 100 || code > 599 {
				errs = append(errs, field.Invalid(p.Child("policy", "status", "allow").Index(i), code, "an HTTP status, 100 to 599"))
			}
		}
	}
	if t.RateLimit != nil {
		if t.RateLimit.RequestsPerUnit < 1 {
			errs = append(errs, field.Invalid(p.Child("rateLimit", "requestsPerUnit"), t.RateLimit.RequestsPerUnit, "at least 1"))
		}
		switch t.RateLimit.Unit {
		case "", "Second", "Minute", "Hour":
		default:
			errs = append(errs, field.NotSupported(p.Child("rateLimit", "unit"), t.RateLimit.Unit, []string{"Second", "Minute", "Hour"}))
		}
	}
	if t.DLQTrigger != nil {
		if t.DLQTrigger.DLQTrigger != nil {
			errs = append(errs, field.Forbidden(p.Child("dlqTrigger", "dlqTrigger"), "a dead-letter trigger has no dead-letter trigger of its own"))
		}
		errs = append(errs, validateTrigger(t.DLQTrigger, deps, p.Child("dlqTrigger"))...)
	}
	return errs
}

func validateConditions(conditions string, deps map[string]bool, p *field.Path) field.ErrorList {
	if strings.TrimSpace(conditions) == "" {
		return nil
	}
	d, err := expression.ParseDepends(conditions)
	if err != nil {
		return field.ErrorList{field.Invalid(p, conditions, "conditions combine dependency names with &&, || and parentheses, e.g. \"(a || b) && c\"")}
	}
	var errs field.ErrorList
	// A name used twice is one mistake, reported once.
	seen := map[expression.Operand]bool{}
	for _, o := range d.Operands {
		if seen[o] {
			continue
		}
		seen[o] = true
		if o.Result != expression.ResultBare {
			errs = append(errs, field.Invalid(p, conditions, fmt.Sprintf("%s: conditions name dependencies only, without a result", o)))
			continue
		}
		if !deps[o.Task] {
			errs = append(errs, field.Invalid(p, conditions, fmt.Sprintf("%q is not a dependency of this sensor", o.Task)))
		}
	}
	return errs
}

// validateTriggerKind checks the kind that is set. params are the
// trigger-level parameters: Argo applies them to the template, so that dest
// "http.url" sets the URL at run time and the URL written may be a
// placeholder.
func validateTriggerKind(tt *TriggerTemplate, params []TriggerParameter, p *field.Path) field.ErrorList {
	var kinds []string
	var errs field.ErrorList
	if tt.Workflow != nil && tt.ArgoWorkflow != nil {
		errs = append(errs, field.Forbidden(p.Child("argoWorkflow"), "workflow and argoWorkflow are one trigger under two names; set one"))
	}
	if w := tt.WorkflowTrigger(); w != nil {
		kinds = append(kinds, "workflow")
		errs = append(errs, validateWorkflowTrigger(w, p.Child(workflowField(tt)))...)
	}
	if tt.K8s != nil {
		kinds = append(kinds, "k8s")
		errs = append(errs, validateK8sTrigger(tt.K8s, p.Child("k8s"))...)
	}
	if tt.HTTP != nil {
		kinds = append(kinds, "http")
		errs = append(errs, validateHTTPTrigger(tt.HTTP, hasDest(params, "http.url"), p.Child("http"))...)
	}
	if tt.Log != nil {
		kinds = append(kinds, "log")
	}
	if tt.CloudEvent != nil {
		kinds = append(kinds, "cloudEvent")
		errs = append(errs, validateCloudEventTrigger(tt.CloudEvent, hasDest(params, "cloudEvent.url"), p.Child("cloudEvent"))...)
	}
	if tt.Slack != nil {
		kinds = append(kinds, "slack")
		if tt.Slack.WebhookURL == nil || tt.Slack.WebhookURL.Name == "" || tt.Slack.WebhookURL.Key == "" {
			errs = append(errs, field.Required(p.Child("slack", "webhookURL"), "the secret key that holds the incoming webhook's URL"))
		}
	}
	switch len(kinds) {
	case 0:
		errs = append(errs, field.Required(p, "set one trigger kind: workflow, k8s, http, log, cloudEvent or slack"))
	case 1:
	default:
		errs = append(errs, field.Invalid(p, strings.Join(kinds, ", "), "set one trigger kind per trigger"))
	}
	return errs
}

func workflowField(tt *TriggerTemplate) string {
	if tt.Workflow != nil {
		return "workflow"
	}
	return "argoWorkflow"
}

func validateSource(src *ArtifactLocation, p *field.Path) field.ErrorList {
	if src == nil || (src.Resource == nil && src.Inline == "") {
		return field.ErrorList{field.Required(p, "the object, under resource (inline YAML) or inline (a string)")}
	}
	if src.Resource != nil && src.Inline != "" {
		return field.ErrorList{field.Invalid(p, "resource, inline", "set one of resource and inline")}
	}
	return nil
}

func validateWorkflowTrigger(w *WorkflowTrigger, p *field.Path) field.ErrorList {
	errs := validateSource(w.Source, p.Child("source"))
	switch w.Operation {
	case "", WorkflowSubmit:
		// The Workflow it submits runs as written: lint checks it as a
		// file. Suspend, resume, stop and terminate name one.
		errs = append(errs, validateSourceObject(w.Source, w.Parameters, p.Child("source"))...)
	case WorkflowSuspend, WorkflowResume, WorkflowStop, WorkflowTerminate:
	default:
		errs = append(errs, field.NotSupported(p.Child("operation"), w.Operation, []string{"submit", "suspend", "resume", "stop", "terminate"}))
	}
	return errs
}

func validateK8sTrigger(k *K8sTrigger, p *field.Path) field.ErrorList {
	errs := validateSource(k.Source, p.Child("source"))
	switch k.Operation {
	case "", K8sCreate, K8sUpdate:
		// The object is created or replaced as written: lint checks a
		// workflow kind as a file. A patch or a delete names a part, and
		// so does an update of the live object.
		if !k.LiveObject {
			errs = append(errs, validateSourceObject(k.Source, k.Parameters, p.Child("source"))...)
		}
	case K8sPatch, K8sDelete:
	default:
		errs = append(errs, field.NotSupported(p.Child("operation"), k.Operation, []string{"create", "update", "patch", "delete"}))
	}
	switch k.PatchStrategy {
	case "", "application/merge-patch+json", "application/json-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml":
	default:
		errs = append(errs, field.NotSupported(p.Child("patchStrategy"), k.PatchStrategy, []string{"application/merge-patch+json", "application/json-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml"}))
	}
	return errs
}

// validateHTTPTrigger checks h; urlSet says a trigger-level parameter sets
// the URL.
func validateHTTPTrigger(h *HTTPTrigger, urlSet bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !urlSet && !hasDest(h.Parameters, "url") {
		errs = append(errs, validateHTTPURL(h.URL, p.Child("url"))...)
	}
	switch strings.ToUpper(h.Method) {
	case "", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD":
	default:
		errs = append(errs, field.NotSupported(p.Child("method"), h.Method, []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}))
	}
	if h.Timeout < 0 {
		errs = append(errs, field.Invalid(p.Child("timeout"), h.Timeout, "seconds, at least 0 (0 is the default of 60)"))
	}
	for i, s := range h.SecureHeaders {
		sp := p.Child("secureHeaders").Index(i)
		if s.Name == "" {
			errs = append(errs, field.Required(sp.Child("name"), "the header's name"))
		}
		if s.ValueFrom == nil || s.ValueFrom.SecretKeyRef == nil || s.ValueFrom.SecretKeyRef.Name == "" || s.ValueFrom.SecretKeyRef.Key == "" {
			errs = append(errs, field.Required(sp.Child("valueFrom", "secretKeyRef"), "the secret key that holds the header's value"))
		}
	}
	if b := h.BasicAuth; b != nil {
		if b.Username == nil || b.Username.Name == "" || b.Username.Key == "" {
			errs = append(errs, field.Required(p.Child("basicAuth", "username"), "the secret key that holds the user name"))
		}
		if b.Password == nil || b.Password.Name == "" || b.Password.Key == "" {
			errs = append(errs, field.Required(p.Child("basicAuth", "password"), "the secret key that holds the password"))
		}
	}
	return errs
}

func hasDest(params []TriggerParameter, dest string) bool {
	for _, p := range params {
		if p.Dest == dest {
			return true
		}
	}
	return false
}

func validateHTTPURL(raw string, p *field.Path) field.ErrorList {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return field.ErrorList{field.Invalid(p, raw, "an absolute http or https URL")}
	}
	return nil
}

// validateCloudEventTrigger checks c; urlSet says a trigger-level parameter
// sets the URL.
func validateCloudEventTrigger(c *CloudEventTrigger, urlSet bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.Type == "" {
		errs = append(errs, field.Required(p.Child("type"), "the CloudEvent type to send"))
	}
	if c.URL != "" && !urlSet {
		errs = append(errs, validateHTTPURL(c.URL, p.Child("url"))...)
	}
	for name := range c.Extensions {
		if !ceExtensionName.MatchString(name) {
			errs = append(errs, field.Invalid(p.Child("extensions").Key(name), name, "CloudEvent extension names are lowercase letters and digits"))
		}
	}
	return errs
}

var ceExtensionName = regexp.MustCompile(`^[a-z0-9]{1,20}$`)

// resetParser reads Argo's five-field cron, plus descriptors like @daily.
var resetParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseResetSchedule parses a conditionsReset schedule in its time zone.
func ParseResetSchedule(b *ConditionsResetByTime) (cron.Schedule, error) {
	loc, err := time.LoadLocation(b.Timezone)
	if err != nil {
		return nil, fmt.Errorf("timezone %q is not an IANA time zone, e.g. Asia/Seoul", b.Timezone)
	}
	if strings.HasPrefix(b.Cron, "TZ=") || strings.HasPrefix(b.Cron, "CRON_TZ=") {
		return nil, fmt.Errorf("cron %q: set the time zone in timezone, not in the schedule", b.Cron)
	}
	sched, err := resetParser.Parse(b.Cron)
	if err != nil {
		return nil, fmt.Errorf("cron %q: %w (five fields: minute hour day-of-month month day-of-week)", b.Cron, err)
	}
	if spec, ok := sched.(*cron.SpecSchedule); ok {
		spec.Location = loc
	}
	return sched, nil
}

// Parse reads the strategy as a wait.Backoff, with Argo's defaults for
// fields not set: 5 steps, 1s, factor 1, jitter 1.
func (b *EventBackoff) Parse() (wait.Backoff, error) {
	out := wait.Backoff{Steps: 5, Duration: time.Second, Factor: 1, Jitter: 1}
	if b.Steps < 0 {
		return out, fmt.Errorf("steps %d: at least 1 attempt", b.Steps)
	}
	if b.Steps > 0 {
		out.Steps = int(b.Steps)
	}
	if b.Duration != nil {
		s := string(*b.Duration)
		d, err := time.ParseDuration(s)
		if n, nerr := strconv.ParseInt(s, 10, 64); nerr == nil {
			d, err = time.Duration(n), nil
		}
		if err != nil || d < 0 {
			return out, fmt.Errorf("duration %q: a duration like 1s or 500ms (a bare integer is nanoseconds, as in Argo)", s)
		}
		out.Duration = d
	}
	for _, f := range []struct {
		name string
		s    *AnyString
		dst  *float64
	}{{"factor", b.Factor, &out.Factor}, {"jitter", b.Jitter, &out.Jitter}} {
		if f.s == nil {
			continue
		}
		v, err := strconv.ParseFloat(string(*f.s), 64)
		if err != nil || v < 0 {
			return out, fmt.Errorf("%s %q: a number, at least 0", f.name, string(*f.s))
		}
		*f.dst = v
	}
	return out, nil
}
