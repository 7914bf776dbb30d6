package provider

import (
	"github.com/prometheus/client_golang/prometheus"

	"egov/document"
	"egov/internal/ops"
)

// metrics are a system's counters.
type metrics struct {
	decisions *prometheus.CounterVec
	messages  *prometheus.CounterVec
	endings   *prometheus.CounterVec
}

func newMetrics(system string) *metrics {
	return &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "egov_" + system + "_decisions_total",
			Help: "Decisions taken (once per request, not per delivery), by outcome: registered, referred, certificate, deregistered, refused."}, []string{"outcome"}),
		endings: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "egov_" + system + "_registrations_ended_total",
			Help: "Job seekers' registrations ended, by ground: at-own-request, labour-activity-started."}, []string{"ground"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "egov_" + system + "_messages_total",
			Help: "Request messages processed, by result: answered, rejected (dead letter: signature or document does not hold), failed (comes back)."}, []string{"result"}),
	}
}

// Collectors are the system's metrics, to register where its process
// serves them.
func (s *System) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.metrics.decisions, s.metrics.messages, s.metrics.endings}
}

// ReadyChecks are the checks of the system's readiness: Redis, then extra
// (the bus, revocation data).
func (s *System) ReadyChecks(extra ...ops.Check) []ops.Check {
	return append([]ops.Check{ops.RedisCheck(s.rdb)}, extra...)
}

// countDecision counts a decision stored, and the registration it ends.
func (s *System) countDecision(d Decision) {
	s.metrics.decisions.WithLabelValues(string(d.Outcome)).Inc()
	if d.Outcome == document.OutcomeDeregistered {
		s.metrics.endings.WithLabelValues(d.Ground).Inc()
	}
}
