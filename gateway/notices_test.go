package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"egov/gateway"
	"egov/shep/soap"
	"egov/sms"
)

type smsView struct {
	SMSNotices []gateway.SMSNotice `json:"smsNotices"`
	History    []struct {
		State string `json:"state"`
		Note  string `json:"note"`
	} `json:"history"`
}

// answered submits a registration of iin, has the provider answer it with
// outcome and waits for the request to end; it returns the request's id.
func (e *env) answered(token, iin, outcome string) string {
	e.t.Helper()
	doc, id := requestDoc(e.t, keyOf[iin], iin, e.clock.Now(), []file{idScan}, nil)
	if code := e.submit(token, doc, []file{idScan}, nil); code != http.StatusAccepted {
		e.t.Fatalf("submit: %d", code)
	}
	e.waitState(token, id, gateway.StateRelayed)
	e.provider(outcome)
	final := gateway.StateCompleted
	if outcome == "refused" {
		final = gateway.StateRefused
	}
	e.waitState(token, id, final)
	return id
}

// waitNotice waits until the request's SMS notice of state is settled.
func (e *env) waitNotice(token, id string, state gateway.State) gateway.SMSNotice {
	e.t.Helper()
	var r smsView
	for i := 0; i < 300; i++ {
		e.clock.Add(time.Second) // the notice's retries are paced by the portal's clock
		e.call("GET", "/api/v1/requests/"+id, token, nil, &r)
		for _, n := range r.SMSNotices {
			if n.State == state && n.Status != gateway.SMSPending {
				return n
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatalf("request %s: no settled SMS notice of %s: %+v", id, state, r.SMSNotices)
	return gateway.SMSNotice{}
}

// A citizen who asked for it is told of each status change of his request
// by SMS, in Russian and Kazakh, at the phone the mobile citizens'
// register holds; one who did not is told nothing.
func TestStatusChangesBySMS(t *testing.T) {
	e := newEnvWith(t, func(c *gateway.Config) { c.SMSEvery = 10 * time.Millisecond })
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	var wish gateway.Notifications
	if code, _ := e.call("GET", "/api/v1/notifications", token, nil, &wish); code != http.StatusOK || wish.SMS {
		t.Fatalf("before asking: %d %+v", code, wish)
	}
	var p problem
	if code, _ := e.call("PUT", "/api/v1/notifications", token, map[string]any{"sms": true, "email": true}, &p); code != http.StatusBadRequest {
		t.Fatalf("an unknown wish: %d %+v", code, p)
	}
	req, _ := http.NewRequest("PUT", e.srv.URL+"/api/v1/notifications", strings.NewReader(`{"sms":true}{"sms":false}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if code, _ := e.do(req, &p); code != http.StatusBadRequest || p.Code != "request-malformed" {
		t.Fatalf("two objects: %d %+v", code, p)
	}
	if code, _ := e.call("PUT", "/api/v1/notifications", token, map[string]bool{"sms": true}, &wish); code != http.StatusOK || !wish.SMS {
		t.Fatalf("asking: %d %+v", code, wish)
	}
	id := e.answered(token, citizenIIN, "registered")
	if n := e.waitNotice(token, id, gateway.StateCompleted); n.Status != gateway.SMSDelivered || n.Phone == "" || strings.Contains(n.Phone, "1234534") {
		t.Fatalf("notice %+v", n)
	}
	outbox, err := sms.Outbox(context.Background(), e.redis.Client, e.redis.Prefix, "+77011234534")
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range outbox {
		if m.Sender == "egov-portal" && strings.Contains(m.Text, id[:8]) {
			if len([]rune(m.Text)) > sms.MaxText {
				t.Errorf("%d characters: %s", len([]rune(m.Text)), m.Text)
			}
			texts = append(texts, m.Text)
		}
	}
	joined := strings.Join(texts, "\n")
	if !strings.Contains(joined, "исполнена") || !strings.Contains(joined, "орындалды") {
		t.Fatalf("the citizen's SMS: %q", texts)
	}
	// Told once per change, whatever comes again.
	seen := map[string]int{}
	for _, s := range texts {
		seen[s]++
		if seen[s] > 1 {
			t.Fatalf("told twice: %q", s)
		}
	}

	// One who did not ask gets nothing.
	e.register(citizen2IIN)
	other := e.login(citizen2IIN)
	id2 := e.answered(other, citizen2IIN, "refused")
	var r smsView
	e.call("GET", "/api/v1/requests/"+id2, other, nil, &r)
	if len(r.SMSNotices) != 0 {
		t.Fatalf("notices nobody asked for: %+v", r.SMSNotices)
	}
}

// A notice the SMS gateway cannot take is tried again, with a growing
// pause, and after five tries shown failed on the request and in its
// history.
func TestUndeliveredStatusSMSIsShownFailed(t *testing.T) {
	e := newEnvWith(t, func(c *gateway.Config) { c.SMSEvery = 10 * time.Millisecond })
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	e.call("PUT", "/api/v1/notifications", token, map[string]bool{"sms": true}, nil)
	e.switch_.SetSMSDown(true)
	id := e.answered(token, citizenIIN, "registered")
	n := e.waitNotice(token, id, gateway.StateCompleted)
	if n.Status != gateway.SMSFailed || n.Attempts != 5 || n.LastError == "" {
		t.Fatalf("notice %+v", n)
	}
	var r smsView
	e.call("GET", "/api/v1/requests/"+id, token, nil, &r)
	if last := r.History[len(r.History)-1]; last.State != "sms-failed" {
		t.Fatalf("history %+v", r.History)
	}
}

// Redelivered answers, a result that comes before its notice was sent,
// and a wish withdrawn before the notice is due: the citizen is told each
// state at most once, never an old state after a newer one, and nothing
// he no longer wants.
func TestStatusSMSOncePerStateInOrder(t *testing.T) {
	e := newEnvWith(t, func(c *gateway.Config) { c.SMSEvery = time.Hour }) // sent by the test's own looks
	e.register(citizenIIN)
	token := e.login(citizenIIN)
	e.call("PUT", "/api/v1/notifications", token, map[string]bool{"sms": true}, nil)
	ctx := context.Background()
	handle := func(m soap.AsyncMessage) {
		t.Helper()
		if err := e.app.HandleAnswer(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	send := func() {
		t.Helper()
		if err := e.app.SendQueuedSMS(ctx); err != nil {
			t.Fatal(err)
		}
	}
	told := func(id string) []string {
		t.Helper()
		outbox, err := sms.Outbox(ctx, e.redis.Client, e.redis.Prefix, "+77011234534")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range outbox {
			if strings.Contains(m.Text, id[:8]) {
				out = append(out, m.Text)
			}
		}
		return out
	}
	id, corr := e.relayed(token, citizenIIN)
	result := answer(corr, soap.TypeResponse, sign(t, signer(t, "provider"), resultXML(id, citizenIIN, "registered")))
	handle(answer(corr, soap.TypeNotification, noticeXML(id, citizenIIN)))
	handle(result)
	handle(result) // redelivered: seen, queued again
	send()
	handle(result) // and once more after it was sent
	send()
	if got := told(id); len(got) != 1 || !strings.Contains(got[0], "исполнена") {
		t.Fatalf("told %q, want the completion once", got)
	}
	var r smsView
	e.call("GET", "/api/v1/requests/"+id, token, nil, &r)
	status := map[gateway.State]string{}
	for _, n := range r.SMSNotices {
		status[n.State] = n.Status
	}
	if status[gateway.StateInProgress] != gateway.SMSSuperseded || status[gateway.StateCompleted] != gateway.SMSDelivered {
		t.Fatalf("notices %+v", r.SMSNotices)
	}

	// Withdrawn before it is due: not sent.
	id2, corr2 := e.relayed(token, citizenIIN)
	handle(answer(corr2, soap.TypeNotification, noticeXML(id2, citizenIIN)))
	e.call("PUT", "/api/v1/notifications", token, map[string]bool{"sms": false}, nil)
	send()
	if got := told(id2); len(got) != 0 {
		t.Fatalf("told %q after the wish was withdrawn", got)
	}
}
