package broker

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the broker's Prometheus metrics.
type metrics struct {
	accepted     *prometheus.CounterVec
	rejected     *prometheus.CounterVec
	delivered    *prometheus.CounterVec
	retried      *prometheus.CounterVec
	deadLettered *prometheus.CounterVec
	latency      *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zeroflow_broker_events_accepted_total",
			Help: "Events stored and answered 202, by broker.",
		}, []string{"broker"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zeroflow_broker_events_rejected_total",
			Help: "Requests not accepted, by broker and HTTP status code.",
		}, []string{"broker", "code"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zeroflow_broker_events_delivered_total",
			Help: "Events a subscriber accepted, by trigger.",
		}, []string{"trigger"}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zeroflow_broker_delivery_retries_total",
			Help: "Delivery attempts scheduled again after a failure, by trigger.",
		}, []string{"trigger"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zeroflow_broker_events_dead_lettered_total",
			Help: "Events given to the dead-letter sink (or dropped without one) after the last attempt, by trigger.",
		}, []string{"trigger", "sink"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "zeroflow_broker_delivery_latency_seconds",
			Help:    "Time from an event's arrival to its successful delivery, by trigger.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 20),
		}, []string{"trigger"}),
	}
	for _, c := range []prometheus.Collector{m.accepted, m.rejected, m.delivered, m.retried, m.deadLettered, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
