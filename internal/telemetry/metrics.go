// Package telemetry gives imgpurge its Prometheus metrics and OpenTelemetry
// traces. It implements the orchestrator's Observer, wraps the HTTP router,
// and reads the journal's depth when scraped.
package telemetry

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/imgpurge/imgpurge/internal/journal"
)

// Metrics holds imgpurge's collectors on a registry of its own.
type Metrics struct {
	Registry *prometheus.Registry

	requests      *prometheus.CounterVec
	reqDuration   *prometheus.HistogramVec
	callDuration  *prometheus.HistogramVec
	outcomes      *prometheus.CounterVec
	retries       *prometheus.CounterVec
	limiterWaits  *prometheus.CounterVec
	limiterWaitS  *prometheus.HistogramVec
	batchSize     *prometheus.HistogramVec
	toConsistency prometheus.Histogram
}

// Latency buckets from 1 ms to about 1 min: provider calls run from
// milliseconds (an origin cache) to seconds (a CDN under load).
var latency = prometheus.ExponentialBuckets(0.001, 2.5, 13)

// NewMetrics registers every collector, plus the Go runtime and process
// collectors.
func NewMetrics() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.Registry.MustRegister(c) }
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "imgpurge_http_requests_total",
		Help: "API requests by route, HTTP status and envelope code (0 for success).",
	}, []string{"route", "method", "status", "code"})
	m.reqDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "imgpurge_http_request_duration_seconds", Help: "API request latency by route.",
		Buckets: latency,
	}, []string{"route", "method"})
	m.callDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "imgpurge_provider_call_duration_seconds", Help: "Latency of one provider call.",
		Buckets: latency,
	}, []string{"layer", "provider"})
	m.outcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "imgpurge_layer_outcomes_total",
		Help: "Final outcome of each layer of each purge; reason is the provider's code or why it is pending.",
	}, []string{"layer", "provider", "outcome", "reason"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "imgpurge_provider_retries_total", Help: "Provider calls that were retries of a failed call.",
	}, []string{"layer", "provider"})
	m.limiterWaits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "imgpurge_ratelimit_waits_total",
		Help: "Calls held by an account's rate limit; result is waited or refused (wait past the deadline).",
	}, []string{"account", "result"})
	m.limiterWaitS = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "imgpurge_ratelimit_wait_seconds", Help: "Time calls waited for an account's rate limit.",
		Buckets: latency,
	}, []string{"account"})
	m.batchSize = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "imgpurge_coalesced_batch_items", Help: "Items per coalesced provider call.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 12),
	}, []string{"account"})
	m.toConsistency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "imgpurge_time_to_consistency_seconds",
		Help:    "Time from a purge request until every layer of it succeeded, journaled retries included.",
		Buckets: prometheus.ExponentialBuckets(0.01, 3, 14),
	})
	for _, c := range []prometheus.Collector{m.requests, m.reqDuration, m.callDuration, m.outcomes,
		m.retries, m.limiterWaits, m.limiterWaitS, m.batchSize, m.toConsistency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// Consistent records the time a purge took to be done everywhere.
func (m *Metrics) Consistent(d time.Duration) { m.toConsistency.Observe(d.Seconds()) }

// BatchSent records a coalesced call's size.
func (m *Metrics) BatchSent(account string, items int) {
	m.batchSize.WithLabelValues(account).Observe(float64(items))
}

// LimiterWaited records a rate-limit wait; refused means the wait would
// have outlasted the request, so the call was journaled instead.
func (m *Metrics) LimiterWaited(account string, d time.Duration, refused bool) {
	if refused {
		m.limiterWaits.WithLabelValues(account, "refused").Inc()
		return
	}
	m.limiterWaits.WithLabelValues(account, "waited").Inc()
	m.limiterWaitS.WithLabelValues(account).Observe(d.Seconds())
}

// request records one API response.
func (m *Metrics) request(route, method string, status int, code string, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status), code).Inc()
	m.reqDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// JournalCollector reports the journal's depth and the age of its oldest
// unfinished purge each time it is scraped.
type JournalCollector struct {
	J      *journal.Journal
	depth  *prometheus.Desc
	oldest *prometheus.Desc
}

// NewJournalCollector describes the journal gauges.
func NewJournalCollector(j *journal.Journal) *JournalCollector {
	return &JournalCollector{J: j,
		depth: prometheus.NewDesc("imgpurge_journal_purges",
			"Journaled purges not yet succeeded, by state.", []string{"state"}, nil),
		oldest: prometheus.NewDesc("imgpurge_journal_oldest_pending_age_seconds",
			"Age of the oldest journaled purge still to be done (0 when none).", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *JournalCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.depth; ch <- c.oldest }

// Collect implements prometheus.Collector.
func (c *JournalCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.J.Stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.depth, err)
		return
	}
	for _, s := range []string{journal.StatePending, journal.StateRunning, journal.StateFailed, journal.StateDead} {
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(st.ByState[s]), s)
	}
	age := 0.0
	if !st.OldestOpenAt.IsZero() {
		age = time.Since(st.OldestOpenAt).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
}
