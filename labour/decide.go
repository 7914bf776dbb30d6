// Package labour is the labour-market system (АИС «Рынок труда»): it polls
// its SHEP queue, checks each request's documents against the rules of its
// service (condition C3), keeps its registry of job seekers and referrals,
// and answers with a result signed by the provider's authorised person.
package labour

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"egov"
	"egov/document"
	"egov/signing"
)

//go:embed data/rules.json
var defaultRules []byte

// Rules are the document rules of SPEC §4, per service, as data.
type Rules struct {
	Services map[string]ServiceRules `json:"services"`
	// Grounds word each refusal ground in Russian, Kazakh and English.
	Grounds map[string]egov.Message `json:"grounds"`
	// TSARecipients are the IINs in the social-assistance register.
	TSARecipients []string `json:"tsaRecipients"`
}

// ServiceRules are the checks of one service.
type ServiceRules struct {
	MinAge               int                  `json:"minAge,omitempty"`
	IdentityDocument     bool                 `json:"identityDocument,omitempty"`
	Unique               bool                 `json:"unique,omitempty"`
	RequiresRegistration bool                 `json:"requiresRegistration,omitempty"`
	Measures             map[string]AgeLimits `json:"measures,omitempty"`
	Certificate          bool                 `json:"certificate,omitempty"`
}

// AgeLimits bound who may take a measure; zero means no bound.
type AgeLimits struct {
	MinAge int `json:"minAge,omitempty"`
	MaxAge int `json:"maxAge,omitempty"`
}

// DefaultRules are the embedded rules.
func DefaultRules() (*Rules, error) {
	var r Rules
	if err := json.Unmarshal(defaultRules, &r); err != nil {
		return nil, fmt.Errorf("labour rules: %w", err)
	}
	return &r, nil
}

// Person is what the persons register says about the applicant.
type Person struct {
	Found              bool
	IdentityDocExpires string // YYYY-MM-DD or ""
}

// Facts are what the decision needs beyond the request: the registry,
// the persons register, the attachments' bytes.
type Facts struct {
	Now              time.Time
	Person           Person
	JobSeeker        bool              // registered as an active job seeker
	AttachmentDigest map[string]string // sha256 of the bytes fetched from the bus, by declared sha256
}

// Decision is the outcome of the checks.
type Decision struct {
	Outcome document.Outcome
	Ground  string // refusal ground code
	Kind    string // referral measure or certificate kind
}

// Decide applies the service's rules (condition C3 of the regulations) to
// a request as document.ReadRequest returned it.
func (r *Rules) Decide(a *document.Request, f Facts) Decision {
	rules, ok := r.Services[a.ServiceCode]
	if !ok {
		return Decision{Outcome: document.OutcomeRefused, Ground: "measure-unknown"}
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
	switch {
	case rules.Certificate:
		kind := "does-not-belong"
		if slices.Contains(r.TSARecipients, a.Applicant.IIN) {
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
		if rules.MinAge > 0 && age >= 0 && age < rules.MinAge {
			return refuse("underage")
		}
		if rules.IdentityDocument {
			i := slices.IndexFunc(a.Attachments, func(x document.AttachmentHeader) bool { return x.Kind == "identity-document" })
			if i < 0 {
				return refuse("document-missing")
			}
			today := f.Now.Format(time.DateOnly)
			// The register's record of the document wins over the citizen's
			// own header: an expired card is expired whatever was typed.
			if exp := a.Attachments[i].Expires; exp != nil && exp.Format(time.DateOnly) < today {
				return refuse("document-expired")
			}
			if exp := f.Person.IdentityDocExpires; exp != "" && exp < today {
				return refuse("document-expired")
			}
		}
		if rules.Unique && f.JobSeeker {
			return refuse("already-registered")
		}
		return Decision{Outcome: document.OutcomeRegistered}
	}
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
