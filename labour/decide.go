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
	"strings"
	"time"

	"github.com/beevik/etree"

	"egov/signing"
)

//go:embed data/rules.json
var defaultRules []byte

// Rules are the document rules of SPEC §4, per service, as data.
type Rules struct {
	Services map[string]ServiceRules `json:"services"`
	Grounds  map[string]Text         `json:"grounds"`
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

// Text is a ground's wording in three languages.
type Text struct {
	RU string `json:"ru"`
	KK string `json:"kk"`
	EN string `json:"en"`
}

// DefaultRules are the embedded rules.
func DefaultRules() (*Rules, error) {
	var r Rules
	if err := json.Unmarshal(defaultRules, &r); err != nil {
		return nil, fmt.Errorf("labour rules: %w", err)
	}
	return &r, nil
}

// Application is what the system reads from a request: the element the
// signature check returned.
type Application struct {
	RequestID   string
	Service     string
	Region      string
	IIN         string
	Form        map[string]string
	Attachments []Attachment
}

// Attachment is a signed attachment header.
type Attachment struct {
	Kind, FileName, SHA256 string
	Expires                string // YYYY-MM-DD or ""
}

// ReadApplication extracts the fields the rules need from a verified
// request element.
func ReadApplication(el *etree.Element) (*Application, error) {
	text := func(path string) string {
		if e := el.FindElement(path); e != nil {
			return strings.TrimSpace(e.Text())
		}
		return ""
	}
	a := &Application{RequestID: text("./RequestId"), Service: text("./ServiceCode"), Region: text("./Region"),
		IIN: text("./Applicant/IIN"), Form: map[string]string{}}
	if a.RequestID == "" || a.Service == "" || a.IIN == "" {
		return nil, fmt.Errorf("request lacks RequestId, ServiceCode or Applicant/IIN")
	}
	for _, f := range el.FindElements("./Form/Field") {
		a.Form[f.SelectAttrValue("name", "")] = strings.TrimSpace(f.Text())
	}
	for _, at := range el.FindElements("./Attachments/Attachment") {
		a.Attachments = append(a.Attachments, Attachment{Kind: at.SelectAttrValue("kind", ""), FileName: at.SelectAttrValue("fileName", ""),
			SHA256: at.SelectAttrValue("sha256", ""), Expires: at.SelectAttrValue("expires", "")})
	}
	return a, nil
}

// Person is what the persons register says about the applicant.
type Person struct {
	Found              bool
	IdentityDocExpires string // YYYY-MM-DD or ""
}

// Facts are what the decision needs beyond the application: the registry,
// the persons register, the attachments' bytes.
type Facts struct {
	Now              time.Time
	Person           Person
	JobSeeker        bool              // registered as an active job seeker
	AttachmentDigest map[string]string // sha256 of the bytes fetched from the bus, by declared sha256
}

// Decision is the outcome of the checks.
type Decision struct {
	Outcome string // registered, referred, certificate, refused
	Ground  string // refusal ground code
	Kind    string // referral measure or certificate kind
}

// Decide applies the service's rules (condition C3 of the regulations).
func (r *Rules) Decide(a *Application, f Facts) Decision {
	rules, ok := r.Services[a.Service]
	if !ok {
		return Decision{Outcome: "refused", Ground: "measure-unknown"}
	}
	refuse := func(g string) Decision { return Decision{Outcome: "refused", Ground: g} }
	if !f.Person.Found {
		return refuse("data-unavailable")
	}
	iin, err := signing.ParseIIN(a.IIN)
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
		if slices.Contains(r.TSARecipients, a.IIN) {
			kind = "belongs"
		}
		return Decision{Outcome: "certificate", Kind: kind}
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
		return Decision{Outcome: "referred", Kind: measure}
	default:
		if rules.MinAge > 0 && age >= 0 && age < rules.MinAge {
			return refuse("underage")
		}
		if rules.IdentityDocument {
			i := slices.IndexFunc(a.Attachments, func(x Attachment) bool { return x.Kind == "identity-document" })
			if i < 0 {
				return refuse("document-missing")
			}
			today := f.Now.Format(time.DateOnly)
			// The register's record of the document wins over the citizen's
			// own header: an expired card is expired whatever was typed.
			if exp := a.Attachments[i].Expires; exp != "" && exp < today {
				return refuse("document-expired")
			}
			if exp := f.Person.IdentityDocExpires; exp != "" && exp < today {
				return refuse("document-expired")
			}
		}
		if rules.Unique && f.JobSeeker {
			return refuse("already-registered")
		}
		return Decision{Outcome: "registered"}
	}
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
