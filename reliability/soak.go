package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"egov/internal/loadgen"
	"egov/internal/redisconn"
	"egov/internal/retry"
	"egov/shep"
)

// Fault is one thing that goes wrong during a soak.
type Fault string

const (
	KillLabour  Fault = "kill the labour-market system (SIGKILL), start it again"
	KillPortal  Fault = "kill the portal (SIGKILL), start it again"
	KillBus     Fault = "kill the bus (SIGKILL), start it again"
	KillRedis   Fault = "kill Redis (SIGKILL), start it again from its append-only file"
	PauseRedis  Fault = "Redis unreachable (SIGSTOP) for 3 s"
	PauseLabour Fault = "labour-market system frozen (SIGSTOP) past the bus's lease"
)

// AllFaults are the faults a soak draws from.
var AllFaults = []Fault{KillLabour, KillPortal, KillBus, KillRedis, PauseRedis, PauseLabour}

// Kill is the fault of killing one program instance (SIGKILL) and
// starting it again: Kill(Second(Portal)) for the second portal.
func Kill(c Component) Fault { return Fault("kill " + string(c) + " (SIGKILL), start it again") }

// KillAny are the faults of killing each program instance of s.
func (s *Stack) KillAny() []Fault {
	var out []Fault
	for _, c := range s.Programs() {
		out = append(out, Kill(c))
	}
	return out
}

// Inject applies fault f to the stack and returns once the stack is whole
// again (every component started and answering).
func (s *Stack) Inject(ctx context.Context, f Fault) error {
	switch f {
	case KillLabour:
		return s.Restart(ctx, Labour)
	case KillPortal:
		return s.Restart(ctx, Portal)
	case KillBus:
		return s.Restart(ctx, Bus)
	case KillRedis:
		return s.Restart(ctx, Redis)
	case PauseRedis:
		return s.pauseFor(ctx, Redis, 3*time.Second)
	case PauseLabour:
		return s.pauseFor(ctx, Labour, s.opt.Visibility+time.Second)
	}
	for _, c := range s.Programs() {
		if f == Kill(c) {
			return s.Restart(ctx, c)
		}
	}
	return fmt.Errorf("unknown fault %q", f)
}

func (s *Stack) pauseFor(ctx context.Context, c Component, d time.Duration) error {
	if err := s.Pause(c); err != nil {
		return err
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	return s.Resume(c)
}

// SoakOptions shape a soak.
type SoakOptions struct {
	Requests   int           // signed submissions to send (each retried until answered)
	Citizens   int           // synthetic citizens they are spread over
	Rate       float64       // submissions a second
	FaultEvery time.Duration // mean time between faults; 0: none
	Faults     []Fault       // drawn at random (default AllFaults)
	Seed       uint64        // of the fault schedule; 0: from the clock
	ResultWait time.Duration // how long the results may stop coming before the soak stops waiting
}

// SoakReport is what a soak proved.
type SoakReport struct {
	Seed       uint64         `json:"seed"`
	Citizens   int            `json:"citizens"`
	Sent       int            `json:"sent"`
	Accepted   int            `json:"accepted"`           // answered 202, at once or on a retry
	Replayed   int            `json:"acceptedOnRetry"`    // a retry answered request-replayed: the first try had been accepted
	Attempts   int            `json:"submissionAttempts"` // including retries after 503 or a lost connection
	Refused    map[string]int `json:"refusedByCode,omitempty"`
	GaveUp     int            `json:"gaveUp"` // never answered 202 or request-replayed
	Results    int            `json:"results"`
	Refusals   int            `json:"refusals"`
	Missing    []string       `json:"missing,omitempty"`
	Duplicated []string       `json:"duplicated,omitempty"`
	// Unexpected are results for requests the portal refused.
	Unexpected []string `json:"unexpected,omitempty"`
	// Unacknowledged are requests whose every try failed but that had been
	// accepted all the same (the answer was lost): they have their result.
	Unacknowledged int                 `json:"acceptedUnacknowledged"`
	Faults         []FaultRecord       `json:"faults"`
	Evidence       shep.EvidenceReport `json:"evidence"`
	Duration       float64             `json:"durationSeconds"`
}

// FaultRecord is one injected fault and when.
type FaultRecord struct {
	At    float64 `json:"atSeconds"`
	Fault Fault   `json:"fault"`
	Error string  `json:"error,omitempty"`
}

// OK tells whether the soak lost nothing: every accepted request has
// exactly one result or refusal, nothing else has one, no citizen was
// registered twice (every request is a registration: one result a citizen
// at most, the rest refused as registered already), and the evidence
// chain is intact.
func (r *SoakReport) OK() bool {
	return len(r.Missing) == 0 && len(r.Duplicated) == 0 && len(r.Unexpected) == 0 && r.Results <= r.Citizens && r.Evidence.Intact
}

// Soak drives opt.Requests signed submissions through the portal at
// opt.Rate while injecting faults at random, then reads every cabinet and
// the evidence log. A submission that fails (503, a lost connection) is
// sent again, unchanged, as a citizen would press the button again.
func Soak(ctx context.Context, s *Stack, opt SoakOptions, progress io.Writer) (*SoakReport, error) {
	if opt.Citizens <= 0 {
		opt.Citizens = 20
	}
	if opt.Rate <= 0 {
		opt.Rate = 150
	}
	if len(opt.Faults) == 0 {
		opt.Faults = AllFaults
	}
	if opt.Seed == 0 {
		opt.Seed = uint64(time.Now().UnixNano())
	}
	if opt.ResultWait <= 0 {
		opt.ResultWait = 3 * time.Minute
	}
	rep := &SoakReport{Seed: opt.Seed, Citizens: opt.Citizens, Refused: map[string]int{}}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	people, err := loadgen.PrepareCitizens(ctx, client, s.PortalURL, s.Authority, opt.Citizens)
	if err != nil {
		return nil, err
	}
	// Signed while they are sent: the first ones are ready long before the
	// stack could take the last.
	reqs := loadgen.StartPresign(people, opt.Requests, "almaty-city")
	fmt.Fprintf(progress, "soak: %d requests from %d citizens at %.0f/s, faults every ~%s (seed %d)\n",
		reqs.Len(), len(people), opt.Rate, opt.FaultEvery, opt.Seed)

	begin := time.Now()
	driveCtx, stopFaults := context.WithCancel(ctx)
	var faultsDone sync.WaitGroup
	if opt.FaultEvery > 0 {
		faultsDone.Add(1)
		go func() {
			defer faultsDone.Done()
			rep.Faults = injectAtRandom(driveCtx, s, opt, begin, progress)
		}()
	}

	var mu sync.Mutex
	accepted := map[string]bool{}
	refused := map[string]bool{}
	var attempts atomic.Int64
	sendAtRate(ctx, client, s.PortalURLs, people, reqs.Len(), reqs.Get, opt.Rate, &attempts, func(r loadgen.Request, outcome string) {
		mu.Lock()
		defer mu.Unlock()
		switch outcome {
		case "accepted":
			rep.Accepted++
			accepted[r.ID] = true
		case "replayed":
			rep.Accepted++
			rep.Replayed++
			accepted[r.ID] = true
		case "gave-up":
			rep.GaveUp++
		default:
			rep.Refused[outcome]++
			refused[r.ID] = true
		}
	}, func(sent int) {
		if sent%2000 == 0 {
			fmt.Fprintf(progress, "soak: %d sent after %.0f s\n", sent, time.Since(begin).Seconds())
		}
	})
	stopFaults()
	faultsDone.Wait()
	rep.Sent = reqs.Len()
	rep.Attempts = int(attempts.Load())
	fmt.Fprintf(progress, "soak: %d accepted (%d on a retry), %d refused, %d gave up; waiting for the results…\n",
		rep.Accepted, rep.Replayed, len(rep.Refused), rep.GaveUp)

	// Requests that were never acknowledged may still have been accepted
	// (the answer was lost with a killed portal): wait for what was
	// acknowledged, then count every result.
	ids := make([]string, 0, len(accepted))
	for id := range accepted {
		ids = append(ids, id)
	}
	waitBegan, lastReport := time.Now(), time.Now()
	results, err := loadgen.CollectResults(ctx, client, s.PortalURL, people, ids, opt.ResultWait, func(pending int) {
		if time.Since(lastReport) >= 20*time.Second {
			lastReport = time.Now()
			fmt.Fprintf(progress, "soak: %d results still to come after %.0f s of waiting\n", pending, time.Since(waitBegan).Seconds())
		}
	})
	if err != nil {
		return nil, err
	}
	seen := map[string]int{}
	for _, r := range results {
		seen[r.RequestID]++
		if r.Kind == "refusal" {
			rep.Refusals++
		} else {
			rep.Results++
		}
	}
	for id := range accepted {
		switch seen[id] {
		case 0:
			rep.Missing = append(rep.Missing, id)
		case 1:
		default:
			rep.Duplicated = append(rep.Duplicated, id)
		}
	}
	for id, n := range seen {
		switch {
		case accepted[id]:
			continue
		case refused[id]:
			rep.Unexpected = append(rep.Unexpected, id)
		default:
			rep.Unacknowledged++
		}
		if n > 1 {
			rep.Duplicated = append(rep.Duplicated, id)
		}
	}
	sort.Strings(rep.Missing)
	sort.Strings(rep.Duplicated)
	sort.Strings(rep.Unexpected)

	rdb, err := s.Redis()
	if err != nil {
		return nil, err
	}
	defer rdb.Close()
	if rep.Evidence, err = shep.VerifyEvidence(ctx, rdb, s.opt.KeyPrefix); err != nil {
		return nil, err
	}
	rep.Duration = time.Since(begin).Seconds()
	return rep, nil
}

// sendAtRate sends the n requests request(i) gives at rate a second (at
// most 512 waiting for their answer at once), each until answered, and
// returns when all are: answered is called with each request's outcome,
// sent after each send.
func sendAtRate(ctx context.Context, client *http.Client, portals []string, people []*loadgen.Citizen, n int, request func(int) loadgen.Request,
	rate float64, attempts *atomic.Int64, answered func(loadgen.Request, string), sent func(int)) {
	var wg sync.WaitGroup
	inflight := make(chan struct{}, 512)
	begin := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	for i := range n {
		r := request(i)
		if d := time.Until(begin.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		inflight <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-inflight }()
			answered(r, submitUntilAnswered(ctx, client, portals, i, people, r, attempts))
		}()
		if sent != nil {
			sent(i + 1)
		}
	}
	wg.Wait()
}

// submitUntilAnswered sends r until a portal answers it (the i-th
// request's k-th attempt goes to portal i+k, as a round-robin in front of
// them sends a citizen's retry to the next one): accepted,
// replayed (accepted before), or refused for good. What HTTP lets a client
// repeat is retried for up to a minute: lost connections, 503, 408 (the
// server gave up waiting for the request: a starved client's body comes
// slowly), 429, and an answer that is not the portal's (no problem code:
// the HTTP server's own, on a connection it was closing).
func submitUntilAnswered(ctx context.Context, client *http.Client, portals []string, i int, people []*loadgen.Citizen, r loadgen.Request, attempts *atomic.Int64) string {
	deadline := time.Now().Add(time.Minute)
	backoff := retry.New(200*time.Millisecond, 3*time.Second)
	for k := i; ; k++ {
		attempts.Add(1)
		code, body := loadgen.Submit(ctx, client, portals[k%len(portals)], people, r)
		var prob struct{ Code string }
		_ = json.Unmarshal(body, &prob)
		switch {
		case code == http.StatusAccepted:
			return "accepted"
		case prob.Code == "request-replayed":
			return "replayed"
		case code != 0 && code < 500 && prob.Code != "" && !retryable[code]:
			return prob.Code
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return "gave-up"
		}
		if !retry.Sleep(ctx, backoff.Next()) {
			return "gave-up"
		}
	}
}

// retryable are the refusals a client may send again as they are.
var retryable = map[int]bool{http.StatusRequestTimeout: true, http.StatusTooManyRequests: true}

func injectAtRandom(ctx context.Context, s *Stack, opt SoakOptions, begin time.Time, progress io.Writer) []FaultRecord {
	rng := rand.New(rand.NewPCG(opt.Seed, opt.Seed>>1|1))
	var out []FaultRecord
	for {
		wait := time.Duration(float64(opt.FaultEvery) * (0.5 + rng.Float64()))
		select {
		case <-ctx.Done():
			return out
		case <-time.After(wait):
		}
		f := opt.Faults[rng.IntN(len(opt.Faults))]
		rec := FaultRecord{At: time.Since(begin).Seconds(), Fault: f}
		fmt.Fprintf(progress, "soak: %5.1f s  %s\n", rec.At, f)
		if err := s.Inject(context.Background(), f); err != nil {
			rec.Error = err.Error()
			fmt.Fprintf(progress, "soak: fault failed: %v\n", err)
		}
		out = append(out, rec)
	}
}

// Redis connects to the stack's Redis.
func (s *Stack) Redis() (redis.UniversalClient, error) {
	return redisconn.Open(s.RedisURL)
}

// Print writes the report as a table.
func (r *SoakReport) Print(w io.Writer) {
	fmt.Fprintf(w, "\nsoak of %.0f s, seed %d, %d faults:\n", r.Duration, r.Seed, len(r.Faults))
	counts := map[Fault]int{}
	var kinds []Fault // in the order first injected
	for _, f := range r.Faults {
		if counts[f.Fault] == 0 {
			kinds = append(kinds, f.Fault)
		}
		counts[f.Fault]++
	}
	for _, f := range kinds {
		fmt.Fprintf(w, "  %3d × %s\n", counts[f], f)
	}
	fmt.Fprintf(w, "requests sent %d, submission attempts %d, accepted %d (%d on a retry), refused %v, gave up %d\n",
		r.Sent, r.Attempts, r.Accepted, r.Replayed, r.Refused, r.GaveUp)
	fmt.Fprintf(w, "in the cabinets: %d results + %d refusals; missing %d, duplicated %d, for refused requests %d, accepted though unacknowledged %d\n",
		r.Results, r.Refusals, len(r.Missing), len(r.Duplicated), len(r.Unexpected), r.Unacknowledged)
	fmt.Fprintf(w, "evidence log: %d records, intact %v", r.Evidence.Records, r.Evidence.Intact)
	if !r.Evidence.Intact {
		fmt.Fprintf(w, " (%s)", r.Evidence.Reason)
	}
	fmt.Fprintln(w)
}
