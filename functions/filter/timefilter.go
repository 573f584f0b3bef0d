package filter

import (
	"errors"
	"fmt"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// timeFilter passes events whose time of day, in loc, is in [start, stop).
// A stop not after start wraps past midnight, so equal bounds pass every
// event, as in Argo.
type timeFilter struct {
	start, stop clock
	loc         *time.Location
	wraps       bool
}

// clock is a time of day.
type clock struct{ h, m, s int }

func (c clock) seconds() int { return c.h*3600 + c.m*60 + c.s }

func compileTime(spec *v1alpha1.TimeFilter) (*timeFilter, error) {
	var errs []error
	start, err := parseClock(spec.Start)
	if err != nil {
		errs = append(errs, fmt.Errorf("filters.time.start: %w", err))
	}
	stop, err := parseClock(spec.Stop)
	if err != nil {
		errs = append(errs, fmt.Errorf("filters.time.stop: %w", err))
	}
	loc := time.UTC
	if spec.Timezone != "" {
		if loc, err = time.LoadLocation(spec.Timezone); err != nil {
			errs = append(errs, fmt.Errorf("filters.time.timezone: %w", err))
		}
	}
	f := &timeFilter{start: start, stop: stop, loc: loc, wraps: stop.seconds() <= start.seconds()}
	return f, errors.Join(errs...)
}

func parseClock(s string) (clock, error) {
	// time.Parse alone would take "9:05:00"; Argo's format is fixed width.
	t, err := time.Parse(time.TimeOnly, s)
	if err != nil || len(s) != len(time.TimeOnly) {
		return clock{}, fmt.Errorf("%q is not a time of day HH:MM:SS", s)
	}
	return clock{t.Hour(), t.Minute(), t.Second()}, nil
}

func (f *timeFilter) match(in *input) (bool, error) {
	// The event's time, not the time it is filtered: a redelivered or late
	// event is judged by when it happened, as in Argo.
	t := in.ev.Time()
	if t.IsZero() {
		return false, errors.New("filters.time: event has no time")
	}
	t = t.In(f.loc)
	// The bounds are on the event's own date in the zone, so that a window
	// such as 22:00-01:00 wraps around that date's midnight.
	y, m, d := t.Date()
	start := time.Date(y, m, d, f.start.h, f.start.m, f.start.s, 0, f.loc)
	stop := time.Date(y, m, d, f.stop.h, f.stop.m, f.stop.s, 0, f.loc)
	if f.wraps {
		return !t.Before(start) || t.Before(stop), nil
	}
	return !t.Before(start) && t.Before(stop), nil
}
