package document

import (
	"context"
	"time"

	"github.com/beevik/etree"

	"egov"
	"egov/signing"
)

// ResultNamespace is the namespace of the provider's result and notice,
// version 1 (fixtures/schemas/service-result-v1.xsd).
const ResultNamespace = "urn:egov-gateway:result:v1"

// EndNoticeService names the bus service under which providers tell a
// system that a registration it filed ended ("egov-portal" →
// "egov-portal.registration-ended"): a REQUEST whose data is the signed
// ServiceResult of outcome deregistered naming the registration's request.
func EndNoticeService(system string) string { return system + ".registration-ended" }

// CounterFilingService names the bus service under which a State
// Corporation counter's system tells a portal ("egov-portal" →
// "egov-portal.counter-filing") of a request it filed for a citizen: a
// REQUEST whose data is the request document its operator signed, with
// the receipt's times as the properties PropAcceptedAt and PropDueAt.
func CounterFilingService(portal string) string { return portal + ".counter-filing" }

// CounterResultService names the bus service under which the counter
// hands on to the portal the provider's signed result of such a request.
func CounterResultService(portal string) string { return portal + ".counter-result" }

// The properties of a counter's filing sent to the portal: RFC 3339 times
// of the acceptance at the counter and of the receipt's due date.
const (
	PropAcceptedAt = "ACCEPTED_AT"
	PropDueAt      = "DUE_AT"
)

// Outcome is what the provider decided.
type Outcome string

// The outcomes of the result schema.
const (
	OutcomeRegistered  Outcome = "registered"  // notice of registration as a job seeker
	OutcomeReferred    Outcome = "referred"    // referral to an active employment measure
	OutcomeCertificate Outcome = "certificate" // TSA certificate; Kind says belongs or does-not-belong
	OutcomeRefused     Outcome = "refused"     // reasoned refusal with its ground
	// OutcomeDeregistered: a job seeker's registration (Number) ended, at
	// the citizen's request or by the provider's decision (EndGround).
	OutcomeDeregistered Outcome = "deregistered"
)

// Valid reports whether o is one of the schema's outcomes.
func (o Outcome) Valid() bool {
	switch o {
	case OutcomeRegistered, OutcomeReferred, OutcomeCertificate, OutcomeRefused, OutcomeDeregistered:
		return true
	}
	return false
}

// Result is the provider's result document, signed by its authorised
// person. ReadResult returns one that follows the schema and its rules: a
// refusal carries a ground, an ended registration its end ground and its
// number, any other outcome neither.
type Result struct {
	RequestID   string // the request answered (a lowercase UUID)
	ServiceCode string
	Outcome     Outcome
	ProviderBIN string
	Applicant   string  // the applicant's IIN
	Number      string  // registration, referral or certificate number; none for a refusal
	Date        string  // YYYY-MM-DD, the day of the decision
	Kind        string  // the measure referred to, or belongs / does-not-belong
	Ground      *Ground // why it was refused
	EndGround   *Ground // why the registration ended
}

// Ground is why a request was refused, or why a registration ended: a
// code of the provider's rules and its wording in the three languages.
type Ground struct {
	Code string
	Text egov.Message
}

// answerError refuses a provider's answer that does not follow its
// schema. Such an answer never reaches a cabinet, as answer-unmatched says.
func answerError(format string, args ...any) error {
	return egov.Errorf(egov.CodeAnswerUnmatched, format, args...)
}

// VerifyResult checks a provider's signed result as whoever receives it
// must: a signature v accepts, by an organisation certificate of the
// provider's BIN whose holder has one of roles (nil: the first head or a
// person with signing right), over a ServiceResult that names that very
// provider. It returns the signature and the result read from the
// verified element only.
func VerifyResult(ctx context.Context, v *signing.Verifier, data []byte, bin string, roles []signing.KeyUser) (*signing.Result, *Result, error) {
	res, err := v.Verify(ctx, data)
	if err != nil {
		return nil, nil, err
	}
	if err := res.RequireAuthority(bin, roles); err != nil {
		return nil, nil, err
	}
	doc, err := ReadResult(res.Element)
	if err != nil {
		return nil, nil, err
	}
	if doc.ProviderBIN != bin {
		return nil, nil, egov.Errorf(egov.CodeAnswerUnmatched, "the result names another provider than the one that signed it")
	}
	return res, doc, nil
}

// ReadResult reads a result element (the one signing.Verifier returned) by
// the rules of the result schema: root {urn:egov-gateway:result:v1}
// ServiceResult of version 1, the elements in their order, the required
// ones present, nothing unknown, the applicant's IIN and the provider's BIN
// valid, a ground exactly when the outcome is refused, an end ground and a
// number exactly when it is deregistered. A refusal is an
// *egov.Error with egov.CodeAnswerUnmatched.
func ReadResult(root *etree.Element) (*Result, error) {
	if root.Tag != "ServiceResult" || root.NamespaceURI() != ResultNamespace {
		return nil, answerError("result root must be {%s}ServiceResult", ResultNamespace)
	}
	if v, err := rootAttributes(root, answerError); err != nil {
		return nil, err
	} else if v != "1" {
		return nil, answerError("result version %q, only 1 is accepted", v)
	}
	seq := newSequence(root, ResultNamespace, answerError)
	r := &Result{}
	var outcome string
	for _, f := range []struct {
		name     string
		v        *string
		required bool
	}{
		{"RequestId", &r.RequestID, true}, {"ServiceCode", &r.ServiceCode, true}, {"Outcome", &outcome, true},
		{"ProviderBIN", &r.ProviderBIN, true}, {"Applicant", &r.Applicant, true}, {"Number", &r.Number, false},
		{"Date", &r.Date, true}, {"Kind", &r.Kind, false},
	} {
		var err error
		if f.required {
			*f.v, err = seq.requiredText(f.name)
		} else {
			*f.v, err = seq.optionalText(f.name)
		}
		if err != nil {
			return nil, err
		}
	}
	r.Outcome = Outcome(outcome)
	switch {
	case !uuidPattern.MatchString(r.RequestID):
		return nil, answerError("result RequestId must be a lowercase UUID")
	case !codePattern.MatchString(r.ServiceCode):
		return nil, answerError("result ServiceCode must be a code")
	case !r.Outcome.Valid():
		return nil, answerError("result outcome %q unknown", outcome)
	case r.Kind != "" && !codePattern.MatchString(r.Kind):
		return nil, answerError("result Kind must be a code")
	}
	if _, err := time.Parse(time.DateOnly, r.Date); err != nil {
		return nil, answerError("result Date must be a date")
	}
	if _, err := signing.ParseBIN(r.ProviderBIN); err != nil {
		return nil, answerError("result ProviderBIN: %w", err)
	}
	if _, err := signing.ParseIIN(r.Applicant); err != nil {
		return nil, answerError("result Applicant: %w", err)
	}
	for _, f := range []struct {
		name string
		v    **Ground
	}{{"RefusalGround", &r.Ground}, {"EndGround", &r.EndGround}} {
		if g := seq.optional(f.name); g != nil {
			ground, err := readGround(g)
			if err != nil {
				return nil, err
			}
			*f.v = ground
		}
	}
	if err := seq.endOfRoot(); err != nil {
		return nil, err
	}
	if (r.Outcome == OutcomeRefused) != (r.Ground != nil) {
		return nil, answerError("a refusal, and only a refusal, has a RefusalGround (outcome %s)", r.Outcome)
	}
	if (r.Outcome == OutcomeDeregistered) != (r.EndGround != nil) {
		return nil, answerError("an ended registration, and only one, has an EndGround (outcome %s)", r.Outcome)
	}
	if r.Outcome == OutcomeDeregistered && r.Number == "" {
		return nil, answerError("an ended registration names its number")
	}
	return r, nil
}

func readGround(el *etree.Element) (*Ground, error) {
	g := &Ground{}
	for _, a := range el.Attr {
		if a.Space != "" || a.Key != "code" {
			return nil, answerError("%s: unknown attribute %s", el.Tag, a.FullKey())
		}
		g.Code = a.Value
	}
	if !codePattern.MatchString(g.Code) {
		return nil, answerError("%s: code must be a code", el.Tag)
	}
	seq := newSequence(el, ResultNamespace, answerError)
	var err error
	if g.Text.RU, err = seq.requiredText("Ru"); err != nil {
		return nil, err
	}
	if g.Text.KK, err = seq.requiredText("Kk"); err != nil {
		return nil, err
	}
	if g.Text.EN, err = seq.requiredText("En"); err != nil {
		return nil, err
	}
	if err := seq.end(); err != nil {
		return nil, err
	}
	return g, nil
}

// Document writes the result as an unsigned XML document in the schema's
// order, ready for the provider's signature; Number and Kind are omitted
// when empty. For a result that ReadResult returned, ReadResult reads back
// the same result. It checks nothing.
func (r *Result) Document() []byte {
	var w writer
	w.raw(xmlDeclaration)
	w.raw(`<ServiceResult xmlns="` + ResultNamespace + `" version="1">` + "\n")
	for _, f := range []struct {
		name, v  string
		optional bool
	}{
		{"RequestId", r.RequestID, false}, {"ServiceCode", r.ServiceCode, false}, {"Outcome", string(r.Outcome), false},
		{"ProviderBIN", r.ProviderBIN, false}, {"Applicant", r.Applicant, false}, {"Number", r.Number, true},
		{"Date", r.Date, false}, {"Kind", r.Kind, true},
	} {
		if f.v != "" || !f.optional {
			w.element(1, f.name, f.v)
		}
	}
	for _, g := range []struct {
		name   string
		ground *Ground
	}{{"RefusalGround", r.Ground}, {"EndGround", r.EndGround}} {
		if g.ground == nil {
			continue
		}
		w.indent(1)
		w.raw("<" + g.name)
		w.attr("code", g.ground.Code)
		w.raw(">")
		for _, t := range [][2]string{{"Ru", g.ground.Text.RU}, {"Kk", g.ground.Text.KK}, {"En", g.ground.Text.EN}} {
			w.raw("<" + t[0] + ">")
			w.escape(t[1], false)
			w.raw("</" + t[0] + ">")
		}
		w.raw("</" + g.name + ">\n")
	}
	w.raw("</ServiceResult>\n")
	return w.bytes()
}
