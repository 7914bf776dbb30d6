// Package contracts simulates the register of employment contracts (единая
// система учёта трудовых договоров) as a synchronous SHEP service: given
// an IIN and a day it answers whether the person works under a contract
// on that day, and for which employer, or a coded "no contract". A
// provider asks it where the regulation makes it check the absence of
// labour activity before registering a job seeker (001:556-559, 667-669).
package contracts

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
const ServiceID = "LABOUR_CONTRACTS_BY_IIN"

// Result codes of the register's answers (messageResult/code), as the
// persons register has them.
const (
	CodeFound    = "00000" // a contract is in force on the day
	CodeNotFound = "00404" // no contract in force on the day
	CodeBadIIN   = "00400"
)

// Contract is one employment contract.
type Contract struct {
	IIN      string `json:"iin"`
	Employer string `json:"employer"`
	BIN      string `json:"bin"`
	From     string `json:"from"`            // YYYY-MM-DD
	Until    string `json:"until,omitempty"` // YYYY-MM-DD inclusive; "": open-ended
	Note     string `json:"note,omitempty"`
}

// Request asks about one IIN on one day.
type Request struct {
	XMLName xml.Name `xml:"urn:egov-gateway:contracts:v1 ContractRequest"`
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
// for, and the employer's BIN when a contract is in force.
type Response struct {
	XMLName     xml.Name `xml:"urn:egov-gateway:contracts:v1 ContractResponse"`
	Result      Result   `xml:"messageResult"`
	IIN         string   `xml:"IIN"`
	Date        string   `xml:"Date"`
	EmployerBIN string   `xml:"EmployerBIN,omitempty"`
}

// ReadResponse is the one strict reader of the register's answer: a
// ContractResponse about iin on date. It reports whether a contract is in
// force.
func ReadResponse(data, iin, date string) (bool, error) {
	var r Response
	if err := xml.Unmarshal([]byte(data), &r); err != nil {
		return false, fmt.Errorf("contracts register: answer is not a ContractResponse: %w", err)
	}
	if r.IIN != iin || r.Date != date {
		return false, fmt.Errorf("contracts register: answer about %s on %s, asked about %s on %s",
			signing.MaskIIN(r.IIN), r.Date, signing.MaskIIN(iin), date)
	}
	switch r.Result.Code {
	case CodeFound:
		if _, err := signing.ParseBIN(r.EmployerBIN); err != nil {
			return false, fmt.Errorf("contracts register: a contract in force without its employer's BIN")
		}
		return true, nil
	case CodeNotFound:
		return false, nil
	default:
		return false, fmt.Errorf("contracts register: result %s", r.Result.Code)
	}
}

// Register is the simulator; it implements shep.SyncHandler.
type Register struct {
	byIIN map[string][]Contract
}

// File is the data set's format (fixtures/contracts/contracts.json).
type File struct {
	Source    string     `json:"_source,omitempty"`
	Contracts []Contract `json:"contracts"`
}

// Parse reads a data set; name says where it comes from in errors.
func Parse(data []byte, name string) (*Register, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // a misspelt "until" must not make an ended period open-ended
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("contracts register: %s: %w", name, err)
	}
	r := &Register{byIIN: map[string][]Contract{}}
	for _, c := range f.Contracts {
		_, errIIN := signing.ParseIIN(c.IIN)
		_, errBIN := signing.ParseBIN(c.BIN)
		from, errFrom := time.Parse(time.DateOnly, c.From)
		var errUntil error
		if c.Until != "" {
			var until time.Time
			if until, errUntil = time.Parse(time.DateOnly, c.Until); errUntil == nil && until.Before(from) {
				errUntil = fmt.Errorf("ends before it starts")
			}
		}
		if errIIN != nil || errBIN != nil || errFrom != nil || errUntil != nil || c.Employer == "" {
			return nil, fmt.Errorf("contracts register: %s: a contract of %s needs a valid IIN, an employer with a valid BIN and a period from ≤ until",
				name, signing.MaskIIN(c.IIN))
		}
		r.byIIN[c.IIN] = append(r.byIIN[c.IIN], c)
	}
	return r, nil
}

// LoadOrBuiltIn reads the data set at path, or, when path is empty, the
// built-in one (fixtures/contracts/contracts.json).
func LoadOrBuiltIn(path string) (*Register, error) {
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return Parse(data, path)
	}
	data, err := fixtures.Read(fixtures.Contracts)
	if err != nil {
		return nil, err
	}
	return Parse(data, "built-in "+fixtures.Contracts)
}

// InForce returns the contract of iin in force on date, if any.
func (r *Register) InForce(iin, date string) (Contract, bool) {
	for _, c := range r.byIIN[iin] {
		if c.From <= date && (c.Until == "" || date <= c.Until) {
			return c, true
		}
	}
	return Contract{}, false
}

// HandleSync answers a ContractRequest.
func (r *Register) HandleSync(_ context.Context, req *soap.SyncSendMessage) (string, error) {
	var q Request
	if err := xml.Unmarshal([]byte(req.Request.RequestData.Data), &q); err != nil {
		return "", soap.NewFault("SendMessage", soap.CodeFormat, "requestData is not a ContractRequest", req.Request.RequestInfo.MessageDate)
	}
	if _, err := time.Parse(time.DateOnly, q.Date); err != nil {
		return "", soap.NewFault("SendMessage", soap.CodeFormat, "ContractRequest/Date is not a date (YYYY-MM-DD)", req.Request.RequestInfo.MessageDate)
	}
	resp := Response{IIN: q.IIN, Date: q.Date}
	if _, err := signing.ParseIIN(q.IIN); err != nil {
		resp.Result = Result{CodeBadIIN, "ИИН указан неверно", "ЖСН қате көрсетілген"}
	} else if c, ok := r.InForce(q.IIN, q.Date); ok {
		resp.Result = Result{CodeFound, "Действует трудовой договор", "Еңбек шарты қолданыста"}
		resp.EmployerBIN = c.BIN
	} else {
		resp.Result = Result{CodeNotFound, "Действующих трудовых договоров нет", "Қолданыстағы еңбек шарттары жоқ"}
	}
	out, err := xml.Marshal(resp)
	if err != nil {
		return "", err
	}
	return string(out), nil
}
