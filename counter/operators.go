package counter

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"egov/internal/password"
	"egov/signing"
)

// Operator is a State Corporation worker who may log in to the
// workstation (P1) and file requests at his office's counter, signing them
// with his own organisation certificate.
type Operator struct {
	Login        string `json:"login"`
	PasswordHash string `json:"passwordHash"`
	IIN          string `json:"iin"`
	Name         string `json:"name"`
	// Key is the file of his key in the test PKI (egovctl up issues it).
	Key    string `json:"key,omitempty"`
	Office Office `json:"office"`
}

// Office is a State Corporation office: the region whose regulation its
// counter follows, and whether it is a district (city) office, whose
// terms may be longer (001:266-269).
type Office struct {
	Code     string `json:"code"`
	Region   string `json:"region"`
	Name     string `json:"name"`
	District bool   `json:"district,omitempty"`
}

// Operators are the workstation's accounts, by login.
type Operators struct {
	byLogin map[string]*Operator
}

var (
	loginPattern  = regexp.MustCompile(`^[a-z0-9-]{3,32}$`)
	officePattern = regexp.MustCompile(`^[a-z0-9-]{1,64}$`) // as the request document's Office
)

// ParseOperators reads a data set of operators (fixtures/counter/operators.json's shape).
func ParseOperators(data []byte, name string) (*Operators, error) {
	var f struct {
		Operators []*Operator `json:"operators"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	ops := &Operators{byLogin: map[string]*Operator{}}
	var errs []error
	for i, o := range f.Operators {
		bad := func(what string) {
			errs = append(errs, fmt.Errorf("%s: operator %d (%s): %s", name, i+1, o.Login, what))
		}
		if !loginPattern.MatchString(o.Login) {
			bad("login must be 3 to 32 of a-z, 0-9 and -")
		}
		if ops.byLogin[o.Login] != nil {
			bad("login used twice")
		}
		if err := password.Validate(o.PasswordHash); err != nil {
			bad(err.Error())
		}
		if _, err := signing.ParseIIN(o.IIN); err != nil {
			bad("IIN: " + err.Error())
		}
		if o.Name == "" || o.Office.Region == "" || o.Office.Name == "" || !officePattern.MatchString(o.Office.Code) {
			bad("name, office code, region and office name are required")
		}
		ops.byLogin[o.Login] = o
	}
	if len(ops.byLogin) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s: no operators", name))
	}
	return ops, errors.Join(errs...)
}

// OfficeName is the name of the office of code, "" for an office none of
// the operators is at.
func (o *Operators) OfficeName(code string) string {
	for _, op := range o.byLogin {
		if op.Office.Code == code {
			return op.Office.Name
		}
	}
	return ""
}

// Get returns the operator of a login, or nil.
func (o *Operators) Get(login string) *Operator { return o.byLogin[login] }

// All returns every operator (for egovctl up's listing).
func (o *Operators) All() []*Operator {
	out := make([]*Operator, 0, len(o.byLogin))
	for _, op := range o.byLogin {
		out = append(out, op)
	}
	return out
}

// dummyHash is checked against when a login is unknown, so that an
// unknown login costs as long as a wrong password.
var dummyHash = func() string {
	h, err := password.Hash("not a password of anyone")
	if err != nil {
		panic(err)
	}
	return h
}()

// authenticate returns the operator whose login and password these are.
func (o *Operators) authenticate(login, secret string) *Operator {
	op := o.byLogin[login]
	hash := dummyHash
	if op != nil {
		hash = op.PasswordHash
	}
	if !password.Check(hash, secret) || op == nil {
		return nil
	}
	return op
}
