package soap

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"reflect"
)

// operation is one body element of the contract.
type operation struct {
	ns, local string
	typ       reflect.Type
	faultName string // the operation's fault element, for requests
}

var operations = []operation{
	{NSSyncTypes, "SendMessage", reflect.TypeFor[SyncSendMessage](), "SendMessageFault1_SendMessageFault"},
	{NSSyncTypes, "SendMessageResponse", reflect.TypeFor[SyncSendMessageResponse](), ""},
	{NSAsyncTypes, "sendMessage", reflect.TypeFor[SendMessage](), "sendMessageFault1_sendMessageFault"},
	{NSAsyncTypes, "sendMessageResponse", reflect.TypeFor[SendMessageResponse](), ""},
	{NSAsyncTypes, "getMessages", reflect.TypeFor[GetMessages](), "getMessagesFault1_getMessagesFault"},
	{NSAsyncTypes, "getMessagesResponse", reflect.TypeFor[GetMessagesResponse](), ""},
	{NSAsyncTypes, "sendDeliveryNotification", reflect.TypeFor[SendDeliveryNotification](), "sendDeliveryNotificationFault1_sendDeliveryNotificationFault"},
	{NSAsyncTypes, "sendDeliveryNotificationResponse", reflect.TypeFor[SendDeliveryNotificationResponse](), ""},
	{NSAsyncTypes, "getMessageStatus", reflect.TypeFor[GetMessageStatus](), "getMessageStatusFault1_getMessageStatusFault"},
	{NSAsyncTypes, "getMessageStatusResponse", reflect.TypeFor[GetMessageStatusResponse](), ""},
}

func operationOf(v any) (operation, bool) {
	t := reflect.TypeOf(v)
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for _, op := range operations {
		if op.typ == t {
			return op, true
		}
	}
	return operation{}, false
}

// OperationName returns the body element name of a message (sendMessage,
// getMessagesResponse, …), or "Fault".
func OperationName(v any) string {
	if _, ok := v.(*Fault); ok {
		return "Fault"
	}
	op, _ := operationOf(v)
	return op.local
}

// FaultOperation returns the operation name to put on a fault answering
// request v: its own name for the asynchronous ones, SendMessage for sync.
func FaultOperation(v any) string {
	if op, ok := operationOf(v); ok && op.faultName != "" {
		return op.local
	}
	return "sendMessage"
}

const (
	xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
	envOpen   = `<S:Envelope xmlns:S="` + NSEnvelope + `"><S:Body>`
	envClose  = `</S:Body></S:Envelope>`
)

// Encode writes v (a *Fault or a pointer to one of the operation types) as
// a SOAP 1.1 envelope.
func Encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xmlHeader)
	buf.WriteString(envOpen)
	enc := xml.NewEncoder(&buf)
	if f, ok := v.(*Fault); ok {
		if err := encodeFault(&buf, enc, f); err != nil {
			return nil, err
		}
	} else {
		op, ok := operationOf(v)
		if !ok {
			return nil, fmt.Errorf("soap: %T is not a SHEP message", v)
		}
		if err := enc.EncodeElement(v, prefixed(op.ns, op.local)); err != nil {
			return nil, fmt.Errorf("soap: %w", err)
		}
		if err := enc.Flush(); err != nil {
			return nil, err
		}
	}
	buf.WriteString(envClose)
	return buf.Bytes(), nil
}

// prefixed is a start tag ns2:local with its namespace declared, so that
// the unqualified children stay in no namespace (a default namespace would
// pull them into the wrapper's).
func prefixed(ns, local string) xml.StartElement {
	return xml.StartElement{
		Name: xml.Name{Local: "ns2:" + local},
		Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns:ns2"}, Value: ns}},
	}
}

func encodeFault(buf *bytes.Buffer, enc *xml.Encoder, f *Fault) error {
	ns, name := NSAsyncTypes, f.Operation+"Fault1_"+f.Operation+"Fault"
	if f.Operation == "SendMessage" {
		ns = NSSyncTypes
	}
	code := "S:Server"
	if f.Client {
		code = "S:Client"
	}
	buf.WriteString("<S:Fault><faultcode>" + code + "</faultcode><faultstring>")
	if err := xml.EscapeText(buf, []byte(f.Info.ErrorMessage)); err != nil {
		return err
	}
	buf.WriteString("</faultstring><detail>")
	if err := enc.EncodeElement(&f.Info, prefixed(ns, name)); err != nil {
		return fmt.Errorf("soap: %w", err)
	}
	if err := enc.Flush(); err != nil {
		return err
	}
	buf.WriteString("</detail></S:Fault>")
	return nil
}
