package loadgen

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func TestParseProcessMetricsText(t *testing.T) {
	// What a hand parser splitting at the first space gets wrong: labels,
	// a timestamp after the value, exponents, HELP text with spaces.
	page := `# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.2582912e+07 1700000000000
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total{pid="4242"} 3.25
# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{code="200",path="/a b"} 7
`
	h := http.Header{"Content-Type": {"text/plain; version=0.0.4; charset=utf-8"}}
	s, err := ParseProcessMetrics(strings.NewReader(page), h)
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS != 12582912 || s.CPUSeconds != 3.25 {
		t.Fatalf("parsed %+v", s)
	}
	if _, err := ParseProcessMetrics(strings.NewReader("# TYPE up gauge\nup 1\n"), h); err == nil {
		t.Fatal("a page without the process metrics was accepted")
	}
	if _, err := ParseProcessMetrics(strings.NewReader("process_resident_memory_bytes twelve\n"), h); err == nil {
		t.Fatal("a malformed page was accepted")
	}
}

// TestReadProcessMetricsFromARegistry reads a real registry's page, in
// whatever format it negotiates, and samples it.
func TestReadProcessMetricsFromARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	spendCPU(t, 30*time.Millisecond) // the kernel counts CPU in 10 ms ticks: a fresh binary may show none
	s, err := ReadProcessMetrics(context.Background(), srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS < 1<<20 || s.CPUSeconds <= 0 {
		t.Fatalf("this process: %+v", s)
	}
	var max atomic.Int64
	stop := SampleRSS(context.Background(), srv.Client(), srv.URL, 10*time.Millisecond, &max)
	// Until the first sample is in: on a starved machine that takes longer
	// than a few intervals.
	for deadline := time.Now().Add(10 * time.Second); max.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if max.Load() < 1<<20 {
		t.Fatalf("largest sample %d", max.Load())
	}
}

// spendCPU works until the process has used at least d of CPU time.
func spendCPU(t *testing.T, d time.Duration) {
	t.Helper()
	used := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	sum := sha256.Sum256(nil)
	for start := used(); used()-start < d; {
		for range 1000 {
			sum = sha256.Sum256(sum[:])
		}
	}
}
