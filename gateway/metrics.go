package gateway

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// appMetrics are the portal's counters outside HTTP: the relay's attempts
// and the answers the consumer took from the bus.
type appMetrics struct {
	relay   *prometheus.CounterVec
	answers *prometheus.CounterVec
}

func newAppMetrics() *appMetrics {
	return &appMetrics{
		relay: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "egov_portal_relay_attempts_total",
			Help: "Attempts of the outbox relay to put a request on the bus, by outcome (relayed, failed)."}, []string{"outcome"}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "egov_portal_answers_consumed_total",
			Help: "Providers' answers taken from the bus, by outcome: filed, refused (comes back later), rejected (dead letter)."}, []string{"outcome"}),
	}
}

var (
	backlogDesc = prometheus.NewDesc("egov_portal_relay_backlog",
		"Requests accepted and not yet on the bus (the relay's pending hints).", nil, nil)
	backlogAgeDesc = prometheus.NewDesc("egov_portal_relay_backlog_oldest_age_seconds",
		"Age of the oldest request accepted and not yet on the bus; 0 when none waits.", nil, nil)
)

// collectTimeout bounds the Redis reads of one scrape.
const collectTimeout = time.Second

// backlog is a collector of the relay's backlog, read from Redis when
// scraped: two commands on one key, whatever the backlog's size. When
// Redis does not answer within collectTimeout the gauges are left out of
// that scrape rather than reported as zero.
type backlog struct{ a *App }

func (b backlog) Describe(ch chan<- *prometheus.Desc) { ch <- backlogDesc; ch <- backlogAgeDesc }

func (b backlog) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	n, age, err := b.a.RelayBacklog(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(backlogAgeDesc, prometheus.GaugeValue, age.Seconds())
}

// RelayBacklog returns how many accepted requests wait for the relay and
// how long the oldest has waited (by the machine's clock).
func (a *App) RelayBacklog(ctx context.Context) (int64, time.Duration, error) {
	pipe := a.rdb.Pipeline()
	lens := make([]*redis.IntCmd, relayShards)
	firsts := make([]*redis.XMessageSliceCmd, relayShards)
	for i := range relayShards {
		lens[i] = pipe.XLen(ctx, a.relayStream(i))
		firsts[i] = pipe.XRangeN(ctx, a.relayStream(i), "-", "+", 1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, 0, err
	}
	var n int64
	var age time.Duration
	for i := range relayShards {
		n += lens[i].Val()
		if msgs := firsts[i].Val(); len(msgs) == 1 {
			if ms, err := strconv.ParseInt(strings.SplitN(msgs[0].ID, "-", 2)[0], 10, 64); err == nil {
				age = max(age, time.Since(time.UnixMilli(ms)))
			}
		}
	}
	return n, age, nil
}

// Collectors are the portal's metrics outside HTTP (the relay, its
// backlog, the consumer); Handler registers them in HTTPOptions.Metrics.
func (a *App) Collectors() []prometheus.Collector {
	return []prometheus.Collector{a.metrics.relay, a.metrics.answers, backlog{a}}
}
