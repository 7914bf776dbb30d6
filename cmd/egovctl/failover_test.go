package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
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
	if os.Getenv(redistest.EnvCluster) != "1" {
		t.Skip("a cluster, a load and a failover: make test's cluster pass runs it (EGOV_TEST_REDIS_CLUSTER=1)")
	}
	// The client library's pool reports every failed dial to the dead
	// master; counted here instead of printed (a global of the library:
	// this test runs alone, in make test's cluster pass).
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
	chaosCtx, stopChaos := context.WithCancel(context.Background())
	var chaos sync.WaitGroup
	t.Cleanup(func() { stopChaos(); chaos.Wait() }) // before the cluster's own cleanup
	for _, n := range c.Nodes {
		if roleOf(n.Addr) != "master" {
			continue
		}
		victim = n.Addr
		heir := replicaOf(c, n.Addr)
		if heir == "" {
			t.Fatalf("master %s has no replica", n.Addr)
		}
		chaos.Add(1)
		go func() {
			defer chaos.Done()
			// Once the load is under way: 60 requests on the bus.
			for relayed(metrics) < 60 {
				if sleepCtx(chaosCtx, 100*time.Millisecond); chaosCtx.Err() != nil {
					return
				}
			}
			_ = n.Kill()
			killed <- time.Now()
			// Back once its replica has taken over, as that one's replica:
			// back before, it would rejoin as a master with an empty
			// dataset.
			for roleOf(heir) != "master" {
				if sleepCtx(chaosCtx, 100*time.Millisecond); chaosCtx.Err() != nil {
					return
				}
			}
			_ = n.Restart()
		}()
		break
	}
	if victim == "" {
		t.Fatal("no master in the cluster")
	}
	rep, out := runLoadtest(t, "--gateway", "http://"+portal, "--metrics", "http://"+metrics+"/metrics",
		"--data", data, "--citizens", "20", "--rate", "25", "--duration", "14s", "--result-timeout", "3m")
	t.Logf("master %s killed after 60 relayed requests, back as a replica once its replica took over (%d failed dials to it): sent %d, accepted %d, errors %v, results %d, missing %d, duplicated %d",
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
	for i := 0; roleOf(victim) != "slave"; i++ {
		if i == 200 {
			t.Fatalf("the killed master did not come back as a replica: %q", roleOf(victim))
		}
		time.Sleep(100 * time.Millisecond)
	}
	verifyEvidence(t, c.URL, r.Prefix)
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

// roleOf is a node's ROLE (master, slave), "" when it does not answer.
func roleOf(addr string) string {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	role, err := c.Do(context.Background(), "ROLE").Slice()
	if err != nil || len(role) == 0 {
		return ""
	}
	r, _ := role[0].(string)
	return r
}

// replicaOf is the address of the node that replicates master, or "".
func replicaOf(c *redistest.Cluster, master string) string {
	for _, n := range c.Nodes {
		cl := redis.NewClient(&redis.Options{Addr: n.Addr})
		role, err := cl.Do(context.Background(), "ROLE").Slice()
		cl.Close()
		if err != nil || len(role) < 3 || role[0] != "slave" {
			continue
		}
		if host, _ := role[1].(string); net.JoinHostPort(host, fmt.Sprint(role[2])) == master {
			return n.Addr
		}
	}
	return ""
}
