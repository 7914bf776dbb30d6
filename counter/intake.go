// Package counter is АРМ ИИС ГК, the workstation of the State
// Corporation's operators, where a citizen, or a representative with a
// notarised power of attorney, files a request at a counter (flows G-A of
// 003 and G-B of 004); the same machinery is the desk of an employment
// centre, whose specialists enter applicants into the labour-market
// system (flow C: S2) and take requests at its front office (flow P: S3).
// This file is the intake's check of the registers
// (P3, C1, P4): before anything is signed or sent, the persons register
// (ГБД ФЛ) is asked for the applicant and, in G-A, ЕНИС for the
// representative's power of attorney, through the bus's synchronous
// channel; a register without the data stops the intake at once with
// data-unobtainable, naming the register.
package counter

import (
	"context"
	"encoding/xml"
	"errors"
	"time"

	"egov"
	"egov/gateway"
	"egov/registers/enis"
	"egov/shep"
	"egov/shep/gbdfl"
	"egov/shep/soap"
	"egov/signing"
)

// Flow is one of the desks' procedures, as far as the intake differs.
type Flow struct {
	// Name is the regulations catalogue's name of the flow ("G-A").
	Name string
	// CheckPowers: the representative's power of attorney is asked of
	// ЕНИС (G-A, 003:298-300). In G-B (004:376-380) only the persons
	// register is asked, and the operator checks the power on paper.
	CheckPowers bool
	// InPerson: the applicant comes himself; no representative is
	// entered (the employment centre's desk takes his identity document,
	// 004:484-486, 001:815-818).
	InPerson bool
}

// The desks' flows.
var (
	FlowGA = Flow{Name: gateway.FlowGA, CheckPowers: true}
	FlowGB = Flow{Name: gateway.FlowGB}
	FlowC  = Flow{Name: gateway.FlowC, InPerson: true}
	FlowP  = Flow{Name: gateway.FlowP, InPerson: true}
)

// flows are the flows by the catalogue's names.
var flows = map[string]Flow{FlowGA.Name: FlowGA, FlowGB.Name: FlowGB, FlowC.Name: FlowC, FlowP.Name: FlowP}

// Intake is what the operator entered (P2).
type Intake struct {
	Service   string
	Applicant string // IIN
	// Representative is who came in the applicant's name; nil: the
	// applicant came himself.
	Representative *Representative
}

// Representative is the person who came, and the number of the notarised
// power of attorney he presents (the operator enters it only when it is
// notarised, 003:281-284).
type Representative struct {
	IIN string `json:"iin"`
	// His names, as on his identity document.
	Surname    string `json:"surname"`
	GivenName  string `json:"givenName"`
	Patronymic string `json:"patronymic,omitempty"`
	// PowerOfAttorney is its number.
	PowerOfAttorney string `json:"powerOfAttorney"`
	// Notary and Until (its last day) as the operator reads them from the
	// paper: in G-B, which asks no register; in G-A ЕНИС's record is
	// taken instead.
	Notary string `json:"notary,omitempty"`
	Until  string `json:"until,omitempty"`
}

// Checked is what the registers said: the applicant's record and, when it
// was asked, the power of attorney.
type Checked struct {
	Applicant *gbdfl.Person
	Power     *enis.Answer
}

// Register names a register consulted at intake.
type Register string

const (
	RegisterPersons Register = "ГБД ФЛ"
	RegisterPowers  Register = "ЕНИС"
)

// Unobtainable says which register has no data, and why. It is the cause
// of a data-unobtainable refusal (errors.As).
type Unobtainable struct {
	Register Register
	Reason   string
}

func (u *Unobtainable) Error() string { return string(u.Register) + ": " + u.Reason }

// Registers asks the registers at intake, as the counter's system on the bus.
type Registers struct {
	Bus    shep.Client
	Sender soap.SenderInfo
	Now    func() time.Time
}

// Check asks the registers what flow needs about in. A register without
// the data is a data-unobtainable refusal whose cause is an *Unobtainable;
// a register that cannot be reached is service-unavailable (the operator
// tries again).
func (r *Registers) Check(ctx context.Context, flow Flow, in Intake) (*Checked, error) {
	if _, err := signing.ParseIIN(in.Applicant); err != nil {
		return nil, err
	}
	if rep := in.Representative; rep != nil {
		if _, err := signing.ParseIIN(rep.IIN); err != nil {
			return nil, err
		}
		if rep.IIN == in.Applicant {
			return nil, egov.Errorf(egov.CodeFormInvalid, "the applicant cannot be his own representative")
		}
	}
	q, _ := xml.Marshal(gbdfl.Request{IIN: in.Applicant})
	data, err := r.ask(ctx, gbdfl.ServiceID, q)
	if err != nil {
		return nil, err
	}
	person, err := gbdfl.ReadResponse(data, in.Applicant)
	if err != nil {
		return nil, egov.Errorf(egov.CodeUnavailable, "%s: %v", RegisterPersons, err)
	}
	if person == nil {
		return nil, unobtainable(RegisterPersons, "no record of the applicant "+signing.MaskIIN(in.Applicant))
	}
	out := &Checked{Applicant: person}
	if in.Representative == nil || !flow.CheckPowers {
		return out, nil
	}
	pq := enis.Request{Number: in.Representative.PowerOfAttorney, Principal: in.Applicant, Attorney: in.Representative.IIN,
		Date: r.now().In(egov.Almaty).Format(time.DateOnly)}
	q, _ = xml.Marshal(pq)
	if data, err = r.ask(ctx, enis.ServiceID, q); err != nil {
		return nil, err
	}
	power, err := enis.ReadResponse(data, pq)
	if err != nil {
		return nil, egov.Errorf(egov.CodeUnavailable, "%s: %v", RegisterPowers, err)
	}
	switch {
	case power.Status != enis.StatusValid:
		return nil, unobtainable(RegisterPowers, "power of attorney "+pq.Number+": "+powerReasons[power.Status])
	case !power.Covers(in.Service):
		return nil, unobtainable(RegisterPowers, "power of attorney "+pq.Number+" does not cover the service "+in.Service)
	}
	out.Power = &power
	return out, nil
}

// powerReasons say, in the operator's words, why a power does not hold.
var powerReasons = map[enis.Status]string{
	enis.StatusNotFound:      "not in the register for this principal",
	enis.StatusWrongAttorney: "given to another person",
	enis.StatusExpired:       "expired",
	enis.StatusRevoked:       "revoked",
}

func unobtainable(reg Register, reason string) error {
	return egov.Errorf(egov.CodeDataUnobtainable, "%w", &Unobtainable{Register: reg, Reason: reason})
}

// ask sends one synchronous request to a register over the bus. A fault
// or a lost connection is service-unavailable: the register may answer
// the operator's next try.
func (r *Registers) ask(ctx context.Context, service string, query []byte) (string, error) {
	answer, err := shep.AskSync(ctx, r.Bus, r.Sender, service, query, r.now())
	if err != nil {
		var f *soap.Fault
		if errors.As(err, &f) {
			return "", egov.Errorf(egov.CodeUnavailable, "%s: the bus answered %s %s", service, f.Info.ErrorCode, f.Info.ErrorMessage)
		}
		return "", egov.Errorf(egov.CodeUnavailable, "%s: %v", service, err)
	}
	return answer, nil
}

func (r *Registers) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}
