package main

// What egovctl up needs for its operations (issue 15): a masked logger
// at --log-level, the embedded Redis opened with the stack's timeouts, one
// metrics registry for every part of the process, and the operations
// listener (/metrics with /livez, /readyz, /healthz) on --metrics-listen.
// up.go calls them; see the report of issue 15 for the lines.

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"egov/gateway"
	"egov/internal/ops"
	"egov/internal/redisconn"
	"egov/provider"
	"egov/shep"
	"egov/signing"
)

// upLogger is egovctl up's logger: text on stderr at level (--log-level,
// default $EGOV_LOG_LEVEL or info), every IIN masked.
func upLogger(stderr io.Writer, level string) (*slog.Logger, error) {
	l, err := ops.ParseLevel(level)
	if err != nil {
		return nil, err
	}
	return ops.NewLogger(stderr, l, false), nil
}

// upEmbeddedClient opens the client of the embedded Redis at addr the way
// a real one is opened (redisconn: read timeouts of a second, RESP2,
// contexts honoured), not with the library's defaults.
func upEmbeddedClient(addr string) (redis.UniversalClient, error) {
	return redisconn.Open("redis://" + addr + "/0")
}

// upRegistry is the one registry of the process: Go and process
// collectors, the bus's counters and queue gauges, the labour-market
// system's decisions (nil with --no-labour: not registered), signature
// verifications. The portal's handler adds its HTTP, relay and consumer
// metrics when given it as HTTPOptions.Metrics.
func upRegistry(bus *shep.Bus, systems []*provider.System) *prometheus.Registry {
	reg := ops.NewRegistry()
	reg.MustRegister(bus.Collectors()...)
	for _, sys := range systems {
		reg.MustRegister(sys.Collectors()...)
	}
	reg.MustRegister(signing.Collectors()...)
	return reg
}

// upReadyChecks are the readiness checks of the whole process: Redis (the
// portal's, the bus's and the labour-market system's are one), the
// revocation list's freshness. The bus is in process: reachable whenever
// the process serves.
func upReadyChecks(app *gateway.App, crl *signing.CRLSet) []ops.Check {
	return app.ReadyChecks(upRevocationCheck(crl))
}

// upRevocationCheck fails once the CRL is past its next update.
func upRevocationCheck(crl *signing.CRLSet) ops.Check {
	return ops.FreshCheck("revocation", crl.Fresh)
}

// upOpsHandler serves the metrics listener: /metrics of reg, /livez,
// /readyz and /healthz (its alias) of the whole process.
func upOpsHandler(app *gateway.App, crl *signing.CRLSet, reg *prometheus.Registry) http.Handler {
	return ops.Handler(upReadyChecks(app, crl), reg)
}

// upShutdown stops a listener gracefully and logs what it drained.
func upShutdown(log *slog.Logger, name string, srv *http.Server) {
	ops.Shutdown(log, name, srv, 10*time.Second)
}

// upWait waits for the background parts to stop after their context
// ended, and logs that they did.
func upWait(log *slog.Logger, wait func(), parts string) {
	start := time.Now()
	wait()
	log.Info("egovctl up stopped", "stopped", parts, "took", time.Since(start).Round(time.Millisecond))
}

// upRedisLabel names the Redis of --redis for the start line: its address
// (never its password), or "embedded".
func upRedisLabel(url string) string {
	if url == "" {
		return "embedded (in memory)"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		return "unparsable URL"
	}
	return fmt.Sprintf("%s db %d", opt.Addr, opt.DB)
}
