package sms_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"egov/internal/redistest"
	"egov/shep"
	"egov/shep/soap"
	"egov/sms"
)

var at = time.Date(2026, 11, 24, 5, 0, 0, 0, time.UTC)

func TestSendOverTheSyncChannel(t *testing.T) {
	r := redistest.New(t)
	hash, err := shep.HashPassword("portal-secret")
	if err != nil {
		t.Fatal(err)
	}
	routing := &shep.Routing{
		Services: map[string]*shep.Service{sms.ServiceID: {Recipient: "sms-gateway", Channel: "sync", PersonalData: true}},
		Systems:  map[string]*shep.System{"egov-portal": {PasswordHash: hash, Send: []string{sms.ServiceID}, Poll: []string{"egov-portal"}}},
	}
	bus, err := shep.New(r.Client, routing, shep.Config{KeyPrefix: r.Prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	gw := sms.New(r.Client, sms.Config{KeyPrefix: r.Prefix, Keep: 3, Now: func() time.Time { return at },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	bus.HandleSync(sms.ServiceID, gw)
	srv := httptest.NewServer(bus.Handler())
	defer srv.Close()
	client := &shep.HTTPClient{BaseURL: srv.URL}

	send := func(phone, text string) (*sms.DeliveryReport, error) {
		data, _ := xml.Marshal(sms.Request{Phone: phone, Text: text})
		req := &soap.SyncSendMessage{}
		req.Request.RequestInfo = soap.SyncMessageInfo{MessageID: uuid.NewString(), ServiceID: sms.ServiceID, MessageDate: at,
			Sender: soap.SenderInfo{SenderID: "egov-portal", Password: "portal-secret"}}
		req.Request.RequestData.Data = string(data)
		resp, err := client.SendSync(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		return sms.ReadReport(resp.Response.ResponseData.Data, sms.Phone(phone))
	}
	tests := []struct {
		name, phone, text string
		delivered         bool
	}{
		{"a code", "+77011234534", "Код 123456", true},
		{"not a phone", "87011234534", "Код 123456", false},
		{"empty text", "+77011234534", "", false},
		{"too long", "+77011234534", strings.Repeat("я", sms.MaxText+1), false},
	}
	for _, tt := range tests {
		rep, err := send(tt.phone, tt.text)
		if (err == nil) != tt.delivered {
			t.Errorf("%s: report %+v, %v", tt.name, rep, err)
		}
		if err == nil && (rep.DeliveredAt == nil || !rep.DeliveredAt.Equal(at) || rep.MessageID == "") {
			t.Errorf("%s: report %+v", tt.name, rep)
		}
	}
	// The outbox keeps the newest Keep messages, newest first, with who sent them.
	for i := 0; i < 3; i++ {
		if _, err := send("+77011234534", "Уведомление "+string(rune('1'+i))); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := gw.Outbox(context.Background(), "+77011234534")
	if err != nil || len(msgs) != 3 || msgs[0].Text != "Уведомление 3" || msgs[2].Text != "Уведомление 1" || msgs[0].Sender != "egov-portal" || msgs[0].Status != sms.StatusDelivered {
		t.Fatalf("outbox %+v %v", msgs, err)
	}
	if other, _ := gw.Outbox(context.Background(), "+77027654321"); len(other) != 0 {
		t.Fatalf("another phone's outbox: %+v", other)
	}
	// The testers' window into the phone.
	view := httptest.NewServer(gw.OutboxHandler())
	defer view.Close()
	for _, tt := range []struct {
		phone  string
		status int
	}{{"+77011234534", 200}, {"8701", 400}} {
		resp, err := http.Get(view.URL + sms.OutboxPath + "?phone=" + url.QueryEscape(tt.phone))
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Messages []sms.Message }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || (tt.status == 200 && len(body.Messages) != 3) {
			t.Errorf("outbox view of %s: %d %+v", tt.phone, resp.StatusCode, body)
		}
	}
}

func TestPhone(t *testing.T) {
	tests := []struct{ in, masked string }{
		{"+77011234534", "+7 7** *** **34"},
		{"+77471112299", "+7 7** *** **99"},
	}
	for _, tt := range tests {
		p, err := sms.ParsePhone(tt.in)
		if err != nil || p.Masked() != tt.masked {
			t.Errorf("%s: %q %v", tt.in, p.Masked(), err)
		}
	}
	for _, bad := range []string{"", "87011234534", "+7701123453", "+770112345345", "+7 701 123 45 34"} {
		if _, err := sms.ParsePhone(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzHandleSync(f *testing.F) {
	f.Add(`<SMSRequest xmlns="urn:egov-gateway:sms:v1"><Phone>87011234534</Phone><Text>x</Text></SMSRequest>`)
	f.Add(`<SMSRequest xmlns="urn:egov-gateway:sms:v1"><Phone>`)
	r := redistest.New(f)
	gw := sms.New(r.Client, sms.Config{KeyPrefix: r.Prefix, Keep: 1, KeepFor: time.Minute, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	f.Fuzz(func(t *testing.T, data string) {
		req := &soap.SyncSendMessage{}
		req.Request.RequestData.Data = data
		out, err := gw.HandleSync(context.Background(), req)
		if err == nil {
			var r sms.DeliveryReport
			if xml.Unmarshal([]byte(out), &r) != nil || (r.Status != sms.StatusRejected && r.Status != sms.StatusDelivered) {
				t.Fatalf("answer %s", out)
			}
		}
	})
}
