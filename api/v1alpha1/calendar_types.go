package v1alpha1

import (
	"fmt"
	"time"
)

// CalendarEventSource is one calendar event, with Argo's fields. Its
// CloudEvent's time is when it fired (Argo's eventTime), and its data is
// {"metadata": ...}.
type CalendarEventSource struct {
	// Schedule is a cron schedule (five fields, or a descriptor such as
	// @hourly).
	// +optional
	Schedule string `json:"schedule,omitempty"`
	// Interval fires every so long (a Go duration such as "30s" or "5m"),
	// aligned to the clock: it must divide a minute (seconds), an hour
	// (minutes) or a day (hours), since a PingSource takes a cron schedule.
	// +optional
	Interval string `json:"interval,omitempty"`
	// Timezone of the schedule (an IANA name); default UTC.
	// +optional
	Timezone string `json:"timezone,omitempty"`
	// ExclusionDates are not supported: a PingSource cannot skip dates.
	// Validation rejects them; filter the dates in the sensor instead.
	// +optional
	ExclusionDates []string `json:"exclusionDates,omitempty"`
	// Metadata is sent in the event's data.
	// +optional
	Metadata map[string]string `json:"metadata,omitempty"`
}

// PingSchedule is the calendar event as a PingSource schedule.
func (c *CalendarEventSource) PingSchedule() (string, error) {
	if c.Interval == "" {
		return c.Schedule, nil
	}
	return IntervalSchedule(c.Interval)
}

// IntervalSchedule turns an interval into the cron schedule that fires at
// it, aligned to the clock: "10s" is "*/10 * * * * *", "15m" is
// "*/15 * * * *", "6h" is "0 */6 * * *".
func IntervalSchedule(interval string) (string, error) {
	d, err := time.ParseDuration(interval)
	switch {
	case err != nil:
		return "", fmt.Errorf("interval %q: %w", interval, err)
	case d < time.Second || d%time.Second != 0:
		return "", fmt.Errorf("interval %q: a whole number of seconds, at least 1s", interval)
	case d < time.Minute && time.Minute%d == 0:
		return fmt.Sprintf("*/%d * * * * *", d/time.Second), nil
	case d == time.Minute:
		return "* * * * *", nil
	case d < time.Hour && d%time.Minute == 0 && time.Hour%d == 0:
		return fmt.Sprintf("*/%d * * * *", d/time.Minute), nil
	case d == time.Hour:
		return "0 * * * *", nil
	case d < 24*time.Hour && d%time.Hour == 0 && (24*time.Hour)%d == 0:
		return fmt.Sprintf("0 */%d * * *", d/time.Hour), nil
	case d == 24*time.Hour:
		return "0 0 * * *", nil
	}
	return "", fmt.Errorf("interval %q does not divide a minute, an hour or a day, so no cron schedule fires at it: use a schedule", interval)
}
