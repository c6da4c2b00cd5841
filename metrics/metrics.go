// Package metrics exposes the bridge's Prometheus metrics (client_golang), all prefixed
// cortex_bridge_. Label values are bounded: event types outside docs/events.md's table count as "other", and
// targets, routes and digests come from the config; no event ids or URLs.
package metrics

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cortexbridge/cortex-bridge/core"
	"github.com/cortexbridge/cortex-bridge/event"
	"github.com/cortexbridge/cortex-bridge/notify"
)

const namespace = "cortex_bridge"

// QueueStatsFunc reads the queue's state per target at scrape time (store.DB.QueueStats).
type QueueStatsFunc func(ctx context.Context) ([]core.QueueStats, error)

// Metrics holds every metric and the registry that serves them.
type Metrics struct {
	reg *prometheus.Registry

	events         *prometheus.CounterVec
	ingestSeconds  prometheus.Histogram
	attempts       *prometheus.CounterVec
	attemptSeconds *prometheus.HistogramVec
	deliveries     *prometheus.CounterVec
	ruleErrors     *prometheus.CounterVec
	templateErrors *prometheus.CounterVec
	messagesCut    *prometheus.CounterVec
	digestRuns     *prometheus.CounterVec
	reloads        *prometheus.CounterVec
	reloadTime     prometheus.Gauge
	breakerOpen    *prometheus.GaugeVec
	alerts         *prometheus.CounterVec
	findingScans   *prometheus.CounterVec
	queue          *queueCollector
}

var _ core.Observer = (*Metrics)(nil)

// New registers the metrics, the Go and process collectors, build info for version, and a
// collector that reads queue depth and oldest pending age per target from stats at scrape time.
func New(version string, stats QueueStatsFunc) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "events_received_total",
			Help: "Events posted to the ingest endpoint, by event type and outcome (accepted, duplicate or the rejection code)."},
			[]string{"event", "outcome"}),
		ingestSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "ingest_duration_seconds",
			Help:    "Time from the request's arrival to the answer, for events that reached storage.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 5}}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "attempts_total",
			Help: "Delivery attempts by target and outcome (success or the failure reason)."}, []string{"target", "outcome"}),
		attemptSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "attempt_duration_seconds",
			Help:    "Duration of delivery attempts by target.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"target"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "deliveries_total",
			Help: "Deliveries that reached a final state by target and outcome (succeeded, dead, silenced)."}, []string{"target", "outcome"}),
		ruleErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "rule_errors_total",
			Help: "Rules that failed at run time (counted as not matched), by route."}, []string{"route"}),
		templateErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "template_errors_total",
			Help: "Messages that could not be rendered, by target."}, []string{"target"}),
		messagesCut: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "messages_cut_total",
			Help: "Attempts whose message was cut to fit the target platform's limits (the log says which fields), by target."}, []string{"target"}),
		digestRuns: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "digest_runs_total",
			Help: "Digest periods closed, by digest and outcome (sent, empty, skipped)."}, []string{"digest", "outcome"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "config_reloads_total",
			Help: "Config reloads by outcome (success, failure)."}, []string{"outcome"}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "config_last_reload_success_timestamp_seconds",
			Help: "When the config in force was loaded (Unix seconds)."}),
		breakerOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "target_circuit_open",
			Help: "1 while a target's circuit breaker holds its deliveries back."}, []string{"target"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "alerts_total",
			Help: "The bridge's own alerts (bridge.*) by type and outcome (raised, duplicate, dropped, suppressed)."},
			[]string{"type", "outcome"}),
		findingScans: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "findings_scans_total",
			Help: "Completed scans' comparisons (docs/events.md, Findings) by outcome: compared, skipped (the scan's repository is not known), failed (an attempt, tried again later)."},
			[]string{"outcome"}),
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "build_info",
		Help: "The running version; always 1."}, []string{"version"})
	build.WithLabelValues(version).Set(1)
	m.reg.MustRegister(m.events, m.ingestSeconds, m.attempts, m.attemptSeconds, m.deliveries, m.ruleErrors,
		m.templateErrors, m.messagesCut, m.digestRuns, m.reloads, m.reloadTime, m.breakerOpen, m.alerts, m.findingScans, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if stats != nil {
		m.queue = &queueCollector{stats: stats}
		m.reg.MustRegister(m.queue)
	}
	for _, o := range []string{core.FindingScanCompared, core.FindingScanSkipped, core.FindingScanFailed} {
		m.findingScans.WithLabelValues(o) // shown as 0 until the first one
	}
	m.reloadTime.SetToCurrentTime()
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is the registry the metrics live in (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// EventType bounds an event type for use as a label.
func EventType(t string) string {
	if event.IsKnownType(t) || t == core.DigestEventType {
		return t
	}
	return "other"
}

// EventReceived counts an ingest answer; d is the handling time, observed for events that
// reached storage (accepted or duplicate).
func (m *Metrics) EventReceived(eventType, outcome string, d time.Duration) {
	m.events.WithLabelValues(EventType(eventType), outcome).Inc()
	if outcome == "accepted" || outcome == "duplicate" {
		m.ingestSeconds.Observe(d.Seconds())
	}
}

// Attempt implements core.Observer.
func (m *Metrics) Attempt(target, outcome string, d time.Duration, state core.State) {
	m.attempts.WithLabelValues(target, outcome).Inc()
	m.attemptSeconds.WithLabelValues(target).Observe(d.Seconds())
	if outcome == string(notify.ReasonTemplate) {
		m.templateErrors.WithLabelValues(target).Inc()
	}
	if state == core.StateSucceeded || state == core.StateDead {
		m.deliveries.WithLabelValues(target, string(state)).Inc()
	}
}

// RuleError implements core.Observer.
func (m *Metrics) RuleError(route string) { m.ruleErrors.WithLabelValues(route).Inc() }

// MessageCut implements core.Observer.
func (m *Metrics) MessageCut(target string) { m.messagesCut.WithLabelValues(target).Inc() }

// DigestRun implements core.Observer.
func (m *Metrics) DigestRun(digest, outcome string) {
	m.digestRuns.WithLabelValues(digest, outcome).Inc()
}

// CircuitOpen implements core.Observer.
func (m *Metrics) CircuitOpen(target string, open bool) {
	v := 0.0
	if open {
		v = 1
	}
	m.breakerOpen.WithLabelValues(target).Set(v)
}

// Silenced implements core.Observer: a delivery recorded as silenced counts as final, with
// outcome "silenced".
func (m *Metrics) Silenced(target string) {
	m.deliveries.WithLabelValues(target, string(core.StateSilenced)).Inc()
}

// FindingScan implements core.Observer.
func (m *Metrics) FindingScan(outcome string) { m.findingScans.WithLabelValues(outcome).Inc() }

// Reload counts a config reload.
func (m *Metrics) Reload(ok bool) {
	if ok {
		m.reloads.WithLabelValues("success").Inc()
		m.reloadTime.SetToCurrentTime()
		return
	}
	m.reloads.WithLabelValues("failure").Inc()
}

// SetTargets names the configured targets, so their queue metrics show zeros rather than
// nothing while they have no deliveries.
func (m *Metrics) SetTargets(names []string) {
	if m.queue != nil {
		m.queue.mu.Lock()
		m.queue.targets = slices.Clone(names)
		m.queue.mu.Unlock()
	}
}

// queueCollector reads the queue from storage at scrape time, with a short timeout.
type queueCollector struct {
	stats   QueueStatsFunc
	mu      sync.Mutex
	targets []string
}

var (
	queueDepth = prometheus.NewDesc(namespace+"_queue_depth", "Unfinished deliveries by target and state (pending, running).",
		[]string{"target", "state"}, nil)
	oldestPending = prometheus.NewDesc(namespace+"_queue_oldest_pending_age_seconds",
		"Age of the oldest unfinished delivery by target.", []string{"target"}, nil)
	deadDeliveries = prometheus.NewDesc(namespace+"_dead_deliveries", "Deliveries in the dead state (kept for replay), by target.",
		[]string{"target"}, nil)
	queueUp = prometheus.NewDesc(namespace+"_queue_stats_up", "1 when the queue's state could be read at this scrape.", nil, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepth
	ch <- oldestPending
	ch <- deadDeliveries
	ch <- queueUp
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	stats, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(queueUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(queueUp, prometheus.GaugeValue, 1)
	c.mu.Lock()
	seen := map[string]bool{}
	for _, s := range stats {
		seen[s.Target] = true
	}
	for _, t := range c.targets {
		if !seen[t] {
			stats = append(stats, core.QueueStats{Target: t})
		}
	}
	c.mu.Unlock()
	now := time.Now()
	for _, s := range stats {
		ch <- prometheus.MustNewConstMetric(queueDepth, prometheus.GaugeValue, float64(s.Pending), s.Target, "pending")
		ch <- prometheus.MustNewConstMetric(queueDepth, prometheus.GaugeValue, float64(s.Running), s.Target, "running")
		ch <- prometheus.MustNewConstMetric(deadDeliveries, prometheus.GaugeValue, float64(s.Dead), s.Target)
		age := 0.0
		if !s.OldestUnfinished.IsZero() {
			age = now.Sub(s.OldestUnfinished).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(oldestPending, prometheus.GaugeValue, age, s.Target)
	}
}
