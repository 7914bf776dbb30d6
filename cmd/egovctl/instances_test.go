package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"egov/internal/redistest"
)

// TestTwoOfEachSideBySide runs two stacks of egovctl up — two portals, two
// buses, two labour-market systems, two regional desks — on one Redis
// Cluster and one key space, as stateless processes behind a round-robin
// (the load tool sends to each portal in turn). One stack stops in the
// middle of the load: its hints, leases and answers are taken over by the
// other's processes. Every request that got 202 ends with exactly one
// result in its cabinet, whichever processes carried it, and the evidence
// chain the two buses share verifies.
func TestTwoOfEachSideBySide(t *testing.T) {
	if os.Getenv(redistest.EnvCluster) != "1" {
		t.Skip("two stacks on a Redis Cluster under load: make test's cluster pass runs it (EGOV_TEST_REDIS_CLUSTER=1)")
	}
	r := redistest.New(t)
	flags := []string{"--attempts-per-minute", "100000"}
	first, data, metrics, _ := startUpLogged(t, r, flags...)
	// The second stack shares the first one's test PKI and demo data: one
	// authority, as one deployment has.
	second := t.TempDir()
	if err := os.CopyFS(second, os.DirFS(data)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(second, stackFile)); err != nil {
		t.Fatal(err)
	}
	other, _, otherLog, stopOther := startUpAt(t, r, second, flags...)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for relayed(metrics) < 40 {
			time.Sleep(100 * time.Millisecond)
		}
		stopOther()
	}()

	rep, out := runLoadtest(t, "--gateway", "http://"+first, "--gateway", "http://"+other,
		"--metrics", "http://"+metrics+"/metrics", "--data", data, "--citizens", "20", "--rate", "20", "--duration", "12s",
		"--result-timeout", "2m")
	<-stopped
	if len(rep.Portals) != 2 {
		t.Fatalf("the report has %d portals, want 2:\n%s", len(rep.Portals), out.String())
	}
	for _, p := range rep.Portals {
		t.Logf("portal %s: sent %d, accepted %d, errors %v", p.URL, p.Sent, p.Accepted, p.Errors)
		if p.Accepted == 0 {
			t.Errorf("portal %s accepted nothing: the round-robin did not reach it", p.URL)
		}
	}
	t.Logf("two stacks, one stopped after 40 relayed requests: sent %d, accepted %d, results %d, missing %d, duplicated %d",
		rep.Sent, rep.Accepted, rep.Results, len(rep.Missing), len(rep.Duplicated))
	if !strings.Contains(otherLog.String(), "egovctl up stopped") {
		t.Errorf("the second stack did not stop cleanly:\n%s", otherLog.String())
	}
	if rep.Accepted == 0 || rep.Results != rep.Accepted || len(rep.Missing)+len(rep.Duplicated) > 0 {
		t.Fatalf("accepted %d, results %d, missing %v, duplicated %v\n%s", rep.Accepted, rep.Results, rep.Missing, rep.Duplicated, out.String())
	}
	verifyEvidence(t, r.URL, r.Prefix)
}

// runLoadtest runs egovctl loadtest with args and returns its JSON report
// and its output; a run that writes no report fails the test.
func runLoadtest(t *testing.T, args ...string) (loadReport, *bytes.Buffer) {
	t.Helper()
	report := filepath.Join(t.TempDir(), "report.json")
	var out bytes.Buffer
	code := run(context.Background(), append(append([]string{"loadtest"}, args...), "--json", report), &out, &out)
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("loadtest exit %d, no report: %v\n%s", code, err, out.String())
	}
	var rep loadReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	return rep, &out
}

// verifyEvidence runs egovctl evidence verify on the stack's keys and
// fails the test unless the chain is intact.
func verifyEvidence(t *testing.T, redisURL, prefix string) {
	t.Helper()
	var ev bytes.Buffer
	if code := run(context.Background(), []string{"evidence", "verify", "--redis", redisURL, "--prefix", prefix}, &ev, &ev); code != 0 || !strings.Contains(ev.String(), `"intact": true`) {
		t.Fatalf("evidence verify (exit %d):\n%s", code, ev.String())
	}
}
