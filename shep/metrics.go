package shep

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// busMetrics are the bus's counters; queue gauges are read from Redis when
// scraped (see Collector).
type busMetrics struct {
	sent, handedOut, redelivered, confirmed *prometheus.CounterVec
	deadLettered                            *prometheus.CounterVec
	httpRequests                            *prometheus.CounterVec
	httpLatency                             *prometheus.HistogramVec
}

func newBusMetrics() *busMetrics {
	return &busMetrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "egov_bus_messages_sent_total",
			Help: "Messages accepted into a recipient's queue."}, []string{"recipient"}),
		handedOut: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "egov_bus_messages_handed_out_total",
			Help: "Leases handed out by getMessages."}, []string{"recipient"}),
		redelivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "egov_bus_redeliveries_total",
			Help: "Expired or refused leases handed out again."}, []string{"recipient"}),
		confirmed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "egov_bus_messages_confirmed_total",
			Help: "Messages confirmed DELIVERED."}, []string{"recipient"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "egov_bus_dead_letters_total",
			Help: "Messages stopped (DELIVERY_STOPPED) and moved to the dead letters."}, []string{"recipient", "reason"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "egov_bus_http_requests_total",
			Help: "Bus HTTP requests by route (method and pattern) and status."}, []string{"route", "status"}),
		httpLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "egov_bus_http_request_duration_seconds",
			Help: "Bus HTTP request latency by route (long polls included).", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}, []string{"route"}),
	}
}

var (
	depthDesc = prometheus.NewDesc("egov_bus_queue_depth", "Messages in a recipient's queue, leased or not.", []string{"recipient"}, nil)
	leaseDesc = prometheus.NewDesc("egov_bus_queue_leased", "Messages handed out and not yet confirmed (in flight).", []string{"recipient"}, nil)
	ageDesc   = prometheus.NewDesc("egov_bus_queue_oldest_age_seconds", "Age of the oldest message in a queue.", []string{"recipient"}, nil)
	deadDesc  = prometheus.NewDesc("egov_bus_dead_letters", "Messages in a recipient's dead-letter stream.", []string{"recipient"}, nil)
)

// Describe implements prometheus.Collector.
func (b *Bus) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range b.counters() {
		c.Describe(ch)
	}
	ch <- depthDesc
	ch <- leaseDesc
	ch <- ageDesc
	ch <- deadDesc
}

// Collect implements prometheus.Collector: counters, and per-recipient
// queue depth, leases, oldest-message age and dead letters read from Redis
// (one pipeline of four commands per recipient of the routing table,
// within two seconds; a recipient whose reads fail is left out).
func (b *Bus) Collect(ch chan<- prometheus.Metric) {
	for _, c := range b.counters() {
		c.Collect(ch)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	now := b.cfg.Now()
	for recipient := range b.recipients() {
		q := b.queue(recipient)
		pipe := b.rdb.Pipeline()
		depth := pipe.XLen(ctx, q.stream)
		dead := pipe.XLen(ctx, q.dead)
		first := pipe.XRangeN(ctx, q.stream, "-", "+", 1)
		pending := pipe.XPending(ctx, q.stream, consumerGroup)
		_, _ = pipe.Exec(ctx) // a queue not polled yet has no group: XPENDING fails alone
		if err := depth.Err(); err != nil && !errors.Is(err, redis.Nil) {
			// Redis did not answer: left out of this scrape rather than
			// reported as empty.
			continue
		}
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(depth.Val()), recipient)
		ch <- prometheus.MustNewConstMetric(deadDesc, prometheus.GaugeValue, float64(dead.Val()), recipient)
		leased := 0.0
		if p, err := pending.Result(); err == nil {
			leased = float64(p.Count)
		}
		ch <- prometheus.MustNewConstMetric(leaseDesc, prometheus.GaugeValue, leased, recipient)
		age := 0.0
		if msgs := first.Val(); len(msgs) == 1 {
			if ms, err := strconv.ParseInt(strings.SplitN(msgs[0].ID, "-", 2)[0], 10, 64); err == nil {
				age = now.Sub(time.UnixMilli(ms)).Seconds()
			}
		}
		ch <- prometheus.MustNewConstMetric(ageDesc, prometheus.GaugeValue, max(age, 0), recipient)
	}
}

func (b *Bus) counters() []*prometheus.CounterVec {
	m := b.metrics
	return []*prometheus.CounterVec{m.sent, m.handedOut, m.redelivered, m.confirmed, m.deadLettered}
}
