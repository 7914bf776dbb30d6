package labour_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"egov/gateway"
	"egov/internal/ops"
	"egov/internal/promtest"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// A citizen's journey through the portal, the bus and the labour-market
// system, every part logging at DEBUG: his IIN is in the log only masked,
// and the decisions are counted.
func TestJourneyLogsNoIINInFull(t *testing.T) {
	const iin = "791028302728"
	var buf lockedBuffer
	// A plain handler, not ops.NewLogger: the parts must mask what they
	// log themselves; the programs' masking logger is the second line of
	// defence (internal/ops tests it).
	s := newStackLog(t, 30*time.Second, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	s.labour()
	aidos := s.citizen(iin, "citizen")
	id := s.submit(aidos, "job-seeker-registration", "education", "higher")
	if r := s.await(aidos, id); r.State != gateway.StateCompleted || r.Outcome != "registered" {
		t.Fatalf("registration: %+v", r)
	}
	again := s.submit(aidos, "job-seeker-registration", "education", "higher")
	if r := s.await(aidos, again); r.State != gateway.StateRefused {
		t.Fatalf("second registration: %+v", r)
	}
	s.get("/api/v1/requests/"+id, aidos.token, nil)
	s.get("/api/v1/nothing/"+iin, aidos.token, nil) // an unmatched path naming the IIN

	log := buf.String()
	if strings.Contains(log, iin) {
		for _, l := range strings.Split(log, "\n") {
			if strings.Contains(l, iin) {
				t.Errorf("the IIN in full: %s", l)
			}
		}
	}
	if !strings.Contains(log, "7910******28") {
		t.Errorf("the journey's log never names the citizen, even masked:\n%s", log)
	}
	for _, want := range []string{`route="POST /shep/async"`, "route=/api/v1/requests", "route=/api/v1/requests/:id", "route=unmatched", "labour-market system: answered"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s", want)
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(s.systems[0].Collectors()...)
	fams := promtest.Scrape(t, ops.Handler(nil, reg))
	if v, _ := fams.Value("egov_labour_decisions_total", "outcome", "registered"); v != 1 {
		t.Errorf("registered decisions: %v", v)
	}
	if v, _ := fams.Value("egov_labour_decisions_total", "outcome", "refused"); v != 1 {
		t.Errorf("refused decisions: %v", v)
	}
	if v, _ := fams.Value("egov_labour_messages_total", "result", "answered"); v < 2 {
		t.Errorf("answered messages: %v", v)
	}
}
