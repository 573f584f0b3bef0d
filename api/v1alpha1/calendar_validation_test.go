package v1alpha1_test

import (
	"strings"
	"testing"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

func TestValidateCalendarEvents(t *testing.T) {
	for _, tc := range []struct {
		name string
		cal  v1alpha1.CalendarEventSource
		// want is a piece of the error; "" means valid.
		want string
	}{
		{"schedule", v1alpha1.CalendarEventSource{Schedule: "*/5 * * * *", Timezone: "Asia/Seoul"}, ""},
		{"interval", v1alpha1.CalendarEventSource{Interval: "30s"}, ""},
		{"neither", v1alpha1.CalendarEventSource{}, "calendar[tick].schedule"},
		{"both", v1alpha1.CalendarEventSource{Schedule: "@hourly", Interval: "1m"}, "calendar[tick].interval"},
		{"bad schedule", v1alpha1.CalendarEventSource{Schedule: "whenever"}, "calendar[tick].schedule"},
		{"interval too short", v1alpha1.CalendarEventSource{Interval: "10ms"}, "calendar[tick].interval"},
		{"bad timezone", v1alpha1.CalendarEventSource{Interval: "1m", Timezone: "Nowhere/Land"}, "calendar[tick].timezone"},
		{"exclusion dates", v1alpha1.CalendarEventSource{Interval: "1m", ExclusionDates: []string{"2026-12-25"}}, "exclusionDates"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := &v1alpha1.EventSource{}
			es.Name = "clock"
			es.Spec.Calendar = map[string]v1alpha1.CalendarEventSource{"tick": tc.cal}
			errs := v1alpha1.ValidateEventSource(es)
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Errorf("rejected: %v", errs.ToAggregate())
			case tc.want != "" && (len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), tc.want)):
				t.Errorf("want an error at %s, got %v", tc.want, errs.ToAggregate())
			}
		})
	}
}

func TestIntervalSchedule(t *testing.T) {
	for in, want := range map[string]string{
		"1s": "*/1 * * * * *", "15s": "*/15 * * * * *", "1m": "* * * * *", "10m": "*/10 * * * *",
		"1h": "0 * * * *", "6h": "0 */6 * * *", "24h": "0 0 * * *",
		"7s": "", "45m": "", "5h": "", "1.5s": "", "500ms": "", "48h": "", "soon": "",
	} {
		got, err := v1alpha1.IntervalSchedule(in)
		if (want == "") != (err != nil) || got != want {
			t.Errorf("%s: %q, %v; want %q", in, got, err, want)
		}
		if want != "" {
			if _, err := v1alpha1.ParseSchedule(got); err != nil {
				t.Errorf("%s: %q does not parse: %v", in, got, err)
			}
		}
	}
}
