package provider

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"egov"
	"egov/document"
	"egov/signing"
)

// Rules are a system's document rules of SPEC §4, per service, as data.
type Rules struct {
	Source   string                  `json:"_source"`
	Services map[string]ServiceRules `json:"services"`
	// Grounds word each refusal ground in Russian, Kazakh and English.
	Grounds map[string]egov.Message `json:"grounds"`
}

// ServiceRules are the checks of one service.
type ServiceRules struct {
	MinAge int `json:"minAge,omitempty"`
	// Documents are the kinds of document п.9 of the Standard asks for:
	// each must be attached (the identity document's expiry is checked
	// against the persons register too).
	Documents []string `json:"documents,omitempty"`
	// NoLabourActivityIn are the regions whose regulation makes the
	// provider check, in the register of employment contracts, that the
	// applicant has no labour activity (001:556-559, 667-669).
	NoLabourActivityIn   []string             `json:"noLabourActivityIn,omitempty"`
	Unique               bool                 `json:"unique,omitempty"`
	RequiresRegistration bool                 `json:"requiresRegistration,omitempty"`
	Measures             map[string]AgeLimits `json:"measures,omitempty"`
	// Certificate: the answer is a certificate of belonging, or not
	// belonging, to the recipients of targeted social assistance, from
	// that register (S7, fully automated: 003:717-718).
	Certificate bool `json:"certificate,omitempty"`
	// EndsRegistration: the service is the citizen's request to leave the
	// register of job seekers; the answer ends the current registration
	// (ground at-own-request) or refuses when there is none.
	EndsRegistration bool `json:"endsRegistration,omitempty"`
	// RegistersUnemployed: the service registers a job seeker as
	// unemployed (S2): he must be a registered job seeker, not registered
	// as unemployed already, and in no labour activity where
	// NoLabourActivityIn says (004:484-492, 001:815-846).
	RegistersUnemployed bool `json:"registersUnemployed,omitempty"`
	// CertifiesUnemployed: the answer is the certificate of registration
	// as unemployed (S3), given only to one so registered whose
	// identification data match the persons register (001:983-989).
	CertifiesUnemployed bool `json:"certifiesUnemployed,omitempty"`
}

// AgeLimits bound who may take a measure; zero means no bound.
type AgeLimits struct {
	MinAge int `json:"minAge,omitempty"`
	MaxAge int `json:"maxAge,omitempty"`
}

//go:embed data/rules.json
var standards []byte

// DefaultRules are the rules of the Standards (data/rules.json).
func DefaultRules() (*Rules, error) { return ParseRules(standards, "provider/data/rules.json") }

// ParseRules reads a system's rules; name says where they come from in
// errors. Every ground a decision can give must be worded in the three
// languages.
func ParseRules(data []byte, name string) (*Rules, error) {
	var r Rules
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("rules %s: %w", name, err)
	}
	var errs []error
	for _, g := range groundCodes {
		if m := r.Grounds[g]; m.RU == "" || m.KK == "" || m.EN == "" {
			errs = append(errs, fmt.Errorf("rules %s: ground %s is not worded in the three languages", name, g))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &r, nil
}

// groundCodes are every refusal ground Decide and the delivery checks give.
var groundCodes = []string{"service-unknown", "data-unavailable", "document-hash-mismatch", "not-registered", "measure-unknown",
	"measure-not-eligible", "underage", "document-missing", "documents-incomplete", "document-expired", "labour-activity",
	"already-registered", "signer-not-applicant", "attachment-not-delivered", "power-of-attorney-invalid",
	// why a registration ends
	"at-own-request", "labour-activity-started",
	// S2 and S3
	"already-unemployed", "not-unemployed", "identity-mismatch"}

// Person is what the persons register says about the applicant.
type Person struct {
	Found              bool
	IdentityDocExpires string // YYYY-MM-DD or ""
	// Surname and Name as the register holds them, to match the
	// request's (S3's identification check).
	Surname, Name string
}

// Assistance is what the register of recipients of targeted social
// assistance says about the applicant's family on the day.
type Assistance struct {
	Belongs bool
	Family  string // the family's case number in the register
	Until   string // YYYY-MM-DD: the end of the assigned period
}

// Facts are what the decision needs beyond the request: the registry,
// the persons register, the assistance register, the attachments' bytes.
type Facts struct {
	Now              time.Time
	Person           Person
	Assistance       Assistance
	Employed         bool              // a contract in force (asked only where NoLabourActivityIn says)
	JobSeeker        bool              // registered as an active job seeker
	Unemployed       bool              // that registration is as unemployed too (S2)
	UnemployedAs     string            // the surname and name that registration was made under
	AttachmentDigest map[string]string // sha256 of the bytes fetched from the bus, by declared sha256
}

// Decision is the outcome of the checks.
type Decision struct {
	Outcome document.Outcome
	Ground  string // refusal ground code, or why the registration ended
	Kind    string // referral measure or certificate kind
}

// Decide applies the service's rules (condition C3 of the regulations) to
// a request as document.ReadRequest returned it.
func (r *Rules) Decide(a *document.Request, f Facts) Decision {
	rules, ok := r.Services[a.ServiceCode]
	if !ok {
		return Decision{Outcome: document.OutcomeRefused, Ground: "service-unknown"}
	}
	refuse := func(g string) Decision { return Decision{Outcome: document.OutcomeRefused, Ground: g} }
	if !f.Person.Found {
		return refuse("data-unavailable")
	}
	iin, err := signing.ParseIIN(a.Applicant.IIN)
	if err != nil {
		return refuse("data-unavailable")
	}
	age := iin.AgeAt(f.Now)
	for _, at := range a.Attachments {
		if got, ok := f.AttachmentDigest[at.SHA256]; ok && got != at.SHA256 {
			return refuse("document-hash-mismatch")
		}
	}
	for _, kind := range rules.Documents {
		i := slices.IndexFunc(a.Attachments, func(x document.AttachmentHeader) bool { return x.Kind == kind })
		if i < 0 && kind == "identity-document" {
			return refuse("document-missing")
		}
		if i < 0 {
			return refuse("documents-incomplete")
		}
		if kind != "identity-document" {
			continue
		}
		today := f.Now.In(egov.Almaty).Format(time.DateOnly) // the regulations' day, whatever the machine's zone
		// The register's record of the document wins over the citizen's
		// own header: an expired card is expired whatever was typed.
		if exp := a.Attachments[i].Expires; exp != nil && exp.Format(time.DateOnly) < today {
			return refuse("document-expired")
		}
		if exp := f.Person.IdentityDocExpires; exp != "" && exp < today {
			return refuse("document-expired")
		}
	}
	switch {
	case rules.RegistersUnemployed:
		if !f.JobSeeker {
			return refuse("not-registered")
		}
		if f.Unemployed {
			return refuse("already-unemployed")
		}
		if d := r.eligible(rules, a, f, age); d.Ground != "" {
			return d
		}
		return Decision{Outcome: document.OutcomeRegistered, Kind: KindUnemployed}
	case rules.CertifiesUnemployed:
		if !f.JobSeeker || !f.Unemployed {
			return refuse("not-unemployed")
		}
		// The registered person's identification data must match
		// (001:987-989): the persons register's, and those he was
		// registered under.
		name := a.Applicant.Surname + " " + a.Applicant.GivenName
		if a.Applicant.Surname != f.Person.Surname || a.Applicant.GivenName != f.Person.Name || (f.UnemployedAs != "" && f.UnemployedAs != name) {
			return refuse("identity-mismatch")
		}
		return Decision{Outcome: document.OutcomeCertificate, Kind: KindUnemployedCertificate}
	case rules.EndsRegistration:
		if !f.JobSeeker {
			return refuse("not-registered")
		}
		return Decision{Outcome: document.OutcomeDeregistered, Ground: "at-own-request"}
	case rules.Certificate:
		kind := "does-not-belong"
		if f.Assistance.Belongs {
			kind = "belongs"
		}
		return Decision{Outcome: document.OutcomeCertificate, Kind: kind}
	case rules.Measures != nil:
		if rules.RequiresRegistration && !f.JobSeeker {
			return refuse("not-registered")
		}
		measure := a.Form["measure"]
		limits, ok := rules.Measures[measure]
		if !ok {
			return refuse("measure-unknown")
		}
		if (limits.MinAge > 0 && age < limits.MinAge) || (limits.MaxAge > 0 && age > limits.MaxAge) {
			return refuse("measure-not-eligible")
		}
		return Decision{Outcome: document.OutcomeReferred, Kind: measure}
	default:
		if d := r.eligible(rules, a, f, age); d.Ground != "" {
			return d
		}
		if rules.Unique && f.JobSeeker {
			return refuse("already-registered")
		}
		return Decision{Outcome: document.OutcomeRegistered}
	}
}

// The kinds of registration and certificate of S2 and S3.
const (
	KindUnemployed            = "unemployed"            // S2: the registration as unemployed
	KindUnemployedCertificate = "registered-unemployed" // S3: the certificate of it
)

// eligible refuses who may not register: under the service's age, or in
// labour activity where the region's regulation bars it.
func (r *Rules) eligible(rules ServiceRules, a *document.Request, f Facts, age int) Decision {
	switch {
	case rules.MinAge > 0 && age >= 0 && age < rules.MinAge:
		return Decision{Outcome: document.OutcomeRefused, Ground: "underage"}
	case slices.Contains(rules.NoLabourActivityIn, a.Region) && f.Employed:
		return Decision{Outcome: document.OutcomeRefused, Ground: "labour-activity"}
	}
	return Decision{}
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
