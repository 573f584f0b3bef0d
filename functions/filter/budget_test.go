package filter_test

import (
	"testing"
	"time"
)

// bombBody is a webhook body of issue 11: a field that, were it pasted into
// an expression as code, would allocate about 1 TB.
const bombBody = `{"body": {"f": "x' + repeat(repeat('x', 999999), 1000000) + '", "n": 1000000}}`

// TestExprsBudget: an event's fields are values, never code, and an
// expression over its budget refuses the event with the reason.
func TestExprsBudget(t *testing.T) {
	ev := newEvent(bombBody, time.Time{})
	runMatchCases(t, []matchCase{
		{name: "the bomb in a field is a string", ev: ev, filters: exprs("", ex(`f == "y"`, "f", "body.f")), want: false},
		{name: "the bomb in a field equals its text", ev: ev, filters: exprs("", ex(`f == "x' + repeat(repeat('x', 999999), 1000000) + '"`, "f", "body.f")), want: true},
		{name: "an event-sized repeat is refused within the memory budget", ev: ev,
			filters: exprs("", ex(`len(repeat(f, n)) > 0`, "f", "body.f", "n", "body.n")), wantErr: "memory budget of 1000000 units"},
		{name: "a loop over an event number is bounded", ev: ev,
			filters: exprs("", ex(`all(1..n, all(1..n, true))`, "n", "body.n")), wantErr: "memory budget"},
	})
}
