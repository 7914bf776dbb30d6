package gbdfl_test

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"egov/internal/redistest"
	"egov/shep"
	"egov/shep/gbdfl"
	"egov/shep/soap"
)

func TestPersonsRegisterOverTheSyncChannel(t *testing.T) {
	reg, err := gbdfl.Load("../../fixtures/gbdfl/persons.json")
	if err != nil {
		t.Fatal(err)
	}
	r := redistest.New(t)
	hash, err := shep.HashPassword("labour-secret")
	if err != nil {
		t.Fatal(err)
	}
	routing := &shep.Routing{
		Services: map[string]*shep.Service{gbdfl.ServiceID: {Recipient: "gbdfl", Channel: "sync", PersonalData: true}},
		Systems:  map[string]*shep.System{"ais-rynok-truda": {PasswordHash: hash, Send: []string{gbdfl.ServiceID}, Poll: []string{"ais-rynok-truda"}}},
	}
	bus, err := shep.New(r.Client, routing, shep.Config{KeyPrefix: r.Prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	srv := httptest.NewServer(bus.Handler())
	defer srv.Close()
	client := &shep.HTTPClient{BaseURL: srv.URL}
	sender := soap.SenderInfo{SenderID: "ais-rynok-truda", Password: "labour-secret"}

	ask := func(iin string) (*gbdfl.Response, error) {
		req := &soap.SyncSendMessage{}
		req.Request.RequestInfo = soap.SyncMessageInfo{MessageID: "3c2b1a0f-9e8d-4c7b-a6f5-e4d3c2b1a0f9", ServiceID: gbdfl.ServiceID, MessageDate: time.Now(), Sender: sender}
		data, _ := xml.Marshal(gbdfl.Request{IIN: iin})
		req.Request.RequestData.Data = string(data)
		resp, err := client.SendSync(context.Background(), req)
		if err != nil {
			return nil, err
		}
		if resp.Response.ResponseInfo.Status.Code != soap.SuccessCode || resp.Response.ResponseInfo.CorrelationID != req.Request.RequestInfo.MessageID {
			t.Fatalf("response info %+v", resp.Response.ResponseInfo)
		}
		var out gbdfl.Response
		if err := xml.Unmarshal([]byte(resp.Response.ResponseData.Data), &out); err != nil {
			t.Fatal(err)
		}
		return &out, nil
	}
	// Service not registered as a handler yet: unavailable.
	if _, err := ask("791028302728"); !isFault(err, soap.CodeUnknownService) {
		t.Fatalf("before registration: %v", err)
	}
	bus.HandleSync(gbdfl.ServiceID, reg)

	found, err := ask("791028302728")
	if err != nil || found.Result.Code != gbdfl.CodeFound || found.Person == nil || found.Person.Surname != "ЖАҚСЫЛЫҚОВ" || found.Person.IdentityDocument.Expires == "" {
		t.Fatalf("found: %+v %v", found, err)
	}
	missing, err := ask("950302500359") // valid IIN, nobody in the register
	if err != nil || missing.Result.Code != gbdfl.CodeNotFound || missing.Person != nil || missing.Result.NameRu == "" || missing.Result.NameKz == "" {
		t.Fatalf("missing: %+v %v", missing, err)
	}
	bad, err := ask("123456789011")
	if err != nil || bad.Result.Code != gbdfl.CodeBadIIN {
		t.Fatalf("bad IIN: %+v %v", bad, err)
	}
	rep, err := shep.VerifyEvidence(context.Background(), r.Client, r.Prefix)
	if err != nil || !rep.Intact || rep.Records != 6 {
		t.Fatalf("sync evidence %+v %v", rep, err)
	}
}

func isFault(err error, code string) bool {
	var f *soap.Fault
	return errors.As(err, &f) && f.Info.ErrorCode == code
}

// The asker reads only an answer about whom it asked.
func TestReadResponseIsStrict(t *testing.T) {
	r, err := gbdfl.LoadOrBuiltIn("")
	if err != nil {
		t.Fatal(err)
	}
	ask := func(iin string) string {
		t.Helper()
		q, _ := xml.Marshal(gbdfl.Request{IIN: iin})
		req := &soap.SyncSendMessage{}
		req.Request.RequestData.Data = string(q)
		out, err := r.HandleSync(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	found := ask("791028302728")
	if p, err := gbdfl.ReadResponse(found, "791028302728"); err != nil || p == nil || p.Surname == "" {
		t.Fatalf("a person of the register: %+v %v", p, err)
	}
	if p, err := gbdfl.ReadResponse(ask("920305400551"), "920305400551"); err != nil || p != nil {
		t.Fatalf("nobody of the register: %+v %v, want none", p, err)
	}
	for name, tt := range map[string]struct{ data, iin string }{
		"about another person": {found, "900101300811"},
		"a bad IIN's answer":   {ask("791028302729"), "791028302729"},
		"found without whom":   {strings.Replace(found, found[strings.Index(found, "<Person>"):strings.Index(found, "</PersonResponse>")], "", 1), "791028302728"},
		"another register's":   {"<RecipientResponse/>", "791028302728"},
		"an unknown result":    {strings.Replace(found, "00000", "00500", 1), "791028302728"},
	} {
		if p, err := gbdfl.ReadResponse(tt.data, tt.iin); err == nil {
			t.Errorf("%s: read as %+v", name, p)
		}
	}
}
