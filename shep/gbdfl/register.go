// Package gbdfl simulates the state persons register (ГБД ФЛ) as a
// synchronous SHEP service: given an IIN it answers the person's data, or
// a coded "no data" answer when the register has no such person.
package gbdfl

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"

	"egov/fixtures"
	"egov/shep/soap"
	"egov/signing"
)

// ServiceID is the service's code in the routing table.
const ServiceID = "GBDFL_PERSON_BY_IIN"

// Namespace of the request and response documents.
const Namespace = "urn:egov-gateway:gbdfl:v1"

// Result codes of the register's answers (messageResult/code).
const (
	CodeFound    = "00000"
	CodeNotFound = "00404" // the register has no such person: "data cannot be obtained"
	CodeBadIIN   = "00400"
)

// Person is one record of the register.
type Person struct {
	IIN              string   `json:"iin" xml:"IIN"`
	Surname          string   `json:"surname" xml:"Surname"`
	Name             string   `json:"name" xml:"Name"`
	Patronymic       string   `json:"patronymic,omitempty" xml:"Patronymic,omitempty"`
	BirthDate        string   `json:"birthDate" xml:"BirthDate"`
	Sex              string   `json:"sex" xml:"Sex"`
	Citizenship      string   `json:"citizenship" xml:"Citizenship"`
	Address          Address  `json:"address" xml:"Address"`
	IdentityDocument Document `json:"identityDocument" xml:"IdentityDocument"`
}

// Address of residence.
type Address struct {
	Region string `json:"region" xml:"region,attr"`
	Text   string `json:"text" xml:",chardata"`
}

// Document is the person's identity document.
type Document struct {
	Type     string `json:"type" xml:"type,attr"`
	Number   string `json:"number" xml:"Number"`
	IssuedBy string `json:"issuedBy" xml:"IssuedBy"`
	Issued   string `json:"issued" xml:"Issued"`
	Expires  string `json:"expires,omitempty" xml:"Expires,omitempty"`
}

// Request asks for one person.
type Request struct {
	XMLName xml.Name `xml:"urn:egov-gateway:gbdfl:v1 PersonRequest"`
	IIN     string   `xml:"IIN"`
}

// Result is the register's verdict, with names in Russian and Kazakh as
// the real register gives them.
type Result struct {
	Code   string `xml:"code"`
	NameRu string `xml:"nameRu"`
	NameKz string `xml:"nameKz"`
}

// Response is the answer document.
type Response struct {
	XMLName xml.Name `xml:"urn:egov-gateway:gbdfl:v1 PersonResponse"`
	Result  Result   `xml:"messageResult"`
	Person  *Person  `xml:"Person,omitempty"`
}

// ReadResponse is the one strict reader of the register's answer about
// iin: the person, or nil when the register has none ("data cannot be
// obtained"). An answer about another person, one without the person it
// says it found, or a result the reader does not know is an error.
func ReadResponse(data, iin string) (*Person, error) {
	var r Response
	if err := xml.Unmarshal([]byte(data), &r); err != nil {
		return nil, fmt.Errorf("persons register: answer is not a PersonResponse: %w", err)
	}
	switch r.Result.Code {
	case CodeFound:
		if r.Person == nil || r.Person.IIN != iin {
			return nil, fmt.Errorf("persons register: the answer is not about %s", signing.MaskIIN(iin))
		}
		return r.Person, nil
	case CodeNotFound:
		return nil, nil
	default:
		return nil, fmt.Errorf("persons register: result %q", r.Result.Code)
	}
}

// Register is the simulator; it implements shep.SyncHandler.
type Register struct {
	persons map[string]Person
}

// Load reads the register's data set (fixtures/gbdfl/persons.json).
func Load(path string) (*Register, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

// Parse reads a data set held in data, in the format of Load's file; name
// says where it comes from in errors (a path, or "built-in").
func Parse(data []byte, name string) (*Register, error) {
	path := name
	var file struct {
		Persons []Person `json:"persons"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("gbdfl: %s: %w", path, err)
	}
	r := &Register{persons: map[string]Person{}}
	for _, p := range file.Persons {
		if _, err := signing.ParseIIN(p.IIN); err != nil {
			return nil, fmt.Errorf("gbdfl: %s: person with invalid IIN: %w", path, err)
		}
		r.persons[p.IIN] = p
	}
	return r, nil
}

// HandleSync answers a PersonRequest.
func (r *Register) HandleSync(_ context.Context, req *soap.SyncSendMessage) (string, error) {
	var q Request
	if err := xml.Unmarshal([]byte(req.Request.RequestData.Data), &q); err != nil {
		return "", soap.NewFault("SendMessage", soap.CodeFormat, "requestData is not a PersonRequest", req.Request.RequestInfo.MessageDate)
	}
	resp := Response{}
	switch p, ok := r.persons[q.IIN]; {
	case !validIIN(q.IIN):
		resp.Result = Result{CodeBadIIN, "ИИН указан неверно", "ЖСН қате көрсетілген"}
	case !ok:
		resp.Result = Result{CodeNotFound, "Сведения не могут быть получены: лицо не найдено", "Мәліметтерді алу мүмкін емес: тұлға табылмады"}
	default:
		resp.Result = Result{CodeFound, "Сведения найдены", "Мәліметтер табылды"}
		resp.Person = &p
	}
	out, err := xml.Marshal(resp)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

func validIIN(s string) bool {
	_, err := signing.ParseIIN(s)
	return err == nil
}

// LoadOrBuiltIn reads the data set at path, or, when path is empty, the
// built-in one (fixtures/gbdfl/persons.json, embedded).
func LoadOrBuiltIn(path string) (*Register, error) {
	if path != "" {
		return Load(path)
	}
	data, err := fixtures.Read(fixtures.Persons)
	if err != nil {
		return nil, err
	}
	return Parse(data, "built-in "+fixtures.Persons)
}
