package funcrunner

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the runner's Prometheus metrics, shared by every function
// of a dev stack.
type Metrics struct {
	coldStarts *prometheus.CounterVec
	startTime  *prometheus.HistogramVec
	instances  *prometheus.GaugeVec
	stops      *prometheus.CounterVec
	failures   *prometheus.CounterVec
	injectedN  *prometheus.CounterVec
}

// NewMetrics registers the metrics with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		coldStarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zeroflow_function_starts_total", Help: "Function instances started, by reason (cold-start, scale-up, min-scale)."}, []string{"function", "reason"}),
		startTime:  prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "zeroflow_function_start_seconds", Help: "Time from a start to the instance being ready.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"function"}),
		instances:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "zeroflow_function_instances", Help: "Function instances running."}, []string{"function"}),
		stops:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zeroflow_function_stops_total", Help: "Function instances stopped, by why (idle, exited, closed)."}, []string{"function", "why"}),
		failures:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zeroflow_function_start_failures_total", Help: "Function instances that failed to start."}, []string{"function"}),
		injectedN:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zeroflow_function_injected_failures_total", Help: "Requests answered 500 by --inject-failures."}, []string{"function"}),
	}
	if reg != nil {
		reg.MustRegister(m.coldStarts, m.startTime, m.instances, m.stops, m.failures, m.injectedN)
	}
	return m
}

func (m *Metrics) started(fn, reason string, took time.Duration, n int) {
	m.coldStarts.WithLabelValues(fn, reason).Inc()
	m.startTime.WithLabelValues(fn).Observe(took.Seconds())
	m.instances.WithLabelValues(fn).Set(float64(n))
}

func (m *Metrics) stopped(fn, why string, n int) {
	m.stops.WithLabelValues(fn, why).Inc()
	m.instances.WithLabelValues(fn).Set(float64(n))
}

func (m *Metrics) startFailed(fn string) { m.failures.WithLabelValues(fn).Inc() }

func (m *Metrics) injected(fn string) { m.injectedN.WithLabelValues(fn).Inc() }
