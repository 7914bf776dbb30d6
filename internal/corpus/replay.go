package corpus

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/beevik/etree"
	"github.com/google/uuid"
	"github.com/jstemmer/go-junit-report/v2/junit"

	"egov"
	"egov/signing"
)

// Options of a replay.
type Options struct {
	// Portal and Bus are the base URLs portal requests and SOAP envelopes
	// go to (e.g. http://127.0.0.1:8080 and http://127.0.0.1:8081).
	Portal, Bus string
	// Concurrency is how many messages may be in flight (default 1). Order
	// is kept where it matters: the messages of one session, the portal's
	// anonymous calls and the bus's envelopes each keep their order, and a
	// session's messages wait for the login that opens it.
	Concurrency int
	// Rate caps messages per second; 0 means no cap.
	Rate float64
	// Only keeps the messages whose name matches.
	Only *regexp.Regexp
	// Resign refreshes the issue time and request id of submitted request
	// documents and signs them again with this key; without it such
	// documents are expected to be refused as stale.
	Resign *signing.Signer
	// Prove signs a fresh registration challenge for each recorded
	// registration by signature that proved its IIN when recorded (a
	// challenge serves once and lives five minutes, so the recorded one
	// cannot); nil means Resign. Its certificate must name the recorded
	// IIN. Without either such registrations are sent as recorded and are
	// expected to be refused identity-not-proven.
	Prove *signing.Signer
	// Adapt fits the corpus to the target (its PKI, its state): see
	// Adapter. It takes the place of Resign and Prove.
	Adapt  *Adapter
	Client *http.Client
	Now    func() time.Time
}

// Result is the outcome of one message.
type Result struct {
	Entry Entry  `json:"entry"`
	Got   Expect `json:"got"`
	// GotBody is the start of the answer (at most maxKeptAnswer bytes) and
	// GotSize its whole length, for the report of a difference.
	GotBody  []byte        `json:"-"`
	GotSize  int           `json:"gotSize,omitempty"`
	Match    bool          `json:"match"`
	Note     string        `json:"note,omitempty"`
	Duration time.Duration `json:"duration"`
}

// Report is the outcome of a replay.
type Report struct {
	Results     []Result `json:"results"`
	Matches     int      `json:"matches"`
	Differences int      `json:"differences"`
	Started     time.Time
	Elapsed     time.Duration
	// Target names the portal and bus replayed against; Hostname the
	// machine that replayed (default os.Hostname).
	Target, Hostname string
	// Adapted says, a line each, what the replay changed to fit the
	// target (Options.Adapt): keys issued, documents re-signed, IINs
	// mapped.
	Adapted []string
}

// maxKeptAnswer bounds the answer body kept for a report.
const maxKeptAnswer = 16 << 10

// Replay sends the corpus's messages in order and compares every answer
// with its expectation.
func Replay(ctx context.Context, c *Corpus, opt Options) (*Report, error) {
	if opt.Concurrency <= 0 {
		opt.Concurrency = 1
	}
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: time.Minute}
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Prove == nil {
		opt.Prove = opt.Resign
	}
	var entries []Entry
	for _, e := range c.Entries {
		if opt.Only == nil || opt.Only.MatchString(e.Name) {
			entries = append(entries, e)
		}
	}
	if opt.Adapt != nil {
		if err := opt.Adapt.Plan(c, entries); err != nil {
			return nil, err
		}
	}
	r := &replayer{opt: opt, corpus: c, sessions: map[string]*session{}, ids: map[string]string{}}
	for _, e := range entries {
		if e.Opens != "" {
			r.sessions[e.Opens] = &session{ready: make(chan struct{})}
		}
	}
	start := time.Now()
	results := make([]Result, len(entries))
	sem := make(chan struct{}, opt.Concurrency)
	var tick <-chan time.Time
	if opt.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / opt.Rate))
		defer t.Stop()
		tick = t.C
	}
	// Messages travel in lanes: one per session, one for the portal's
	// anonymous calls, one for the bus. A lane keeps the corpus's order;
	// lanes run side by side, at most Concurrency messages at a time.
	lanes := map[string][]int{}
	var order []string
	for i, e := range entries {
		lane := e.Kind
		if e.Session != "" {
			lane = "session:" + e.Session
		}
		if _, ok := lanes[lane]; !ok {
			order = append(order, lane)
		}
		lanes[lane] = append(lanes[lane], i)
	}
	var wg sync.WaitGroup
	for _, lane := range order {
		wg.Add(1)
		go func(idx []int) {
			defer wg.Done()
			for _, i := range idx {
				e := entries[i]
				// A session's messages wait for the login that opens it.
				if s := r.sessions[e.Session]; s != nil {
					select {
					case <-s.ready:
					case <-ctx.Done():
						return
					}
				}
				if tick != nil {
					select {
					case <-tick:
					case <-ctx.Done():
						return
					}
				}
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				results[i] = r.one(ctx, e)
				<-sem
			}
		}(lanes[lane])
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	rep := &Report{Results: results, Started: start, Elapsed: time.Since(start), Target: opt.Portal + " " + opt.Bus}
	if opt.Adapt != nil {
		rep.Adapted = opt.Adapt.Summary()
	}
	for _, res := range results {
		if res.Match {
			rep.Matches++
		} else {
			rep.Differences++
		}
	}
	return rep, nil
}

type session struct {
	token string
	ready chan struct{}
	once  sync.Once
}

type replayer struct {
	opt    Options
	corpus *Corpus

	mu       sync.Mutex
	sessions map[string]*session
	ids      map[string]string // recorded request id → the one sent
	// challenges the target answered to the corpus's own challenge
	// requests, not yet signed: a proof takes the oldest (as the recorded
	// client signed the challenge it had just fetched) before fetching one.
	challenges []string
}

func (r *replayer) one(ctx context.Context, e Entry) (res Result) {
	res.Entry = e
	start := time.Now()
	defer func() {
		res.Duration = time.Since(start)
		if s := r.sessions[e.Opens]; s != nil {
			s.once.Do(func() { close(s.ready) })
		}
	}()
	body, err := r.corpus.Body(e)
	if err != nil {
		res.Note = err.Error()
		return res
	}
	path := e.Path
	stale, unproven := false, false
	if r.opt.Adapt != nil {
		path = string(r.opt.Adapt.mapIINs([]byte(path)))
		if body, res.Note, err = r.opt.Adapt.adapt(ctx, r, e, body); err != nil {
			res.Note = "adapting failed: " + err.Error()
			return res
		}
	} else {
		body, stale, unproven, err = r.legacy(ctx, e, body)
		if err != nil {
			res.Note = err.Error()
			return res
		}
	}
	base := r.opt.Portal
	if e.Kind == KindSHEP {
		base = r.opt.Bus
	}
	var resp *http.Response
	var data []byte
	for try := 0; ; try++ {
		req, err := http.NewRequestWithContext(ctx, e.Method, strings.TrimSuffix(base, "/")+path, bytes.NewReader(body))
		if err != nil {
			res.Note = err.Error()
			return res
		}
		if e.ContentType != "" {
			req.Header.Set("Content-Type", e.ContentType)
		}
		if e.Language != "" {
			req.Header.Set("Accept-Language", e.Language)
		}
		if e.Session != "" {
			token := "unknown-session-" + e.Session
			if s := r.sessions[e.Session]; s != nil {
				token = s.token
			}
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if resp, err = r.opt.Client.Do(req); err != nil {
			res.Note = err.Error()
			return res
		}
		data, _ = io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		// The attempts of this client's address are the target's state
		// too: others (the demo, an earlier replay) may have spent them.
		// Adapted, a rate-limited answer the recording did not get is
		// waited out and the message sent once more, and the report says so.
		wait, limited := r.rateLimited(e, resp, data, try)
		if !limited {
			break
		}
		res.Note = strings.TrimPrefix(fmt.Sprintf("%s; waited %s for the target's attempt limit (%s)", res.Note, wait, adaptedWaitNote), "; ")
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			res.Note = ctx.Err().Error()
			return res
		}
	}
	res.Got = expectation(e.Kind, resp.StatusCode, data)
	res.GotSize = len(data)
	res.GotBody = data[:min(len(data), maxKeptAnswer)]
	if e.Kind == KindPortal && e.Method == http.MethodGet && e.Path == "/api/v1/auth/challenge" && resp.StatusCode == http.StatusOK {
		var ch struct{ Document string }
		if json.Unmarshal(data, &ch) == nil && ch.Document != "" {
			r.mu.Lock()
			r.challenges = append(r.challenges, ch.Document)
			r.mu.Unlock()
		}
	}
	if s := r.sessions[e.Opens]; s != nil && resp.StatusCode == http.StatusCreated {
		var ans struct{ Token string }
		_ = json.Unmarshal(data, &ans)
		s.token = ans.Token
	}
	note := res.Note
	res.Match, res.Note = judge(e.Expect, res.Got, stale)
	if note != "" {
		res.Note = strings.TrimPrefix(res.Note+"; "+note, "; ")
	}
	if !res.Match && unproven && res.Got.Code == "identity-not-proven" {
		res.Match, res.Note = true, "refused, as expected without --prove-with: a recorded challenge serves once"
	}
	return res
}

// legacy applies Options.Resign and Options.Prove (no Adapt): only
// documents that passed the signature check when recorded are re-signed,
// so that an expired certificate stays expired.
func (r *replayer) legacy(ctx context.Context, e Entry, body []byte) (_ []byte, stale, unproven bool, err error) {
	timely := e.Expect.Status == http.StatusAccepted || e.Expect.Code == "request-replayed"
	if timely && e.Kind == KindPortal && e.Method == http.MethodPost && strings.HasPrefix(e.Path, "/api/v1/requests") {
		if r.opt.Resign != nil {
			body, err = r.rewriteRequestPart(e.ContentType, body, func(doc []byte) ([]byte, error) { return r.refresh(doc, r.opt.Resign, true) })
			if err != nil {
				return nil, false, false, fmt.Errorf("re-signing failed: %w", err)
			}
		} else {
			stale = true
		}
	}
	proven := e.Expect.Status == http.StatusCreated || e.Expect.Code == "account-exists"
	if proven && e.Kind == KindPortal && e.Method == http.MethodPost && e.Path == "/api/v1/accounts" && bytes.Contains(body, []byte(`"signedChallenge"`)) {
		if r.opt.Prove != nil {
			if body, err = r.prove(ctx, body); err != nil {
				return nil, false, false, fmt.Errorf("signing a fresh challenge failed: %w", err)
			}
		} else {
			unproven = true
		}
	}
	return body, stale, unproven, nil
}

// maxAttemptWait bounds one wait for the target's attempt limit, and
// maxAttemptTries the sends of one message.
const (
	maxAttemptWait  = 65 * time.Second
	maxAttemptTries = 4
)

const adaptedWaitNote = "rate-limited, Retry-After"

// rateLimited says whether an answer is a refusal by the target's
// attempt limit that the recording did not meet, to be waited out: only
// when adapting, on the portal, with a Retry-After within maxAttemptWait.
func (r *replayer) rateLimited(e Entry, resp *http.Response, data []byte, try int) (time.Duration, bool) {
	if r.opt.Adapt == nil || e.Kind != KindPortal || resp.StatusCode != http.StatusTooManyRequests ||
		e.Expect.Code == string(egov.CodeRateLimited) || try+1 >= maxAttemptTries {
		return 0, false
	}
	if expectation(e.Kind, resp.StatusCode, data).Code != string(egov.CodeRateLimited) {
		return 0, false
	}
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || secs < 0 || time.Duration(secs)*time.Second > maxAttemptWait {
		return 0, false
	}
	r.opt.Adapt.waited(time.Duration(secs) * time.Second)
	return time.Duration(secs)*time.Second + 100*time.Millisecond, true
}

// challenge returns a registration or login challenge of the target: the
// oldest one the corpus's own challenge requests got and no proof used
// yet, else a new one.
func (r *replayer) challenge(ctx context.Context) (string, error) {
	r.mu.Lock()
	if len(r.challenges) > 0 {
		doc := r.challenges[0]
		r.challenges = r.challenges[1:]
		r.mu.Unlock()
		return doc, nil
	}
	r.mu.Unlock()
	get := Entry{Kind: KindPortal, Method: http.MethodGet, Path: "/api/v1/auth/challenge", Expect: Expect{Status: http.StatusOK}}
	for try := 0; ; try++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(r.opt.Portal, "/")+get.Path, nil)
		if err != nil {
			return "", err
		}
		resp, err := r.opt.Client.Do(req)
		if err != nil {
			return "", err
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if wait, limited := r.rateLimited(get, resp, data, try); limited {
			select {
			case <-time.After(wait):
				continue
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		var ch struct{ Document string }
		if err := json.Unmarshal(data, &ch); err != nil || resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("challenge: %s %v", resp.Status, err)
		}
		return ch.Document, nil
	}
}

// prove replaces the signed challenge of a recorded registration with a
// fresh challenge of the target, signed with Options.Prove.
func (r *replayer) prove(ctx context.Context, body []byte) ([]byte, error) {
	var reg map[string]any
	if err := json.Unmarshal(body, &reg); err != nil {
		return nil, err
	}
	doc, err := r.challenge(ctx)
	if err != nil {
		return nil, err
	}
	signed, err := r.opt.Prove.Sign([]byte(doc))
	if err != nil {
		return nil, err
	}
	reg["signedChallenge"] = string(signed)
	return json.Marshal(reg)
}

// judge compares an answer with the recorded one. A time-bound document
// sent as recorded (no --resign-with) may come back refused as stale: that
// is the expected fate of an old recording, and the report says so.
func judge(want, got Expect, sentAsRecorded bool) (bool, string) {
	if got == want {
		return true, ""
	}
	if sentAsRecorded && got.Code == "request-stale" {
		return true, "refused as stale, as expected without --resign-with"
	}
	return false, ""
}

// rewriteRequestPart rewrites the request document of a multipart
// submission with fn; the other parts stay as they are.
func (r *replayer) rewriteRequestPart(contentType string, body []byte, fn func([]byte) ([]byte, error)) ([]byte, error) {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil || params["boundary"] == "" {
		return nil, fmt.Errorf("not a multipart body")
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var out bytes.Buffer
	mw := multipart.NewWriter(&out)
	if err := mw.SetBoundary(params["boundary"]); err != nil {
		return nil, err
	}
	for i := 0; ; i++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return nil, err
		}
		if part.FormName() == "request" || (i == 0 && strings.Contains(contentType, "related")) {
			if data, err = fn(data); err != nil {
				return nil, err
			}
		}
		h := textproto.MIMEHeader{}
		for k, v := range part.Header {
			h[k] = v
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(data); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// refresh signs a request document anew with key; with timely it first
// gets a new issue time and request id (the same new id for every replay
// of one recorded id, so a recorded replay stays a replay).
func (r *replayer) refresh(doc []byte, key *signing.Signer, timely bool) ([]byte, error) {
	tree := etree.NewDocument()
	if err := tree.ReadFromBytes(doc); err != nil {
		return nil, err
	}
	root := tree.Root()
	if root == nil {
		return nil, fmt.Errorf("empty document")
	}
	for _, c := range root.ChildElements() {
		if c.Tag == "Signature" {
			root.RemoveChild(c)
		}
	}
	if id := root.FindElement("./RequestId"); id != nil && timely {
		r.mu.Lock()
		fresh, ok := r.ids[id.Text()]
		if !ok {
			fresh = uuid.NewString()
			r.ids[id.Text()] = fresh
		}
		r.mu.Unlock()
		id.SetText(fresh)
	}
	if at := root.FindElement("./IssuedAt"); at != nil && timely {
		at.SetText(r.opt.Now().Format(time.RFC3339))
	}
	data, err := tree.WriteToBytes()
	if err != nil {
		return nil, err
	}
	return key.Sign(data)
}

// WriteTable prints one line per message and a summary.
func (rep *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "%-5s %-52s %-30s %-30s %s\n", "SEQ", "MESSAGE", "EXPECTED", "GOT", "")
	for _, res := range rep.Results {
		mark := "ok"
		if !res.Match {
			mark = "DIFFERENT"
		}
		if res.Note != "" {
			mark += " (" + res.Note + ")"
		}
		fmt.Fprintf(w, "%-5d %-52s %-30s %-30s %s\n", res.Entry.Seq, truncate(res.Entry.Name, 52),
			res.Entry.Expect.String(), res.Got.String(), mark)
	}
	fmt.Fprintf(w, "\n%d messages: %d as recorded, %d different, in %s\n", len(rep.Results), rep.Matches, rep.Differences, rep.Elapsed.Round(time.Millisecond))
}

func (e Expect) String() string {
	if e.Status == 0 {
		return "no answer"
	}
	if e.Code == "" {
		return fmt.Sprint(e.Status)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Code)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// junitOutputBound bounds the answer body a JUnit case carries.
const junitOutputBound = 4 << 10

// WriteJUnit writes the report as JUnit XML for CI, with the types of
// go-junit-report: one suite with its start time and host, one case per
// message named by its full method and path, and for every difference the
// expected and the received answer (its body cut at junitOutputBound) in
// the failure and in system-out.
func (rep *Report) WriteJUnit(w io.Writer) error {
	host := rep.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	suite := junit.Testsuite{Name: "egov-gateway replay", Hostname: host, Package: "egov/internal/corpus",
		Time: junitSeconds(rep.Elapsed)}
	started := rep.Started
	if started.IsZero() {
		started = time.Now().Add(-rep.Elapsed)
	}
	suite.SetTimestamp(started)
	if rep.Target != "" {
		suite.AddProperty("target", rep.Target)
	}
	for _, line := range rep.Adapted {
		suite.AddProperty("adapted", line)
	}
	for _, res := range rep.Results {
		e := res.Entry
		tc := junit.Testcase{Name: fmt.Sprintf("%04d %s %s", e.Seq, e.Method, e.Path), Classname: "replay." + e.Kind,
			Time: junitSeconds(res.Duration)}
		var out strings.Builder
		fmt.Fprintf(&out, "message:  %s (%s)\nsent:     %s %s\nexpected: %s\ngot:      %s\n", e.Name, e.File, e.Method, e.Path, e.Expect, res.Got)
		if res.Note != "" {
			fmt.Fprintf(&out, "note:     %s\n", res.Note)
		}
		if !res.Match {
			fmt.Fprintf(&out, "answer body (%d bytes):\n%s\n", res.GotSize, bound(res.GotBody, junitOutputBound))
			tc.Failure = &junit.Result{Message: fmt.Sprintf("expected %s, got %s", e.Expect, res.Got), Type: "different", Data: out.String()}
		}
		tc.SystemOut = &junit.Output{Data: out.String()}
		suite.AddTestcase(tc)
	}
	suites := junit.Testsuites{Name: suite.Name}
	suites.AddSuite(suite)
	return suites.WriteXML(w)
}

func junitSeconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// bound cuts data to at most n bytes, on a rune boundary, and says so.
func bound(data []byte, n int) string {
	if len(data) <= n {
		return string(data)
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(data[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… [%d more bytes]", data[:cut], len(data)-cut)
}
