package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"egov/internal/loadgen"
	"egov/internal/redistest"
	"egov/shep"
)

var binaries Binaries

func TestMain(m *testing.M) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		// CI installs it (.ci/run); elsewhere say why nothing ran.
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "reliability: redis-server is not on PATH")
			os.Exit(1)
		}
		fmt.Println("reliability: skipped: these tests restart a redis-server of their own and none is on PATH")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "egov-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binaries, err = Build(context.Background(), "..", dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func startStack(t *testing.T, opt Options) *Stack {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	opt.Root, opt.Dir = root, t.TempDir()
	s, err := Start(context.Background(), binaries, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, c := range Components {
				t.Logf("--- %s log (tail) ---\n%s", c, s.Tail(c, 3000))
			}
		}
		s.Close()
	})
	return s
}

var client = &http.Client{Timeout: 20 * time.Second}

// citizens prepares n synthetic citizens with total signed requests.
func citizens(t *testing.T, s *Stack, n, total int) ([]*loadgen.Citizen, []loadgen.Request) {
	t.Helper()
	people, err := loadgen.PrepareCitizens(context.Background(), client, s.PortalURL, s.Authority, n)
	if err != nil {
		t.Fatal(err)
	}
	return people, loadgen.Presign(people, total, "almaty-city")
}

// submitted sends every request at rate per second in the background,
// retrying as a citizen would; wait returns the ids that were accepted.
type submitted struct {
	wg       sync.WaitGroup
	mu       sync.Mutex
	accepted []string
	other    map[string]int
	attempts atomic.Int64
}

func submit(s *Stack, people []*loadgen.Citizen, reqs []loadgen.Request, rate float64) *submitted {
	out := &submitted{other: map[string]int{}}
	out.wg.Add(1)
	go func() {
		defer out.wg.Done()
		sendAtRate(context.Background(), client, []string{s.PortalURL}, people, len(reqs), func(i int) loadgen.Request { return reqs[i] }, rate, &out.attempts, func(r loadgen.Request, outcome string) {
			out.mu.Lock()
			defer out.mu.Unlock()
			if outcome == "accepted" || outcome == "replayed" {
				out.accepted = append(out.accepted, r.ID)
			} else {
				out.other[outcome]++
			}
		}, nil)
	}()
	return out
}

func (s *submitted) wait(t *testing.T, want int) []string {
	t.Helper()
	s.wg.Wait()
	if len(s.accepted) != want {
		t.Fatalf("%d of %d requests accepted; the others: %v", len(s.accepted), want, s.other)
	}
	return s.accepted
}

// expectEachOnce waits until every accepted request has its result or
// refusal in its cabinet and fails on any missing or duplicated one, or on
// an evidence chain that does not verify.
func expectEachOnce(t *testing.T, s *Stack, people []*loadgen.Citizen, accepted []string) {
	t.Helper()
	results, err := loadgen.CollectResults(context.Background(), client, s.PortalURL, people, accepted, 2*time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range results {
		seen[r.RequestID]++
	}
	var missing, duplicated int
	for _, id := range accepted {
		switch seen[id] {
		case 0:
			if missing < 3 {
				explainMissing(t, s, id)
			}
			missing++
		case 1:
		default:
			duplicated++
		}
	}
	if missing > 0 || duplicated > 0 || len(seen) != len(accepted) {
		t.Fatalf("%d accepted: %d missing, %d duplicated, %d results for other requests", len(accepted), missing, duplicated, len(seen)-len(accepted)+missing)
	}
	rdb, err := s.Redis()
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	rep, err := shep.VerifyEvidence(context.Background(), rdb, "")
	if err != nil || !rep.Intact {
		t.Fatalf("evidence log: %+v %v", rep, err)
	}
	t.Logf("%d accepted, each with exactly one result; evidence log of %d records intact", len(accepted), rep.Records)
}

// explainMissing logs where a request without a result stands: the
// portal's record, the labour-market system's, and the bus's dead letters.
func explainMissing(t *testing.T, s *Stack, id string) {
	t.Helper()
	rdb, err := s.Redis()
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	keys, _ := rdb.Keys(ctx, s.opt.KeyPrefix+"gw:*:request:"+id+"*").Result()
	record := "" // the request's hash; its history and answers are lists
	for _, k := range keys {
		typ, _ := rdb.Type(ctx, k).Result()
		switch typ {
		case "hash":
			record = k
			v, _ := rdb.HGetAll(ctx, k).Result()
			t.Logf("missing %s: %s = %v", id, k, v)
		case "list":
			v, _ := rdb.LRange(ctx, k, 0, -1).Result()
			t.Logf("missing %s: %s = %v", id, k, v)
		default:
			t.Logf("missing %s: %s (%s)", id, k, typ)
		}
	}
	recs, _ := rdb.Keys(ctx, "lm:{*}:request:*:"+id).Result()
	rec := ""
	if len(recs) > 0 {
		rec, _ = rdb.Get(ctx, recs[0]).Result()
	}
	t.Logf("missing %s: labour-market record %q", id, rec)
	streams, _ := rdb.Keys(ctx, "gw:{outbox:*}").Result()
	for _, stream := range streams {
		hints, _ := rdb.XRange(ctx, stream, "-", "+").Result()
		pending, _ := rdb.XPending(ctx, stream, "relay").Result()
		t.Logf("relay: %s: %d hints %v, pending %+v", stream, len(hints), hints, pending)
	}
	outboxes, _ := rdb.Keys(ctx, "gw:{*}:outbox").Result()
	t.Logf("relay: outboxes %v", outboxes)
	for _, c := range []Component{Portal, Labour} {
		if data, err := os.ReadFile(s.LogPath(c)); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if strings.Contains(line, id) || strings.Contains(line, "relay") {
					t.Logf("%s log: %s", c, line)
				}
			}
		}
	}
	var corr string
	if record != "" {
		corr, _ = rdb.HGet(ctx, record, "correlationId").Result()
	}
	if corr == "" {
		t.Logf("missing %s: the portal names no correlation", id)
		return
	}
	// A request's bus message id is its correlation; its answers name it
	// as their correlation.
	msgs, _ := rdb.Keys(ctx, "shep:{*}:m:*").Result()
	for _, k := range msgs {
		v, _ := rdb.HGetAll(ctx, k).Result()
		if v["corr"] == corr {
			delete(v, "data")
			t.Logf("bus message %s: %v", k, v)
		}
	}
	for _, c := range []Component{Bus, Labour} {
		if data, err := os.ReadFile(s.LogPath(c)); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if strings.Contains(line, corr) {
					t.Logf("%s log: %s", c, line)
				}
			}
		}
	}
	links, _ := rdb.XRange(ctx, "shep:{evidence}:log", "-", "+").Result()
	for _, l := range links {
		var batch []struct {
			Seq    int64           `json:"seq"`
			Record json.RawMessage `json:"record"`
		}
		_ = json.Unmarshal([]byte(fmt.Sprint(l.Values["links"])), &batch)
		for _, b := range batch {
			if strings.Contains(string(b.Record), corr) {
				t.Logf("evidence %d: %s", b.Seq, b.Record)
			}
		}
	}
	dead, _ := rdb.Keys(ctx, "shep:{*}:dlq").Result()
	for _, k := range dead {
		entries, _ := rdb.XRange(ctx, k, "-", "+").Result()
		t.Logf("dead letters %s: %d", k, len(entries))
		for _, e := range entries {
			if e.Values["id"] == corr {
				t.Logf("dead letter %s: %v", k, e.Values)
			}
		}
	}
}

// waitUntil polls cond for up to 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leased counts the messages the labour-market system holds on the bus.
func leased(t *testing.T, s *Stack) int64 {
	rdb, err := s.Redis()
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	groups, err := rdb.XInfoGroups(context.Background(), "shep:{ais-rynok-truda}:q").Result()
	if err != nil {
		return 0
	}
	var n int64
	for _, g := range groups {
		n += g.Pending
	}
	return n
}

func cabinetResults(t *testing.T, s *Stack, people []*loadgen.Citizen) int {
	results, err := loadgen.CollectResults(context.Background(), client, s.PortalURL, people, nil, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return len(results)
}

func TestLabourKilledInTheMiddleOfABatch(t *testing.T) {
	s := startStack(t, Options{})
	people, reqs := citizens(t, s, 4, 200)
	sub := submit(s, people, reqs, 100)
	waitUntil(t, "the labour-market system holds leased messages", func() bool { return leased(t, s) > 0 })
	if err := s.Kill(Labour); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := s.Start(context.Background(), Labour); err != nil {
		t.Fatal(err)
	}
	expectEachOnce(t, s, people, sub.wait(t, len(reqs)))
}

func TestPortalKilledWithRequestsInItsOutbox(t *testing.T) {
	s := startStack(t, Options{})
	people, reqs := citizens(t, s, 4, 100)
	// With the bus down, accepted requests wait in the portal's outbox.
	if err := s.Kill(Bus); err != nil {
		t.Fatal(err)
	}
	accepted := submit(s, people, reqs, 200).wait(t, len(reqs))
	if err := s.Kill(Portal); err != nil {
		t.Fatal(err)
	}
	rdb, err := s.Redis()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(context.Background(), "gw:{*}:outbox").Result()
	rdb.Close()
	if err != nil || len(keys) == 0 {
		t.Fatalf("no outbox left behind by the killed portal (%v): the test proves nothing", err)
	}
	for _, c := range []Component{Bus, Portal} {
		if err := s.Start(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	expectEachOnce(t, s, people, accepted)
}

func TestBusKilledUnderLoad(t *testing.T) {
	s := startStack(t, Options{})
	people, reqs := citizens(t, s, 4, 200)
	sub := submit(s, people, reqs, 100)
	waitUntil(t, "results flow", func() bool { return cabinetResults(t, s, people) > 10 })
	if err := s.Kill(Bus); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := s.Start(context.Background(), Bus); err != nil {
		t.Fatal(err)
	}
	expectEachOnce(t, s, people, sub.wait(t, len(reqs)))
}

// Redis runs with appendfsync always: a write is on disk before Redis
// answers, so a crash loses nothing that any component was told is stored.
func TestRedisKilledAndRestartedFromItsAppendOnlyFile(t *testing.T) {
	s := startStack(t, Options{Fsync: "always"})
	people, reqs := citizens(t, s, 4, 200)
	sub := submit(s, people, reqs, 100)
	waitUntil(t, "results flow", func() bool { return cabinetResults(t, s, people) > 10 })
	if err := s.Kill(Redis); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := s.Start(context.Background(), Redis); err != nil {
		t.Fatal(err)
	}
	expectEachOnce(t, s, people, sub.wait(t, len(reqs)))
}

func TestRedisUnreachableAnswers503AndCatchesUp(t *testing.T) {
	s := startStack(t, Options{})
	people, reqs := citizens(t, s, 2, 40)
	before := submit(s, people, reqs[:20], 200).wait(t, 20)

	if err := s.Pause(Redis); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	req, _ := http.NewRequest(http.MethodPost, s.PortalURL+"/api/v1/requests", bytes.NewReader(reqs[20].Body))
	req.Header.Set("Content-Type", reqs[20].ContentType)
	req.Header.Set("Authorization", "Bearer "+people[reqs[20].Citizen].Token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	code := resp.StatusCode
	var prob struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(body, &prob)
	took := time.Since(start)
	if err := s.Resume(Redis); err != nil {
		t.Fatal(err)
	}
	if code != http.StatusServiceUnavailable || prob.Code != "service-unavailable" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("with Redis unreachable: HTTP %d %s (Retry-After %q), want 503 service-unavailable with Retry-After", code, body, resp.Header.Get("Retry-After"))
	}
	t.Logf("with Redis unreachable the portal answered 503 service-unavailable after %s", took.Round(time.Millisecond))

	after := submit(s, people, reqs[20:], 200).wait(t, 20)
	expectEachOnce(t, s, people, append(before, after...))
}

// TestSoak is the long run: EGOV_SOAK_REQUESTS requests (make soak: 20,000)
// with a fault every few seconds. It runs only when EGOV_SOAK_REQUESTS is
// set, outside the race detector, which would make it take hours.
func TestSoak(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("EGOV_SOAK_REQUESTS"))
	if n <= 0 {
		t.Skip("set EGOV_SOAK_REQUESTS (make soak) to run the soak")
	}
	s := startStack(t, Options{Fsync: "always", Visibility: 10 * time.Second})
	rate, _ := strconv.ParseFloat(os.Getenv("EGOV_SOAK_RATE"), 64)
	seed, _ := strconv.ParseUint(os.Getenv("EGOV_SOAK_SEED"), 10, 64)
	every := 8 * time.Second
	if d, err := time.ParseDuration(os.Getenv("EGOV_SOAK_FAULT_EVERY")); err == nil && d > 0 {
		every = d
	}
	rep, err := Soak(context.Background(), s, SoakOptions{Requests: n, Rate: rate, FaultEvery: every, Seed: seed}, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	rep.Print(testWriter{t})
	if path := os.Getenv("EGOV_SOAK_REPORT"); path != "" {
		data, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !rep.OK() || rep.GaveUp > 0 || len(rep.Refused) > 0 {
		for _, id := range rep.Missing[:min(len(rep.Missing), 3)] {
			explainMissing(t, s, id)
		}
		t.Fatalf("soak lost or refused work: missing %v, duplicated %v, unexpected %v, gave up %d, refused %v, %d registrations for %d citizens",
			rep.Missing, rep.Duplicated, rep.Unexpected, rep.GaveUp, rep.Refused, rep.Results, rep.Citizens)
	}
}

// TestSoakOnTheCluster is the soak on a Redis Cluster (3 masters, 3
// replicas) with two of each program — two buses, two labour-market
// systems, two portals, as stateless processes on one key space, the load
// sent to the portals in turn — one of them killed (SIGKILL) and started
// again every few seconds, at random. Nothing accepted is lost or answered
// twice, whichever processes carried it, and every evidence chain (the two
// buses append to chains of their own) verifies with its cross-anchors.
func TestSoakOnTheCluster(t *testing.T) {
	if os.Getenv(redistest.EnvCluster) != "1" {
		t.Skip("the soak on a Redis Cluster: make test's cluster pass runs it (EGOV_TEST_REDIS_CLUSTER=1)")
	}
	n := 2000
	if v, _ := strconv.Atoi(os.Getenv("EGOV_SOAK_CLUSTER_REQUESTS")); v > 0 {
		n = v
	}
	r := redistest.New(t)
	s := startStack(t, Options{RedisURL: r.URL, KeyPrefix: r.Prefix, Two: true, Visibility: 10 * time.Second})
	seed, _ := strconv.ParseUint(os.Getenv("EGOV_SOAK_SEED"), 10, 64)
	rep, err := Soak(context.Background(), s, SoakOptions{Requests: n, Rate: 50, FaultEvery: 5 * time.Second, Faults: s.KillAny(), Seed: seed}, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	rep.Print(testWriter{t})
	if len(rep.Faults) == 0 {
		t.Error("no instance was killed")
	}
	if !rep.OK() || rep.GaveUp > 0 || len(rep.Refused) > 0 {
		for _, id := range rep.Missing[:min(len(rep.Missing), 3)] {
			explainMissing(t, s, id)
		}
		t.Fatalf("soak on the cluster lost or refused work: missing %v, duplicated %v, unexpected %v, gave up %d, refused %v, %d registrations for %d citizens",
			rep.Missing, rep.Duplicated, rep.Unexpected, rep.GaveUp, rep.Refused, rep.Results, rep.Citizens)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
