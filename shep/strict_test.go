package shep_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"egov/shep"
	"egov/shep/soap"
)

// TestHTTPStrictEnvelopes posts envelopes over a real socket (issue 14):
// each malformed one is refused with SCE001 and a reason naming what is
// wrong; well-formed ones with an empty, absent or matching SOAPAction are
// carried out.
func TestHTTPStrictEnvelopes(t *testing.T) {
	f := newBus(t, nil)
	srv := httptest.NewServer(f.bus.Handler())
	defer srv.Close()

	encode := func(v any) string {
		data, err := soap.Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	// edit replaces old by new in an envelope and fails the test when old
	// is not there, so that no case silently posts the unedited envelope.
	edit := func(doc, old, new string) string {
		if !strings.Contains(doc, old) {
			t.Fatalf("%q is not in %s", old, doc)
		}
		return strings.Replace(doc, old, new, 1)
	}
	sendDoc := encode(shep.NewSendMessage(portal, svcOpen, soap.TypeRequest, "", "<Doc/>"))
	pollDoc := encode(shep.NewGetMessages(labour, svcOpen, 1, 0))
	sent, err := f.bus.SendMessage(context.Background(), shep.NewSendMessage(portal, svcOpen, soap.TypeRequest, "", "<Doc/>"))
	if err != nil {
		t.Fatal(err)
	}
	id := sent.Response.MessageID
	statusDoc := encode(shep.NewGetMessageStatus(portal, id))
	syncDoc := encode(func() *soap.SyncSendMessage {
		m := &soap.SyncSendMessage{}
		m.Request.RequestInfo = soap.SyncMessageInfo{MessageID: "3c2b1a0f-9e8d-4c7b-a6f5-e4d3c2b1a0f9", ServiceID: svcPersons, Sender: labour}
		m.Request.RequestData.Data = "<PersonRequest/>"
		return m
	}())

	const (
		portalSender   = `<sender><senderId>egov-portal</senderId><password>portal-secret</password></sender>`
		intruderSender = `<sender><senderId>intruder</senderId><password>intruder-secret</password></sender>`
		bodyEnd        = `</S:Body>`
		envEnd         = `</S:Envelope>`
		bodyStart      = `<S:Body>`
		asyncIface     = "http://bip.bee.kz/AsyncChannel/v10/Interfaces"
	)
	opOf := func(doc string) string { // the operation element of an envelope, as encoded
		start := strings.Index(doc, bodyStart) + len(bodyStart)
		return doc[start:strings.Index(doc, bodyEnd)]
	}
	messageInfo := sendDoc[strings.Index(sendDoc, "<messageInfo>") : strings.Index(sendDoc, "</messageInfo>")+len("</messageInfo>")]

	for _, tc := range []struct {
		name   string
		path   string
		action []string // nil: no SOAPAction header
		body   string
		// want is the answer's operation (success) or, for a refusal,
		// the text errorData must contain.
		want string
	}{
		// SOAPAction.
		{"no SOAPAction", shep.PathAsync, nil, sendDoc, "sendMessageResponse"},
		{"empty quoted SOAPAction (what SHEP clients send)", shep.PathAsync, []string{`""`}, sendDoc, "sendMessageResponse"},
		{"empty bare SOAPAction", shep.PathAsync, []string{``}, pollDoc, "getMessagesResponse"},
		{"matching SOAPAction", shep.PathAsync, []string{`sendMessage`}, sendDoc, "sendMessageResponse"},
		{"matching quoted SOAPAction", shep.PathAsync, []string{`"getMessages"`}, pollDoc, "getMessagesResponse"},
		{"matching interface URI", shep.PathAsync, []string{`"` + asyncIface + `/IAsyncChannel/getMessageStatus"`}, statusDoc, "getMessageStatusResponse"},
		{"mismatched SOAPAction", shep.PathAsync, []string{`getMessages`}, sendDoc, `SOAPAction "getMessages" does not name the operation sendMessage`},
		{"mismatched quoted URI", shep.PathAsync, []string{`"` + asyncIface + `/getMessages"`}, sendDoc, "does not name the operation sendMessage"},
		{"sync name for an async operation", shep.PathAsync, []string{`SendMessage`}, sendDoc, "does not name the operation sendMessage"},
		{"two SOAPAction headers", shep.PathAsync, []string{`""`, `sendMessage`}, sendDoc, "SOAPAction given 2 times"},
		{"unbalanced quote", shep.PathAsync, []string{`"sendMessage`}, sendDoc, "unbalanced quote"},

		// One of each element the contract allows once.
		{"two senders", shep.PathAsync, nil, edit(sendDoc, portalSender, portalSender+intruderSender), "<sender> appears more than once in <messageInfo>"},
		{"two messageInfo", shep.PathAsync, nil, edit(sendDoc, messageInfo, messageInfo+messageInfo), "<messageInfo> appears more than once in <request>"},
		{"two messageId", shep.PathAsync, nil, edit(statusDoc, "<messageId>"+id, "<messageId>other</messageId><messageId>"+id), "<messageId> appears more than once in <request>"},
		{"two requests", shep.PathAsync, nil, edit(pollDoc, "</request>", "</request><request><serviceId>open-data</serviceId></request>"), "<request> appears more than once in <getMessages>"},
		{"two amounts", shep.PathAsync, nil, edit(pollDoc, "<amount>1</amount>", "<amount>1</amount><amount>500</amount>"), "<amount> appears more than once"},
		{"two data", shep.PathAsync, nil, edit(sendDoc, "</data>", "</data><data>more</data>"), "<data> appears more than once in <messageData>"},
		{"sync: two requestInfo messageId", shep.PathSync, nil, edit(syncDoc, "<messageId>", "<messageId>x</messageId><messageId>"), "<messageId> appears more than once in <requestInfo>"},
		{"unknown element in messageInfo", shep.PathAsync, nil, edit(sendDoc, "</messageInfo>", "<priority>high</priority></messageInfo>"), "<messageInfo> has no element <priority>"},
		{"element inside data", shep.PathAsync, nil, edit(sendDoc, "<data>&lt;Doc/&gt;</data>", "<data><Doc/></data>"), "<data> holds element <Doc>"},
		{"required sender missing", shep.PathAsync, nil, edit(sendDoc, portalSender, ""), "<messageInfo> lacks <sender>"},

		// Envelope, Header and Body.
		{"two operations in the Body", shep.PathAsync, nil, edit(sendDoc, bodyEnd, opOf(pollDoc)+bodyEnd), "Body holds more than one element: getMessages after sendMessage"},
		{"two Bodies", shep.PathAsync, nil, edit(sendDoc, envEnd, bodyStart+opOf(pollDoc)+bodyEnd+envEnd), "two Bodies"},
		{"content after the Body", shep.PathAsync, nil, edit(sendDoc, envEnd, `<x:extra xmlns:x="urn:x"/>`+envEnd), "content after the Body"},
		{"content after the Envelope", shep.PathAsync, nil, sendDoc + `<S:Envelope xmlns:S="` + soap.NSEnvelope + `"/>`, "content after the Envelope"},
		{"two Headers", shep.PathAsync, nil, edit(sendDoc, bodyStart, `<S:Header/><S:Header/>`+bodyStart), "two Headers"},
		{"Header after the Body", shep.PathAsync, nil, edit(sendDoc, envEnd, `<S:Header/>`+envEnd), "content after the Body"},
		{"DTD", shep.PathAsync, nil, `<!DOCTYPE S:Envelope [<!ENTITY e "x">]>` + sendDoc, "DOCTYPE"},

		// The operation and the channel's path.
		{"async operation on the sync path", shep.PathSync, nil, sendDoc, "sendMessage belongs to the asynchronous channel"},
		{"sync operation on the async path", shep.PathAsync, nil, syncDoc, "SendMessage belongs to the synchronous channel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", soap.ContentType)
			for _, a := range tc.action {
				req.Header.Add("SOAPAction", a)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			v, err := soap.Decode(data)
			if err != nil {
				t.Fatalf("undecodable answer %d: %v\n%s", resp.StatusCode, err, data)
			}
			fault, isFault := v.(*soap.Fault)
			if !strings.HasSuffix(tc.want, "Response") {
				if !isFault || fault.Info.ErrorCode != soap.CodeFormat || resp.StatusCode != http.StatusBadRequest ||
					!strings.Contains(fault.Info.ErrorData, tc.want) {
					t.Fatalf("want SCE001 %q, got %d %s", tc.want, resp.StatusCode, data)
				}
				return
			}
			if resp.StatusCode != http.StatusOK || soap.OperationName(v) != tc.want {
				t.Fatalf("want %s, got %d %s", tc.want, resp.StatusCode, data)
			}
		})
	}
}

// TestHTTPFaultNamesTheOperation: a malformed getMessageStatus is answered
// in getMessageStatus's fault element, which is what a SHEP client of that
// operation expects to unmarshal.
func TestHTTPFaultNamesTheOperation(t *testing.T) {
	f := newBus(t, nil)
	srv := httptest.NewServer(f.bus.Handler())
	defer srv.Close()
	data, err := soap.Encode(shep.NewGetMessageStatus(portal, "x"))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(data), "</request>", "<extra/></request>", 1)
	resp, err := http.Post(srv.URL+shep.PathAsync, soap.ContentType, strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	v, err := soap.Decode(body)
	fault, ok := v.(*soap.Fault)
	if err != nil || !ok || fault.Operation != "getMessageStatus" || fault.Info.ErrorCode != soap.CodeFormat {
		t.Fatalf("answer %s (%v)", body, err)
	}
}
