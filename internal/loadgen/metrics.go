package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// ProcessSample is what a stack's metrics say of its process.
type ProcessSample struct {
	RSS        float64 // process_resident_memory_bytes
	CPUSeconds float64 // process_cpu_seconds_total
}

// Names of the process metrics read.
const (
	metricRSS = "process_resident_memory_bytes"
	metricCPU = "process_cpu_seconds_total"
)

// ParseProcessMetrics reads the process metrics out of a metrics page in
// the format its Content-Type names (Prometheus text, OpenMetrics or
// protobuf; text when it names none). Both must be there.
func ParseProcessMetrics(r io.Reader, header http.Header) (ProcessSample, error) {
	var s ProcessSample
	var haveRSS, haveCPU bool
	dec := expfmt.NewDecoder(r, expfmt.ResponseFormat(header))
	for {
		var mf dto.MetricFamily
		err := dec.Decode(&mf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return s, fmt.Errorf("metrics: %w", err)
		}
		if len(mf.GetMetric()) == 0 {
			continue
		}
		m := mf.GetMetric()[0]
		switch mf.GetName() {
		case metricRSS:
			s.RSS, haveRSS = valueOf(m), true
		case metricCPU:
			s.CPUSeconds, haveCPU = valueOf(m), true
		}
	}
	if !haveRSS || !haveCPU {
		return s, fmt.Errorf("metrics: no %s and %s", metricRSS, metricCPU)
	}
	return s, nil
}

func valueOf(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	default:
		return m.GetUntyped().GetValue()
	}
}

// ReadProcessMetrics fetches url and parses its process metrics.
func ReadProcessMetrics(ctx context.Context, client *http.Client, url string) (ProcessSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return ProcessSample{}, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := client.Do(req)
	if err != nil {
		return ProcessSample{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ProcessSample{}, fmt.Errorf("metrics %s: %s", url, resp.Status)
	}
	return ParseProcessMetrics(io.LimitReader(resp.Body, 16<<20), resp.Header)
}

// SampleRSS reads the stack's resident memory from url every interval
// (default 1 s) and keeps the largest value in max, until the returned
// stop is called.
func SampleRSS(ctx context.Context, client *http.Client, url string, interval time.Duration, max *atomic.Int64) (stop func()) {
	if interval <= 0 {
		interval = time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if s, err := ReadProcessMetrics(ctx, client, url); err == nil && int64(s.RSS) > max.Load() {
				max.Store(int64(s.RSS))
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
		}
	}()
	return func() { cancel(); <-done }
}
