package controller

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts what a controller did (Stats), and times the parts of an
// advance for Prometheus, so that a slow step-to-step hop can be taken apart.
type metrics struct {
	submits, duplicateSubmits, results, ignored atomic.Int64
	writes, conflicts, dispatches, cancels      atomic.Int64
	finished, heartbeats                        atomic.Int64
	// refused counts requests turned down as unauthorized: results
	// without their dispatch's token, submits across namespaces.
	refused atomic.Int64
	// permanentErrors counts runs ended in Error because their status
	// could not be written (too large, invalid).
	permanentErrors atomic.Int64

	advanceSeconds *prometheus.HistogramVec
	lockWait       prometheus.Histogram
	writeSeconds   prometheus.Histogram
	sendSeconds    prometheus.Histogram
}

// latencyBuckets span 100 µs to about 3 s.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2, 15)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		advanceSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "zeroflow_controller_advance_seconds", Help: "Time to take one input (submit, result, tick): wait for the workflow, read, advance, write the status, send the step.run events.", Buckets: latencyBuckets}, []string{"input"}),
		lockWait:       prometheus.NewHistogram(prometheus.HistogramOpts{Name: "zeroflow_controller_lock_wait_seconds", Help: "Time an input waited behind another input of the same workflow (or of one sharing its lock) in this instance.", Buckets: latencyBuckets}),
		writeSeconds:   prometheus.NewHistogram(prometheus.HistogramOpts{Name: "zeroflow_controller_status_write_seconds", Help: "Time of one status write to the Kubernetes API.", Buckets: latencyBuckets}),
		sendSeconds:    prometheus.NewHistogram(prometheus.HistogramOpts{Name: "zeroflow_controller_send_seconds", Help: "Time for the broker to accept one step.run or workflow.finished event.", Buckets: latencyBuckets}),
	}
	if reg != nil {
		reg.MustRegister(m.advanceSeconds, m.lockWait, m.writeSeconds, m.sendSeconds)
	}
	return m
}

func since(t time.Time) float64 { return time.Since(t).Seconds() }

// Stats is a snapshot of a controller's counters.
type Stats struct {
	Submits          int64 `json:"submits"`
	DuplicateSubmits int64 `json:"duplicateSubmits"`
	Results          int64 `json:"results"`
	Ignored          int64 `json:"ignored"`
	Writes           int64 `json:"writes"`
	Conflicts        int64 `json:"conflicts"`
	Dispatches       int64 `json:"dispatches"`
	Cancels          int64 `json:"cancels"`
	Heartbeats       int64 `json:"heartbeats"`
	Finished         int64 `json:"finished"`
	Refused          int64 `json:"refused"`
	PermanentErrors  int64 `json:"permanentErrors"`
}

// Stats returns the controller's counters.
func (c *Controller) Stats() Stats {
	m := c.metrics
	return Stats{
		Submits: m.submits.Load(), DuplicateSubmits: m.duplicateSubmits.Load(), Results: m.results.Load(), Ignored: m.ignored.Load(),
		Writes: m.writes.Load(), Conflicts: m.conflicts.Load(), Dispatches: m.dispatches.Load(), Cancels: m.cancels.Load(), Heartbeats: m.heartbeats.Load(),
		Finished: m.finished.Load(), Refused: m.refused.Load(), PermanentErrors: m.permanentErrors.Load(),
	}
}
