package filter_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/filter"
)

// payload is a webhook event's data as Argo's webhook event source shapes
// it: the request body under "body".
const payload = `{
	"header": {"X-Github-Event": ["pull_request"]},
	"body": {
		"action": "opened",
		"unlabeled": "unlabeled",
		"number": 42,
		"ratio": 3.5,
		"three": 3,
		"numeric": "42",
		"word": "abc",
		"merged": true,
		"draft": false,
		"yes": "yes",
		"falsy": "false",
		"version": "v1.2",
		"nothing": null,
		"obj": {"a": "x"},
		"labels": [{"name": "bug"}, {"name": "help wanted"}]
	}
}`

// noon is the time of the default test event.
var noon = time.Date(2024, time.January, 15, 12, 0, 0, 0, time.UTC)

func newEvent(data string, at time.Time) event.Event {
	e := event.New()
	e.SetID("1")
	e.SetSource("webhook-source")
	e.SetSubject("push")
	e.SetType("webhook")
	if !at.IsZero() {
		e.SetTime(at)
	}
	if data != "" {
		e.SetDataContentType("application/json")
		e.DataEncoded = []byte(data)
	}
	return e
}

func dataFilter(typ v1alpha1.JSONType, path string, cmp v1alpha1.Comparator, values ...string) v1alpha1.DataFilter {
	return v1alpha1.DataFilter{Path: path, Type: typ, Comparator: cmp, Value: values}
}

func str(path string, cmp v1alpha1.Comparator, values ...string) v1alpha1.DataFilter {
	return dataFilter(v1alpha1.JSONTypeString, path, cmp, values...)
}

func num(path string, cmp v1alpha1.Comparator, values ...string) v1alpha1.DataFilter {
	return dataFilter(v1alpha1.JSONTypeNumber, path, cmp, values...)
}

func boolean(path string, cmp v1alpha1.Comparator, values ...string) v1alpha1.DataFilter {
	return dataFilter(v1alpha1.JSONTypeBool, path, cmp, values...)
}

func tmpl(f v1alpha1.DataFilter, t string) v1alpha1.DataFilter {
	f.Template = t
	return f
}

func data(op v1alpha1.LogicalOperator, fs ...v1alpha1.DataFilter) *v1alpha1.EventDependencyFilter {
	return &v1alpha1.EventDependencyFilter{Data: fs, DataLogicalOperator: op}
}

// ex is an expr filter; fields alternate name and path.
func ex(code string, fields ...string) v1alpha1.ExprFilter {
	f := v1alpha1.ExprFilter{Expr: code}
	for i := 0; i+1 < len(fields); i += 2 {
		f.Fields = append(f.Fields, v1alpha1.PayloadField{Name: fields[i], Path: fields[i+1]})
	}
	return f
}

func exprs(op v1alpha1.LogicalOperator, fs ...v1alpha1.ExprFilter) *v1alpha1.EventDependencyFilter {
	return &v1alpha1.EventDependencyFilter{Exprs: fs, ExprLogicalOperator: op}
}

func window(start, stop, tz string) *v1alpha1.EventDependencyFilter {
	return &v1alpha1.EventDependencyFilter{Time: &v1alpha1.TimeFilter{Start: start, Stop: stop, Timezone: tz}}
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

type matchCase struct {
	name    string
	filters *v1alpha1.EventDependencyFilter
	op      v1alpha1.LogicalOperator // filtersLogicalOperator
	ev      event.Event              // default: payload at noon
	want    bool
	wantErr string // a part of the error; "" means no error
}

func runMatchCases(t *testing.T, cases []matchCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dep := &v1alpha1.EventDependency{Name: "d", EventSourceName: "webhook-source", EventName: "push", Filters: c.filters, FiltersLogicalOperator: c.op}
			ev := c.ev
			if ev.Context == nil {
				ev = newEvent(payload, noon)
			}
			got, err := filter.Match(dep, ev)
			if c.wantErr == "" && err != nil {
				t.Fatalf("Match: unexpected error %v", err)
			}
			if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("Match error = %v, want one containing %q", err, c.wantErr)
			}
			if got != c.want {
				t.Fatalf("Match = %v, want %v (err %v)", got, c.want, err)
			}
			if err != nil && got {
				t.Fatalf("Match passed with an error: %v", err)
			}
		})
	}
}

func TestNoFilters(t *testing.T) {
	runMatchCases(t, []matchCase{
		{name: "nil filters pass", want: true},
		{name: "empty filters pass", filters: &v1alpha1.EventDependencyFilter{}, want: true},
		{name: "empty filters pass with or", filters: &v1alpha1.EventDependencyFilter{}, op: v1alpha1.Or, want: true},
		{name: "nil filters pass without data", ev: newEvent("", noon), want: true},
	})
	if ok, err := filter.Match(nil, newEvent("", time.Time{})); !ok || err != nil {
		t.Errorf("Match(nil dependency) = %v, %v; want true", ok, err)
	}
}

func TestDataString(t *testing.T) {
	runMatchCases(t, []matchCase{
		{name: "equal", filters: data("", str("body.action", "", "opened")), want: true},
		{name: "explicit =", filters: data("", str("body.action", "=", "opened")), want: true},
		{name: "different", filters: data("", str("body.action", "", "closed")), want: false},
		// Argo issue #1515: the regular expression is not anchored.
		{name: "unanchored: labeled matches unlabeled", filters: data("", str("body.unlabeled", "", "labeled")), want: true},
		{name: "anchored ^labeled$ does not match unlabeled", filters: data("", str("body.unlabeled", "", "^labeled$")), want: false},
		{name: "alternation", filters: data("", str("body.action", "", "^(closed|opened)$")), want: true},
		{name: "values are ORed", filters: data("", str("body.action", "", "^closed$", "^opened$")), want: true},
		{name: "no value matches", filters: data("", str("body.action", "", "^closed$", "^merged$")), want: false},
		{name: "!= other value", filters: data("", str("body.action", "!=", "closed")), want: true},
		{name: "!= same value", filters: data("", str("body.action", "!=", "^opened$")), want: false},
		// Argo ORs the values even with !=: one value that differs is enough.
		{name: "!= with two values, one equal, passes", filters: data("", str("body.action", "!=", "^opened$", "^closed$")), want: true},
		{name: "!= with two values both matching fails", filters: data("", str("body.action", "!=", "open", "^opened$")), want: false},
		{name: "missing path fails", filters: data("", str("body.nope", "", ".*")), wantErr: `filters.data[0]: path "body.nope" does not exist`},
		{name: "number as string", filters: data("", str("body.number", "", "^42$")), want: true},
		{name: "bool as string", filters: data("", str("body.merged", "", "^true$")), want: true},
		{name: "object as its JSON text", filters: data("", str("body.obj", "", `"a":\s*"x"`)), want: true},
		{name: "null as empty string", filters: data("", str("body.nothing", "", "^$")), want: true},
		{name: "gjson array index", filters: data("", str("body.labels.1.name", "", "^help wanted$")), want: true},
		{name: "gjson query", filters: data("", str(`body.labels.#(name=="bug").name`, "", "^bug$")), want: true},
		{name: "gjson query without match", filters: data("", str(`body.labels.#(name=="feature").name`, "", ".*")), wantErr: "does not exist"},
		{name: "header value", filters: data("", str("header.X-Github-Event.0", "", "^pull_request$")), want: true},
	})
}

func TestDataNumber(t *testing.T) {
	runMatchCases(t, []matchCase{
		{name: "= equal", filters: data("", num("body.number", "=", "42")), want: true},
		{name: "empty comparator is =", filters: data("", num("body.number", "", "41")), want: false},
		{name: "equal as float", filters: data("", num("body.number", "", "42.0")), want: true},
		{name: "> true", filters: data("", num("body.number", ">", "41")), want: true},
		{name: "> false at equality", filters: data("", num("body.number", ">", "42")), want: false},
		{name: ">= at equality", filters: data("", num("body.number", ">=", "42")), want: true},
		{name: ">= false", filters: data("", num("body.number", ">=", "43")), want: false},
		{name: "< true", filters: data("", num("body.number", "<", "43")), want: true},
		{name: "< false at equality", filters: data("", num("body.number", "<", "42")), want: false},
		{name: "<= at equality", filters: data("", num("body.number", "<=", "42")), want: true},
		{name: "<= false", filters: data("", num("body.number", "<=", "41.9")), want: false},
		{name: "!= other", filters: data("", num("body.number", "!=", "41")), want: true},
		{name: "!= same", filters: data("", num("body.number", "!=", "42")), want: false},
		{name: "!= with two values is ORed", filters: data("", num("body.number", "!=", "42", "43")), want: true},
		{name: "values ORed", filters: data("", num("body.number", ">", "100", "10")), want: true},
		{name: "fraction", filters: data("", num("body.ratio", ">", "3")), want: true},
		{name: "negative value", filters: data("", num("body.ratio", ">", "-1e3")), want: true},
		{name: "numeric string", filters: data("", num("body.numeric", ">", "41")), want: true},
		// Argo would read "abc" as 0 and pass this filter.
		{name: "non-numeric string is an error, not 0", filters: data("", num("body.word", "=", "0")), wantErr: `filters.data[0]: path "body.word": "abc" is not a number`},
		{name: "bool is not a number", filters: data("", num("body.merged", "=", "1")), wantErr: `path "body.merged": true is not a number`},
		{name: "object is not a number", filters: data("", num("body.obj", "=", "0")), wantErr: "is not a number"},
		{name: "missing path", filters: data("", num("body.nope", ">", "1")), wantErr: `path "body.nope" does not exist`},
	})
}

func TestDataBool(t *testing.T) {
	runMatchCases(t, []matchCase{
		{name: "true = true", filters: data("", boolean("body.merged", "", "true")), want: true},
		{name: "false = true", filters: data("", boolean("body.draft", "", "true")), want: false},
		{name: "false = false", filters: data("", boolean("body.draft", "=", "false")), want: true},
		{name: "value 1 parses as true", filters: data("", boolean("body.merged", "", "1")), want: true},
		{name: "values ORed", filters: data("", boolean("body.draft", "", "true", "false")), want: true},
		{name: "!= negates", filters: data("", boolean("body.merged", "!=", "false")), want: true},
		{name: "!= same fails", filters: data("", boolean("body.merged", "!=", "true")), want: false},
		{name: "string false", filters: data("", boolean("body.falsy", "", "false")), want: true},
		{name: "string yes is an error", filters: data("", boolean("body.yes", "", "true")), wantErr: `path "body.yes": "yes" is not a boolean`},
		{name: "number is an error", filters: data("", boolean("body.number", "", "true")), wantErr: `path "body.number": 42 is not a boolean`},
		{name: "null is an error", filters: data("", boolean("body.nothing", "", "false")), wantErr: "null is not a boolean"},
	})
}

func TestDataTemplate(t *testing.T) {
	runMatchCases(t, []matchCase{
		{name: "sprig upper", filters: data("", tmpl(str("body.action", "", "^OPENED$"), "{{ .Input | upper }}")), want: true},
		{name: "trimPrefix then number", filters: data("", tmpl(num("body.version", ">=", "1.2"), `{{ .Input | trimPrefix "v" }}`)), want: true},
		{name: "trimPrefix then number false", filters: data("", tmpl(num("body.version", ">", "1.2"), `{{ .Input | trimPrefix "v" }}`)), want: false},
		{name: "template output cast to bool", filters: data("", tmpl(boolean("body.action", "", "true"), `{{ eq .Input "opened" }}`)), want: true},
		{name: "input is the value's string form", filters: data("", tmpl(str("body.number", "", "^n=42$"), "n={{ .Input }}")), want: true},
		{name: "object input is its JSON text", filters: data("", tmpl(str("body.obj", "", "^x$"), "{{ (fromJson .Input).a }}")), want: true},
		{name: "template output not a number", filters: data("", tmpl(num("body.action", "=", "0"), "{{ .Input }}")), wantErr: `"opened" is not a number`},
		{name: "empty output is an error", filters: data("", tmpl(str("body.action", "", ".*"), "{{ if false }}x{{ end }}")), wantErr: "template gave no value"},
		{name: "<no value> is an error", filters: data("", tmpl(str("body.action", "", ".*"), "{{ .Missing }}")), wantErr: `template gave no value ("<no value>")`},
		{name: "execution error", filters: data("", tmpl(str("body.action", "", ".*"), "{{ .Input.x }}")), wantErr: "filters.data[0]: template: "},
		{name: "missing path before the template", filters: data("", tmpl(str("body.nope", "", ".*"), "x")), wantErr: "does not exist"},
	})
}

func TestDataLogicalOperator(t *testing.T) {
	pass, fail, missing := str("body.action", "", "opened"), str("body.action", "", "closed"), str("body.nope", "", "x")
	runMatchCases(t, []matchCase{
		{name: "and: all pass", filters: data("", pass, num("body.number", "=", "42")), want: true},
		{name: "explicit and: all pass", filters: data(v1alpha1.And, pass, pass), want: true},
		{name: "and: one fails", filters: data("", pass, fail), want: false},
		{name: "and: a failure stops before an error", filters: data("", fail, missing), want: false},
		{name: "and: an error fails", filters: data("", pass, missing), wantErr: "filters.data[1]: path"},
		{name: "or: second passes", filters: data(v1alpha1.Or, fail, pass), want: true},
		{name: "or: an earlier error is discarded", filters: data(v1alpha1.Or, missing, pass), want: true},
		{name: "or: none passes", filters: data(v1alpha1.Or, fail, fail), want: false},
		{name: "or: none passes, with an error", filters: data(v1alpha1.Or, fail, missing), wantErr: "filters.data[1]: path"},
		{name: "or: errors are joined", filters: data(v1alpha1.Or, missing, str("body.gone", "", "x")), wantErr: `path "body.gone"`},
	})
}

func TestPayloadChecks(t *testing.T) {
	runMatchCases(t, []matchCase{
		{name: "data: no data passes", filters: data("", str("body.action", "", "opened")), ev: newEvent("", noon), want: true},
		{name: "data: invalid JSON", filters: data("", str("body.action", "", "opened")), ev: newEvent("{not json", noon), wantErr: "filters.data: event data is not valid JSON"},
		{name: "exprs: no data passes", filters: exprs("", ex(`a == "x"`, "a", "body.a")), ev: newEvent("", noon), want: true},
		{name: "exprs: invalid JSON", filters: exprs("", ex(`a == "x"`, "a", "body.a")), ev: newEvent("<xml/>", noon), wantErr: "filters.exprs: event data is not valid JSON"},
		{name: "data: top-level string data", filters: data("", str("@this", "", "^hi$")), ev: newEvent(`"hi"`, noon), want: true},
	})
}

func TestExprs(t *testing.T) {
	runMatchCases(t, []matchCase{
		{name: "fields and int literal against float", filters: exprs("", ex(`action == "opened" && count > 3`, "action", "body.action", "count", "body.ratio")), want: true},
		{name: "float not greater", filters: exprs("", ex(`count > 3`, "count", "body.three")), want: false},
		{name: "float equals int literal", filters: exprs("", ex(`count == 3`, "count", "body.three")), want: true},
		{name: "arithmetic", filters: exprs("", ex(`n / 2 == 21`, "n", "body.number")), want: true},
		{name: "govaluate =~", filters: exprs("", ex(`action =~ "open"`, "action", "body.action")), want: true},
		{name: "govaluate =~ anchored", filters: exprs("", ex(`action =~ "^open$"`, "action", "body.action")), want: false},
		{name: "govaluate !~", filters: exprs("", ex(`action !~ "^close"`, "action", "body.action")), want: true},
		{name: "govaluate IN", filters: exprs("", ex(`action IN ("opened", "reopened")`, "action", "body.action")), want: true},
		{name: "govaluate IN without match", filters: exprs("", ex(`action IN ("closed", "reopened")`, "action", "body.action")), want: false},
		{name: "numbers IN", filters: exprs("", ex(`n IN (41, 42)`, "n", "body.number")), want: true},
		{name: "expr-lang in", filters: exprs("", ex(`action in ["opened"]`, "action", "body.action")), want: true},
		{name: "bool field", filters: exprs("", ex(`merged && !draft`, "merged", "body.merged", "draft", "body.draft")), want: true},
		{name: "null field", filters: exprs("", ex(`v == nil`, "v", "body.nothing")), want: true},
		{name: "array of objects", filters: exprs("", ex(`labels[0].name == "bug" && len(labels) == 2`, "labels", "body.labels")), want: true},
		{name: "builtin over an array", filters: exprs("", ex(`any(labels, .name == "help wanted")`, "labels", "body.labels")), want: true},
		{name: "a field may hide a builtin", filters: exprs("", ex(`count > 3`, "count", "body.number")), want: true},
		{name: "single quotes", filters: exprs("", ex(`action == 'opened'`, "action", "body.action")), want: true},
		{name: "missing field path", filters: exprs("", ex(`a == "x" && b == "y"`, "a", "body.action", "b", "body.nope")), wantErr: `filters.exprs[0].fields[1]: path "body.nope" does not exist`},
		{name: "non-bool result", filters: exprs("", ex(`count`, "count", "body.ratio")), wantErr: "filters.exprs[0]: evaluate"},
		{name: "type error at run time", filters: exprs("", ex(`w > 3`, "w", "body.word")), wantErr: `filters.exprs[0]: evaluate "w > 3"`},
		{name: "and: second false", filters: exprs("", ex(`true == t`, "t", "body.merged"), ex(`false == t`, "t", "body.merged")), want: false},
		{name: "and: false stops before an error", filters: exprs(v1alpha1.And, ex(`t == false`, "t", "body.merged"), ex(`x`, "x", "body.nope")), want: false},
		{name: "or: second true", filters: exprs(v1alpha1.Or, ex(`t == false`, "t", "body.merged"), ex(`t`, "t", "body.merged")), want: true},
		{name: "or: an earlier error is discarded", filters: exprs(v1alpha1.Or, ex(`x`, "x", "body.nope"), ex(`t`, "t", "body.merged")), want: true},
		{name: "or: all false", filters: exprs(v1alpha1.Or, ex(`!t`, "t", "body.merged"), ex(`t == false`, "t", "body.merged")), want: false},
		{name: "or: false and error", filters: exprs(v1alpha1.Or, ex(`!t`, "t", "body.merged"), ex(`x`, "x", "body.nope")), wantErr: "filters.exprs[1].fields[0]"},
	})
}

func TestContext(t *testing.T) {
	ctx := func(c v1alpha1.EventContext) *v1alpha1.EventDependencyFilter {
		return &v1alpha1.EventDependencyFilter{Context: &c}
	}
	runMatchCases(t, []matchCase{
		{name: "all four equal", filters: ctx(v1alpha1.EventContext{Type: "webhook", Subject: "push", Source: "webhook-source", DataContentType: "application/json"}), want: true},
		{name: "empty context matches", filters: ctx(v1alpha1.EventContext{}), want: true},
		{name: "type differs", filters: ctx(v1alpha1.EventContext{Type: "calendar", Subject: "push"}), want: false},
		{name: "subject differs", filters: ctx(v1alpha1.EventContext{Subject: "pull"}), want: false},
		{name: "a prefix is not enough", filters: ctx(v1alpha1.EventContext{Source: "webhook"}), want: false},
		{name: "not a regular expression", filters: ctx(v1alpha1.EventContext{Source: "webhook-.*"}), want: false},
		{name: "case matters", filters: ctx(v1alpha1.EventContext{Type: "Webhook"}), want: false},
		{name: "datacontenttype differs", filters: ctx(v1alpha1.EventContext{DataContentType: "application/yaml"}), want: false},
		{name: "datacontenttype of an event without data", filters: ctx(v1alpha1.EventContext{DataContentType: "application/json"}), ev: newEvent("", noon), want: false},
	})
}

func TestTime(t *testing.T) {
	at := func(s string) event.Event { return newEvent(payload, utc(s)) }
	runMatchCases(t, []matchCase{
		{name: "inside", filters: window("09:00:00", "17:00:00", ""), ev: at("2024-01-15T12:00:00Z"), want: true},
		{name: "before start", filters: window("09:00:00", "17:00:00", ""), ev: at("2024-01-15T08:59:59Z"), want: false},
		{name: "start is inclusive", filters: window("09:00:00", "17:00:00", ""), ev: at("2024-01-15T09:00:00Z"), want: true},
		{name: "stop is exclusive", filters: window("09:00:00", "17:00:00", ""), ev: at("2024-01-15T17:00:00Z"), want: false},
		{name: "just before stop", filters: window("09:00:00", "17:00:00", ""), ev: at("2024-01-15T16:59:59.999Z"), want: true},
		{name: "wrapping: before midnight", filters: window("22:00:00", "02:00:00", ""), ev: at("2024-01-15T23:30:00Z"), want: true},
		{name: "wrapping: after midnight", filters: window("22:00:00", "02:00:00", ""), ev: at("2024-01-16T01:00:00Z"), want: true},
		{name: "wrapping: midday", filters: window("22:00:00", "02:00:00", ""), ev: at("2024-01-15T12:00:00Z"), want: false},
		{name: "wrapping: stop is exclusive", filters: window("22:00:00", "02:00:00", ""), ev: at("2024-01-15T02:00:00Z"), want: false},
		{name: "equal bounds pass everything", filters: window("10:00:00", "10:00:00", ""), ev: at("2024-01-15T03:00:00Z"), want: true},
		{name: "whole day", filters: window("00:00:00", "23:59:59", ""), ev: at("2024-01-15T23:59:58Z"), want: true},
		{name: "whole day: the last second is out", filters: window("00:00:00", "23:59:59", ""), ev: at("2024-01-15T23:59:59.5Z"), want: false},
		// 23:30 UTC in winter is 00:30 of the next day in Berlin (UTC+1).
		{name: "timezone: 23:30 UTC is 00:30 in Berlin", filters: window("00:00:00", "01:00:00", "Europe/Berlin"), ev: at("2024-01-15T23:30:00Z"), want: true},
		{name: "timezone: the same window in UTC", filters: window("00:00:00", "01:00:00", ""), ev: at("2024-01-15T23:30:00Z"), want: false},
		{name: "timezone: explicit UTC", filters: window("23:00:00", "23:59:59", "UTC"), ev: at("2024-01-15T23:30:00Z"), want: true},
		{name: "timezone: summer time is UTC+2", filters: window("00:00:00", "01:00:00", "Europe/Berlin"), ev: at("2024-07-15T22:30:00Z"), want: true},
		{name: "timezone: event time in another offset", filters: window("09:00:00", "10:00:00", "America/New_York"), ev: at("2024-01-15T15:30:00+01:00"), want: true},
		{name: "event without time", filters: window("09:00:00", "17:00:00", ""), ev: newEvent(payload, time.Time{}), wantErr: "filters.time: event has no time"},
	})
}

func TestFiltersLogicalOperator(t *testing.T) {
	all := func(f ...*v1alpha1.EventDependencyFilter) *v1alpha1.EventDependencyFilter {
		out := &v1alpha1.EventDependencyFilter{}
		for _, g := range f {
			if g.Data != nil {
				out.Data, out.DataLogicalOperator = g.Data, g.DataLogicalOperator
			}
			if g.Exprs != nil {
				out.Exprs, out.ExprLogicalOperator = g.Exprs, g.ExprLogicalOperator
			}
			if g.Context != nil {
				out.Context = g.Context
			}
			if g.Time != nil {
				out.Time = g.Time
			}
		}
		return out
	}
	dataPass, dataFail, dataErr := data("", str("body.action", "", "opened")), data("", str("body.action", "", "closed")), data("", str("body.nope", "", "x"))
	exprPass, exprErr := exprs("", ex("n > 1", "n", "body.number")), exprs("", ex("n > 1", "n", "body.nope"))
	ctxPass := &v1alpha1.EventDependencyFilter{Context: &v1alpha1.EventContext{Type: "webhook"}}
	ctxFail := &v1alpha1.EventDependencyFilter{Context: &v1alpha1.EventContext{Type: "calendar"}}
	timePass, timeFail := window("11:00:00", "13:00:00", ""), window("13:00:00", "14:00:00", "")
	noTime := newEvent(payload, time.Time{})
	runMatchCases(t, []matchCase{
		{name: "and: all four pass", filters: all(exprPass, dataPass, ctxPass, timePass), want: true},
		{name: "explicit and: all pass", filters: all(dataPass, ctxPass), op: v1alpha1.And, want: true},
		{name: "and: context fails", filters: all(dataPass, ctxFail), want: false},
		{name: "and: time fails", filters: all(exprPass, dataPass, ctxPass, timeFail), want: false},
		{name: "and: data error", filters: all(dataErr, ctxPass), wantErr: "filters.data[0]"},
		// exprs come first: its error is the one reported.
		{name: "and: exprs error first", filters: all(exprErr, dataErr), wantErr: "filters.exprs[0]"},
		{name: "and: time error", filters: all(dataPass, timePass), ev: noTime, wantErr: "event has no time"},
		{name: "or: data fails, context passes", filters: all(dataFail, ctxPass), op: v1alpha1.Or, want: true},
		{name: "or: data passes, context fails", filters: all(dataPass, ctxFail), op: v1alpha1.Or, want: true},
		// Argo's docs: an error is false for its group; Argo's code would
		// reject the event.
		{name: "or: data error, context passes", filters: all(dataErr, ctxPass), op: v1alpha1.Or, want: true},
		{name: "or: exprs error, time passes", filters: all(exprErr, timePass), op: v1alpha1.Or, want: true},
		{name: "or: data error, context fails", filters: all(dataErr, ctxFail), op: v1alpha1.Or, wantErr: "filters.data[0]"},
		{name: "or: all fail", filters: all(dataFail, ctxFail, timeFail), op: v1alpha1.Or, want: false},
		{name: "or: errors of two groups joined (exprs)", filters: all(exprErr, dataErr, ctxFail), op: v1alpha1.Or, wantErr: "filters.exprs[0]"},
		{name: "or: errors of two groups joined (data)", filters: all(exprErr, dataErr, ctxFail), op: v1alpha1.Or, wantErr: "filters.data[0]"},
		{name: "or: time error, data fails", filters: all(dataFail, timePass), op: v1alpha1.Or, ev: noTime, wantErr: "event has no time"},
		{name: "or: no data passes the data group", filters: all(dataFail, ctxFail), op: v1alpha1.Or, ev: newEvent("", noon), want: true},
	})
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name    string
		dep     v1alpha1.EventDependency
		wantErr []string
	}{
		{name: "bad regular expression", dep: v1alpha1.EventDependency{Filters: data("", str("a", "", "x"), str("b", "", "(", "y"))},
			wantErr: []string{`filters.data[1].value[0]: invalid regular expression "(": error parsing regexp`}},
		{name: "bad number", dep: v1alpha1.EventDependency{Filters: data("", num("a", ">", "1", "ten"))},
			wantErr: []string{`filters.data[0].value[1]: "ten" is not a number`}},
		{name: "bad boolean", dep: v1alpha1.EventDependency{Filters: data("", boolean("a", "", "yes"))},
			wantErr: []string{`filters.data[0].value[0]: "yes" is not a boolean`}},
		{name: "numeric comparator on a string", dep: v1alpha1.EventDependency{Filters: data("", str("a", ">", "x"))},
			wantErr: []string{`filters.data[0].comparator: ">" does not apply to type string`}},
		{name: "numeric comparator on a bool", dep: v1alpha1.EventDependency{Filters: data("", boolean("a", "<=", "true"))},
			wantErr: []string{`filters.data[0].comparator: "<=" does not apply to type bool`}},
		{name: "unknown comparator", dep: v1alpha1.EventDependency{Filters: data("", num("a", "==", "1"))},
			wantErr: []string{`filters.data[0].comparator: unknown comparator "=="`}},
		{name: "unknown type", dep: v1alpha1.EventDependency{Filters: data("", dataFilter("int", "a", "", "1"))},
			wantErr: []string{`filters.data[0].type: unsupported type "int"`}},
		{name: "no values", dep: v1alpha1.EventDependency{Filters: data("", str("a", ""))},
			wantErr: []string{"filters.data[0].value: at least one value is required"}},
		{name: "empty path", dep: v1alpha1.EventDependency{Filters: data("", str("", "", "x"))},
			wantErr: []string{"filters.data[0].path: must not be empty"}},
		{name: "bad template", dep: v1alpha1.EventDependency{Filters: data("", tmpl(str("a", "", "x"), "{{ .Input "))},
			wantErr: []string{"filters.data[0]: template: filters.data[0].template:1"}},
		{name: "unknown template function", dep: v1alpha1.EventDependency{Filters: data("", tmpl(str("a", "", "x"), "{{ nope .Input }}"))},
			wantErr: []string{`function "nope" not defined`}},
		{name: "env is not a template function", dep: v1alpha1.EventDependency{Filters: data("", tmpl(str("a", "", "x"), `{{ env "HOME" }}`))},
			wantErr: []string{`function "env" not defined`}},
		{name: "bad data operator", dep: v1alpha1.EventDependency{Filters: data("AND", str("a", "", "x"))},
			wantErr: []string{`filters.dataLogicalOperator: unknown logical operator "AND"`}},
		{name: "bad data operator without data filters", dep: v1alpha1.EventDependency{Filters: &v1alpha1.EventDependencyFilter{DataLogicalOperator: "xor"}},
			wantErr: []string{`filters.dataLogicalOperator: unknown logical operator "xor"`}},
		{name: "bad filters operator", dep: v1alpha1.EventDependency{FiltersLogicalOperator: "xor"},
			wantErr: []string{`filtersLogicalOperator: unknown logical operator "xor"`}},
		{name: "bad start", dep: v1alpha1.EventDependency{Filters: window("9:00", "17:00:00", "")},
			wantErr: []string{`filters.time.start: "9:00" is not a time of day HH:MM:SS`}},
		{name: "start without leading zero", dep: v1alpha1.EventDependency{Filters: window("9:00:00", "17:00:00", "")},
			wantErr: []string{`filters.time.start: "9:00:00"`}},
		{name: "bad stop", dep: v1alpha1.EventDependency{Filters: window("09:00:00", "24:00:00", "")},
			wantErr: []string{`filters.time.stop: "24:00:00" is not a time of day`}},
		{name: "Argo's bad seconds", dep: v1alpha1.EventDependency{Filters: window("09:09:0", "10:00:00", "")},
			wantErr: []string{`filters.time.start: "09:09:0"`}},
		{name: "unknown timezone", dep: v1alpha1.EventDependency{Filters: window("09:00:00", "10:00:00", "Mars/Olympus_Mons")},
			wantErr: []string{`filters.time.timezone: unknown time zone Mars/Olympus_Mons`}},
		{name: "bad expression", dep: v1alpha1.EventDependency{Filters: exprs("", ex("a ==", "a", "x"))},
			wantErr: []string{`filters.exprs[0].expr: invalid expression "a =="`}},
		{name: "expression with an unbound name", dep: v1alpha1.EventDependency{Filters: exprs("", ex("a == b", "a", "x"))},
			wantErr: []string{`filters.exprs[0].expr`, "unknown name b"}},
		{name: "expression that is not boolean", dep: v1alpha1.EventDependency{Filters: exprs("", ex(`"a" + "b"`, "a", "x"))},
			wantErr: []string{`filters.exprs[0].expr`, "expected bool"}},
		{name: "expression with a bad regular expression", dep: v1alpha1.EventDependency{Filters: exprs("", ex(`a =~ "("`, "a", "x"))},
			wantErr: []string{`filters.exprs[0].expr`, "error parsing regexp"}},
		{name: "field name with a dash", dep: v1alpha1.EventDependency{Filters: exprs("", ex("true", "a", "x", "a-b", "y"))},
			wantErr: []string{`filters.exprs[0].fields[1].name: "a-b" is not a valid expression identifier`}},
		{name: "field name with a dot", dep: v1alpha1.EventDependency{Filters: exprs("", ex("true", "a.b", "x"))},
			wantErr: []string{`filters.exprs[0].fields[0].name: "a.b" is not a valid expression identifier`}},
		{name: "field name starting with a digit", dep: v1alpha1.EventDependency{Filters: exprs("", ex("true", "1a", "x"))},
			wantErr: []string{`"1a" is not a valid expression identifier`}},
		{name: "field name that is a keyword", dep: v1alpha1.EventDependency{Filters: exprs("", ex("true", "in", "x"))},
			wantErr: []string{`filters.exprs[0].fields[0].name: "in" is a reserved word`}},
		{name: "field name that is a literal", dep: v1alpha1.EventDependency{Filters: exprs("", ex("true", "nil", "x"))},
			wantErr: []string{`"nil" is a reserved word`}},
		{name: "field name not", dep: v1alpha1.EventDependency{Filters: exprs("", ex("true", "not", "x"))},
			wantErr: []string{`"not" is a reserved word`}},
		{name: "field bound twice", dep: v1alpha1.EventDependency{Filters: exprs("", ex("a", "a", "x", "a", "y"))},
			wantErr: []string{`filters.exprs[0].fields[1].name: "a" is bound twice`}},
		{name: "field without path", dep: v1alpha1.EventDependency{Filters: exprs("", ex("a", "a", ""))},
			wantErr: []string{"filters.exprs[0].fields[0].path: must not be empty"}},
		{name: "expr without fields", dep: v1alpha1.EventDependency{Filters: exprs("", ex("true"))},
			wantErr: []string{"filters.exprs[0].fields: at least one field is required"}},
		{name: "empty expr", dep: v1alpha1.EventDependency{Filters: exprs("", ex("", "a", "x"))},
			wantErr: []string{"filters.exprs[0].expr: must not be empty"}},
		{name: "bad expr operator", dep: v1alpha1.EventDependency{Filters: exprs("OR", ex("a", "a", "x"))},
			wantErr: []string{`filters.exprLogicalOperator: unknown logical operator "OR"`}},
		{name: "every problem is reported", dep: v1alpha1.EventDependency{
			FiltersLogicalOperator: "nand",
			Filters: &v1alpha1.EventDependencyFilter{
				Data:  []v1alpha1.DataFilter{str("a", "", "["), num("b", "", "x")},
				Exprs: []v1alpha1.ExprFilter{ex("a ==", "a", "x")},
				Time:  &v1alpha1.TimeFilter{Start: "x", Stop: "y", Timezone: "Nowhere/Nothing"},
			},
		}, wantErr: []string{"filtersLogicalOperator", "filters.data[0].value[0]", "filters.data[1].value[0]", "filters.exprs[0].expr", "filters.time.start", "filters.time.stop", "filters.time.timezone"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			compiled, err := filter.Compile(&c.dep)
			if err == nil {
				t.Fatal("Compile succeeded, want an error")
			}
			if compiled != nil {
				t.Error("Compile returned a result with its error")
			}
			for _, want := range c.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Compile error = %v\nwant one containing %q", err, want)
				}
			}
			// Match reports the same error and rejects the event.
			if ok, merr := filter.Match(&c.dep, newEvent(payload, noon)); ok || merr == nil || merr.Error() != err.Error() {
				t.Errorf("Match = %v, %v; want false with the compile error", ok, merr)
			}
		})
	}
}

func TestCompileAccepts(t *testing.T) {
	deps := map[string]*v1alpha1.EventDependencyFilter{
		"every comparator": data("",
			num("a", "", "1"), num("a", "=", "1"), num("a", "!=", "1"), num("a", ">", "1"),
			num("a", ">=", "1"), num("a", "<", "1"), num("a", "<=", "-1.5e3"),
			str("a", "", "x"), str("a", "=", "x"), str("a", "!=", "x"),
			boolean("a", "", "true"), boolean("a", "=", "F"), boolean("a", "!=", "0")),
		"field names that are builtins or odd": exprs("", ex("count > 0 && len > 0 && _x > 0 && IN > 0", "count", "a", "len", "b", "_x", "c", "IN", "d")),
		"govaluate operators":                  exprs("", ex(`a =~ "x" && a !~ "y" && a IN ("p", 'q')`, "a", "a")),
		"time bounds":                          window("00:00:00", "23:59:59", "America/Los_Angeles"),
	}
	for name, f := range deps {
		if _, err := filter.Compile(&v1alpha1.EventDependency{Filters: f}); err != nil {
			t.Errorf("%s: Compile: %v", name, err)
		}
	}
}

// TestConcurrentMatch runs one Compiled from many goroutines; run it with
// -race.
func TestConcurrentMatch(t *testing.T) {
	c, err := filter.Compile(&v1alpha1.EventDependency{
		FiltersLogicalOperator: v1alpha1.And,
		Filters: &v1alpha1.EventDependencyFilter{
			Exprs:   []v1alpha1.ExprFilter{ex(`n > 10 && a =~ "^open"`, "n", "body.number", "a", "body.action")},
			Data:    []v1alpha1.DataFilter{tmpl(str("body.action", "", "^OPENED$"), "{{ upper .Input }}"), num("body.number", ">=", "0")},
			Context: &v1alpha1.EventContext{Type: "webhook"},
			Time:    &v1alpha1.TimeFilter{Start: "08:00:00", Stop: "20:00:00", Timezone: "Europe/Berlin"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				// Even iterations are in the window (12:00 Berlin), odd
				// ones are not (23:00 Berlin).
				at := time.Date(2024, time.January, 15, 11, 0, 0, 0, time.UTC)
				if i%2 == 1 {
					at = at.Add(11 * time.Hour)
				}
				ok, err := c.Match(newEvent(payload, at))
				if err != nil || ok != (i%2 == 0) {
					t.Errorf("goroutine %d, event %d: Match = %v, %v", g, i, ok, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
