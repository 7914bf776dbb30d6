// Package mobile simulates the mobile citizens' register (база мобильных
// граждан) as a synchronous SHEP service: given an IIN it answers the phone
// number the citizen has confirmed with his operator, or a coded "no phone"
// answer. The portal asks it before sending a one-time code, so that a code
// goes only to the phone the state knows for that IIN, never to one the
// person at the keyboard types in.
package mobile

import (
	"context"
	_ "embed"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"

	"egov/shep/soap"
	"egov/signing"
	"egov/sms"
)

// ServiceID is the service's code in the routing table.
const ServiceID = "MOBILE_PHONE_BY_IIN"

// Namespace of the request and response documents.
const Namespace = "urn:egov-gateway:mobile:v1"

// Result codes of the register's answers (messageResult/code), as the
// persons register has them.
const (
	CodeFound    = "00000"
	CodeNotFound = "00404" // no phone is registered for the IIN
	CodeBadIIN   = "00400"
)

// maxRequest bounds the request document: an IIN in a small envelope.
const maxRequest = 4 << 10

// Entry is one record: an IIN and its confirmed phone.
type Entry struct {
	IIN        string `json:"iin"`
	Phone      string `json:"phone"`
	Registered string `json:"registered,omitempty"` // date the operator confirmed it
}

// Request asks for the phone of one IIN.
type Request struct {
	XMLName xml.Name `xml:"urn:egov-gateway:mobile:v1 PhoneRequest"`
	IIN     string   `xml:"IIN"`
}

// Result is the register's verdict, named in Russian and Kazakh.
type Result struct {
	Code   string `xml:"code"`
	NameRu string `xml:"nameRu"`
	NameKz string `xml:"nameKz"`
}

// Response is the answer document. It names the IIN it answers for, so
// that the asker can check the answer is about the citizen it asked about.
type Response struct {
	XMLName xml.Name `xml:"urn:egov-gateway:mobile:v1 PhoneResponse"`
	Result  Result   `xml:"messageResult"`
	IIN     string   `xml:"IIN"`
	Phone   string   `xml:"Phone,omitempty"`
}

// ReadResponse is the one strict reader of the register's answer: the
// document must be a PhoneResponse about iin, and a found phone must be a
// valid number. It returns the phone, or "" when the register holds none.
func ReadResponse(data, iin string) (sms.Phone, error) {
	var r Response
	if err := xml.Unmarshal([]byte(data), &r); err != nil {
		return "", fmt.Errorf("mobile register: answer is not a PhoneResponse: %w", err)
	}
	if r.IIN != iin {
		return "", fmt.Errorf("mobile register: answer about %s, asked about %s", signing.MaskIIN(r.IIN), signing.MaskIIN(iin))
	}
	switch r.Result.Code {
	case CodeFound:
		p, err := sms.ParsePhone(r.Phone)
		if err != nil {
			return "", fmt.Errorf("mobile register: found phone is not a number: %w", err)
		}
		return p, nil
	case CodeNotFound:
		return "", nil
	default:
		return "", fmt.Errorf("mobile register: result %s", r.Result.Code)
	}
}

// Register is the simulator; it implements shep.SyncHandler.
type Register struct {
	phones map[string]sms.Phone
}

//go:embed data/phones.json
var defaultData []byte

// Default returns the register over its built-in test data set (the same
// as fixtures/mobile/phones.json), so that a binary runs from any directory.
func Default() *Register {
	r, err := parse(defaultData, "built-in data set")
	if err != nil {
		panic(err) // the embedded file is checked by the package's tests
	}
	return r
}

// Load reads a data set in the format of fixtures/mobile/phones.json.
func Load(path string) (*Register, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(data, path)
}

// New returns a register over the given entries (tests and the
// reliability stack add synthetic citizens this way).
func New(entries []Entry) (*Register, error) {
	r := &Register{phones: map[string]sms.Phone{}}
	for _, e := range entries {
		if _, err := signing.ParseIIN(e.IIN); err != nil {
			return nil, fmt.Errorf("mobile register: entry with an invalid IIN: %w", err)
		}
		p, err := sms.ParsePhone(e.Phone)
		if err != nil {
			return nil, fmt.Errorf("mobile register: %s: %w", signing.MaskIIN(e.IIN), err)
		}
		if _, dup := r.phones[e.IIN]; dup {
			return nil, fmt.Errorf("mobile register: %s twice", signing.MaskIIN(e.IIN))
		}
		r.phones[e.IIN] = p
	}
	return r, nil
}

// File is the data set's format.
type File struct {
	Comment string  `json:"_comment,omitempty"`
	Phones  []Entry `json:"phones"`
}

func parse(data []byte, name string) (*Register, error) {
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("mobile register: %s: %w", name, err)
	}
	return New(f.Phones)
}

// Phone returns the phone the register holds for iin.
func (r *Register) Phone(iin string) (sms.Phone, bool) {
	p, ok := r.phones[iin]
	return p, ok
}

// HandleSync answers a PhoneRequest.
func (r *Register) HandleSync(_ context.Context, req *soap.SyncSendMessage) (string, error) {
	data := req.Request.RequestData.Data
	var q Request
	if len(data) > maxRequest || xml.Unmarshal([]byte(data), &q) != nil {
		return "", soap.NewFault("SendMessage", soap.CodeFormat, "requestData is not a PhoneRequest", req.Request.RequestInfo.MessageDate)
	}
	resp := Response{IIN: q.IIN}
	if _, err := signing.ParseIIN(q.IIN); err != nil {
		resp.Result = Result{CodeBadIIN, "ИИН указан неверно", "ЖСН қате көрсетілген"}
	} else if p, ok := r.phones[q.IIN]; !ok {
		resp.Result = Result{CodeNotFound, "Номер телефона не зарегистрирован в базе мобильных граждан", "Телефон нөмірі мобильді азаматтар базасында тіркелмеген"}
	} else {
		resp.Result = Result{CodeFound, "Сведения найдены", "Мәліметтер табылды"}
		resp.Phone = string(p)
	}
	out, err := xml.Marshal(resp)
	if err != nil {
		return "", err
	}
	return string(out), nil
}
