package soap

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"reflect"
	"strings"
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

// FormatError is an envelope that does not match the contract (SHEP code
// SCE001).
type FormatError struct{ Reason string }

func (e *FormatError) Error() string { return "soap: " + e.Reason }

func formatErr(format string, args ...any) error {
	return &FormatError{Reason: fmt.Sprintf(format, args...)}
}

// Decode reads one envelope and returns a pointer to the operation type
// its body holds, or a *Fault. DOCTYPE, unknown operations and bodies that
// do not fit the contract are a *FormatError.
func Decode(data []byte) (any, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	state := 0 // 0 before Envelope, 1 in Envelope, 2 in Body
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, formatErr("%v", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, formatErr("DOCTYPE and other directives are not allowed")
		case xml.ProcInst:
			if state != 0 || t.Target != "xml" {
				return nil, formatErr("processing instruction %q", t.Target)
			}
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, formatErr("unexpected text")
			}
		case xml.EndElement:
			return nil, formatErr("empty %s", t.Name.Local)
		case xml.StartElement:
			switch {
			case state == 0 && t.Name.Space == NSEnvelope && t.Name.Local == "Envelope":
				state = 1
			case state == 1 && t.Name.Space == NSEnvelope && t.Name.Local == "Header":
				if err := d.Skip(); err != nil {
					return nil, formatErr("%v", err)
				}
			case state == 1 && t.Name.Space == NSEnvelope && t.Name.Local == "Body":
				state = 2
			case state == 2 && t.Name.Space == NSEnvelope && t.Name.Local == "Fault":
				return decodeFault(d, &t)
			case state == 2:
				return decodeBody(d, &t)
			default:
				return nil, formatErr("unexpected element {%s}%s, want a SOAP 1.1 envelope", t.Name.Space, t.Name.Local)
			}
		}
	}
}

func decodeBody(d *xml.Decoder, start *xml.StartElement) (any, error) {
	for _, op := range operations {
		if op.ns == start.Name.Space && op.local == start.Name.Local {
			v := reflect.New(op.typ).Interface()
			if err := d.DecodeElement(v, start); err != nil {
				return nil, formatErr("%s: %v", op.local, err)
			}
			return v, nil
		}
	}
	return nil, formatErr("unknown operation {%s}%s", start.Name.Space, start.Name.Local)
}

func decodeFault(d *xml.Decoder, start *xml.StartElement) (any, error) {
	var raw struct {
		Code   string `xml:"faultcode"`
		String string `xml:"faultstring"`
		Detail struct {
			Inner []byte `xml:",innerxml"`
		} `xml:"detail"`
	}
	if err := d.DecodeElement(&raw, start); err != nil {
		return nil, formatErr("fault: %v", err)
	}
	f := &Fault{Client: strings.HasSuffix(raw.Code, ":Client") || raw.Code == "Client"}
	dd := xml.NewDecoder(bytes.NewReader(raw.Detail.Inner))
	for {
		tok, err := dd.Token()
		if err != nil {
			return nil, formatErr("fault without ErrorInfo detail")
		}
		if se, ok := tok.(xml.StartElement); ok {
			op, _, found := strings.Cut(se.Name.Local, "Fault1_")
			if !found {
				return nil, formatErr("fault detail %s is not a SHEP fault element", se.Name.Local)
			}
			f.Operation = op
			if err := dd.DecodeElement(&f.Info, &se); err != nil {
				return nil, formatErr("fault detail: %v", err)
			}
			return f, nil
		}
	}
}
