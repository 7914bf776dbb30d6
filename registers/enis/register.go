// Package enis simulates ЕНИС, the notaries' single information system, as
// the register of notarised powers of attorney that a State Corporation
// operator consults when a representative files for a citizen: the power
// of attorney is taken only when it is notarised (003:281-284), and
// "data cannot be obtained" stops the intake. Given the number of a power
// of attorney, its principal, the person who presents it and a day, it
// answers whether the power holds on that day, and for which services.
package enis

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"egov/fixtures"
	"egov/shep/soap"
	"egov/signing"
)

// ServiceID is the service's code in the routing table.
const ServiceID = "ENIS_POWER_OF_ATTORNEY"

// Namespace is the namespace of the register's documents.
const Namespace = "urn:egov-gateway:enis:v1"

// Result codes of the register's answers (messageResult/code), in the
// persons register's manner.
const (
	CodeValid         = "00000" // the power holds on the day
	CodeBadRequest    = "00400" // an IIN or the number is not in its format
	CodeWrongAttorney = "00403" // the power exists, but not for this attorney
	CodeNotFound      = "00404" // no such power of this principal
	CodeExpired       = "00410" // its term ended before the day
	CodeRevoked       = "00411" // revoked on or before the day
)

// Status is what the register says of a power of attorney on a day.
type Status string

const (
	StatusValid         Status = "valid"
	StatusNotFound      Status = "not-found"
	StatusWrongAttorney Status = "wrong-attorney"
	StatusExpired       Status = "expired"
	StatusRevoked       Status = "revoked"
)

// Power is one notarised power of attorney of the data set.
type Power struct {
	Number    string   `json:"number"`
	Principal string   `json:"principal"` // IIN of who gave it
	Attorney  string   `json:"attorney"`  // IIN of who may act
	Notary    string   `json:"notary"`
	Issued    string   `json:"issued"`            // YYYY-MM-DD
	Until     string   `json:"until"`             // YYYY-MM-DD, inclusive
	Revoked   string   `json:"revoked,omitempty"` // YYYY-MM-DD: no longer holds from that day
	Services  []string `json:"services,omitempty"`
	Note      string   `json:"note,omitempty"`
}

// Request asks about one power of attorney on one day.
type Request struct {
	XMLName   xml.Name `xml:"urn:egov-gateway:enis:v1 PowerOfAttorneyRequest"`
	Number    string   `xml:"Number"`
	Principal string   `xml:"Principal"`
	Attorney  string   `xml:"Attorney"`
	Date      string   `xml:"Date"` // YYYY-MM-DD
}

// Result is the register's verdict, named in Russian and Kazakh.
type Result struct {
	Code   string `xml:"code"`
	NameRu string `xml:"nameRu"`
	NameKz string `xml:"nameKz"`
}

// Response is the answer document. It repeats what was asked, so that the
// asker can check it is about that; the notary, the term and the services
// come only with a power that holds.
type Response struct {
	XMLName   xml.Name `xml:"urn:egov-gateway:enis:v1 PowerOfAttorneyResponse"`
	Result    Result   `xml:"messageResult"`
	Number    string   `xml:"Number"`
	Principal string   `xml:"Principal"`
	Attorney  string   `xml:"Attorney"`
	Date      string   `xml:"Date"`
	Notary    string   `xml:"Notary,omitempty"`
	Issued    string   `xml:"Issued,omitempty"`
	Until     string   `xml:"Until,omitempty"`
	Services  []string `xml:"Services>Service,omitempty"`
}

// Answer is what the register said, as its asker reads it.
type Answer struct {
	Status        Status
	Notary        string
	Issued, Until string
	// Services the power is limited to; none: every service.
	Services []string
}

// Covers tells whether a power that holds lets its attorney file service.
func (a Answer) Covers(service string) bool {
	return a.Status == StatusValid && (len(a.Services) == 0 || slices.Contains(a.Services, service))
}

var (
	numberPattern = regexp.MustCompile(`^[A-Z0-9-]{1,40}$`)
	codePattern   = regexp.MustCompile(`^[a-z0-9.-]{1,64}$`)
)

// statusOf maps result codes to statuses.
var statusOf = map[string]Status{
	CodeValid: StatusValid, CodeNotFound: StatusNotFound, CodeWrongAttorney: StatusWrongAttorney,
	CodeExpired: StatusExpired, CodeRevoked: StatusRevoked,
}

// ReadResponse is the one strict reader of the register's answer: a
// PowerOfAttorneyResponse about exactly what q asked, with a known result,
// and for a power that holds its notary and a term that covers the day.
func ReadResponse(data string, q Request) (Answer, error) {
	var r Response
	if err := xml.Unmarshal([]byte(data), &r); err != nil {
		return Answer{}, fmt.Errorf("notarial register: answer is not a PowerOfAttorneyResponse: %w", err)
	}
	if r.Number != q.Number || r.Principal != q.Principal || r.Attorney != q.Attorney || r.Date != q.Date {
		return Answer{}, fmt.Errorf("notarial register: the answer is about power %q of %s for %s on %s, not what was asked",
			r.Number, signing.MaskIIN(r.Principal), signing.MaskIIN(r.Attorney), r.Date)
	}
	st, ok := statusOf[r.Result.Code]
	if !ok {
		return Answer{}, fmt.Errorf("notarial register: result %q", r.Result.Code)
	}
	if st != StatusValid {
		return Answer{Status: st}, nil
	}
	if r.Notary == "" || r.Issued > q.Date || r.Until < q.Date {
		return Answer{}, fmt.Errorf("notarial register: a power that holds without its notary or with a term that does not cover the day")
	}
	for _, s := range r.Services {
		if !codePattern.MatchString(s) {
			return Answer{}, fmt.Errorf("notarial register: service %q is not a code", s)
		}
	}
	return Answer{Status: st, Notary: r.Notary, Issued: r.Issued, Until: r.Until, Services: r.Services}, nil
}

// Register is the simulator; it implements shep.SyncHandler.
type Register struct {
	byNumber map[string]*Power
}

// File is the data set's format (fixtures/enis/powers.json).
type File struct {
	Source string   `json:"_source,omitempty"`
	Powers []*Power `json:"powers"`
}

// Parse reads a data set; name says where it comes from in errors.
func Parse(data []byte, name string) (*Register, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // a misspelt "revoked" must not make a revoked power hold
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("notarial register: %s: %w", name, err)
	}
	r := &Register{byNumber: map[string]*Power{}}
	for _, p := range f.Powers {
		if p == nil {
			return nil, fmt.Errorf("notarial register: %s: a power that is null", name)
		}
		if err := p.check(); err != nil {
			return nil, fmt.Errorf("notarial register: %s: power %q: %w", name, p.Number, err)
		}
		if r.byNumber[p.Number] != nil {
			return nil, fmt.Errorf("notarial register: %s: power %q twice", name, p.Number)
		}
		r.byNumber[p.Number] = p
	}
	return r, nil
}

func (p *Power) check() error {
	if !numberPattern.MatchString(p.Number) || strings.TrimSpace(p.Notary) == "" {
		return fmt.Errorf("needs a number (A-Z, 0-9, -) and its notary")
	}
	for _, iin := range []string{p.Principal, p.Attorney} {
		if _, err := signing.ParseIIN(iin); err != nil {
			return err
		}
	}
	if p.Principal == p.Attorney {
		return fmt.Errorf("its principal is its attorney")
	}
	issued, err1 := time.Parse(time.DateOnly, p.Issued)
	until, err2 := time.Parse(time.DateOnly, p.Until)
	if err1 != nil || err2 != nil || until.Before(issued) {
		return fmt.Errorf("needs a term issued ≤ until (YYYY-MM-DD)")
	}
	if p.Revoked != "" {
		if rev, err := time.Parse(time.DateOnly, p.Revoked); err != nil || rev.Before(issued) {
			return fmt.Errorf("revoked %q is not a day of its term", p.Revoked)
		}
	}
	for _, s := range p.Services {
		if !codePattern.MatchString(s) {
			return fmt.Errorf("service %q is not a code", s)
		}
	}
	return nil
}

// LoadOrBuiltIn reads the data set at path, or, when path is empty, the
// built-in one (fixtures/enis/powers.json).
func LoadOrBuiltIn(path string) (*Register, error) {
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return Parse(data, path)
	}
	data, err := fixtures.Read(fixtures.Powers)
	if err != nil {
		return nil, err
	}
	return Parse(data, "built-in "+fixtures.Powers)
}

// Lookup says what the register holds of power number, given by principal,
// presented by attorney, on date (YYYY-MM-DD). A number the principal did
// not give is not found: the register tells nobody of another's powers.
func (r *Register) Lookup(number, principal, attorney, date string) (Status, *Power) {
	p := r.byNumber[number]
	switch {
	case p == nil || p.Principal != principal || date < p.Issued:
		return StatusNotFound, nil
	case p.Attorney != attorney:
		return StatusWrongAttorney, nil
	case p.Revoked != "" && p.Revoked <= date:
		return StatusRevoked, nil
	case p.Until < date:
		return StatusExpired, nil
	}
	return StatusValid, p
}

// results name each status's code in Russian and Kazakh.
var results = map[Status]Result{
	StatusValid:         {CodeValid, "Доверенность действительна", "Сенімхат жарамды"},
	StatusNotFound:      {CodeNotFound, "Сведения о доверенности отсутствуют", "Сенімхат туралы мәліметтер жоқ"},
	StatusWrongAttorney: {CodeWrongAttorney, "Доверенность выдана другому лицу", "Сенімхат басқа тұлғаға берілген"},
	StatusExpired:       {CodeExpired, "Срок действия доверенности истёк", "Сенімхаттың қолданылу мерзімі өтті"},
	StatusRevoked:       {CodeRevoked, "Доверенность отменена", "Сенімхаттың күші жойылды"},
}

// ValidNumber tells whether s has the shape of a power of attorney's
// number, as the register reads one.
func ValidNumber(s string) bool { return numberPattern.MatchString(s) }

// HandleSync answers a PowerOfAttorneyRequest.
func (r *Register) HandleSync(_ context.Context, req *soap.SyncSendMessage) (string, error) {
	var q Request
	if err := xml.Unmarshal([]byte(req.Request.RequestData.Data), &q); err != nil {
		return "", soap.NewFault("SendMessage", soap.CodeFormat, "requestData is not a PowerOfAttorneyRequest", req.Request.RequestInfo.MessageDate)
	}
	if _, err := time.Parse(time.DateOnly, q.Date); err != nil {
		return "", soap.NewFault("SendMessage", soap.CodeFormat, "PowerOfAttorneyRequest/Date is not a date (YYYY-MM-DD)", req.Request.RequestInfo.MessageDate)
	}
	resp := Response{Number: q.Number, Principal: q.Principal, Attorney: q.Attorney, Date: q.Date}
	_, err1 := signing.ParseIIN(q.Principal)
	_, err2 := signing.ParseIIN(q.Attorney)
	if err1 != nil || err2 != nil || !numberPattern.MatchString(q.Number) {
		resp.Result = Result{CodeBadRequest, "ИИН или номер доверенности указан неверно", "ЖСН немесе сенімхат нөмірі қате көрсетілген"}
	} else {
		st, p := r.Lookup(q.Number, q.Principal, q.Attorney, q.Date)
		resp.Result = results[st]
		if p != nil {
			resp.Notary, resp.Issued, resp.Until, resp.Services = p.Notary, p.Issued, p.Until, p.Services
		}
	}
	out, err := xml.Marshal(resp)
	if err != nil {
		return "", err
	}
	return string(out), nil
}
