package controller

import "sync/atomic"

// metrics counts what a controller did.
type metrics struct {
	submits, duplicateSubmits, results, ignored atomic.Int64
	writes, conflicts, dispatches, redispatches atomic.Int64
	finished                                    atomic.Int64
}

func newMetrics() *metrics { return &metrics{} }

// Stats is a snapshot of a controller's counters.
type Stats struct {
	Submits          int64 `json:"submits"`
	DuplicateSubmits int64 `json:"duplicateSubmits"`
	Results          int64 `json:"results"`
	Ignored          int64 `json:"ignored"`
	Writes           int64 `json:"writes"`
	Conflicts        int64 `json:"conflicts"`
	Dispatches       int64 `json:"dispatches"`
	Redispatches     int64 `json:"redispatches"`
	Finished         int64 `json:"finished"`
}

// Stats returns the controller's counters.
func (c *Controller) Stats() Stats {
	m := c.metrics
	return Stats{
		Submits: m.submits.Load(), DuplicateSubmits: m.duplicateSubmits.Load(), Results: m.results.Load(), Ignored: m.ignored.Load(),
		Writes: m.writes.Load(), Conflicts: m.conflicts.Load(), Dispatches: m.dispatches.Load(), Redispatches: m.redispatches.Load(),
		Finished: m.finished.Load(),
	}
}
