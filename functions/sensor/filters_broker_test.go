package sensor_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/api/events"
)

// filterDeps are the dependencies of the filtering sensor: each has its own
// filter configuration and a trigger of its own, so that which triggers
// fire tells which dependencies an event passed. They are grouped by the
// event they listen to, so that an event is judged only by the filters of
// its kind and the expected sets stay readable.
var filterDeps = []struct{ name, event, spec string }{
	// Data filters on strings: regexes are unanchored, values are ORed,
	// and "!=" negates the regex (so "reopened" is not != "opened").
	{"d-regex", "data", `filters: {data: [{path: action, type: string, value: [ope]}]}`},
	{"d-anchored", "data", `filters: {data: [{path: action, type: string, value: ["^open"]}]}`},
	{"d-values-or", "data", `filters: {data: [{path: action, type: string, value: ["^closed$", "^merged$"]}]}`},
	{"d-str-ne", "data", `filters: {data: [{path: action, type: string, comparator: "!=", value: [opened]}]}`},
	// Numbers, with every comparator.
	{"d-ge", "data", `filters: {data: [{path: number, type: number, comparator: ">=", value: ["10"]}]}`},
	{"d-gt", "data", `filters: {data: [{path: number, type: number, comparator: ">", value: ["10"]}]}`},
	{"d-eq", "data", `filters: {data: [{path: number, type: number, comparator: "=", value: ["10"]}]}`},
	{"d-num-ne", "data", `filters: {data: [{path: number, type: number, comparator: "!=", value: ["10"]}]}`},
	{"d-lt", "data", `filters: {data: [{path: number, type: number, comparator: "<", value: ["10"]}]}`},
	{"d-le", "data", `filters: {data: [{path: number, type: number, comparator: "<=", value: ["10"]}]}`},
	{"d-bool", "data", `filters: {data: [{path: merged, type: bool, value: ["true"]}]}`},
	// A missing path fails, whatever the regex or the comparator.
	{"d-missing", "data", `filters: {data: [{path: absent, type: string, value: [".*"]}]}`},
	{"d-missing-ne", "data", `filters: {data: [{path: absent, type: string, comparator: "!=", value: [x]}]}`},
	// Templates see the value as a string; the result is cast to the type.
	{"d-template", "data", `filters: {data: [{path: encoded, type: string, value: ["^hello world$"], template: '{{ b64dec .Input }}'}]}`},
	{"d-template-num", "data", `filters: {data: [{path: version, type: number, comparator: ">", value: ["2"], template: '{{ trimPrefix "v" .Input }}'}]}`},
	// dataLogicalOperator: "or" passes on one filter even when another
	// cannot be evaluated; the default "and" needs all.
	{"d-or", "data", `filters: {dataLogicalOperator: or, data: [{path: absent, type: string, value: [".*"]}, {path: action, type: string, value: ["^closed$"]}]}`},
	{"d-and", "data", `filters: {data: [{path: action, type: string, value: [open]}, {path: number, type: number, comparator: ">=", value: ["10"]}]}`},

	// Exprs bind fields by gjson path; govaluate's =~, !~ and IN (…) are
	// rewritten for expr-lang.
	{"x-fields", "expr", `filters: {exprs: [{expr: 'act == "opened" && num > 10', fields: [{name: act, path: action}, {name: num, path: number}]}]}`},
	{"x-regex", "expr", `filters: {exprs: [{expr: 'usr =~ "^al"', fields: [{name: usr, path: user.name}]}]}`},
	{"x-not-regex", "expr", `filters: {exprs: [{expr: 'usr !~ "^al"', fields: [{name: usr, path: user.name}]}]}`},
	{"x-in", "expr", `filters: {exprs: [{expr: 'act IN ("closed", "merged")', fields: [{name: act, path: action}]}]}`},
	{"x-and", "expr", `filters: {exprs: [{expr: num >= 10, fields: [{name: num, path: number}]}, {expr: 'act =~ "open"', fields: [{name: act, path: action}]}]}`},
	{"x-or", "expr", `filters: {exprLogicalOperator: or, exprs: [{expr: num < 5, fields: [{name: num, path: number}]}, {expr: 'act == "closed"', fields: [{name: act, path: action}]}]}`},

	// The context is matched exactly, an empty field matching anything.
	{"c-all", "context", `filters: {context: {type: com.github.pull_request, source: github, subject: repo/zeroflow}}`},
	{"c-type", "context", `filters: {context: {type: com.github.pull_request}}`},
	{"c-subject", "context", `filters: {context: {subject: repo/zeroflow}}`},

	// A window that wraps past midnight, in a zone and in UTC (the
	// default), on the event's time attribute.
	{"t-paris", "time", `filters: {time: {start: "22:00:00", stop: "02:00:00", timezone: Europe/Paris}}`},
	{"t-utc", "time", `filters: {time: {start: "22:00:00", stop: "02:00:00"}}`},

	// filtersLogicalOperator across the groups exprs, data and context.
	// Under "or", the data group fails on its missing path without
	// failing the others.
	{"g-and", "groups", `filters: {exprs: [{expr: num > 10, fields: [{name: num, path: number}]}], data: [{path: action, type: string, value: [open]}], context: {type: webhook}}`},
	{"g-or", "groups", `filtersLogicalOperator: or, filters: {exprs: [{expr: num > 100, fields: [{name: num, path: number}]}], data: [{path: absent, type: string, value: [".*"]}], context: {type: com.example.special}}`},
}

// filterSensor is a sensor with filterDeps, each with a cloudEvent trigger
// that fires on that dependency alone and sends, to the broker, an event
// whose subject is the dependency and whose data names the matched event.
func filterSensor() string {
	var b strings.Builder
	b.WriteString("metadata: {name: filtering}\nspec:\n  dependencies:\n")
	for _, d := range filterDeps {
		fmt.Fprintf(&b, "  - {name: %s, eventSourceName: fsrc, eventName: %s, %s}\n", d.name, d.event, d.spec)
	}
	b.WriteString("  triggers:\n")
	for _, d := range filterDeps {
		fmt.Fprintf(&b, `  - template:
      name: %[1]s
      conditions: %[1]s
      cloudEvent:
        type: zeroflow.test.passed
        subject: %[1]s
        payload:
        - {src: {dependencyName: %[1]s, contextKey: id}, dest: case}
`, d.name)
	}
	return b.String()
}

// filterCase is one source event and the dependencies it must pass.
type filterCase struct {
	id    string
	event string // the event name, which picks the dependencies that see it
	// The CloudEvent attributes the context filters see; "" is the
	// webhook source's (type webhook, source fsrc, subject the event).
	typ, source, subject string
	at                   time.Time // zero: noon UTC
	data                 string    // JSON; "" sends no data
	contentType          string    // "" is application/json
	want                 []string
}

// winter and summer are UTC times of day on dates when Paris, where the
// t-paris window is, is UTC+1 and UTC+2.
func winter(hh, mm int) time.Time { return time.Date(2025, 1, 15, hh, mm, 0, 0, time.UTC) }
func summer(hh, mm int) time.Time { return time.Date(2025, 7, 15, hh, mm, 0, 0, time.UTC) }

var filterCases = []filterCase{
	// base64("hello world") is aGVsbG8gd29ybGQ=, with "!" aGVsbG8gd29ybGQh.
	{id: "d-opened", event: "data",
		data: `{"action":"opened","number":42,"merged":false,"encoded":"aGVsbG8gd29ybGQ=","version":"v3"}`,
		want: []string{"d-regex", "d-anchored", "d-ge", "d-gt", "d-num-ne", "d-template", "d-template-num", "d-and"}},
	{id: "d-reopened", event: "data",
		data: `{"action":"reopened","number":10,"merged":true,"encoded":"aGVsbG8gd29ybGQh","version":"v2"}`,
		want: []string{"d-regex", "d-ge", "d-eq", "d-le", "d-bool", "d-and"}},
	// A numeric string is a number, "true" a boolean; v10 is 10 after the
	// template, compared as a number and not as text.
	{id: "d-closed", event: "data",
		data: `{"action":"closed","number":"9.5","merged":"true","encoded":"aGVsbG8gd29ybGQ=","version":"v10"}`,
		want: []string{"d-values-or", "d-str-ne", "d-num-ne", "d-lt", "d-le", "d-bool", "d-template", "d-template-num", "d-or"}},
	// Each path that is missing fails its filter.
	{id: "d-merged", event: "data",
		data: `{"action":"merged","number":10}`,
		want: []string{"d-values-or", "d-str-ne", "d-ge", "d-eq", "d-le"}},
	// A number filter on a value that is not a number fails, "!=" too
	// (Argo reads it as 0, so "ten" != 10 would pass there).
	{id: "d-not-a-number", event: "data",
		data: `{"action":"opened","number":"ten"}`,
		want: []string{"d-regex", "d-anchored"}},
	// An event without data passes the data group, as in Argo: there is
	// nothing to filter, not a missing path.
	{id: "d-no-data", event: "data",
		want: []string{"d-regex", "d-anchored", "d-values-or", "d-str-ne", "d-ge", "d-gt", "d-eq", "d-num-ne", "d-lt", "d-le", "d-bool", "d-missing", "d-missing-ne", "d-template", "d-template-num", "d-or", "d-and"}},
	// Data that is not JSON fails every data filter, negated or not.
	{id: "d-not-json", event: "data", data: `opened`, contentType: "text/plain"},

	{id: "x-opened-alice", event: "expr",
		data: `{"action":"opened","number":42,"user":{"name":"alice"}}`,
		want: []string{"x-fields", "x-regex", "x-and"}},
	{id: "x-closed-bob", event: "expr",
		data: `{"action":"closed","number":3,"user":{"name":"bob"}}`,
		want: []string{"x-not-regex", "x-in", "x-or"}},
	// Without number, the exprs that bind it fail; under "or" the other
	// expr still passes.
	{id: "x-closed-no-number", event: "expr",
		data: `{"action":"closed","user":{"name":"alan"}}`,
		want: []string{"x-regex", "x-in", "x-or"}},
	// Regexes are case-sensitive; 10.5 compares with the int literal 10.
	{id: "x-reopened-Al", event: "expr",
		data: `{"action":"reopened","number":10.5,"user":{"name":"Al"}}`,
		want: []string{"x-not-regex", "x-and"}},

	{id: "c-match", event: "context", typ: "com.github.pull_request", source: "github", subject: "repo/zeroflow", data: `{}`,
		want: []string{"c-all", "c-type", "c-subject"}},
	{id: "c-other-source", event: "context", typ: "com.github.pull_request", source: "gitlab", subject: "repo/zeroflow", data: `{}`,
		want: []string{"c-type", "c-subject"}},
	// No prefix matching.
	{id: "c-longer", event: "context", typ: "com.github.pull_request.opened", source: "github", subject: "repo/zeroflow-docs", data: `{}`},
	{id: "c-webhook", event: "context", data: `{}`},

	// 21:30Z is 22:30 in Paris: in the Paris window, not in the UTC one.
	{id: "t-2130z", event: "time", at: winter(21, 30), data: `{}`, want: []string{"t-paris"}},
	// 01:30Z is 02:30 in Paris: past the Paris window, in the UTC one.
	{id: "t-0130z", event: "time", at: winter(1, 30), data: `{}`, want: []string{"t-utc"}},
	// 23:00Z is midnight in Paris: both windows wrap past it.
	{id: "t-2300z", event: "time", at: winter(23, 0), data: `{}`, want: []string{"t-paris", "t-utc"}},
	// The start is in the window, the stop is not.
	{id: "t-2100z", event: "time", at: winter(21, 0), data: `{}`, want: []string{"t-paris"}},
	{id: "t-0100z", event: "time", at: winter(1, 0), data: `{}`, want: []string{"t-utc"}},
	{id: "t-1200z", event: "time", at: winter(12, 0), data: `{}`},
	// Summer time: 20:30Z is 22:30 in Paris.
	{id: "t-summer-2030z", event: "time", at: summer(20, 30), data: `{}`, want: []string{"t-paris"}},

	{id: "g-opened-42", event: "groups", data: `{"action":"opened","number":42}`, want: []string{"g-and"}},
	// The context group alone passes "or"; it fails "and".
	{id: "g-special", event: "groups", typ: "com.example.special", data: `{"action":"opened","number":42}`, want: []string{"g-or"}},
	// The exprs group alone passes "or"; the data group fails "and".
	{id: "g-big", event: "groups", data: `{"action":"closed","number":500}`, want: []string{"g-or"}},
	{id: "g-small", event: "groups", data: `{"action":"opened","number":5}`},
}

// Every filter type and logical operator, on real events through the real
// broker and the filter and sensor functions: each event must pass exactly
// the dependencies listed, and no other.
func TestFiltersThroughTheBroker(t *testing.T) {
	r := start(t, filterSensor(), rigOptions{})
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(r.logs)
		}
	})
	want := map[string][]string{}
	total := 0
	for _, c := range filterCases {
		publishAt(t, c)
		want[c.id] = slices.Sorted(slices.Values(c.want))
		total += len(c.want)
	}

	// All events are in flight at once; collect until the expected number
	// arrived, then a little longer, so that an extra firing shows.
	got := map[string][]string{}
	n := 0
	deadline := time.After(15 * time.Second)
	var quiet <-chan time.Time
collect:
	for {
		if n == total && quiet == nil {
			quiet = time.After(500 * time.Millisecond)
		}
		select {
		case ev := <-r.sent:
			var d struct {
				Case string `json:"case"`
			}
			if err := json.Unmarshal(ev.Data(), &d); err != nil || ev.Type() != "zeroflow.test.passed" {
				t.Fatalf("unexpected event from the sensor: %v", ev)
			}
			got[d.Case] = append(got[d.Case], ev.Subject())
			n++
		case <-quiet:
			break collect
		case <-deadline:
			t.Errorf("timed out after %d of %d firings", n, total)
			break collect
		}
	}
	for _, c := range filterCases {
		g := slices.Sorted(slices.Values(got[c.id]))
		if !slices.Equal(g, want[c.id]) {
			t.Errorf("%s passed %v, want %v", c.id, g, want[c.id])
		}
		delete(got, c.id)
	}
	for id, deps := range got {
		t.Errorf("firings for an unknown event %q: %v", id, deps)
	}
}

// publishAt puts a filterCase's event on the broker as the webhook source
// would, with the routing extensions of fsrc and its event name, but with
// the case's own attributes and time, which send does not let one set.
func publishAt(t *testing.T, c filterCase) {
	t.Helper()
	ev := event.New()
	ev.SetID(c.id)
	ev.SetType(cmp.Or(c.typ, "webhook"))
	ev.SetSource(cmp.Or(c.source, "fsrc"))
	ev.SetSubject(cmp.Or(c.subject, c.event))
	at := c.at
	if at.IsZero() {
		at = winter(12, 0)
	}
	ev.SetTime(at)
	ev.SetExtension(events.ExtEventSource, "fsrc")
	ev.SetExtension(events.ExtEvent, c.event)
	if c.data != "" {
		ev.SetDataContentType(cmp.Or(c.contentType, event.ApplicationJSON))
		ev.DataEncoded = []byte(c.data)
	}
	if err := bus.Publish(context.Background(), "default", "default", ev); err != nil {
		t.Fatalf("publish %s: %v", c.id, err)
	}
}
