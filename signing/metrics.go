package signing

import (
	"github.com/prometheus/client_golang/prometheus"

	"egov"
)

// verifications counts the signature verifications of the process, by
// result: ok, or the refusal code (a bounded set, egov.Code).
var verifications = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "egov_signing_verifications_total",
	Help: "Signature verifications by result: ok, or the refusal code."}, []string{"result"})

func countVerification(err error) {
	result := "ok"
	if err != nil {
		result = string(egov.ErrorCode(err))
	}
	verifications.WithLabelValues(result).Inc()
}

// Collectors are the signature checks' metrics, one set per process
// whatever the number of verifiers, to register where it serves them.
func Collectors() []prometheus.Collector { return []prometheus.Collector{verifications} }
