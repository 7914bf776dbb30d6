package gateway_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"egov"
	"egov/document"
	"egov/gateway"
	"egov/internal/redisconn"
	"egov/internal/redistest"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
	"egov/signing/pki"
)

// resultXML is an unsigned result of the provider about request id of iin.
func resultXML(id, iin, outcome string) string {
	r := &document.Result{RequestID: id, ServiceCode: "job-seeker-registration", Outcome: document.Outcome(outcome),
		ProviderBIN: providerBIN, Applicant: iin, Number: "JS-2026-000123", Date: "2026-11-24"}
	if r.Outcome == document.OutcomeRefused {
		r.Number = ""
		r.Ground = &document.Ground{Code: "underage", Text: egov.Message{RU: "Заявителю нет 16 лет",
			KK: "Өтініш берушіге 16 жас толмаған", EN: "The applicant is under 16"}}
	}
	return string(r.Document())
}

func noticeXML(id, iin string) string {
	return string((&document.Notice{RequestID: id, Status: document.StatusAcceptedForProcessing, Applicant: iin}).Document())
}

// relayed submits a request of the citizen and waits until it is on the
// bus; it returns the request id and its correlation.
func (e *env) relayed(token, iin string) (id, corr string) {
	e.t.Helper()
	doc, id := requestDoc(e.t, "citizen", iin, e.clock.Now(), []file{idScan}, nil)
	if code := e.submit(token, doc, []file{idScan}, nil); code != http.StatusAccepted {
		e.t.Fatalf("submit: %d", code)
	}
	e.waitState(token, id, gateway.StateRelayed)
	corr, err := e.redis.Client.HGet(context.Background(), e.redis.Prefix+"gw:{"+iin+"}:request:"+id, "correlationId").Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return id, corr
}

// leaseAsProvider takes the one request waiting on the labour-market
// system's queue, as that system would.
func (e *env) leaseAsProvider() soap.AsyncMessage {
	e.t.Helper()
	resp, err := e.bus.GetMessages(context.Background(), shep.NewGetMessages(labourSender, "job-seeker-registration", 10, 5*time.Second))
	if err != nil || len(resp.Response.Messages) != 1 {
		e.t.Fatalf("the request on the provider's queue: %v", err)
	}
	return resp.Response.Messages[0]
}

// answer is an answer of the labour-market system as the portal's queue
// hands it out.
func answer(corr string, typ soap.MessageType, data string) soap.AsyncMessage {
	var m soap.AsyncMessage
	m.MessageInfo = soap.AsyncMessageInfo{MessageID: uuid.NewString(), CorrelationID: corr, ServiceID: "job-seeker-registration",
		MessageType: typ, Sender: soap.SenderInfo{SenderID: labourSender.SenderID}}
	m.MessageData.Data = data
	return m
}

func sign(t *testing.T, key *signing.Signer, doc string) string {
	t.Helper()
	signed, err := key.Sign([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// Every order, duplication and redelivery of one request's notices and
// answers ends in exactly one terminal state, the first result's, with
// exactly one result in the cabinet, and a history whose states only move
// forward.
func TestEveryOrderOfAnswersEndsOnce(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	provider := signer(t, "provider")
	rng := rand.New(rand.NewPCG(13, 2026))
	ctx := context.Background()
	rank := map[string]int{"accepted": 0, "relayed": 1, "delivered": 2, "in-progress": 3, "completed": 4, "refused": 4}
	for round := 0; round < 40; round++ {
		id, corr := e.relayed(token, citizenIIN)
		outcomes := []string{"registered", "refused"}
		rng.Shuffle(len(outcomes), func(i, j int) { outcomes[i], outcomes[j] = outcomes[j], outcomes[i] })
		events := []soap.AsyncMessage{
			answer(corr, soap.TypeNotification, noticeXML(id, citizenIIN)),
			answer(corr, soap.TypeUpdate, noticeXML(id, citizenIIN)),
			answer(corr, soap.TypeResponse, sign(t, provider, resultXML(id, citizenIIN, outcomes[0]))),
			answer(corr, soap.TypeResponse, sign(t, provider, resultXML(id, citizenIIN, outcomes[1]))),
		}
		// Redeliveries: the same messages again, any number of times.
		for n := rng.IntN(5); n > 0; n-- {
			events = append(events, events[rng.IntN(4)])
		}
		rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
		first := ""
		for _, m := range events {
			if first == "" && m.MessageInfo.MessageType == soap.TypeResponse {
				first = map[bool]string{true: "completed", false: "refused"}[strings.Contains(m.MessageData.Data, "<Outcome>registered<")]
			}
			if err := e.app.HandleAnswer(ctx, m); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		r, err := e.app.RequestOf(ctx, citizenIIN, id)
		if err != nil {
			t.Fatal(err)
		}
		if string(r.State) != first {
			t.Fatalf("round %d: state %s, the first result said %s", round, r.State, first)
		}
		terminal, last := 0, -1
		for _, h := range r.History {
			k, isState := rank[h.State]
			if !isState {
				continue // update, ignored: events that moved nothing
			}
			if k < last {
				t.Fatalf("round %d: the history goes back: %+v", round, r.History)
			}
			last = k
			if k == 4 {
				terminal++
			}
		}
		if terminal != 1 {
			t.Fatalf("round %d: %d terminal entries in %+v", round, terminal, r.History)
		}
		page, err := e.app.Cabinet(ctx, citizenIIN, "", 100, false)
		if err != nil {
			t.Fatal(err)
		}
		results := 0
		for _, m := range page.Messages {
			if m.RequestID == id && (m.Kind == "result" || m.Kind == "refusal") {
				results++
			}
		}
		if results != 1 {
			t.Fatalf("round %d: %d results in the cabinet", round, results)
		}
	}
}

// An answer that does not belong to the request its correlation names is
// never filed: the portal refuses it with a code, for good.
func TestAnswersThatDoNotBelongAreRefused(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	id, corr := e.relayed(token, citizenIIN)
	provider := signer(t, "provider")
	authority, err := pki.Clone("../fixtures/pki", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	employee := func(role signing.KeyUser, bin string) *signing.Signer {
		iss, err := authority.Issue(pki.IssueOptions{IIN: "800515400122", Name: "СОТРУДНИКОВ СОТРУДНИК", Kind: pki.KindOrg, BIN: bin,
			Organization: "КГУ «ЦЕНТР ЗАНЯТОСТИ НАСЕЛЕНИЯ» (TEST)", Role: role,
			NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		return &signing.Signer{Key: iss.Key, Certificate: iss.Certificate}
	}
	other := uuid.NewString()
	tests := []struct {
		name string
		msg  soap.AsyncMessage
		code egov.Code
	}{
		{"result naming another applicant", answer(corr, soap.TypeResponse, sign(t, provider, resultXML(id, citizen2IIN, "registered"))), egov.CodeAnswerUnmatched},
		{"result naming another request", answer(corr, soap.TypeResponse, sign(t, provider, resultXML(other, citizenIIN, "registered"))), egov.CodeAnswerUnmatched},
		{"result signed by an employee", answer(corr, soap.TypeResponse, sign(t, employee(signing.KeyUserEmployee, providerBIN), resultXML(id, citizenIIN, "registered"))), egov.CodeSignerNotAuthorised},
		{"result signed by HR", answer(corr, soap.TypeResponse, sign(t, employee(signing.KeyUserHR, providerBIN), resultXML(id, citizenIIN, "registered"))), egov.CodeSignerNotAuthorised},
		{"result signed by another organisation's head", answer(corr, soap.TypeResponse, sign(t, employee(signing.KeyUserCEO, "990140004654"), resultXML(id, citizenIIN, "registered"))), egov.CodeBINMismatch},
		{"result signed by a citizen", answer(corr, soap.TypeResponse, sign(t, signer(t, "citizen"), resultXML(id, citizenIIN, "registered"))), egov.CodeBINMismatch},
		{"notice naming another request", answer(corr, soap.TypeNotification, noticeXML(other, citizenIIN)), egov.CodeAnswerUnmatched},
		{"notice naming another applicant", answer(corr, soap.TypeNotification, noticeXML(id, citizen2IIN)), egov.CodeAnswerUnmatched},
		{"answer from another system", func() soap.AsyncMessage {
			m := answer(corr, soap.TypeResponse, sign(t, provider, resultXML(id, citizenIIN, "registered")))
			m.MessageInfo.Sender.SenderID = "arm-rshep"
			return m
		}(), egov.CodeAnswerUnmatched},
		{"answer of another service", func() soap.AsyncMessage {
			m := answer(corr, soap.TypeResponse, sign(t, provider, resultXML(id, citizenIIN, "registered")))
			m.MessageInfo.ServiceID = "employment-referral"
			return m
		}(), egov.CodeAnswerUnmatched},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.app.HandleAnswer(context.Background(), tt.msg)
			if got := egov.ErrorCode(err); got != tt.code {
				t.Fatalf("got %v (%s), want %s", err, got, tt.code)
			}
		})
	}
	r, err := e.app.RequestOf(context.Background(), citizenIIN, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != gateway.StateRelayed || len(r.History) != 2 {
		t.Fatalf("after answers that do not belong: %s %+v", r.State, r.History)
	}
}

// Over the real bus: a signed result that names another citizen is
// rejected by the portal's consumer and kept by the bus as a dead letter
// with the reason, at once; the request goes on waiting for its own answer.
func TestUnmatchedAnswerBecomesADeadLetter(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	id, _ := e.relayed(token, citizenIIN)
	ctx := context.Background()
	m := e.leaseAsProvider()
	if _, err := e.bus.SendDeliveryNotification(ctx, shep.NewDeliveryNotification(labourSender, m.MessageInfo, true, "")); err != nil {
		t.Fatal(err)
	}
	forged := sign(t, signer(t, "provider"), resultXML(id, citizen2IIN, "registered"))
	if _, err := e.bus.SendMessage(ctx, shep.NewSendMessage(labourSender, "job-seeker-registration", soap.TypeResponse, m.MessageInfo.CorrelationID, forged)); err != nil {
		t.Fatal(err)
	}
	var dead []shep.DeadLetter
	var err error
	for i := 0; i < 300 && len(dead) == 0; i++ {
		if dead, err = shep.DeadLetters(ctx, e.redis.Client, e.redis.Prefix, "egov-portal"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(dead) != 1 || dead[0].Reason != "rejected" || !strings.Contains(dead[0].LastError, string(egov.CodeAnswerUnmatched)) {
		t.Fatalf("dead letters: %+v", dead)
	}
	r := e.waitState(token, id, gateway.StateRelayed)
	if r.Outcome != "" {
		t.Fatalf("request after a foreign result: %+v", r)
	}
	page, err := e.app.Cabinet(ctx, citizen2IIN, "", 10, false)
	if err != nil || len(page.Messages) != 0 {
		t.Fatalf("the other citizen's cabinet: %+v %v", page, err)
	}
}

// A request the provider's system rejects for good (its signature did not
// hold there) is a dead letter at once; the portal shows it stuck with the
// provider's code, and it is not an answer: the state stays relayed.
func TestRejectedRequestIsStuckWithTheProvidersCode(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	id, _ := e.relayed(token, citizenIIN)
	ctx := context.Background()
	rejection := shep.NewRejection(labourSender, e.leaseAsProvider().MessageInfo, string(egov.CodeCertificateRevoked), "certificate revoked")
	if _, err := e.bus.SendDeliveryNotification(ctx, rejection); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(16 * time.Minute)
	if n, err := e.app.CheckStuck(ctx); err != nil || n != 1 {
		t.Fatalf("stuck requests marked: %d %v", n, err)
	}
	var r requestView
	e.call("GET", "/api/v1/requests/"+id, token, nil, &r)
	if r.State != gateway.StateRelayed || !strings.HasPrefix(r.LastError, gateway.StuckPrefix) ||
		!strings.Contains(r.LastError, "rejected") || !strings.Contains(r.LastError, string(egov.CodeCertificateRevoked)) {
		t.Fatalf("rejected request shows %s %q", r.State, r.LastError)
	}
}

// A relay that wrote the request's correlation but could not yet mark it
// relayed (its write failed, or it is slow) does not make the answer wait:
// the answer marks it relayed in its place and is filed, rather than be
// refused until the bus dead-letters it.
func TestAnswerBeforeTheRelayMarkedTheRequest(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	provider := signer(t, "provider")
	ctx := context.Background()
	id, corr := e.relayed(token, citizenIIN)
	record := e.redis.Prefix + "gw:{" + citizenIIN + "}:request:" + id
	// The record as the relay leaves it between the bus's answer and its
	// transition.
	if err := e.redis.Client.HSet(ctx, record, "state", string(gateway.StateWaitingForRelay)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.redis.Client.HDel(ctx, record, "correlationId", "busMessageId").Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.app.HandleAnswer(ctx, answer(corr, soap.TypeResponse, sign(t, provider, resultXML(id, citizenIIN, "registered")))); err != nil {
		t.Fatalf("an answer before the relay's transition: %v", err)
	}
	r, err := e.app.RequestOf(ctx, citizenIIN, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != gateway.StateCompleted {
		t.Fatalf("state %s, want completed: %+v", r.State, r.History)
	}
	if got := e.redis.Client.HGet(ctx, record, "correlationId").Val(); got != corr {
		t.Fatalf("correlation %q on the record, want %q", got, corr)
	}
}

// Once a request has ended, its correlation is kept only as long as late
// answers are expected (LateAnswersFor), not for ever; while it is kept, a
// late answer is recorded in the history and changes nothing.
func TestAnEndedRequestsCorrelationExpires(t *testing.T) {
	e := newEnvWith(t, func(c *gateway.Config) { c.LateAnswersFor = 72 * time.Hour })
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	provider := signer(t, "provider")
	ctx := context.Background()
	id, corr := e.relayed(token, citizenIIN)
	key := e.redis.Prefix + "gw:correlation:" + corr
	if ttl := e.redis.Client.TTL(ctx, key).Val(); ttl != -1 {
		t.Fatalf("an open request's correlation expires in %s", ttl)
	}
	if err := e.app.HandleAnswer(ctx, answer(corr, soap.TypeResponse, sign(t, provider, resultXML(id, citizenIIN, "registered")))); err != nil {
		t.Fatal(err)
	}
	if ttl := e.redis.Client.TTL(ctx, key).Val(); ttl <= 71*time.Hour || ttl > 72*time.Hour {
		t.Fatalf("the ended request's correlation expires in %s, want 72 h", ttl)
	}
	if err := e.app.HandleAnswer(ctx, answer(corr, soap.TypeUpdate, noticeXML(id, citizenIIN))); err != nil {
		t.Fatalf("a late answer within the margin: %v", err)
	}
	r, _ := e.app.RequestOf(ctx, citizenIIN, id)
	if r.State != gateway.StateCompleted || r.History[len(r.History)-1].State != "update" {
		t.Fatalf("after a late answer: %s, history %+v", r.State, r.History)
	}
}

// With durability asked for, a submission is answered 202 only once the
// replica has it; with the replica gone the citizen is told to try again
// (503), and so is his retry, for "already accepted" is a promise too;
// once a replica is back, the retry finds the request the master kept
// (409 request-replayed), which goes on to the provider all the same. The
// wait is longer than the client's read timeout (1 s): WAIT is read with
// its own.
func TestSubmissionWaitsForTheReplica(t *testing.T) {
	master, replica, err := redistest.StartReplicated(t)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOn(t, redistest.On(t, master), func(c *gateway.Config) {
		c.Durability = redisconn.Durability{Replicas: 1, Timeout: 1500 * time.Millisecond}
	})
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	doc, _ := requestDoc(t, "citizen", citizenIIN, e.clock.Now(), []file{idScan}, nil)
	if code := e.submit(token, doc, []file{idScan}, nil); code != http.StatusAccepted {
		t.Fatalf("with the replica up: %d", code)
	}
	if err := replica.Kill(); err != nil {
		t.Fatal(err)
	}
	doc, id := requestDoc(t, "citizen", citizenIIN, e.clock.Now(), []file{idScan}, nil)
	if code := e.submit(token, doc, []file{idScan}, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("with the replica gone: %d, want 503", code)
	}
	if code := e.submit(token, doc, []file{idScan}, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("the retry with the replica still gone: %d, want 503", code)
	}
	if err := replica.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := replica.WaitInSync(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	if code := e.submit(token, doc, []file{idScan}, nil); code != http.StatusConflict {
		t.Fatalf("the retry with a replica back: %d, want 409 request-replayed", code)
	}
	e.waitState(token, id, gateway.StateRelayed)
}

// With durability asked for, an answer is filed (and may be confirmed to
// the bus) only once the replica has the filing: with the replica gone,
// HandleAnswer fails (not replicated), so the answer is refused for now and
// comes back; the filing the master kept is found then, and not filed
// twice.
func TestFilingWaitsForTheReplica(t *testing.T) {
	master, replica, err := redistest.StartReplicated(t)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOn(t, redistest.On(t, master), func(c *gateway.Config) {
		c.Durability = redisconn.Durability{Replicas: 1, Timeout: 300 * time.Millisecond}
	})
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	provider := signer(t, "provider")
	ctx := context.Background()
	id, corr := e.relayed(token, citizenIIN)
	if err := e.app.HandleAnswer(ctx, answer(corr, soap.TypeUpdate, noticeXML(id, citizenIIN))); err != nil {
		t.Fatalf("with the replica up: %v", err)
	}
	if err := replica.Kill(); err != nil {
		t.Fatal(err)
	}
	result := answer(corr, soap.TypeResponse, sign(t, provider, resultXML(id, citizenIIN, "registered")))
	err = e.app.HandleAnswer(ctx, result)
	if !errors.Is(err, redisconn.ErrNotReplicated) {
		t.Fatalf("with the replica gone: %v, want it not replicated (refused for now: it comes back)", err)
	}
	// Back, the answer finds its filing on the master: still not on the
	// replica, it is not confirmed either.
	if err := e.app.HandleAnswer(ctx, result); !errors.Is(err, redisconn.ErrNotReplicated) {
		t.Fatalf("again with the replica gone: %v, want it not replicated", err)
	}
	if err := replica.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := replica.WaitInSync(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := e.app.HandleAnswer(ctx, result); err != nil {
		t.Fatalf("the answer again, a replica back: %v", err)
	}
	r, err := e.app.RequestOf(ctx, citizenIIN, id)
	if err != nil || r.State != gateway.StateCompleted {
		t.Fatalf("state %v %v, want completed", r, err)
	}
	results := 0
	for _, h := range r.History {
		if h.State == string(gateway.StateCompleted) {
			results++
		}
	}
	if results != 1 {
		t.Fatalf("the result filed %d times: %+v", results, r.History)
	}
}
