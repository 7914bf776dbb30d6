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
	if err := seq.endOfRoot(); err != nil {
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
		t, err := time.ParseInLocation(time.DateOnly, v, almaty)
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
	w.raw("</ServiceRequest>\n")
	return w.bytes()
}
