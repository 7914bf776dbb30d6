package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/beevik/etree"
	"github.com/jonboulle/clockwork"
	"github.com/redis/go-redis/v9"
	dsig "github.com/russellhaering/goxmldsig"

	"egov/internal/loadgen"
	"egov/internal/redisconn"
	"egov/signing"
	"egov/signing/pki"
)

// loadReport is the summary of a load test (also written as JSON).
type loadReport struct {
	Mode       string           `json:"mode"`
	Citizens   int              `json:"citizens"`
	Duration   float64          `json:"durationSeconds"`
	Sent       int64            `json:"sent"`
	Accepted   int64            `json:"accepted"`
	Errors     map[string]int64 `json:"errors"`
	Submission latency          `json:"submission"`
	RoundTrip  latency          `json:"roundTrip"`
	Results    int64            `json:"results"`
	Missing    []string         `json:"missing,omitempty"`
	Duplicated []string         `json:"duplicated,omitempty"`
	// Floors are measured just before the load and again once every
	// result is in: on a shared machine they move, and the ratios with them.
	Floors      floors `json:"floors"`
	FloorsAfter floors `json:"floorsAfter"`
	// StackCPUPerRequestMs is the CPU time the stack's process spent from
	// the start of the load to the last result, over the accepted requests
	// (from its process_cpu_seconds_total): what a request costs, whatever
	// the rate.
	StackCPUPerRequestMs float64 `json:"stackCPUPerRequestMs,omitempty"`
	GatewayRSSMB         float64 `json:"gatewayMaxRSSMiB,omitempty"`
	// The Redis's own counters (--redis; all its masters on a cluster)
	// from the start of the load to the last result, over the accepted
	// requests: commands, CPU, and the memory still held once every
	// result is in (what a request leaves behind: the cabinet and the
	// records kept, the keys that expire later).
	RedisCommandsPerRequest float64 `json:"redisCommandsPerRequest,omitempty"`
	RedisCPUPerRequestMs    float64 `json:"redisCPUPerRequestMs,omitempty"`
	RedisRetainedPerRequest float64 `json:"redisRetainedBytesPerRequest,omitempty"`
	// Portals are the submissions of each portal driven (--gateway
	// repeated), in the order given; the round trips are the stack's.
	Portals []portalReport `json:"portals"`
}

// portalReport is what one portal of several answered.
type portalReport struct {
	URL        string           `json:"url"`
	Sent       int64            `json:"sent"`
	Accepted   int64            `json:"accepted"`
	Errors     map[string]int64 `json:"errors,omitempty"`
	Submission latency          `json:"submission"`
	hist       *hdrhistogram.Histogram
}

type latency struct {
	PerSecond float64 `json:"perSecond"`
	P50       float64 `json:"p50ms"`
	P90       float64 `json:"p90ms"`
	P99       float64 `json:"p99ms"`
	Max       float64 `json:"maxms"`
}

type floors struct {
	GoxmldsigVerifyPerSecond float64 `json:"goxmldsigVerifyPerSecond"`
	RSASignPerSecond         float64 `json:"rsa2048SignPerSecond"`
	RSAVerifyPerSecond       float64 `json:"rsa2048VerifyPerSecond"`
	// RoundTripRSABound is the round trips per second the RSA operations
	// of one request alone allow: one provider signature and two signature
	// checks (the portal's of the request, the bus's of the result).
	RoundTripRSABound float64 `json:"roundTripRSABound"`
}

func fromHistogram(h *hdrhistogram.Histogram, perSecond float64) latency {
	ms := func(v int64) float64 { return float64(v) / 1000 }
	return latency{PerSecond: perSecond, P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)),
		P99: ms(h.ValueAtQuantile(99)), Max: ms(h.Max())}
}

func loadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadtest", stderr)
	var (
		gatewayURLs = fs.StringArray("gateway", []string{"http://127.0.0.1:8080"}, "portal base URL; repeated, the requests go to each in turn (portals on one Redis)")
		dataDir     = fs.String("data", "data", "data directory of egovctl up (its test PKI issues the synthetic citizens)")
		citizens    = fs.Int("citizens", 40, "synthetic citizens")
		rate        = fs.Float64("rate", 0, "open loop: submissions a second")
		concurrency = fs.Int("concurrency", 0, "closed loop: submissions in flight")
		duration    = fs.Duration("duration", 20*time.Second, "how long to drive load")
		maxRequests = fs.Int("max-requests", 0, "requests prepared (default: rate × duration, or 400 × duration for a closed loop)")
		region      = fs.String("region", "almaty-city", "region of the requests")
		wait        = fs.Duration("result-timeout", 2*time.Minute, "how long the results may stop coming before the wait for them ends")
		jsonOut     = fs.String("json", "", "write the summary as JSON to this file")
		metricsURL  = fs.String("metrics", "http://127.0.0.1:9090/metrics", "the stack's metrics URL (egovctl up --metrics-listen), to sample its CPU and resident memory")
		slowClients = fs.Int("slow-clients", 0, "hostile background: connections that trickle a body that never ends, while the load runs")
		floodRate   = fs.Float64("challenge-flood", 0, "hostile background: challenge requests a second, while the load runs")
		redisURL    = fs.String("redis", "", "the stack's Redis (a private one: its server-wide counters are read), to count its commands, CPU and memory a request; empty: not counted")
	)
	fromStack(fs, "gateway", "portal", "metrics", "metrics", "redis", "redis")
	check(fs, httpURL, "gateway", "metrics")
	check(fs, validRedisURL, "redis")
	check(fs, positive, "citizens")
	check(fs, nonNegative, "rate", "concurrency", "max-requests", "slow-clients", "challenge-flood")
	check(fs, positiveDuration, "duration", "result-timeout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*rate > 0) == (*concurrency > 0) {
		return fmt.Errorf("%w: give either --rate (open loop) or --concurrency (closed loop)", errUsage)
	}
	portals := make([]*portalReport, len(*gatewayURLs))
	for i, u := range *gatewayURLs {
		portals[i] = &portalReport{URL: strings.TrimSuffix(u, "/"), Errors: map[string]int64{}, hist: hdrhistogram.New(1, 60_000_000, 3)}
	}
	// Sessions and cabinets live in the Redis the portals share: one
	// portal serves them for all.
	base := portals[0].URL

	total := *maxRequests
	if total == 0 {
		if *rate > 0 {
			total = int(*rate * duration.Seconds())
		} else {
			total = int(400 * duration.Seconds())
		}
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 0}}

	fmt.Fprintf(stdout, "preparing %d synthetic citizens and %d signed requests…\n", *citizens, total)
	authority, err := pki.Open(filepath.Join(*dataDir, "pki"))
	if err != nil {
		return err
	}
	people, err := loadgen.PrepareCitizens(ctx, client, base, authority, *citizens)
	if err != nil {
		return err
	}
	reqs := loadgen.Presign(people, total, *region)
	if len(reqs) == 0 {
		return fmt.Errorf("no request could be prepared")
	}

	fmt.Fprintln(stdout, "measuring the floors on this machine…")
	fl := measureFloors(reqs[0].Body, people[0].Key)

	rep := &loadReport{Citizens: len(people), Errors: map[string]int64{}}
	submitHist := hdrhistogram.New(1, 60_000_000, 3)
	var mu sync.Mutex
	type acceptedReq struct {
		citizen int
		id      string
	}
	var accepted []acceptedReq
	var sent, ok atomic.Int64
	send := func(i int, p loadgen.Request) {
		portal := portals[i%len(portals)]
		start := time.Now()
		code, body := loadgen.Submit(ctx, client, portal.URL, people, p)
		elapsed := time.Since(start)
		mu.Lock()
		defer mu.Unlock()
		portal.Sent++
		if code == http.StatusAccepted {
			_ = submitHist.RecordValue(elapsed.Microseconds())
			_ = portal.hist.RecordValue(elapsed.Microseconds())
			accepted = append(accepted, acceptedReq{p.Citizen, p.ID})
			portal.Accepted++
			ok.Add(1)
			return
		}
		var prob struct{ Code string }
		_ = json.Unmarshal(body, &prob)
		if prob.Code == "" {
			prob.Code = fmt.Sprintf("http-%d", code)
		}
		rep.Errors[prob.Code]++
		portal.Errors[prob.Code]++
	}

	var rssMax atomic.Int64
	stopSampling := loadgen.SampleRSS(ctx, client, *metricsURL, time.Second, &rssMax)
	before, errBefore := loadgen.ReadProcessMetrics(ctx, client, *metricsURL)
	var rdb redis.UniversalClient
	var redisBefore loadgen.RedisStats
	if *redisURL != "" {
		if rdb, err = redisconn.Open(*redisURL); err != nil {
			return err
		}
		if redisBefore, err = loadgen.ReadRedisStats(ctx, rdb); err != nil {
			fmt.Fprintf(stderr, "egovctl loadtest: the Redis's counters cannot be read, not counted: %v\n", err)
			rdb.Close()
			rdb = nil
		} else {
			defer rdb.Close()
		}
	}
	var hostile hostileLoad
	hostileCtx, stopHostile := context.WithCancel(ctx)
	defer stopHostile()
	waitHostile := hostile.start(hostileCtx, base, *slowClients, *floodRate)
	fmt.Fprintln(stdout, "driving load…")
	begin := time.Now()
	deadline := begin.Add(*duration)
	var next atomic.Int64
	bar := loadgen.StartProgress(stdout, begin, *duration, func() (int64, int64) { return sent.Load(), ok.Load() }, loadgen.ProgressOptions{})
	var wg sync.WaitGroup
	if *rate > 0 {
		rep.Mode = fmt.Sprintf("open loop, %.0f/s for %s", *rate, *duration)
		interval := time.Duration(float64(time.Second) / *rate)
		inflight := make(chan struct{}, 4096)
		for i := 0; time.Now().Before(deadline) && i < len(reqs); i++ {
			due := begin.Add(time.Duration(i) * interval)
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			select {
			case inflight <- struct{}{}:
			default:
				mu.Lock()
				rep.Errors["client-overloaded"]++
				mu.Unlock()
				continue
			}
			sent.Add(1)
			wg.Add(1)
			go func(i int, p loadgen.Request) {
				defer wg.Done()
				send(i, p)
				<-inflight
			}(i, reqs[i])
		}
	} else {
		rep.Mode = fmt.Sprintf("closed loop, %d in flight for %s", *concurrency, *duration)
		for w := 0; w < *concurrency; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					i := next.Add(1) - 1
					if int(i) >= len(reqs) {
						return
					}
					sent.Add(1)
					send(int(i), reqs[i])
				}
			}()
		}
	}
	wg.Wait()
	stopHostile()
	waitHostile()
	bar.Stop() // it writes to stdout too
	elapsed := time.Since(begin)
	rep.Duration = elapsed.Seconds()
	rep.Sent, rep.Accepted = sent.Load(), ok.Load()
	rep.Submission = fromHistogram(submitHist, float64(rep.Accepted)/elapsed.Seconds())
	for _, p := range portals {
		p.Submission = fromHistogram(p.hist, float64(p.Accepted)/elapsed.Seconds())
		rep.Portals = append(rep.Portals, *p)
	}

	fmt.Fprintf(stdout, "\nwaiting for %d results in the cabinets…\n", rep.Accepted)
	ids := make([]string, len(accepted))
	for i, a := range accepted {
		ids[i] = a.id
	}
	results, err := loadgen.CollectResults(ctx, client, base, people, ids, *wait, nil)
	stopSampling()
	if err != nil {
		return err
	}
	rtHist := hdrhistogram.New(1, 600_000_000, 3)
	byID := map[string][]loadgen.Result{}
	for _, r := range results {
		byID[r.RequestID] = append(byID[r.RequestID], r)
	}
	var firstAccept, lastResult time.Time
	for _, a := range accepted {
		seen := byID[a.id]
		switch {
		case len(seen) == 0:
			rep.Missing = append(rep.Missing, a.id)
		case len(seen) > 1:
			rep.Duplicated = append(rep.Duplicated, a.id)
		}
		if len(seen) > 0 {
			rep.Results++
			s := seen[0]
			_ = rtHist.RecordValue(s.FiledAt.Sub(s.AcceptedAt).Microseconds())
			if firstAccept.IsZero() || s.AcceptedAt.Before(firstAccept) {
				firstAccept = s.AcceptedAt
			}
			if s.FiledAt.After(lastResult) {
				lastResult = s.FiledAt
			}
		}
	}
	rtRate := 0.0
	if span := lastResult.Sub(firstAccept).Seconds(); span > 0 {
		rtRate = float64(rep.Results) / span
	}
	rep.RoundTrip = fromHistogram(rtHist, rtRate)
	if after, err := loadgen.ReadProcessMetrics(ctx, client, *metricsURL); err == nil && errBefore == nil && rep.Accepted > 0 {
		rep.StackCPUPerRequestMs = (after.CPUSeconds - before.CPUSeconds) / float64(rep.Accepted) * 1000
	}
	if rdb != nil && rep.Accepted > 0 {
		if after, err := loadgen.ReadRedisStats(ctx, rdb); err == nil {
			d, n := after.Sub(redisBefore), float64(rep.Accepted)
			rep.RedisCommandsPerRequest = float64(d.Commands) / n
			rep.RedisCPUPerRequestMs = d.CPUSeconds / n * 1000
			rep.RedisRetainedPerRequest = float64(d.UsedMemory) / n
		}
	}
	fmt.Fprintln(stdout, "measuring the floors again…")
	rep.Floors, rep.FloorsAfter = fl, measureFloors(reqs[0].Body, people[0].Key)
	rep.GatewayRSSMB = float64(rssMax.Load()) / (1 << 20)
	printLoadReport(stdout, rep)
	if *slowClients > 0 || *floodRate > 0 {
		fmt.Fprintln(stdout, hostile.summary())
	}
	if *jsonOut != "" {
		data, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonOut, append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	if len(rep.Missing) > 0 || len(rep.Duplicated) > 0 {
		return fmt.Errorf("loss check failed: %d missing, %d duplicated results", len(rep.Missing), len(rep.Duplicated))
	}
	return nil
}

// measureFloors measures, in this process and on all cores, what bounds
// the stack: goxmldsig verifications of the request document, and RSA-2048
// signatures and verifications.
func measureFloors(submission []byte, key *signing.Signer) floors {
	doc := extractRequest(submission)
	leaf := key.Certificate
	clock := dsig.NewFakeClock(clockwork.NewFakeClockAt(time.Now()))
	verify := func() {
		tree := etree.NewDocument()
		if err := tree.ReadFromBytes(doc); err != nil {
			return
		}
		vctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{leaf}})
		vctx.Clock = clock
		_, _ = vctx.Validate(tree.Root())
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	digest := sha256.Sum256([]byte("floor"))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, digest[:])
	f := floors{
		GoxmldsigVerifyPerSecond: opsPerSecond(verify),
		RSASignPerSecond:         opsPerSecond(func() { _, _ = rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, digest[:]) }),
		RSAVerifyPerSecond:       opsPerSecond(func() { _ = rsa.VerifyPKCS1v15(&rsaKey.PublicKey, crypto.SHA256, digest[:], sig) }),
	}
	// One provider signature, and the checks that are not repeated when
	// the stack runs in one process (it remembers verified documents): the
	// portal's of the request and the bus's of the result.
	perRequest := 1/f.RSASignPerSecond + 2/f.RSAVerifyPerSecond
	f.RoundTripRSABound = 1 / perRequest
	return f
}

// ratioRange prints rate against two measurements of its floor.
func ratioRange(rate, before, after float64) string {
	lo, hi := rate/max(before, after), rate/min(before, after)
	if fmt.Sprintf("%.2f", lo) == fmt.Sprintf("%.2f", hi) {
		return fmt.Sprintf("%.2f", lo)
	}
	return fmt.Sprintf("%.2f–%.2f", lo, hi)
}

func extractRequest(multipartBody []byte) []byte {
	i := bytes.Index(multipartBody, []byte("<?xml"))
	j := bytes.Index(multipartBody, []byte("</ServiceRequest>"))
	if i < 0 || j < 0 {
		return nil
	}
	return multipartBody[i : j+len("</ServiceRequest>")]
}

// opsPerSecond runs op on every core for a second.
func opsPerSecond(op func()) float64 {
	var n atomic.Int64
	stop := time.Now().Add(time.Second)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				op()
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load())
}

func printLoadReport(w io.Writer, r *loadReport) {
	fmt.Fprintf(w, "\n%s, %d citizens, %.1f s\n\n", r.Mode, r.Citizens, r.Duration)
	fmt.Fprintf(w, "%-22s %10s %9s %9s %9s %9s\n", "", "per second", "p50 ms", "p90 ms", "p99 ms", "max ms")
	for _, row := range []struct {
		name string
		l    latency
	}{{"submission (→ 202)", r.Submission}, {"round trip (→ result)", r.RoundTrip}} {
		fmt.Fprintf(w, "%-22s %10.0f %9.1f %9.1f %9.1f %9.1f\n", row.name, row.l.PerSecond, row.l.P50, row.l.P90, row.l.P99, row.l.Max)
	}
	if len(r.Portals) > 1 {
		fmt.Fprintf(w, "\n%-30s %8s %8s %10s %9s %9s  %s\n", "submissions by portal", "sent", "accepted", "per second", "p50 ms", "p99 ms", "errors")
		for _, p := range r.Portals {
			fmt.Fprintf(w, "%-30s %8d %8d %10.0f %9.1f %9.1f  %s\n", p.URL, p.Sent, p.Accepted, p.Submission.PerSecond, p.Submission.P50, p.Submission.P99, errorCounts(p.Errors))
		}
	}
	fmt.Fprintf(w, "\nsent %d, accepted %d, results %d, missing %d, duplicated %d\n", r.Sent, r.Accepted, r.Results, len(r.Missing), len(r.Duplicated))
	if len(r.Errors) > 0 {
		fmt.Fprintln(w, "errors: "+errorCounts(r.Errors))
	}
	f, g := r.Floors, r.FloorsAfter
	fmt.Fprintf(w, "\nfloors on this machine, before / after the load: goxmldsig verify %.0f / %.0f/s, RSA-2048 sign %.0f / %.0f/s, verify %.0f / %.0f/s\n",
		f.GoxmldsigVerifyPerSecond, g.GoxmldsigVerifyPerSecond, f.RSASignPerSecond, g.RSASignPerSecond, f.RSAVerifyPerSecond, g.RSAVerifyPerSecond)
	fmt.Fprintf(w, "submissions / goxmldsig verifications: %s\n", ratioRange(r.Submission.PerSecond, f.GoxmldsigVerifyPerSecond, g.GoxmldsigVerifyPerSecond))
	fmt.Fprintf(w, "round trips / RSA bound (1 sign + 2 verifies a request, %.0f / %.0f/s): %s\n", f.RoundTripRSABound, g.RoundTripRSABound,
		ratioRange(r.RoundTrip.PerSecond, f.RoundTripRSABound, g.RoundTripRSABound))
	if drift := math.Abs(f.RSASignPerSecond-g.RSASignPerSecond) / math.Max(f.RSASignPerSecond, g.RSASignPerSecond); drift > 0.2 {
		fmt.Fprintf(w, "the machine's speed moved by %.0f%% during the run: read the ratios with that margin\n", drift*100)
	}
	if r.StackCPUPerRequestMs > 0 {
		fmt.Fprintf(w, "stack CPU per accepted request: %.2f ms\n", r.StackCPUPerRequestMs)
	}
	if r.RedisCommandsPerRequest > 0 {
		fmt.Fprintf(w, "Redis per accepted request: %.0f commands, %.2f ms CPU, %.1f KiB still held once the results are in\n",
			r.RedisCommandsPerRequest, r.RedisCPUPerRequestMs, r.RedisRetainedPerRequest/1024)
	}
	if r.GatewayRSSMB > 0 {
		fmt.Fprintf(w, "stack resident memory, largest sample: %.0f MiB\n", r.GatewayRSSMB)
	}
}

// errorCounts lists error codes with their counts, by code: "a=1 b=2".
func errorCounts(errs map[string]int64) string {
	codes := make([]string, 0, len(errs))
	for c := range errs {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%s=%d", c, errs[c])
	}
	return strings.Join(parts, " ")
}
