// Package sms simulates the SMS gateway the portal sends one-time codes and
// notices through, as a synchronous SHEP service: it accepts a message for
// a phone, "delivers" it into that phone's outbox in Redis (its own keys,
// prefix sms:) and answers with a delivery report. Testers read a phone's
// outbox with Outbox, OutboxHandler or `egovctl sms outbox`, as a citizen
// would read his phone.
package sms

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"egov/shep/soap"
)

// ServiceID is the service's code in the routing table.
const ServiceID = "SMS_SEND"

// Namespace of the request and report documents.
const Namespace = "urn:egov-gateway:sms:v1"

// Result codes of the delivery report (messageResult/code).
const (
	CodeDelivered = "00000"
	CodeRejected  = "00400" // not a phone number, or an empty or too long text
)

// Delivery states of a message.
const (
	StatusDelivered = "DELIVERED"
	StatusRejected  = "REJECTED"
)

// Limits of one message and of an outbox.
const (
	// MaxText is three SMS segments of Cyrillic text (UCS-2, 70 characters
	// each, 67 when concatenated).
	MaxText    = 201
	maxRequest = 4 << 10
)

// Request asks the gateway to send Text to Phone.
type Request struct {
	XMLName xml.Name `xml:"urn:egov-gateway:sms:v1 SMSRequest"`
	Phone   string   `xml:"Phone"`
	Text    string   `xml:"Text"`
}

// Result is the gateway's verdict, named in Russian and Kazakh.
type Result struct {
	Code   string `xml:"code"`
	NameRu string `xml:"nameRu"`
	NameKz string `xml:"nameKz"`
}

// DeliveryReport is the answer: which message, to which phone, in what
// state, when.
type DeliveryReport struct {
	XMLName     xml.Name   `xml:"urn:egov-gateway:sms:v1 DeliveryReport"`
	Result      Result     `xml:"messageResult"`
	MessageID   string     `xml:"MessageId,omitempty"`
	Phone       string     `xml:"Phone"`
	Status      string     `xml:"Status"`
	AcceptedAt  time.Time  `xml:"AcceptedAt"`
	DeliveredAt *time.Time `xml:"DeliveredAt,omitempty"`
}

// ReadReport is the one strict reader of a delivery report: it must be
// about phone and say DELIVERED.
func ReadReport(data string, phone Phone) (*DeliveryReport, error) {
	var r DeliveryReport
	if err := xml.Unmarshal([]byte(data), &r); err != nil {
		return nil, fmt.Errorf("sms gateway: answer is not a DeliveryReport: %w", err)
	}
	if r.Phone != string(phone) {
		return nil, fmt.Errorf("sms gateway: report about %s, sent to %s", Phone(r.Phone).Masked(), phone.Masked())
	}
	if r.Result.Code != CodeDelivered || r.Status != StatusDelivered || r.MessageID == "" {
		return nil, fmt.Errorf("sms gateway: message to %s not delivered: %s %s", phone.Masked(), r.Result.Code, r.Status)
	}
	return &r, nil
}

// Message is one message in a phone's outbox.
type Message struct {
	ID          string    `json:"id"`
	Phone       Phone     `json:"phone"`
	Text        string    `json:"text"`
	Sender      string    `json:"sender"` // the system that sent it, as the bus authenticated it
	Status      string    `json:"status"`
	AcceptedAt  time.Time `json:"acceptedAt"`
	DeliveredAt time.Time `json:"deliveredAt"`
}

// Config tunes the gateway.
type Config struct {
	// KeyPrefix is put before every Redis key (tests use their own).
	KeyPrefix string
	// Keep is how many messages an outbox holds, newest first (default 20);
	// KeepFor how long after its last message (default 24 h).
	Keep    int
	KeepFor time.Duration
	Now     func() time.Time
	Log     *slog.Logger
}

// Gateway is the SMS gateway on one Redis; it implements shep.SyncHandler.
type Gateway struct {
	rdb redis.UniversalClient
	cfg Config
}

// New returns the gateway.
func New(rdb redis.UniversalClient, cfg Config) *Gateway {
	if cfg.Keep <= 0 {
		cfg.Keep = 20
	}
	if cfg.KeepFor <= 0 {
		cfg.KeepFor = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Gateway{rdb: rdb, cfg: cfg}
}

// outboxKey is one phone's outbox; the phone is the hash tag.
func (g *Gateway) outboxKey(p Phone) string {
	return g.cfg.KeyPrefix + "sms:{" + string(p) + "}:outbox"
}

// HandleSync accepts an SMSRequest, delivers it into the phone's outbox and
// answers with the delivery report. A malformed document is a SHEP format
// fault; a wrong phone or text is a report with REJECTED.
func (g *Gateway) HandleSync(ctx context.Context, req *soap.SyncSendMessage) (string, error) {
	data := req.Request.RequestData.Data
	var q Request
	if len(data) > maxRequest || xml.Unmarshal([]byte(data), &q) != nil {
		return "", soap.NewFault("SendMessage", soap.CodeFormat, "requestData is not an SMSRequest", req.Request.RequestInfo.MessageDate)
	}
	now := g.cfg.Now().UTC()
	rep := DeliveryReport{Phone: q.Phone, AcceptedAt: now}
	phone, err := ParsePhone(q.Phone)
	if n := utf8.RuneCountInString(q.Text); err != nil || n == 0 || n > MaxText || !utf8.ValidString(q.Text) {
		rep.Result = Result{CodeRejected, "Сообщение не принято: неверный номер или текст", "Хабарлама қабылданбады: нөмір немесе мәтін қате"}
		rep.Status = StatusRejected
		return marshal(rep)
	}
	m := Message{ID: uuid.NewString(), Phone: phone, Text: q.Text, Sender: req.Request.RequestInfo.Sender.SenderID,
		Status: StatusDelivered, AcceptedAt: now, DeliveredAt: now}
	raw, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	key := g.outboxKey(phone)
	pipe := g.rdb.TxPipeline()
	pipe.LPush(ctx, key, raw)
	pipe.LTrim(ctx, key, 0, int64(g.cfg.Keep-1))
	pipe.Expire(ctx, key, g.cfg.KeepFor)
	if _, err := pipe.Exec(ctx); err != nil {
		return "", fmt.Errorf("sms outbox: %w", err)
	}
	// The text may hold a one-time code: it is never logged.
	g.cfg.Log.Info("sms delivered", "phone", phone.Masked(), "sender", m.Sender, "message_id", m.ID)
	rep.Result = Result{CodeDelivered, "Сообщение доставлено", "Хабарлама жеткізілді"}
	rep.MessageID, rep.Status, rep.DeliveredAt = m.ID, StatusDelivered, &now
	return marshal(rep)
}

func marshal(rep DeliveryReport) (string, error) {
	out, err := xml.Marshal(rep)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// Outbox returns the messages delivered to phone, newest first (at most
// Config.Keep of them, for Config.KeepFor).
func (g *Gateway) Outbox(ctx context.Context, phone Phone) ([]Message, error) {
	return Outbox(ctx, g.rdb, g.cfg.KeyPrefix, phone)
}

// Outbox reads phone's outbox from the gateway's keys under keyPrefix on
// rdb, for a tester's tool that is not the gateway's process.
func Outbox(ctx context.Context, rdb redis.UniversalClient, keyPrefix string, phone Phone) ([]Message, error) {
	g := &Gateway{cfg: Config{KeyPrefix: keyPrefix}}
	raws, err := rdb.LRange(ctx, g.outboxKey(phone), 0, -1).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]Message, 0, len(raws))
	for _, raw := range raws {
		var m Message
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			return nil, fmt.Errorf("sms outbox of %s: %w", phone.Masked(), err)
		}
		out = append(out, m)
	}
	return out, nil
}

// OutboxPath is where OutboxHandler serves.
const OutboxPath = "/sms/outbox"

// OutboxHandler serves GET /sms/outbox?phone=+7XXXXXXXXXX: the phone's
// messages as JSON, newest first. It is the simulator's window into the
// citizens' phones, for testers (it shows one-time codes): serve it on a
// loopback address of a test stack only.
func (g *Gateway) OutboxHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != OutboxPath {
			http.NotFound(w, r)
			return
		}
		phone, err := ParsePhone(r.URL.Query().Get("phone"))
		if err != nil {
			http.Error(w, "phone must be +7 and ten digits", http.StatusBadRequest)
			return
		}
		msgs, err := g.Outbox(r.Context(), phone)
		if err != nil {
			g.cfg.Log.Error("sms outbox", "phone", phone.Masked(), "err", err)
			http.Error(w, "outbox unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]any{"phone": phone, "messages": msgs})
	})
}
