// Package tsa simulates the register of recipients of targeted social
// assistance (получатели адресной социальной помощи, АСП) as a
// synchronous SHEP service: given an IIN and a day it answers whether the
// person's family receives the assistance on that day, with the family's
// case and the end of the assigned period, or a coded "not a recipient".
// АРМ РШЭП asks it to issue the certificate of S7, which the regulation
// makes fully automated (003:717-718).
package tsa

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"time"

	"egov/fixtures"
	"egov/shep/soap"
	"egov/signing"
)

// ServiceID is the service's code in the routing table.
const ServiceID = "TSA_RECIPIENT_BY_IIN"

// Result codes of the register's answers (messageResult/code), as the
// persons register has them.
const (
	CodeFound    = "00000" // the family receives the assistance on the day
	CodeNotFound = "00404" // no assignment covers the person on the day
	CodeBadIIN   = "00400"
)

// Family is one assignment of the assistance: the family's case, its
// members and the period it is assigned for.
type Family struct {
	Case    string   `json:"case"`
	Region  string   `json:"region"`
	Members []string `json:"members"`
	From    string   `json:"from"`  // YYYY-MM-DD
	Until   string   `json:"until"` // YYYY-MM-DD, inclusive
	Note    string   `json:"note,omitempty"`
}

// Request asks about one IIN on one day.
type Request struct {
	XMLName xml.Name `xml:"urn:egov-gateway:tsa:v1 RecipientRequest"`
	IIN     string   `xml:"IIN"`
	Date    string   `xml:"Date"` // YYYY-MM-DD
}

// Result is the register's verdict, named in Russian and Kazakh.
type Result struct {
	Code   string `xml:"code"`
	NameRu string `xml:"nameRu"`
	NameKz string `xml:"nameKz"`
}

// Response is the answer document; it names the IIN and day it answers
// for, so that the asker can check it is about what it asked.
type Response struct {
	XMLName xml.Name `xml:"urn:egov-gateway:tsa:v1 RecipientResponse"`
	Result  Result   `xml:"messageResult"`
	IIN     string   `xml:"IIN"`
	Date    string   `xml:"Date"`
	Case    string   `xml:"Case,omitempty"`
	Until   string   `xml:"Until,omitempty"`
	Members int      `xml:"Members,omitempty"`
}

// Answer is what the register said, as its asker reads it.
type Answer struct {
	Belongs bool
	Case    string
	Until   string
}

// ReadResponse is the one strict reader of the register's answer: a
// RecipientResponse about iin on date, found or not found.
func ReadResponse(data, iin, date string) (Answer, error) {
	var r Response
	if err := xml.Unmarshal([]byte(data), &r); err != nil {
		return Answer{}, fmt.Errorf("assistance register: answer is not a RecipientResponse: %w", err)
	}
	if r.IIN != iin || r.Date != date {
		return Answer{}, fmt.Errorf("assistance register: answer about %s on %s, asked about %s on %s",
			signing.MaskIIN(r.IIN), r.Date, signing.MaskIIN(iin), date)
	}
	switch r.Result.Code {
	case CodeFound:
		if r.Case == "" || r.Until < date {
			return Answer{}, fmt.Errorf("assistance register: a found assignment without its case or ending before the day")
		}
		return Answer{Belongs: true, Case: r.Case, Until: r.Until}, nil
	case CodeNotFound:
		return Answer{}, nil
	default:
		return Answer{}, fmt.Errorf("assistance register: result %s", r.Result.Code)
	}
}

// Register is the simulator; it implements shep.SyncHandler.
type Register struct {
	byMember map[string][]*Family
}

// File is the data set's format (fixtures/tsa/families.json).
type File struct {
	Source   string    `json:"_source,omitempty"`
	Families []*Family `json:"families"`
}

// Parse reads a data set; name says where it comes from in errors.
func Parse(data []byte, name string) (*Register, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // a misspelt "until" must not make an ended period open-ended
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("assistance register: %s: %w", name, err)
	}
	r := &Register{byMember: map[string][]*Family{}}
	for _, fam := range f.Families {
		if fam == nil {
			return nil, fmt.Errorf("assistance register: %s: a family that is null", name)
		}
		from, err1 := time.Parse(time.DateOnly, fam.From)
		until, err2 := time.Parse(time.DateOnly, fam.Until)
		if fam.Case == "" || err1 != nil || err2 != nil || until.Before(from) || len(fam.Members) == 0 {
			return nil, fmt.Errorf("assistance register: %s: case %q needs a case number, members and a period from ≤ until", name, fam.Case)
		}
		for _, iin := range fam.Members {
			if _, err := signing.ParseIIN(iin); err != nil {
				return nil, fmt.Errorf("assistance register: %s: case %s: %w", name, fam.Case, err)
			}
			r.byMember[iin] = append(r.byMember[iin], fam)
		}
	}
	return r, nil
}

// LoadOrBuiltIn reads the data set at path, or, when path is empty, the
// built-in one (fixtures/tsa/families.json).
func LoadOrBuiltIn(path string) (*Register, error) {
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return Parse(data, path)
	}
	data, err := fixtures.Read(fixtures.Assistance)
	if err != nil {
		return nil, err
	}
	return Parse(data, "built-in "+fixtures.Assistance)
}

// Lookup returns the assignment covering iin on date (YYYY-MM-DD), if any.
func (r *Register) Lookup(iin, date string) (*Family, bool) {
	for _, f := range r.byMember[iin] {
		if f.From <= date && date <= f.Until {
			return f, true
		}
	}
	return nil, false
}

// HandleSync answers a RecipientRequest.
func (r *Register) HandleSync(_ context.Context, req *soap.SyncSendMessage) (string, error) {
	var q Request
	if err := xml.Unmarshal([]byte(req.Request.RequestData.Data), &q); err != nil {
		return "", soap.NewFault("SendMessage", soap.CodeFormat, "requestData is not a RecipientRequest", req.Request.RequestInfo.MessageDate)
	}
	if _, err := time.Parse(time.DateOnly, q.Date); err != nil {
		return "", soap.NewFault("SendMessage", soap.CodeFormat, "RecipientRequest/Date is not a date (YYYY-MM-DD)", req.Request.RequestInfo.MessageDate)
	}
	resp := Response{IIN: q.IIN, Date: q.Date}
	if _, err := signing.ParseIIN(q.IIN); err != nil {
		resp.Result = Result{CodeBadIIN, "ИИН указан неверно", "ЖСН қате көрсетілген"}
	} else if f, ok := r.Lookup(q.IIN, q.Date); ok {
		resp.Result = Result{CodeFound, "Семья является получателем адресной социальной помощи", "Отбасы атаулы әлеуметтік көмек алушы болып табылады"}
		resp.Case, resp.Until, resp.Members = f.Case, f.Until, len(f.Members)
	} else {
		resp.Result = Result{CodeNotFound, "Сведения о назначении адресной социальной помощи отсутствуют", "Атаулы әлеуметтік көмек тағайындалғаны туралы мәліметтер жоқ"}
	}
	out, err := xml.Marshal(resp)
	if err != nil {
		return "", err
	}
	return string(out), nil
}
