package document

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"egov"
	"egov/signing"
)

// RequestNamespace is the namespace of the citizen's request document,
// version 1 (fixtures/schemas/service-request-v1.xsd).
const RequestNamespace = "urn:egov-gateway:request:v1"

// Limits of the request schema.
const (
	// MaxAttachments is how many attachment headers a request may declare.
	MaxAttachments = 20
	// MaxFields is how many form fields a request may hold.
	MaxFields = 50
	// maxNameLength bounds names and file names, in characters.
	maxNameLength = 100
)

// Request is the citizen's request document: what the signature covers.
// ReadRequest returns one whose every value is in its format; Document
// writes it back.
type Request struct {
	RequestID   string // lowercase UUID, the replay key
	ServiceCode string
	Region      string
	IssuedAt    time.Time
	Applicant   Applicant
	Form        map[string]string // field name → trimmed value
	Attachments []AttachmentHeader
	// Filing is who filed the request for the applicant at a counter; nil
	// for a request the applicant signed himself on the portal.
	Filing *Filing
}

// Channel is where a request filed for an applicant was filed.
type Channel string

// The counters that file requests for applicants.
const (
	// ChannelStateCorporation is a counter of the State Corporation
	// «Правительство для граждан» (flows G-A and G-B).
	ChannelStateCorporation Channel = "state-corporation"
	// ChannelEmploymentCentre is the desk of an employment centre (flow C).
	ChannelEmploymentCentre Channel = "employment-centre"
)

// Filing names the counter, the office and the operator who filed the
// request and signed it with the operator's certificate, and the
// representative who came for the applicant, if one did.
type Filing struct {
	Channel     Channel
	Office      string // the office's code
	OperatorIIN string // must be the signer's
	// Representative is who applied in the applicant's name, with the
	// notarised power of attorney that lets him; nil: the applicant came.
	Representative *Representative
}

// Representative is a person who applies in another's name.
type Representative struct {
	IIN, Surname, GivenName, Patronymic string
	PowerOfAttorney                     PowerOfAttorney
}

// PowerOfAttorney is a notarised power of attorney as ЕНИС holds it.
type PowerOfAttorney struct {
	Number string
	Notary string
	Until  time.Time // its last day, in Asia/Almaty
}

// Applicant is who asks: IIN, surname and given name always; BIN when a
// person asks for an organisation.
type Applicant struct {
	IIN, BIN                              string
	Surname, GivenName, Patronymic, Phone string
}

// AttachmentHeader is the signed description of one attached document:
// the bytes that come with the submission must have this size and SHA-256.
// Its JSON is what the portal stores and shows.
type AttachmentHeader struct {
	Kind     string     `json:"kind"`
	FileName string     `json:"fileName"`
	MIMEType string     `json:"mimeType"`
	Size     int64      `json:"size"`
	SHA256   string     `json:"sha256"`
	Expires  *time.Time `json:"expires,omitempty"` // a day in Asia/Almaty
}

var (
	uuidPattern   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	codePattern   = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
	phonePattern  = regexp.MustCompile(`^\+7[0-9]{10}$`)
	sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// formError is a refusal of the request with what exactly is wrong: the
// citizen's document does not follow its schema.
func formError(format string, args ...any) error {
	return egov.Errorf(egov.CodeFormInvalid, format, args...)
}

// ReadRequest reads a request element (the one signing.Verifier returned)
// by the rules of the request schema: the elements in their order, nothing
// unknown, every value in its format. A refusal is an *egov.Error: mostly
// egov.CodeFormInvalid, egov.CodeIINInvalid or egov.CodeBINInvalid for the
// applicant's numbers, egov.CodePhoneInvalid for the phone.
func ReadRequest(root *etree.Element) (*Request, error) {
	if root.Tag != "ServiceRequest" || root.NamespaceURI() != RequestNamespace {
		return nil, formError("root must be {%s}ServiceRequest", RequestNamespace)
	}
	if v := root.SelectAttrValue("version", "1"); v != "1" {
		return nil, formError("version %q, only 1 is accepted", v)
	}
	seq := newSequence(root, RequestNamespace, formError)
	r := &Request{Form: map[string]string{}}
	var err error
	if r.RequestID, err = seq.requiredText("RequestId"); err != nil {
		return nil, err
	}
	if !uuidPattern.MatchString(r.RequestID) {
		return nil, formError("RequestId must be a lowercase UUID")
	}
	if r.ServiceCode, err = seq.requiredText("ServiceCode"); err != nil {
		return nil, err
	}
	if r.Region, err = seq.requiredText("Region"); err != nil {
		return nil, err
	}
	if !codePattern.MatchString(r.ServiceCode) || !codePattern.MatchString(r.Region) {
		return nil, formError("ServiceCode and Region must be codes")
	}
	issued, err := seq.requiredText("IssuedAt")
	if err != nil {
		return nil, err
	}
	if r.IssuedAt, err = time.Parse(time.RFC3339, issued); err != nil {
		return nil, formError("IssuedAt must be an RFC 3339 time with a zone")
	}
	app, err := seq.required("Applicant")
	if err != nil {
		return nil, err
	}
	if r.Applicant, err = readApplicant(app); err != nil {
		return nil, err
	}
	form, err := seq.required("Form")
	if err != nil {
		return nil, err
	}
	if r.Form, err = readForm(form); err != nil {
		return nil, err
	}
	if atts := seq.optional("Attachments"); atts != nil {
		kids := atts.ChildElements()
		// Counted before reading: the bound protects the work, not only the result.
		if len(kids) > MaxAttachments {
			return nil, formError("at most %d attachments", MaxAttachments)
		}
		for _, a := range kids {
			h, err := readAttachmentHeader(a)
			if err != nil {
				return nil, err
			}
			r.Attachments = append(r.Attachments, h)
		}
	}
	if el := seq.optional("Filing"); el != nil {
		if r.Filing, err = readFiling(el); err != nil {
			return nil, err
		}
		if r.Filing.Representative != nil && r.Filing.Representative.IIN == r.Applicant.IIN {
			return nil, formError("Filing: the applicant cannot be his own representative")
		}
	}
	if err := seq.endOfRoot(); err != nil {
		return nil, err
	}
	return r, nil
}

var (
	officePattern   = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)
	attorneyPattern = regexp.MustCompile(`^[A-Z0-9-]{1,40}$`)
)

func readFiling(el *etree.Element) (*Filing, error) {
	seq := newSequence(el, RequestNamespace, formError)
	f := &Filing{}
	channel, err := seq.requiredText("Channel")
	if err != nil {
		return nil, err
	}
	f.Channel = Channel(channel)
	if f.Channel != ChannelStateCorporation && f.Channel != ChannelEmploymentCentre {
		return nil, formError("Filing: channel %q is not a counter's", channel)
	}
	if f.Office, err = seq.requiredText("Office"); err != nil {
		return nil, err
	}
	if !officePattern.MatchString(f.Office) {
		return nil, formError("Filing: Office must be a code")
	}
	if f.OperatorIIN, err = seq.requiredText("Operator"); err != nil {
		return nil, err
	}
	if _, err := signing.ParseIIN(f.OperatorIIN); err != nil {
		return nil, err
	}
	if rep := seq.optional("Representative"); rep != nil {
		if f.Representative, err = readRepresentative(rep); err != nil {
			return nil, err
		}
	}
	if err := seq.end(); err != nil {
		return nil, err
	}
	return f, nil
}

func readRepresentative(el *etree.Element) (*Representative, error) {
	seq := newSequence(el, RequestNamespace, formError)
	r := &Representative{}
	var err error
	if r.IIN, err = seq.requiredText("IIN"); err != nil {
		return nil, err
	}
	if _, err := signing.ParseIIN(r.IIN); err != nil {
		return nil, err
	}
	if r.Surname, err = seq.requiredText("Surname"); err != nil {
		return nil, err
	}
	if r.GivenName, err = seq.requiredText("GivenName"); err != nil {
		return nil, err
	}
	if r.Patronymic, err = seq.optionalText("Patronymic"); err != nil {
		return nil, err
	}
	for _, v := range []string{r.Surname, r.GivenName, r.Patronymic} {
		if len([]rune(v)) > maxNameLength {
			return nil, formError("Representative: a name longer than %d characters", maxNameLength)
		}
	}
	if r.Surname == "" || r.GivenName == "" {
		return nil, formError("Representative: Surname and GivenName are required")
	}
	poa, err := seq.required("PowerOfAttorney")
	if err != nil {
		return nil, err
	}
	ps := newSequence(poa, RequestNamespace, formError)
	p := &r.PowerOfAttorney
	if p.Number, err = ps.requiredText("Number"); err != nil {
		return nil, err
	}
	if !attorneyPattern.MatchString(p.Number) {
		return nil, formError("PowerOfAttorney: Number must be ЕНИС's (A-Z, 0-9, -)")
	}
	if p.Notary, err = ps.requiredText("Notary"); err != nil {
		return nil, err
	}
	if p.Notary == "" || len([]rune(p.Notary)) > 2*maxNameLength {
		return nil, formError("PowerOfAttorney: Notary must be 1–%d characters", 2*maxNameLength)
	}
	until, err := ps.requiredText("Until")
	if err != nil {
		return nil, err
	}
	if p.Until, err = time.ParseInLocation(time.DateOnly, until, egov.Almaty); err != nil {
		return nil, formError("PowerOfAttorney: Until must be a date")
	}
	if err := ps.end(); err != nil {
		return nil, err
	}
	if err := seq.end(); err != nil {
		return nil, err
	}
	return r, nil
}

// applicantOrder is the schema's sequence of the applicant's elements.
var applicantOrder = []string{"IIN", "BIN", "Surname", "GivenName", "Patronymic", "Phone"}

func readApplicant(el *etree.Element) (Applicant, error) {
	i := 0
	seen := map[string]string{}
	for _, c := range el.ChildElements() {
		for i < len(applicantOrder) && applicantOrder[i] != c.Tag {
			i++
		}
		if i == len(applicantOrder) || c.NamespaceURI() != RequestNamespace {
			return Applicant{}, formError("Applicant: unexpected or misplaced element %s", c.Tag)
		}
		v, err := textOnly(c, formError)
		if err != nil {
			return Applicant{}, err
		}
		seen[c.Tag] = v
		i++
	}
	for _, name := range []string{"IIN", "Surname", "GivenName"} {
		if seen[name] == "" {
			return Applicant{}, formError("Applicant: %s is required", name)
		}
	}
	for _, name := range []string{"Surname", "GivenName", "Patronymic"} {
		if len([]rune(seen[name])) > maxNameLength {
			return Applicant{}, formError("Applicant: %s longer than %d characters", name, maxNameLength)
		}
	}
	if _, err := signing.ParseIIN(seen["IIN"]); err != nil {
		return Applicant{}, err
	}
	if b := seen["BIN"]; b != "" {
		if _, err := signing.ParseBIN(b); err != nil {
			return Applicant{}, err
		}
	}
	if p := seen["Phone"]; p != "" && !phonePattern.MatchString(p) {
		return Applicant{}, egov.Errorf(egov.CodePhoneInvalid, "applicant phone")
	}
	return Applicant{IIN: seen["IIN"], BIN: seen["BIN"], Surname: seen["Surname"], GivenName: seen["GivenName"],
		Patronymic: seen["Patronymic"], Phone: seen["Phone"]}, nil
}

func readForm(el *etree.Element) (map[string]string, error) {
	fields := el.ChildElements()
	if len(fields) > MaxFields {
		return nil, formError("at most %d form fields", MaxFields)
	}
	form := make(map[string]string, len(fields))
	for _, f := range fields {
		name := f.SelectAttrValue("name", "")
		if f.Tag != "Field" || f.NamespaceURI() != RequestNamespace || !codePattern.MatchString(name) || len(f.Attr) != 1 || len(f.ChildElements()) > 0 {
			return nil, formError("Form may hold only <Field name=\"…\">text</Field>")
		}
		if _, dup := form[name]; dup {
			return nil, formError("field %q given twice", name)
		}
		form[name] = strings.TrimSpace(f.Text())
	}
	return form, nil
}

// attachmentAttributes are the attributes of <Attachment/>, in the order
// the writer puts them.
var attachmentAttributes = []string{"kind", "fileName", "mimeType", "size", "sha256", "expires"}

func readAttachmentHeader(el *etree.Element) (AttachmentHeader, error) {
	if el.Tag != "Attachment" || el.NamespaceURI() != RequestNamespace || len(el.ChildElements()) > 0 {
		return AttachmentHeader{}, formError("Attachments may hold only <Attachment/> elements")
	}
	for _, a := range el.Attr {
		if a.Space != "" || !slices.Contains(attachmentAttributes, a.Key) {
			return AttachmentHeader{}, formError("Attachment: unknown attribute %s", a.Key)
		}
	}
	h := AttachmentHeader{
		Kind: el.SelectAttrValue("kind", ""), FileName: el.SelectAttrValue("fileName", ""),
		MIMEType: el.SelectAttrValue("mimeType", ""), SHA256: el.SelectAttrValue("sha256", ""),
	}
	size, err := strconv.ParseInt(el.SelectAttrValue("size", ""), 10, 64)
	switch {
	case !codePattern.MatchString(h.Kind):
		return h, formError("Attachment: kind must be a code")
	case h.FileName == "" || len([]rune(h.FileName)) > maxNameLength || strings.ContainsAny(h.FileName, "/\\\x00"):
		return h, formError("Attachment: fileName must be a plain name of 1–%d characters", maxNameLength)
	case !strings.Contains(h.MIMEType, "/"):
		return h, formError("Attachment: mimeType must be a media type")
	case err != nil || size <= 0:
		return h, formError("Attachment: size must be a positive integer")
	case !sha256Pattern.MatchString(h.SHA256):
		return h, formError("Attachment: sha256 must be 64 lowercase hex digits")
	}
	h.Size = size
	if v := el.SelectAttrValue("expires", ""); v != "" {
		t, err := time.ParseInLocation(time.DateOnly, v, egov.Almaty)
		if err != nil {
			return h, formError("Attachment: expires must be a date")
		}
		h.Expires = &t
	}
	return h, nil
}

// Document writes the request as an unsigned XML document in the schema's
// order, ready for signing. For a request that ReadRequest returned, or
// one built to its rules, ReadRequest reads back the same request. It
// checks nothing: tests write invalid requests on purpose to see them
// refused. Form fields are written sorted by name, so the same request is
// always the same bytes.
func (r *Request) Document() []byte {
	var w writer
	w.raw(xmlDeclaration)
	w.raw(`<ServiceRequest xmlns="` + RequestNamespace + `" version="1">` + "\n")
	w.element(1, "RequestId", r.RequestID)
	w.element(1, "ServiceCode", r.ServiceCode)
	w.element(1, "Region", r.Region)
	// RFC3339Nano keeps a fraction of a second that was read (and writes
	// none for whole seconds), so a read request is written unchanged.
	w.element(1, "IssuedAt", r.IssuedAt.Format(time.RFC3339Nano))
	w.raw("  <Applicant>\n")
	a := r.Applicant
	for i, v := range []string{a.IIN, a.BIN, a.Surname, a.GivenName, a.Patronymic, a.Phone} {
		name := applicantOrder[i]
		if v != "" || name == "IIN" || name == "Surname" || name == "GivenName" {
			w.element(2, name, v)
		}
	}
	w.raw("  </Applicant>\n")
	if len(r.Form) == 0 {
		w.raw("  <Form/>\n")
	} else {
		w.raw("  <Form>\n")
		names := make([]string, 0, len(r.Form))
		for name := range r.Form {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			w.indent(2)
			w.raw("<Field")
			w.attr("name", name)
			w.raw(">")
			w.escape(r.Form[name], false)
			w.raw("</Field>\n")
		}
		w.raw("  </Form>\n")
	}
	if len(r.Attachments) > 0 {
		w.raw("  <Attachments>\n")
		for _, h := range r.Attachments {
			w.indent(2)
			w.raw("<Attachment")
			w.attr("kind", h.Kind)
			w.attr("fileName", h.FileName)
			w.attr("mimeType", h.MIMEType)
			w.attr("size", strconv.FormatInt(h.Size, 10))
			w.attr("sha256", h.SHA256)
			if h.Expires != nil {
				w.attr("expires", h.Expires.Format(time.DateOnly))
			}
			w.raw("/>\n")
		}
		w.raw("  </Attachments>\n")
	}
	if f := r.Filing; f != nil {
		w.raw("  <Filing>\n")
		w.element(2, "Channel", string(f.Channel))
		w.element(2, "Office", f.Office)
		w.element(2, "Operator", f.OperatorIIN)
		if rep := f.Representative; rep != nil {
			w.raw("    <Representative>\n")
			w.element(3, "IIN", rep.IIN)
			w.element(3, "Surname", rep.Surname)
			w.element(3, "GivenName", rep.GivenName)
			if rep.Patronymic != "" {
				w.element(3, "Patronymic", rep.Patronymic)
			}
			w.raw("      <PowerOfAttorney>\n")
			w.element(4, "Number", rep.PowerOfAttorney.Number)
			w.element(4, "Notary", rep.PowerOfAttorney.Notary)
			w.element(4, "Until", rep.PowerOfAttorney.Until.In(egov.Almaty).Format(time.DateOnly))
			w.raw("      </PowerOfAttorney>\n")
			w.raw("    </Representative>\n")
		}
		w.raw("  </Filing>\n")
	}
	w.raw("</ServiceRequest>\n")
	return w.bytes()
}
