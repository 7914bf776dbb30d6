package mobile_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"egov/internal/redistest"
	"egov/registers/mobile"
	"egov/shep"
	"egov/shep/soap"
)

// TestFixtureIsTheBuiltInDataSet keeps fixtures/mobile/phones.json and the
// data set the binaries carry the same.
func TestFixtureIsTheBuiltInDataSet(t *testing.T) {
	fixture, err := os.ReadFile("../../fixtures/mobile/phones.json")
	if err != nil {
		t.Fatal(err)
	}
	builtIn, err := os.ReadFile("data/phones.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fixture, builtIn) {
		t.Fatal("fixtures/mobile/phones.json differs from registers/mobile/data/phones.json")
	}
	if _, err := mobile.Load("../../fixtures/mobile/phones.json"); err != nil {
		t.Fatal(err)
	}
}

func TestDataSetIsChecked(t *testing.T) {
	tests := []struct {
		name    string
		entries []mobile.Entry
	}{
		{"invalid IIN", []mobile.Entry{{IIN: "123456789011", Phone: "+77011234534"}}},
		{"invalid phone", []mobile.Entry{{IIN: "791028302728", Phone: "87011234534"}}},
		{"IIN twice", []mobile.Entry{{IIN: "791028302728", Phone: "+77011234534"}, {IIN: "791028302728", Phone: "+77011234535"}}},
	}
	for _, tt := range tests {
		if _, err := mobile.New(tt.entries); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

func TestRegisterOverTheSyncChannel(t *testing.T) {
	r := redistest.New(t)
	hash, err := shep.HashPassword("portal-secret")
	if err != nil {
		t.Fatal(err)
	}
	routing := &shep.Routing{
		Services: map[string]*shep.Service{mobile.ServiceID: {Recipient: "mobile-register", Channel: "sync", PersonalData: true}},
		Systems:  map[string]*shep.System{"egov-portal": {PasswordHash: hash, Send: []string{mobile.ServiceID}, Poll: []string{"egov-portal"}}},
	}
	bus, err := shep.New(r.Client, routing, shep.Config{KeyPrefix: r.Prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	bus.HandleSync(mobile.ServiceID, mobile.Default())
	srv := httptest.NewServer(bus.Handler())
	defer srv.Close()
	client := &shep.HTTPClient{BaseURL: srv.URL}

	ask := func(data string) (string, error) {
		req := &soap.SyncSendMessage{}
		req.Request.RequestInfo = soap.SyncMessageInfo{MessageID: uuid.NewString(), ServiceID: mobile.ServiceID, MessageDate: time.Now(),
			Sender: soap.SenderInfo{SenderID: "egov-portal", Password: "portal-secret"}}
		req.Request.RequestData.Data = data
		resp, err := client.SendSync(context.Background(), req)
		if err != nil {
			return "", err
		}
		return resp.Response.ResponseData.Data, nil
	}
	request := func(iin string) string { b, _ := xml.Marshal(mobile.Request{IIN: iin}); return string(b) }
	tests := []struct {
		name, iin, phone string
		wantErr          bool
	}{
		{"a phone", "791028302728", "+77011234534", false},
		{"no phone", "100203500443", "", false},
		{"not an IIN", "123456789011", "", true},
	}
	for _, tt := range tests {
		data, err := ask(request(tt.iin))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		phone, err := mobile.ReadResponse(data, tt.iin)
		if string(phone) != tt.phone || (err != nil) != tt.wantErr {
			t.Errorf("%s: %q %v, want %q (error %v)", tt.name, phone, err, tt.phone, tt.wantErr)
		}
	}
	// An answer about another IIN is not taken for this one.
	data, _ := ask(request("791028302728"))
	if _, err := mobile.ReadResponse(data, "900101300811"); err == nil {
		t.Fatal("an answer about another IIN was read")
	}
	var f *soap.Fault
	if _, err := ask("<PersonRequest/>"); !errors.As(err, &f) || f.Info.ErrorCode != soap.CodeFormat {
		t.Fatalf("not a PhoneRequest: %v", err)
	}
}

func FuzzHandleSync(f *testing.F) {
	f.Add(`<PhoneRequest xmlns="urn:egov-gateway:mobile:v1"><IIN>791028302728</IIN></PhoneRequest>`)
	f.Add(`<PhoneRequest xmlns="urn:egov-gateway:mobile:v1"><IIN>`)
	reg := mobile.Default()
	f.Fuzz(func(t *testing.T, data string) {
		req := &soap.SyncSendMessage{}
		req.Request.RequestData.Data = data
		out, err := reg.HandleSync(context.Background(), req)
		if err == nil {
			var r mobile.Response
			if xml.Unmarshal([]byte(out), &r) != nil {
				t.Fatalf("answer is not a PhoneResponse: %s", out)
			}
		}
	})
}
