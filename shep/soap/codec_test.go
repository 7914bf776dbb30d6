package soap_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"egov/shep/soap"
)

var update = flag.Bool("update", false, "rewrite fixtures/shep from the examples below")

const goldenDir = "../../fixtures/shep"

var at = time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)

const signedRequest = `<?xml version="1.0" encoding="UTF-8"?>
<ServiceRequest xmlns="urn:egov-gateway:request:v1"><RequestId>6f1c2a8e-4b7d-4f3e-9a51-0c2d7e8b9f10</RequestId>` + "\r\n" + `<Applicant><IIN>791028302728</IIN></Applicant></ServiceRequest>`

// examples has one message per operation and one fault per SHEP code.
func examples() map[string]any {
	m := map[string]any{}

	sm := &soap.SendMessage{}
	sm.Request.MessageInfo = soap.AsyncMessageInfo{ServiceID: "job-seeker-registration", MessageType: soap.TypeRequest,
		MessageDate: at, Sender: soap.SenderInfo{SenderID: "egov-portal", Password: "portal-secret"},
		Properties: []soap.Property{{Key: "IDEMPOTENCY_KEY", Value: "6f1c2a8e-4b7d-4f3e-9a51-0c2d7e8b9f10"}, {Key: "EOL", Value: "2026-06-08T06:00:00Z"}}}
	sm.Request.MessageData.Data = signedRequest
	m["async-sendMessage"] = sm

	smr := &soap.SendMessageResponse{}
	smr.Response.MessageID, smr.Response.CorrelationID, smr.Response.ResponseDate = "0b8e6e5c-1d2f-4c3a-8f7e-6a5b4c3d2e1f", "0b8e6e5c-1d2f-4c3a-8f7e-6a5b4c3d2e1f", at
	m["async-sendMessageResponse"] = smr

	gm := &soap.GetMessages{}
	gm.Request.ServiceID, gm.Request.Amount = "job-seeker-registration", 100
	gm.Request.Sender = &soap.SenderInfo{SenderID: "ais-rynok-truda", Password: "labour-secret"}
	gm.Request.RequestDate = &at
	gm.Request.Properties = []soap.Property{{Key: "WAIT_SECONDS", Value: "20"}}
	m["async-getMessages"] = gm

	gmr := &soap.GetMessagesResponse{}
	gmr.Response.ResponseDate, gmr.Response.SessionID = at, "{4d6c2b9a-0f1e-4a3b-9c8d-7e6f5a4b3c2d}"
	msg := soap.AsyncMessage{MessageInfo: sm.Request.MessageInfo, MessageData: sm.Request.MessageData}
	msg.MessageInfo.MessageID, msg.MessageInfo.CorrelationID = smr.Response.MessageID, smr.Response.CorrelationID
	msg.MessageInfo.Sender.Password = ""
	msg.MessageInfo.Properties = append(msg.MessageInfo.Properties, soap.Property{Key: "DELIVERY_COUNT", Value: "1"})
	gmr.Response.Messages = []soap.AsyncMessage{msg}
	m["async-getMessagesResponse"] = gmr
	m["async-getMessagesResponse-empty"] = &soap.GetMessagesResponse{}

	dn := &soap.SendDeliveryNotification{}
	dn.Request.Notification = soap.DeliveryNotification{MessageID: smr.Response.MessageID, ServiceID: "job-seeker-registration",
		NotificationDate: at, DeliveryStatus: soap.DeliveryStatusInfo{ReceiveStatus: string(soap.StateDelivered), StatusDate: at}}
	dn.Request.RequestDate = at
	dn.Request.Sender = &soap.SenderInfo{SenderID: "ais-rynok-truda", Password: "labour-secret"}
	m["async-sendDeliveryNotification"] = dn

	dnr := &soap.SendDeliveryNotificationResponse{}
	dnr.Response.NotificationID, dnr.Response.ResponseDate = "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d", at
	m["async-sendDeliveryNotificationResponse"] = dnr

	gs := &soap.GetMessageStatus{}
	gs.Request.MessageID, gs.Request.RequestDate = smr.Response.MessageID, at
	gs.Request.Sender = soap.SenderInfo{SenderID: "egov-portal", Password: "portal-secret"}
	m["async-getMessageStatus"] = gs

	gsr := &soap.GetMessageStatusResponse{}
	gsr.Response.MessageState = soap.StateDelivered
	gsr.Response.Status = soap.MessageStatusInfo{StatusCode: string(soap.StateDelivered), StatusMessage: "delivered and confirmed", StatusDate: at}
	gsr.Response.ResponseDate = at
	gsr.Response.Properties = []soap.Property{{Key: "DELIVERY_COUNT", Value: "1"}, {Key: "SENT_AT", Value: at.Format(time.RFC3339Nano)}}
	m["async-getMessageStatusResponse"] = gsr

	ss := &soap.SyncSendMessage{}
	ss.Request.RequestInfo = soap.SyncMessageInfo{MessageID: "3c2b1a0f-9e8d-4c7b-a6f5-e4d3c2b1a0f9", ServiceID: "GBDFL_PERSON_BY_IIN",
		MessageDate: at, Sender: soap.SenderInfo{SenderID: "ais-rynok-truda", Password: "labour-secret"}}
	ss.Request.RequestData.Data = `<PersonRequest xmlns="urn:egov-gateway:gbdfl:v1"><IIN>791028302728</IIN></PersonRequest>`
	m["sync-SendMessage"] = ss

	sr := &soap.SyncSendMessageResponse{}
	sr.Response.ResponseInfo = soap.SyncMessageInfoResponse{MessageID: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", CorrelationID: ss.Request.RequestInfo.MessageID,
		ResponseDate: at, Status: soap.StatusInfo{Code: soap.SuccessCode, Message: soap.SuccessString}}
	sr.Response.ResponseData.Data = `<PersonResponse xmlns="urn:egov-gateway:gbdfl:v1"><messageResult><code>00000</code></messageResult></PersonResponse>`
	m["sync-SendMessageResponse"] = sr

	for _, code := range soap.FaultCodes() {
		op := "sendMessage"
		switch code {
		case soap.CodeUnknownService:
			op = "getMessages"
		case soap.CodeInternal:
			op = "getMessageStatus"
		case soap.CodeFormat:
			op = "sendDeliveryNotification"
		case soap.CodeDataUnsigned:
			op = "SendMessage"
		}
		m["fault-"+code] = soap.NewFault(op, code, "example detail for "+code, at)
	}
	return m
}

func TestGoldenEnvelopes(t *testing.T) {
	ex := examples()
	if *update {
		_ = os.RemoveAll(goldenDir)
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, v := range ex {
			data, err := soap.Encode(v)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(goldenDir, name+".xml"), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(goldenDir, "*.xml"))
	if len(files) != len(ex) {
		t.Fatalf("%d golden files, %d examples: run with -update", len(files), len(ex))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".xml")
		t.Run(name, func(t *testing.T) {
			golden, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			v, err := soap.Decode(golden)
			if err != nil {
				t.Fatal(err)
			}
			if soap.OperationName(v) != soap.OperationName(ex[name]) {
				t.Fatalf("decoded %s, want %s", soap.OperationName(v), soap.OperationName(ex[name]))
			}
			again, err := soap.Encode(v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, golden) {
				t.Fatalf("re-encoded envelope differs:\n got %s\nwant %s", again, golden)
			}
		})
	}
}

func TestPayloadBytesSurvive(t *testing.T) {
	v, err := soap.Decode(mustEncode(t, examples()["async-sendMessage"]))
	if err != nil {
		t.Fatal(err)
	}
	if got := v.(*soap.SendMessage).Request.MessageData.Data; got != signedRequest {
		t.Fatalf("payload changed in transit:\n%q\n%q", got, signedRequest)
	}
}

func mustEncode(t *testing.T, v any) []byte {
	t.Helper()
	data, err := soap.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDecodeRefusesWhatIsNotTheContract(t *testing.T) {
	for name, doc := range map[string]string{
		"not xml":           "hello",
		"no envelope":       `<sendMessage xmlns="` + soap.NSAsyncTypes + `"/>`,
		"soap 1.2":          `<E:Envelope xmlns:E="http://www.w3.org/2003/05/soap-envelope"><E:Body/></E:Envelope>`,
		"unknown operation": `<S:Envelope xmlns:S="` + soap.NSEnvelope + `"><S:Body><x:launch xmlns:x="urn:x"/></S:Body></S:Envelope>`,
		"wrong namespace":   `<S:Envelope xmlns:S="` + soap.NSEnvelope + `"><S:Body><x:sendMessage xmlns:x="http://bip.bee.kz/AsyncChannel/v9/Types"/></S:Body></S:Envelope>`,
		"doctype":           `<!DOCTYPE x [<!ENTITY a "b">]><S:Envelope xmlns:S="` + soap.NSEnvelope + `"><S:Body/></S:Envelope>`,
		"bad date":          `<S:Envelope xmlns:S="` + soap.NSEnvelope + `"><S:Body><x:sendMessage xmlns:x="` + soap.NSAsyncTypes + `"><request><messageInfo><messageDate>yesterday</messageDate></messageInfo></request></x:sendMessage></S:Body></S:Envelope>`,
		"empty body":        `<S:Envelope xmlns:S="` + soap.NSEnvelope + `"><S:Body></S:Body></S:Envelope>`,
		"truncated":         `<S:Envelope xmlns:S="` + soap.NSEnvelope + `"><S:Body><x:sendMessage xmlns:x="` + soap.NSAsyncTypes + `">`,
	} {
		_, err := soap.Decode([]byte(doc))
		var fe *soap.FormatError
		if !asFormat(err, &fe) {
			t.Errorf("%s: got %v, want a FormatError", name, err)
		}
	}
}

func asFormat(err error, target **soap.FormatError) bool {
	fe, ok := err.(*soap.FormatError)
	if ok {
		*target = fe
	}
	return ok
}

// TestDecodeIsStrict: every structural looseness of issue 14 is a
// FormatError whose reason names it, and the request operation is known
// to the error once the Body named it.
func TestDecodeIsStrict(t *testing.T) {
	send := string(mustEncode(t, examples()["async-sendMessage"]))
	fault := string(mustEncode(t, examples()["fault-SCE001"]))
	edit := func(doc, old, new string) string {
		if !strings.Contains(doc, old) {
			t.Fatalf("%q is not in the envelope", old)
		}
		return strings.Replace(doc, old, new, 1)
	}
	deep := `<S:Envelope xmlns:S="` + soap.NSEnvelope + `"><S:Header>` + strings.Repeat("<h>", soap.MaxDepth) + strings.Repeat("</h>", soap.MaxDepth) + `</S:Header><S:Body/></S:Envelope>`
	for _, tc := range []struct{ name, doc, reason, op string }{
		{"two senders", edit(send, "</sender>", "</sender><sender><senderId>x</senderId></sender>"), "<sender> appears more than once in <messageInfo>", "sendMessage"},
		{"two passwords", edit(send, "</password>", "</password><password>y</password>"), "<password> appears more than once in <sender>", "sendMessage"},
		{"unqualified children only", edit(send, "<messageType>REQUEST</messageType>", `<x:messageType xmlns:x="urn:x">REQUEST</x:messageType>`), "is in namespace urn:x", "sendMessage"},
		{"text among elements", edit(send, "<messageInfo>", "<messageInfo>hello"), "text inside <messageInfo>", "sendMessage"},
		{"bad integer", edit(string(mustEncode(t, examples()["async-getMessages"])), "<amount>100</amount>", "<amount>many</amount>"), `<amount>: "many" is not an integer`, "getMessages"},
		{"processing instruction in the body", edit(send, "<request>", "<?php x?><request>"), `processing instruction "php"`, "sendMessage"},
		{"declaration not first", " " + send, `processing instruction "xml"`, ""},
		{"text after the Envelope", send + "x", "text after the Envelope", "sendMessage"},
		{"nesting", deep, "nested deeper than", ""},
		{"fault with two details", edit(fault, "</detail>", "</detail><detail/>"), "<detail> appears more than once in Fault", ""},
		{"fault detail of no operation", edit(edit(fault, "sendDeliveryNotificationFault1_sendDeliveryNotificationFault", "launchFault1_launchFault"), "sendDeliveryNotificationFault1_sendDeliveryNotificationFault", "launchFault1_launchFault"), "is not a SHEP fault element", ""},
		{"two errorCodes", edit(fault, "</errorCode>", "</errorCode><errorCode>SCE909</errorCode>"), "<errorCode> appears more than once", ""},
		{"fault without faultstring", fault[:strings.Index(fault, "<faultstring>")] + fault[strings.Index(fault, "</faultstring>")+len("</faultstring>"):], "Fault lacks <faultstring>", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := soap.Decode([]byte(tc.doc))
			var fe *soap.FormatError
			if !asFormat(err, &fe) || !strings.Contains(fe.Reason, tc.reason) || fe.Operation != tc.op {
				t.Fatalf("got %v (%+v), want a FormatError %q for %q", err, fe, tc.reason, tc.op)
			}
		})
	}
	// Repeating what the contract lets repeat stays accepted.
	v, err := soap.Decode([]byte(edit(send, "<properties>", "<properties><key>A</key><value>1</value></properties><properties>")))
	if err != nil || len(v.(*soap.SendMessage).Request.MessageInfo.Properties) != 3 {
		t.Fatalf("three properties: %v %v", v, err)
	}
}

func TestCheckAction(t *testing.T) {
	send, sync := examples()["async-sendMessage"], examples()["sync-SendMessage"]
	for _, tc := range []struct {
		name   string
		values []string
		msg    any
		ok     bool
	}{
		{"absent", nil, send, true},
		{"canonical", []string{soap.CanonicalAction}, send, true},
		{"bare empty", []string{" "}, sync, true},
		{"operation", []string{"sendMessage"}, send, true},
		{"quoted operation", []string{`"SendMessage"`}, sync, true},
		{"interface URI", []string{`"http://bip.bee.kz/SyncChannel/v10/Interfaces/ISyncChannel/SendMessage"`}, sync, true},
		{"interface URI without portType", []string{"http://bip.bee.kz/AsyncChannel/v10/Interfaces/sendMessage"}, send, true},
		{"another operation", []string{"getMessages"}, send, false},
		{"case matters: sync name on async", []string{"SendMessage"}, send, false},
		{"other channel's interface", []string{"http://bip.bee.kz/SyncChannel/v10/Interfaces/sendMessage"}, send, false},
		{"foreign URI ending in the name", []string{"urn:evil/sendMessage"}, send, false},
		{"twice", []string{`""`, `""`}, send, false},
		{"unbalanced", []string{`sendMessage"`}, send, false},
		{"lone quote", []string{`"`}, send, false},
		{"a fault has no action", []string{"sendMessage"}, examples()["fault-SCE001"], false},
	} {
		err := soap.CheckAction(tc.values, tc.msg)
		var fe *soap.FormatError
		if tc.ok != (err == nil) || (err != nil && !asFormat(err, &fe)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
