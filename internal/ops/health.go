// Package ops is what every process of the stack shows its operators, in
// one shape: /livez (the process runs), /readyz (every dependency it needs
// is usable, /healthz being its old name), /metrics (one Prometheus
// endpoint per process), an access log and a logger that never writes a
// citizen's IIN in full.
package ops

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"egov/internal/redisconn"
)

// Paths of the probes.
const (
	PathLive    = "/livez"
	PathReady   = "/readyz"
	PathHealth  = "/healthz" // an alias of /readyz, kept for existing probes
	PathMetrics = "/metrics"
)

// Check is one named dependency /readyz asks about; Check returns nil when
// it is usable.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Check states.
const (
	StatusOK      = "ok"
	StatusFailing = "failing"
	StatusLive    = "live"
	StatusReady   = "ready"
	StatusNoReady = "not-ready"
)

// CheckResult is the state of one dependency.
type CheckResult struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Report is the body of /livez and /readyz, one shape on every process:
//
//	{"status":"ready","checks":{"redis":{"status":"ok"}}}
//	{"status":"not-ready","checks":{"redis":{"status":"ok"},"revocation":{"status":"failing","error":"…"}}}
//	{"status":"live","checks":{}}
type Report struct {
	Status string                 `json:"status"`
	Checks map[string]CheckResult `json:"checks"`
}

// CheckTimeout bounds each check of one /readyz.
const CheckTimeout = 2 * time.Second

// Ready runs the checks side by side, each within CheckTimeout, and
// reports whether all passed. A check's error is masked (MaskIINs).
func Ready(ctx context.Context, checks []Check) (Report, bool) {
	rep := Report{Status: StatusReady, Checks: make(map[string]CheckResult, len(checks))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	ok := true
	for _, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, CheckTimeout)
			defer cancel()
			err := c.Check(cctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				rep.Checks[c.Name] = CheckResult{Status: StatusFailing, Error: MaskIINs(err.Error())}
				ok = false
				return
			}
			rep.Checks[c.Name] = CheckResult{Status: StatusOK}
		}()
	}
	wg.Wait()
	if !ok {
		rep.Status = StatusNoReady
	}
	return rep, ok
}

// ServeLive answers /livez: 200 whenever the process serves at all.
func ServeLive(w http.ResponseWriter, _ *http.Request) {
	writeReport(w, http.StatusOK, Report{Status: StatusLive, Checks: map[string]CheckResult{}})
}

// ReadyHandler answers /readyz (and /healthz): 200 when every check
// passes, else 503 with Retry-After.
func ReadyHandler(checks []Check) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rep, ok := Ready(r.Context(), checks)
		status := http.StatusOK
		if !ok {
			status = http.StatusServiceUnavailable
			w.Header().Set("Retry-After", "5")
		}
		writeReport(w, status, rep)
	}
}

// PublicReadyHandler is ReadyHandler for a port anyone can reach: each
// check's verdict without its error text, which names internal addresses
// and URLs (the operations listener's ReadyHandler gives it).
func PublicReadyHandler(checks []Check) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rep, ok := Ready(r.Context(), checks)
		for name, c := range rep.Checks {
			rep.Checks[name] = CheckResult{Status: c.Status}
		}
		status := http.StatusOK
		if !ok {
			status = http.StatusServiceUnavailable
			w.Header().Set("Retry-After", "5")
		}
		writeReport(w, status, rep)
	}
}

func writeReport(w http.ResponseWriter, status int, rep Report) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(rep)
}

// Probes adds /livez, /readyz and /healthz to mux, a public port's
// (PublicReadyHandler).
func Probes(mux *http.ServeMux, checks []Check) {
	ready := PublicReadyHandler(checks)
	mux.HandleFunc("GET "+PathLive, ServeLive)
	mux.HandleFunc("GET "+PathReady, ready)
	mux.HandleFunc("GET "+PathHealth, ready)
}

// Handler is a process's operations listener: the probes and, when
// metrics is not nil, /metrics.
func Handler(checks []Check, metrics prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	ready := ReadyHandler(checks) // with each failing check's error: operators only
	mux.HandleFunc("GET "+PathLive, ServeLive)
	mux.HandleFunc("GET "+PathReady, ready)
	mux.HandleFunc("GET "+PathHealth, ready)
	if metrics != nil {
		mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
	}
	// The runtime's profiles, for the operator who must find where a
	// process spends its time: on this listener only, never on a public
	// port (a CPU profile costs the process while it runs).
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// NewRegistry returns a registry with the Go runtime's and the process's
// collectors, for the one metrics endpoint of a process.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}), redisconn.Commands)
	return reg
}

// Register registers cs in reg, skipping those registered already (a part
// that registers the process collectors itself, for instance).
func Register(reg prometheus.Registerer, cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			if _, dup := err.(prometheus.AlreadyRegisteredError); !dup {
				panic(err)
			}
		}
	}
}

// RedisCheck is a check that Redis answers a PING.
func RedisCheck(rdb redis.UniversalClient) Check {
	return Check{Name: "redis", Check: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }}
}

// HTTPCheck is a check that GET url answers 2xx (another process's
// /livez, say: reachable is what a client of it needs).
func HTTPCheck(name, url string, client *http.Client) Check {
	if client == nil {
		client = http.DefaultClient
	}
	return Check{Name: name, Check: func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}}
}

// FreshCheck is a check of data that must be fresh (revocation lists):
// fresh returns nil while they are.
func FreshCheck(name string, fresh func(now time.Time) error) Check {
	return Check{Name: name, Check: func(context.Context) error { return fresh(time.Now()) }}
}
