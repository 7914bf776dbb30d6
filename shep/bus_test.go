package shep_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"egov/internal/redistest"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
)

var (
	portal   = soap.SenderInfo{SenderID: "egov-portal", Password: "portal-secret"}
	labour   = soap.SenderInfo{SenderID: "ais-rynok-truda", Password: "labour-secret"}
	intruder = soap.SenderInfo{SenderID: "intruder", Password: "intruder-secret"}

	hashesOnce sync.Once
	hashes     map[string]string
)

const (
	svcJobSeeker = "job-seeker-registration"
	svcOpen      = "open-data"
	svcPersons   = "GBDFL_PERSON_BY_IIN"
	// svcPrivate carries personal data (metadata-only evidence) and leaves
	// the signature to the portal: the shape of most portal traffic once
	// the bus trusts the portal's check.
	svcPrivate = "private-data"
)

func testRouting(t testing.TB) *shep.Routing {
	t.Helper()
	hashesOnce.Do(func() {
		hashes = map[string]string{}
		for _, s := range []soap.SenderInfo{portal, labour, intruder} {
			h, err := shep.HashPassword(s.Password)
			if err != nil {
				panic(err)
			}
			hashes[s.SenderID] = h
		}
	})
	return &shep.Routing{
		Services: map[string]*shep.Service{
			svcJobSeeker: {Recipient: labour.SenderID, Channel: "async", CheckSignature: true, PersonalData: true},
			svcOpen:      {Recipient: labour.SenderID, Channel: "async"},
			svcPersons:   {Recipient: "gbdfl", Channel: "sync", PersonalData: true},
			svcPrivate:   {Recipient: labour.SenderID, Channel: "async", PersonalData: true},
		},
		Systems: map[string]*shep.System{
			portal.SenderID:   {PasswordHash: hashes[portal.SenderID], Send: []string{svcJobSeeker, svcOpen, svcPrivate}, Poll: []string{portal.SenderID}},
			labour.SenderID:   {PasswordHash: hashes[labour.SenderID], Send: []string{svcPersons}, Poll: []string{labour.SenderID}},
			intruder.SenderID: {PasswordHash: hashes[intruder.SenderID], Send: []string{svcOpen}, Poll: []string{intruder.SenderID}},
		},
	}
}

// clock is an adjustable clock for the bus.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

type fixture struct {
	bus   *shep.Bus
	redis *redistest.Redis
	clock *clock
}

func newBus(t testing.TB, tune func(*shep.Config)) *fixture {
	t.Helper()
	return newBusOn(t, testRouting(t), tune)
}

// newBusOn is newBus on a routing table of the test's own.
func newBusOn(t testing.TB, routing *shep.Routing, tune func(*shep.Config)) *fixture {
	t.Helper()
	return newBusOnRedis(t, redistest.New(t), routing, tune)
}

// newBusOnRedis is newBusOn on a given Redis.
func newBusOnRedis(t testing.TB, r *redistest.Redis, routing *shep.Routing, tune func(*shep.Config)) *fixture {
	t.Helper()
	trust, err := signing.LoadTrustDir("../fixtures/pki/trust")
	if err != nil {
		t.Fatal(err)
	}
	crl := &signing.CRLSet{Sources: []string{"../fixtures/pki/crl.pem"}, Trust: trust}
	if err := crl.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	verifyAt := time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)
	c := &clock{now: time.Now()}
	cfg := shep.Config{
		KeyPrefix: r.Prefix,
		Verifier:  &signing.Verifier{Trust: trust, Revocation: &signing.Revocation{CRL: crl}, Now: func() time.Time { return verifyAt }},
		Now:       c.Now,
	}
	if tune != nil {
		tune(&cfg)
	}
	b, err := shep.New(r.Client, routing, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return &fixture{bus: b, redis: r, clock: c}
}

// clients runs a scenario against the bus in process and over HTTP.
func clients(t *testing.T, tune func(*shep.Config), scenario func(t *testing.T, f *fixture, c shep.Client)) {
	clientsOn(t, testRouting, tune, scenario)
}

// clientsOn is clients on buses whose routing table routing makes.
func clientsOn(t *testing.T, routing func(testing.TB) *shep.Routing, tune func(*shep.Config), scenario func(t *testing.T, f *fixture, c shep.Client)) {
	t.Run("in-process", func(t *testing.T) {
		f := newBusOn(t, routing(t), tune)
		scenario(t, f, f.bus)
	})
	t.Run("http", func(t *testing.T) {
		f := newBusOn(t, routing(t), tune)
		srv := httptest.NewServer(f.bus.Handler())
		t.Cleanup(srv.Close)
		scenario(t, f, &shep.HTTPClient{BaseURL: srv.URL})
	})
}

func signedDoc(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../fixtures/signing", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func send(t testing.TB, c shep.Client, sender soap.SenderInfo, svc string, data string, props ...soap.Property) *soap.SendMessageResponse {
	t.Helper()
	resp, err := c.SendMessage(context.Background(), shep.NewSendMessage(sender, svc, soap.TypeRequest, "", data, props...))
	if err != nil {
		t.Fatalf("sendMessage: %v", err)
	}
	return resp
}

func poll(t testing.TB, c shep.Client, sender soap.SenderInfo, amount int) []soap.AsyncMessage {
	t.Helper()
	resp, err := c.GetMessages(context.Background(), shep.NewGetMessages(sender, svcOpen, amount, 0))
	if err != nil {
		t.Fatalf("getMessages: %v", err)
	}
	return resp.Response.Messages
}

func confirm(t testing.TB, c shep.Client, sender soap.SenderInfo, m soap.AsyncMessage) {
	t.Helper()
	if _, err := c.SendDeliveryNotification(context.Background(), shep.NewDeliveryNotification(sender, m.MessageInfo, true, "")); err != nil {
		t.Fatalf("confirm: %v", err)
	}
}

func status(t testing.TB, c shep.Client, sender soap.SenderInfo, id string) *soap.GetMessageStatusResponse {
	t.Helper()
	resp, err := c.GetMessageStatus(context.Background(), shep.NewGetMessageStatus(sender, id))
	if err != nil {
		t.Fatalf("getMessageStatus: %v", err)
	}
	return resp
}

func prop(props []soap.Property, key string) string {
	for _, p := range props {
		if p.Key == key {
			return p.Value
		}
	}
	return ""
}

func faultCode(err error) string {
	var f *soap.Fault
	if errors.As(err, &f) {
		return f.Info.ErrorCode
	}
	if err == nil {
		return ""
	}
	return "not a fault: " + err.Error()
}

func TestSendGetConfirmInOrder(t *testing.T) {
	clients(t, nil, func(t *testing.T, f *fixture, c shep.Client) {
		var ids []string
		for i := 0; i < 10; i++ {
			ids = append(ids, send(t, c, portal, svcOpen, fmt.Sprintf("<Doc n=\"%d\"/>", i)).Response.MessageID)
		}
		if st := status(t, c, portal, ids[0]); st.Response.MessageState != soap.StateOnDelivery {
			t.Fatalf("before delivery: %s", st.Response.MessageState)
		}
		got := poll(t, c, labour, 100)
		if len(got) != 10 {
			t.Fatalf("got %d messages, want 10", len(got))
		}
		for i, m := range got {
			if m.MessageInfo.MessageID != ids[i] || m.MessageData.Data != fmt.Sprintf("<Doc n=\"%d\"/>", i) {
				t.Fatalf("message %d out of order or changed: %+v", i, m.MessageInfo)
			}
			if m.MessageInfo.CorrelationID != ids[i] || m.MessageInfo.Sender.Password != "" || prop(m.MessageInfo.Properties, shep.PropDeliveryCount) != "1" {
				t.Fatalf("message info %+v", m.MessageInfo)
			}
			confirm(t, c, labour, m)
		}
		st := status(t, c, portal, ids[3])
		if st.Response.MessageState != soap.StateDelivered || prop(st.Response.Properties, "CONFIRMED_AT") == "" {
			t.Fatalf("after confirm: %+v", st.Response)
		}
		// The body went to its recipient; the bus keeps only the record.
		rec := f.redis.Key("shep", "{ais-rynok-truda}", "m", ids[3])
		if fields, err := f.redis.Client.HKeys(context.Background(), rec).Result(); err != nil || len(fields) == 0 || slices.Contains(fields, "data") {
			t.Fatalf("a delivered message's record holds %v (%v): want its fields without the body", fields, err)
		}
		// Confirming twice is harmless; nothing is left to hand out.
		confirm(t, c, labour, got[0])
		if again := poll(t, c, labour, 10); len(again) != 0 {
			t.Fatalf("%d messages handed out again after confirmation", len(again))
		}
	})
}

func TestConcurrentConsumersGetDisjointLeases(t *testing.T) {
	f := newBus(t, nil)
	const n = 300
	for i := 0; i < n; i++ {
		send(t, f.bus, portal, svcOpen, fmt.Sprintf("<Doc n=\"%d\"/>", i))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				resp, err := f.bus.GetMessages(context.Background(), shep.NewGetMessages(labour, svcOpen, 7, 0))
				if err != nil {
					t.Error(err)
					return
				}
				if len(resp.Response.Messages) == 0 {
					return
				}
				mu.Lock()
				for _, m := range resp.Response.Messages {
					seen[m.MessageInfo.MessageID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d distinct messages handed out, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Fatalf("message %s leased %d times within its visibility timeout", id, k)
		}
	}
}

func TestExpiredLeaseIsRedeliveredAndDeadLettered(t *testing.T) {
	const visibility = 150 * time.Millisecond
	clients(t, func(c *shep.Config) { c.Visibility, c.MaxDeliveries = visibility, 3 }, func(t *testing.T, f *fixture, c shep.Client) {
		id := send(t, c, portal, svcOpen, "<Doc/>").Response.MessageID
		// A consumer takes the message and dies without confirming.
		for attempt := 1; attempt <= 3; attempt++ {
			got := poll(t, c, labour, 10)
			if len(got) != 1 || got[0].MessageInfo.MessageID != id || prop(got[0].MessageInfo.Properties, shep.PropDeliveryCount) != fmt.Sprint(attempt) {
				t.Fatalf("attempt %d: %+v", attempt, got)
			}
			if again := poll(t, c, labour, 10); len(again) != 0 {
				t.Fatalf("attempt %d: handed out again inside the visibility timeout", attempt)
			}
			time.Sleep(visibility + 50*time.Millisecond)
		}
		if got := poll(t, c, labour, 10); len(got) != 0 {
			t.Fatalf("handed out a 4th time with MaxDeliveries 3")
		}
		st := status(t, c, portal, id)
		if st.Response.MessageState != soap.StateDeliveryStopped || prop(st.Response.Properties, "REASON") != "max-deliveries" || prop(st.Response.Properties, shep.PropDeliveryCount) != "3" {
			t.Fatalf("status %+v", st.Response)
		}
		dead, err := f.redis.Client.XRange(context.Background(), f.redis.Key("shep", "{ais-rynok-truda}", "dlq"), "-", "+").Result()
		if err != nil || len(dead) != 1 || dead[0].Values["id"] != id {
			t.Fatalf("dead letters %v %v", dead, err)
		}

		// The operator sees it, with the reason, and hands it out again.
		letters, err := shep.DeadLetters(context.Background(), f.redis.Client, f.redis.Prefix, "ais-rynok-truda")
		if err != nil || len(letters) != 1 || letters[0].MessageID != id || letters[0].Reason != "max-deliveries" ||
			letters[0].Info.ServiceID != svcOpen || letters[0].StoppedAt.IsZero() {
			t.Fatalf("DeadLetters: %+v %v", letters, err)
		}
		if err := shep.Redeliver(context.Background(), f.redis.Client, f.redis.Prefix, "ais-rynok-truda", id); err != nil {
			t.Fatal(err)
		}
		if err := shep.Redeliver(context.Background(), f.redis.Client, f.redis.Prefix, "ais-rynok-truda", id); !errors.Is(err, shep.ErrNotStopped) {
			t.Fatalf("redelivering a message twice: %v", err)
		}
		if st := status(t, c, portal, id); st.Response.MessageState != soap.StateOnDelivery {
			t.Fatalf("status after redelivery: %+v", st.Response)
		}
		got := poll(t, c, labour, 10)
		if len(got) != 1 || got[0].MessageInfo.MessageID != id || prop(got[0].MessageInfo.Properties, shep.PropDeliveryCount) != "1" {
			t.Fatalf("redelivered dead letter: %+v", got)
		}
		confirm(t, c, labour, got[0])
		if st := status(t, c, portal, id); st.Response.MessageState != soap.StateDelivered {
			t.Fatalf("after redelivery and confirmation: %+v", st.Response)
		}
		if letters, _ := shep.DeadLetters(context.Background(), f.redis.Client, f.redis.Prefix, "ais-rynok-truda"); len(letters) != 0 {
			t.Fatalf("a delivered message is still listed as a dead letter: %+v", letters)
		}
	})
}

// A refused message comes back after RefusalDelay, doubled with each
// delivery: a recipient whose database is down must not burn its
// deliveries in a millisecond and send the message to the dead letters.
func TestRefusedMessageComesBackAfterADelay(t *testing.T) {
	tune := func(c *shep.Config) { c.RefusalDelay, c.Visibility = 300*time.Millisecond, 10*time.Second }
	clients(t, tune, func(t *testing.T, f *fixture, c shep.Client) {
		id := send(t, c, portal, svcOpen, "<Doc/>").Response.MessageID
		got := poll(t, c, labour, 1)
		for delivery, delay := 1, 300*time.Millisecond; delivery <= 2; delivery, delay = delivery+1, delay*2 {
			refused := time.Now()
			if _, err := c.SendDeliveryNotification(context.Background(), shep.NewDeliveryNotification(labour, got[0].MessageInfo, false, "database busy")); err != nil {
				t.Fatal(err)
			}
			st := status(t, c, portal, id)
			if st.Response.MessageState != soap.StateNotDelivered || prop(st.Response.Properties, "REASON") == "" {
				t.Fatalf("after refusal: %+v", st.Response)
			}
			if again := poll(t, c, labour, 1); len(again) != 0 {
				t.Fatalf("refused message handed out again at once")
			}
			resp, err := c.GetMessages(context.Background(), shep.NewGetMessages(labour, svcOpen, 1, 5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			got = resp.Response.Messages
			waited := time.Since(refused)
			if len(got) != 1 || got[0].MessageInfo.MessageID != id || prop(got[0].MessageInfo.Properties, shep.PropDeliveryCount) != fmt.Sprint(delivery+1) {
				t.Fatalf("refused message not handed out again: %+v", got)
			}
			if waited < delay {
				t.Fatalf("delivery %d came back after %s, before its delay of %s", delivery+1, waited, delay)
			}
		}
	})
}

func TestIdempotentSendUnderConcurrency(t *testing.T) {
	f := newBus(t, nil)
	key := soap.Property{Key: shep.PropIdempotencyKey, Value: "6f1c2a8e-4b7d-4f3e-9a51-0c2d7e8b9f10"}
	var wg sync.WaitGroup
	ids := make([]string, 20)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := f.bus.SendMessage(context.Background(), shep.NewSendMessage(portal, svcOpen, soap.TypeRequest, "", "<Doc/>", key))
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = resp.Response.MessageID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("repeats got different ids: %v", ids)
		}
	}
	if got := poll(t, f.bus, labour, 100); len(got) != 1 {
		t.Fatalf("%d copies enqueued, want 1", len(got))
	}
}

func TestLongPollWakesOnNewMessage(t *testing.T) {
	clients(t, nil, func(t *testing.T, f *fixture, c shep.Client) {
		go func() {
			time.Sleep(200 * time.Millisecond)
			send(t, c, portal, svcOpen, "<Late/>")
		}()
		resp, err := c.GetMessages(context.Background(), shep.NewGetMessages(labour, svcOpen, 5, 10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Response.Messages) != 1 || resp.Response.Messages[0].MessageData.Data != "<Late/>" {
			t.Fatalf("long poll returned %+v", resp.Response.Messages)
		}
	})
}

func TestResponseTravelsBackToTheRequester(t *testing.T) {
	clients(t, nil, func(t *testing.T, f *fixture, c shep.Client) {
		req := send(t, c, portal, svcJobSeeker, signedDoc(t, "valid.xml"))
		got, err := c.GetMessages(context.Background(), shep.NewGetMessages(labour, svcJobSeeker, 1, 0))
		if err != nil || len(got.Response.Messages) != 1 {
			t.Fatalf("%v %v", got, err)
		}
		confirm(t, c, labour, got.Response.Messages[0])
		note, err := c.SendMessage(context.Background(), shep.NewSendMessage(labour, svcJobSeeker, soap.TypeNotification, req.Response.CorrelationID, "<Accepted/>"))
		if err != nil {
			t.Fatal(err)
		}
		if note.Response.CorrelationID != req.Response.CorrelationID {
			t.Fatalf("notification left the chain: %+v", note.Response)
		}
		back, err := c.GetMessages(context.Background(), shep.NewGetMessages(portal, svcJobSeeker, 10, 0))
		if err != nil || len(back.Response.Messages) != 1 {
			t.Fatalf("%v %v", back, err)
		}
		m := back.Response.Messages[0].MessageInfo
		if m.MessageType != soap.TypeNotification || m.CorrelationID != req.Response.CorrelationID || m.Sender.SenderID != labour.SenderID {
			t.Fatalf("answer %+v", m)
		}
		// An answer for a request that does not exist is refused.
		_, err = c.SendMessage(context.Background(), shep.NewSendMessage(labour, svcJobSeeker, soap.TypeResponse, "no-such-request", signedDoc(t, "valid-provider.xml")))
		if faultCode(err) != soap.CodeFormat {
			t.Fatalf("answer to nothing: %v", err)
		}
	})
}

func TestFaults(t *testing.T) {
	clients(t, nil, func(t *testing.T, f *fixture, c shep.Client) {
		ctx := context.Background()
		wrongPassword := soap.SenderInfo{SenderID: portal.SenderID, Password: "guess"}
		nobody := soap.SenderInfo{SenderID: "nobody", Password: "x"}
		tests := []struct {
			name string
			call func() error
			code string
		}{
			{"wrong password", func() error {
				_, err := c.SendMessage(ctx, shep.NewSendMessage(wrongPassword, svcOpen, soap.TypeRequest, "", "<D/>"))
				return err
			}, soap.CodeUnknownService},
			{"unknown sender", func() error {
				_, err := c.SendMessage(ctx, shep.NewSendMessage(nobody, svcOpen, soap.TypeRequest, "", "<D/>"))
				return err
			}, soap.CodeUnknownService},
			{"unknown service", func() error {
				_, err := c.SendMessage(ctx, shep.NewSendMessage(portal, "no-such", soap.TypeRequest, "", "<D/>"))
				return err
			}, soap.CodeUnknownService},
			{"service not allowed", func() error {
				_, err := c.SendMessage(ctx, shep.NewSendMessage(intruder, svcJobSeeker, soap.TypeRequest, "", "<D/>"))
				return err
			}, soap.CodeUnknownService},
			{"sync service on async channel", func() error {
				_, err := c.SendMessage(ctx, shep.NewSendMessage(labour, svcPersons, soap.TypeRequest, "", "<D/>"))
				return err
			}, soap.CodeUnknownService},
			{"bad message type", func() error {
				_, err := c.SendMessage(ctx, shep.NewSendMessage(portal, svcOpen, "PING", "", "<D/>"))
				return err
			}, soap.CodeFormat},
			{"empty data", func() error {
				_, err := c.SendMessage(ctx, shep.NewSendMessage(portal, svcOpen, soap.TypeRequest, "", ""))
				return err
			}, soap.CodeFormat},
			{"response without correlation", func() error {
				_, err := c.SendMessage(ctx, shep.NewSendMessage(labour, svcOpen, soap.TypeResponse, "", "<D/>"))
				return err
			}, soap.CodeFormat},
			{"answer by a non-provider", func() error {
				_, err := c.SendMessage(ctx, shep.NewSendMessage(portal, svcOpen, soap.TypeResponse, "x", "<D/>"))
				return err
			}, soap.CodeUnknownService},
			{"bad EOL", func() error {
				_, err := c.SendMessage(ctx, shep.NewSendMessage(portal, svcOpen, soap.TypeRequest, "", "<D/>", soap.Property{Key: shep.PropEOL, Value: "soon"}))
				return err
			}, soap.CodeFormat},
			{"unsigned business data", func() error {
				_, err := c.SendMessage(ctx, shep.NewSendMessage(portal, svcJobSeeker, soap.TypeRequest, "", signedDoc(t, "unsigned.xml")))
				return err
			}, soap.CodeDataUnsigned},
			{"broken business signature", func() error {
				_, err := c.SendMessage(ctx, shep.NewSendMessage(portal, svcJobSeeker, soap.TypeRequest, "", signedDoc(t, "tampered-iin.xml")))
				return err
			}, soap.CodeDataSignatureBad},
			{"expired business certificate", func() error {
				_, err := c.SendMessage(ctx, shep.NewSendMessage(portal, svcJobSeeker, soap.TypeRequest, "", signedDoc(t, "expired.xml")))
				return err
			}, soap.CodeDataSignatureStale},
			{"missing attachment", func() error {
				_, err := c.SendMessage(ctx, shep.NewSendMessage(portal, svcOpen, soap.TypeRequest, "", "<D/>", soap.Property{Key: shep.PropAttachment, Value: shep.AttachmentRef([]byte("never uploaded"))}))
				return err
			}, soap.CodeFormat},
			{"malformed attachment reference", func() error {
				_, err := c.SendMessage(ctx, shep.NewSendMessage(portal, svcOpen, soap.TypeRequest, "", "<D/>", soap.Property{Key: shep.PropAttachment, Value: "md5:abc"}))
				return err
			}, soap.CodeFormat},
			{"poll someone else's queue", func() error {
				m := shep.NewGetMessages(intruder, svcOpen, 1, 0)
				m.Request.Properties = append(m.Request.Properties, soap.Property{Key: shep.PropQueue, Value: labour.SenderID})
				_, err := c.GetMessages(ctx, m)
				return err
			}, soap.CodeUnknownService},
			{"poll with a wrong password", func() error {
				_, err := c.GetMessages(ctx, shep.NewGetMessages(wrongPassword, svcOpen, 1, 0))
				return err
			}, soap.CodeUnknownService},
			{"confirm a message of another queue", func() error {
				id := send(t, c, portal, svcOpen, "<D/>").Response.MessageID
				_, err := c.SendDeliveryNotification(ctx, shep.NewDeliveryNotification(intruder, soap.AsyncMessageInfo{MessageID: id, ServiceID: svcOpen}, true, ""))
				return err
			}, soap.CodeFormat},
			{"confirm before handing out", func() error {
				id := send(t, c, portal, svcOpen, "<D/>").Response.MessageID
				_, err := c.SendDeliveryNotification(ctx, shep.NewDeliveryNotification(labour, soap.AsyncMessageInfo{MessageID: id, ServiceID: svcOpen}, true, ""))
				return err
			}, soap.CodeFormat},
			{"status of another system's message", func() error {
				id := send(t, c, portal, svcOpen, "<D/>").Response.MessageID
				_, err := c.GetMessageStatus(ctx, shep.NewGetMessageStatus(intruder, id))
				return err
			}, soap.CodeFormat},
		}
		for _, tt := range tests {
			if got := faultCode(tt.call()); got != tt.code {
				t.Errorf("%s: got %s, want %s", tt.name, got, tt.code)
			}
		}
		// A valid signed request passes the signature check.
		send(t, c, portal, svcJobSeeker, signedDoc(t, "valid.xml"))
	})
}

func TestEndOfLife(t *testing.T) {
	clients(t, nil, func(t *testing.T, f *fixture, c shep.Client) {
		eol := f.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		id := send(t, c, portal, svcOpen, "<D/>", soap.Property{Key: shep.PropEOL, Value: eol}).Response.MessageID
		f.clock.Add(2 * time.Hour)
		if st := status(t, c, portal, id); st.Response.MessageState != soap.StateDeliveryStopped {
			t.Fatalf("expired message reads %s", st.Response.MessageState)
		}
		if got := poll(t, c, labour, 10); len(got) != 0 {
			t.Fatalf("expired message handed out")
		}
		st := status(t, c, portal, id)
		if st.Response.MessageState != soap.StateDeliveryStopped || prop(st.Response.Properties, "REASON") != "expired" {
			t.Fatalf("status %+v", st.Response)
		}
	})
}

func TestAttachments(t *testing.T) {
	clients(t, nil, func(t *testing.T, f *fixture, c shep.Client) {
		ctx := context.Background()
		type store interface {
			PutAttachment(context.Context, soap.SenderInfo, []byte) (string, error)
			GetAttachment(context.Context, soap.SenderInfo, string) ([]byte, error)
		}
		s := c.(store)
		scan := []byte("%PDF-1.7 identity document scan")
		ref, err := s.PutAttachment(ctx, portal, scan)
		if err != nil || ref != shep.AttachmentRef(scan) {
			t.Fatalf("upload: %s %v", ref, err)
		}
		if _, err := s.PutAttachment(ctx, soap.SenderInfo{SenderID: portal.SenderID, Password: "x"}, scan); !errors.Is(err, shep.ErrUnauthorized) && err == nil {
			t.Fatal("upload with a wrong password accepted")
		}
		// Before the message is sent, the recipient may not read it.
		if _, err := s.GetAttachment(ctx, labour, ref); err == nil {
			t.Fatal("recipient read an attachment before any message referenced it")
		}
		// Two attachments, each under its own hash tag (on a cluster, in
		// slots of their own).
		photo := []byte("JFIF applicant's photograph")
		photoRef, err := s.PutAttachment(ctx, portal, photo)
		if err != nil {
			t.Fatal(err)
		}
		send(t, c, portal, svcOpen, "<D/>", soap.Property{Key: shep.PropAttachment, Value: ref}, soap.Property{Key: shep.PropAttachment, Value: photoRef})
		got, err := s.GetAttachment(ctx, labour, ref)
		if err != nil || string(got) != string(scan) {
			t.Fatalf("recipient read: %q %v", got, err)
		}
		if got, err := s.GetAttachment(ctx, labour, photoRef); err != nil || string(got) != string(photo) {
			t.Fatalf("recipient read the second attachment: %q %v", got, err)
		}
		if _, err := s.GetAttachment(ctx, intruder, ref); err == nil {
			t.Fatal("a third system read the attachment")
		}
		// Bytes changed in the store no longer match their reference.
		sum := ref[len("sha256:"):]
		if err := f.redis.Client.Set(ctx, f.redis.Key("shep", "att", "{"+sum+"}", "data"), "tampered", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		_, err = c.SendMessage(ctx, shep.NewSendMessage(portal, svcOpen, soap.TypeRequest, "", "<D/>", soap.Property{Key: shep.PropAttachment, Value: ref}))
		if faultCode(err) != soap.CodeFormat {
			t.Fatalf("mismatching bytes: %v", err)
		}
	})
}

func TestTrimForgetsOnlyConfirmed(t *testing.T) {
	f := newBus(t, func(c *shep.Config) { c.KeepConfirmed, c.MaxConfirmed = time.Hour, 2 })
	var confirmed []string
	for i := 0; i < 4; i++ {
		send(t, f.bus, portal, svcOpen, "<D/>")
	}
	pending := send(t, f.bus, portal, svcOpen, "<Pending/>").Response.MessageID
	for _, m := range poll(t, f.bus, labour, 4) {
		f.clock.Add(time.Second) // confirmations a second apart: "oldest" is well defined
		confirm(t, f.bus, labour, m)
		confirmed = append(confirmed, m.MessageInfo.MessageID)
	}
	n, err := f.bus.Trim(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("trim by count removed %d (%v), want 2", n, err)
	}
	if _, err := f.bus.GetMessageStatus(context.Background(), shep.NewGetMessageStatus(portal, confirmed[0])); err == nil {
		t.Fatal("oldest confirmed message still known")
	}
	status(t, f.bus, portal, confirmed[3])
	f.clock.Add(2 * time.Hour)
	if n, err := f.bus.Trim(context.Background()); err != nil || n != 2 {
		t.Fatalf("trim by age removed %d (%v), want 2", n, err)
	}
	if st := status(t, f.bus, portal, pending); st.Response.MessageState != soap.StateOnDelivery {
		t.Fatalf("unconfirmed message trimmed: %+v", st.Response)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	f := newBus(t, func(c *shep.Config) { c.Visibility, c.MaxDeliveries = 100*time.Millisecond, 1 })
	srv := httptest.NewServer(f.bus.Handler())
	defer srv.Close()
	metricsSrv := httptest.NewServer(f.bus.MetricsHandler())
	defer metricsSrv.Close()
	for i := 0; i < 3; i++ {
		send(t, f.bus, portal, svcOpen, "<D/>")
	}
	poll(t, f.bus, labour, 1) // one leased
	get := func(path string) (int, string) {
		base := srv.URL
		if path == "/metrics" {
			base = metricsSrv.URL // the metrics have a listener of their own
		}
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Fatalf("healthz %d", code)
	}
	if resp, err := http.Get(srv.URL + "/metrics"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the bus's public port serves its metrics: %v %v", resp, err)
	}
	_, metrics := get("/metrics")
	for _, want := range []string{
		`egov_bus_queue_depth{recipient="ais-rynok-truda"} 3`,
		`egov_bus_queue_leased{recipient="ais-rynok-truda"} 1`,
		`egov_bus_messages_sent_total{recipient="ais-rynok-truda"} 3`,
		`egov_bus_queue_oldest_age_seconds{recipient="ais-rynok-truda"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// The leased message expires and, with MaxDeliveries 1, is dead-lettered.
	time.Sleep(150 * time.Millisecond)
	poll(t, f.bus, labour, 10)
	_, metrics = get("/metrics")
	if !strings.Contains(metrics, `egov_bus_dead_letters_total{reason="max-deliveries",recipient="ais-rynok-truda"} 1`) ||
		!strings.Contains(metrics, `egov_bus_dead_letters{recipient="ais-rynok-truda"} 1`) {
		t.Errorf("dead letter not counted:\n%s", grepLines(metrics, "dead"))
	}
	// A body over the limit is refused as a format fault, not read whole.
	resp, err := http.Post(srv.URL+shep.PathAsync, soap.ContentType, strings.NewReader(strings.Repeat("x", shep.MaxEnvelope+10)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized envelope: %d", resp.StatusCode)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestHTTPRefusesMalformedEnvelopes(t *testing.T) {
	f := newBus(t, nil)
	srv := httptest.NewServer(f.bus.Handler())
	defer srv.Close()
	for name, body := range map[string]string{
		"not xml":         "hello",
		"wrong namespace": `<S:Envelope xmlns:S="` + soap.NSEnvelope + `"><S:Body><x:sendMessage xmlns:x="http://bip.bee.kz/AsyncChannel/v9/Types"/></S:Body></S:Envelope>`,
		"doctype":         `<!DOCTYPE x [<!ENTITY a "b">]><S:Envelope xmlns:S="` + soap.NSEnvelope + `"><S:Body/></S:Envelope>`,
		"a response sent as a request": func() string {
			data, _ := os.ReadFile("../fixtures/shep/async-sendMessageResponse.xml")
			return string(data)
		}(),
	} {
		resp, err := http.Post(srv.URL+shep.PathAsync, soap.ContentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		v, err := soap.Decode(data)
		fault, ok := v.(*soap.Fault)
		if err != nil || !ok || fault.Info.ErrorCode != soap.CodeFormat || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, answer %s", name, resp.StatusCode, data)
		}
	}
	// The golden sendMessage envelope, posted as is, passes decoding and
	// authentication and is refused for its end of life, long past.
	data, _ := os.ReadFile("../fixtures/shep/async-sendMessage.xml")
	resp, err := http.Post(srv.URL+shep.PathAsync, soap.ContentType, strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if v, _ := soap.Decode(body); v == nil || v.(*soap.Fault).Info.ErrorCode != soap.CodeFormat || !strings.Contains(string(body), "EOL") {
		t.Errorf("golden envelope: %s", body)
	}
}

// A recipient that will never accept a message rejects it: it goes to the
// dead letters at once, with the recipient's reason, and is not handed out
// again; a second notification about it changes nothing.
func TestRejectedMessageIsDeadLetteredAtOnce(t *testing.T) {
	clients(t, nil, func(t *testing.T, f *fixture, c shep.Client) {
		id := send(t, c, portal, svcOpen, "<Doc/>").Response.MessageID
		got := poll(t, c, labour, 1)
		if len(got) != 1 {
			t.Fatalf("polled %d", len(got))
		}
		if _, err := c.SendDeliveryNotification(context.Background(), shep.NewRejection(labour, got[0].MessageInfo, "answer-unmatched", "names another request")); err != nil {
			t.Fatal(err)
		}
		st := status(t, c, portal, id)
		if st.Response.MessageState != soap.StateDeliveryStopped || prop(st.Response.Properties, "REASON") != "rejected" ||
			prop(st.Response.Properties, shep.PropRefusalCode) != "answer-unmatched" {
			t.Fatalf("after rejection: %+v", st.Response)
		}
		dead, err := shep.DeadLetters(context.Background(), f.redis.Client, f.redis.Prefix, labour.SenderID)
		if err != nil || len(dead) != 1 || dead[0].MessageID != id || dead[0].Reason != "rejected" ||
			!strings.Contains(dead[0].LastError, "answer-unmatched names another request") {
			t.Fatalf("dead letters: %+v %v", dead, err)
		}
		if again, err := c.GetMessages(context.Background(), shep.NewGetMessages(labour, svcOpen, 1, 0)); err != nil || len(again.Response.Messages) != 0 {
			t.Fatalf("a rejected message was handed out again: %+v %v", again, err)
		}
		_, err = c.SendDeliveryNotification(context.Background(), shep.NewRejection(labour, got[0].MessageInfo, "answer-unmatched", "again"))
		if faultCode(err) != soap.CodeFormat {
			t.Fatalf("rejecting a dead letter again: %v", err)
		}
	})
}
