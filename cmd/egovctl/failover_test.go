package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"egov/internal/redistest"
)

// TestFailoverUnderLoad runs the whole stack on a Redis Cluster (three
// masters, three replicas) with writes acknowledged by a replica, drives
// a load through it and kills a master in the middle: its replica is
// promoted, and every request that got 202 ends with exactly one result
// in its cabinet, and the evidence chain verifies. Until the killed node
// is back (as the new master's replica) the writes to its slots cannot
// be acknowledged and are refused "try again"; after it they are
// accepted again.
func TestFailoverUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster, a load and a failover")
	}
	// The client library's pool reports every failed dial to the dead
	// master; counted here instead of printed.
	var dialFailures atomic.Int64
	redis.SetLogger(countingLogger{&dialFailures})
	c, err := redistest.StartCluster(t, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := redistest.On(t, c.URL)
	portal, data, metrics, upLog := startUpLogged(t, r, "--attempts-per-minute", "100000", "--redis-wait-replicas", "1", "--redis-wait-timeout", "1s")
	victim := ""
	killed := make(chan time.Time, 1)
	for _, n := range c.Nodes {
		role, err := redis.NewClient(&redis.Options{Addr: n.Addr}).Do(context.Background(), "ROLE").Slice()
		if err == nil && role[0] == "master" {
			victim = n.Addr
			go func() {
				// Once the load is under way: 60 requests on the bus.
				for relayed(metrics) < 60 {
					time.Sleep(100 * time.Millisecond)
				}
				_ = n.Kill()
				killed <- time.Now()
				time.Sleep(5 * time.Second)
				_ = n.Restart()
			}()
			break
		}
	}
	if victim == "" {
		t.Fatal("no master in the cluster")
	}
	report := filepath.Join(t.TempDir(), "report.json")
	var out bytes.Buffer
	code := run(context.Background(), []string{"loadtest", "--gateway", "http://" + portal, "--metrics", "http://" + metrics + "/metrics",
		"--data", data, "--citizens", "20", "--rate", "25", "--duration", "14s", "--result-timeout", "3m", "--json", report}, &out, &out)
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("loadtest exit %d, no report: %v\n%s", code, err, out.String())
	}
	var rep loadReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("master %s killed after 60 relayed requests, back 5 s later (%d failed dials to it): sent %d, accepted %d, errors %v, results %d, missing %d, duplicated %d",
		victim, dialFailures.Load(), rep.Sent, rep.Accepted, rep.Errors, rep.Results, len(rep.Missing), len(rep.Duplicated))
	// What the front door met, by kind: the replicas' acknowledgements
	// missing, the dead master unreachable, the cluster failing over.
	kinds := map[string]int{}
	for _, line := range strings.Split(upLog.String(), "\n") {
		if _, e, ok := strings.Cut(line, `msg="request failed"`); ok {
			if _, e, ok = strings.Cut(e, " err="); ok {
				kind := strings.Trim(e[:min(len(e), 60)], `"`)
				switch {
				case strings.Contains(e, "not yet on the replicas"):
					kind = "not acknowledged by the replicas in time"
				case strings.HasPrefix(kind, "MOVED "):
					kind = "MOVED (slot map not yet reloaded)"
				}
				kinds[kind]++
			}
		}
	}
	t.Logf("the portal's failed requests by error: %v", kinds)
	for code, n := range rep.Errors {
		if code != "service-unavailable" {
			t.Errorf("%d submissions answered %s during the failover: only 503 service-unavailable (try again) is right", n, code)
		}
	}
	if rep.Accepted == 0 || rep.Results != rep.Accepted || len(rep.Missing)+len(rep.Duplicated) > 0 {
		t.Fatalf("after the failover: accepted %d, results %d, missing %v, duplicated %v\n%s", rep.Accepted, rep.Results, rep.Missing, rep.Duplicated, out.String())
	}
	select {
	case <-killed:
	default:
		t.Fatal("the load ended before the master was killed")
	}
	// It came back as the replica of the one promoted in its place.
	back := redis.NewClient(&redis.Options{Addr: victim})
	defer back.Close()
	for i := 0; ; i++ {
		role, err := back.Do(context.Background(), "ROLE").Slice()
		if err == nil && role[0] == "slave" {
			break
		}
		if i == 200 {
			t.Fatalf("the killed master did not come back as a replica: %v %v", role, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var ev bytes.Buffer
	if code := run(context.Background(), []string{"evidence", "verify", "--redis", c.URL, "--prefix", r.Prefix}, &ev, &ev); code != 0 || !strings.Contains(ev.String(), `"intact": true`) {
		t.Fatalf("evidence after the failover (exit %d):\n%s", code, ev.String())
	}
}

// relayed reads how many requests the portal has put on the bus so far.
func relayed(metricsAddr string) float64 {
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, `egov_portal_relay_attempts_total{outcome="relayed"} `); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return n
		}
	}
	return 0
}

// countingLogger counts the client library's log lines.
type countingLogger struct{ n *atomic.Int64 }

func (l countingLogger) Printf(context.Context, string, ...any) { l.n.Add(1) }
