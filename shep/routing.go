package shep

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"egov/fixtures"
	"egov/internal/password"
	"egov/signing"
)

// Routing is the bus's data file: which system receives each service, and
// what each sending system may do.
type Routing struct {
	Services map[string]*Service `json:"services"`
	Systems  map[string]*System  `json:"systems"`
}

// Service is one entry of the service registry.
type Service struct {
	// Recipient is the system whose queue receives the service's requests
	// (async) or whose handler answers them (sync).
	Recipient string `json:"recipient"`
	// Channel is "async" (queued) or "sync" (SendMessage, answered at once).
	Channel string `json:"channel"`
	// CheckSignature makes the bus verify the business data's signature
	// (SCE015–SCE017) for requests and responses of this service.
	CheckSignature bool `json:"checkSignature"`
	// PersonalData keeps bodies out of the evidence log: metadata only.
	PersonalData bool `json:"personalData"`
	// SignedBySender: the service's requests are documents of the sending
	// organisation (a provider's notice to the portal, not a citizen's
	// request it relays), held, like results, to the sender's Signer.
	SignedBySender bool `json:"signedBySender,omitempty"`
	// Description for operators.
	Description string `json:"description,omitempty"`
}

// System is a participant of the bus.
type System struct {
	// PasswordHash is an argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash).
	PasswordHash string `json:"passwordHash"`
	// Send lists the services the system may send requests to.
	Send []string `json:"send"`
	// Poll lists the queues (recipient systems) it may poll; its own queue
	// must be listed too.
	Poll []string `json:"poll"`
	// SkipSignatureCheck switches the business-data signature check off
	// for this sender, whatever the service says.
	SkipSignatureCheck bool `json:"skipSignatureCheck,omitempty"`
	// Signer, when set, says who may sign the system's results: a RESPONSE
	// it sends on a service with CheckSignature (or a REQUEST on one that
	// is SignedBySender) must be signed for that organisation by a holder
	// of one of the roles, or the bus refuses it (SCE016).
	Signer *SignerPolicy `json:"signer,omitempty"`
}

// SignerPolicy is the authority a provider's results must be signed with.
type SignerPolicy struct {
	// BIN is the provider's: the signer's certificate must be an
	// organisation certificate carrying it.
	BIN string `json:"bin"`
	// Roles the signer must hold one of (ceo, can-sign, can-sign-financial,
	// hr, employee); empty means signing.SigningRoles(), the first head and
	// a person with signing right.
	Roles []signing.KeyUser `json:"roles,omitempty"`
}

// validate checks that the policy names a real BIN and known roles, so that
// a typo fails at load rather than refusing every result.
func (p *SignerPolicy) validate() error {
	var errs []error
	if _, err := signing.ParseBIN(p.BIN); err != nil {
		errs = append(errs, fmt.Errorf("signer: %w", err))
	}
	for _, r := range p.Roles {
		if !r.IsOrganizationRole() {
			errs = append(errs, fmt.Errorf("signer: unknown role %q (ceo, can-sign, can-sign-financial, hr, employee)", r))
		}
	}
	return errors.Join(errs...)
}

// LoadRouting reads and checks a routing file.
func LoadRouting(path string) (*Routing, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseRouting(data, path)
}

// ParseRouting checks a routing table held in data; name says where it
// comes from in errors (a path, or "built-in").
func ParseRouting(data []byte, name string) (*Routing, error) {
	path := name
	var r Routing
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("routing %s: %w", path, err)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("routing %s: %w", path, err)
	}
	return &r, nil
}

// Validate checks that every reference in the table resolves.
func (r *Routing) Validate() error {
	var errs []error
	for id, s := range r.Services {
		if s.Channel != "async" && s.Channel != "sync" {
			errs = append(errs, fmt.Errorf("service %s: channel must be async or sync", id))
		}
		if s.Recipient == "" || strings.ContainsAny(s.Recipient, "{}:") {
			errs = append(errs, fmt.Errorf("service %s: recipient %q is not a system name", id, s.Recipient))
		}
	}
	for id, sys := range r.Systems {
		if strings.ContainsAny(id, "{}:") {
			errs = append(errs, fmt.Errorf("system %q: name may not contain {, } or :", id))
		}
		if err := password.Validate(sys.PasswordHash); err != nil {
			errs = append(errs, fmt.Errorf("system %s: %w", id, err))
		}
		for _, svc := range sys.Send {
			if r.Services[svc] == nil {
				errs = append(errs, fmt.Errorf("system %s: sends to unknown service %s", id, svc))
			}
		}
		if sys.Signer != nil {
			if err := sys.Signer.validate(); err != nil {
				errs = append(errs, fmt.Errorf("system %s: %w", id, err))
			}
			if sys.SkipSignatureCheck {
				// The policy would never be applied: no signature is checked.
				errs = append(errs, fmt.Errorf("system %s: a signer policy needs the signature check, not skipSignatureCheck", id))
			}
		}
	}
	return errors.Join(errs...)
}

// MayPoll reports whether system may lease messages from queue.
func (s *System) MayPoll(queue string) bool { return slices.Contains(s.Poll, queue) }

// MaySend reports whether system may send requests of service.
func (s *System) MaySend(service string) bool { return slices.Contains(s.Send, service) }

// HashPassword returns an argon2id PHC string for a system's password.
func HashPassword(secret string) (string, error) { return password.Hash(secret) }

// checkPassword compares a system's password with its hash.
func checkPassword(hash, secret string) bool { return password.Check(hash, secret) }

// LoadRoutingOrBuiltIn reads the routing table at path, or, when path is
// empty, the built-in one (fixtures/shep/routing.json, embedded), so that
// a binary runs from any directory.
func LoadRoutingOrBuiltIn(path string) (*Routing, error) {
	if path != "" {
		return LoadRouting(path)
	}
	data, err := fixtures.Read(fixtures.Routing)
	if err != nil {
		return nil, err
	}
	return ParseRouting(data, "built-in "+fixtures.Routing)
}
