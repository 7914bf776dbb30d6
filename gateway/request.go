package gateway

import (
	"fmt"
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

// ServiceRequest is the citizen's request as the signature check returned it.
type ServiceRequest struct {
	RequestID   string
	ServiceCode string
	Region      string
	IssuedAt    time.Time
	Applicant   Applicant
	Form        map[string]string
	Attachments []AttachmentHeader
}

// Applicant is who asks.
type Applicant struct {
	IIN, BIN                              string
	Surname, GivenName, Patronymic, Phone string
}

// AttachmentHeader is the signed description of one attached document.
type AttachmentHeader struct {
	Kind     string     `json:"kind"`
	FileName string     `json:"fileName"`
	MIMEType string     `json:"mimeType"`
	Size     int64      `json:"size"`
	SHA256   string     `json:"sha256"`
	Expires  *time.Time `json:"expires,omitempty"`
}

var (
	uuidPattern   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	codePattern   = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
	phonePattern  = regexp.MustCompile(`^\+7[0-9]{10}$`)
	sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// formError is a refusal of the form with what exactly is wrong.
func formError(format string, args ...any) error {
	return egov.Errorf(egov.CodeFormInvalid, format, args...)
}

// ParseServiceRequest reads the verified element by the rules of the
// request schema: the elements in their order, nothing unknown, every value
// in its format.
func ParseServiceRequest(root *etree.Element) (*ServiceRequest, error) {
	if root.Tag != "ServiceRequest" || root.NamespaceURI() != RequestNamespace {
		return nil, formError("root must be {%s}ServiceRequest", RequestNamespace)
	}
	if v := root.SelectAttrValue("version", "1"); v != "1" {
		return nil, formError("version %q, only 1 is accepted", v)
	}
	kids := root.ChildElements()
	next := func(name string, optional bool) (*etree.Element, error) {
		if len(kids) > 0 && kids[0].Tag == name && kids[0].NamespaceURI() == RequestNamespace {
			el := kids[0]
			kids = kids[1:]
			return el, nil
		}
		if optional {
			return nil, nil
		}
		return nil, formError("%s expected", name)
	}
	r := &ServiceRequest{Form: map[string]string{}}
	var err error
	if r.RequestID, err = textOf(next("RequestId", false)); err != nil {
		return nil, err
	}
	if !uuidPattern.MatchString(r.RequestID) {
		return nil, formError("RequestId must be a lowercase UUID")
	}
	if r.ServiceCode, err = textOf(next("ServiceCode", false)); err != nil {
		return nil, err
	}
	if r.Region, err = textOf(next("Region", false)); err != nil {
		return nil, err
	}
	if !codePattern.MatchString(r.ServiceCode) || !codePattern.MatchString(r.Region) {
		return nil, formError("ServiceCode and Region must be codes")
	}
	issued, err := textOf(next("IssuedAt", false))
	if err != nil {
		return nil, err
	}
	if r.IssuedAt, err = time.Parse(time.RFC3339, issued); err != nil {
		return nil, formError("IssuedAt must be an RFC 3339 time with a zone")
	}
	app, err := next("Applicant", false)
	if err != nil {
		return nil, err
	}
	if err := parseApplicant(app, &r.Applicant); err != nil {
		return nil, err
	}
	form, err := next("Form", false)
	if err != nil {
		return nil, err
	}
	for _, f := range form.ChildElements() {
		name := f.SelectAttrValue("name", "")
		if f.Tag != "Field" || f.NamespaceURI() != RequestNamespace || !codePattern.MatchString(name) || len(f.Attr) != 1 || len(f.ChildElements()) > 0 {
			return nil, formError("Form may hold only <Field name=\"…\">text</Field>")
		}
		if _, dup := r.Form[name]; dup {
			return nil, formError("field %q given twice", name)
		}
		r.Form[name] = strings.TrimSpace(f.Text())
	}
	if atts, _ := next("Attachments", true); atts != nil {
		for _, a := range atts.ChildElements() {
			h, err := parseAttachmentHeader(a)
			if err != nil {
				return nil, err
			}
			r.Attachments = append(r.Attachments, h)
		}
		if len(r.Attachments) > 20 {
			return nil, formError("at most 20 attachments")
		}
	}
	if len(kids) > 0 {
		return nil, formError("unexpected element %s", kids[0].Tag)
	}
	return r, nil
}

func textOf(el *etree.Element, err error) (string, error) {
	if err != nil {
		return "", err
	}
	if len(el.ChildElements()) > 0 {
		return "", formError("%s must hold text only", el.Tag)
	}
	return strings.TrimSpace(el.Text()), nil
}

func parseApplicant(el *etree.Element, a *Applicant) error {
	order := []string{"IIN", "BIN", "Surname", "GivenName", "Patronymic", "Phone"}
	required := map[string]bool{"IIN": true, "Surname": true, "GivenName": true}
	i := 0
	seen := map[string]string{}
	for _, c := range el.ChildElements() {
		for i < len(order) && order[i] != c.Tag {
			i++
		}
		if i == len(order) || c.NamespaceURI() != RequestNamespace {
			return formError("Applicant: unexpected or misplaced element %s", c.Tag)
		}
		v, err := textOf(c, nil)
		if err != nil {
			return err
		}
		seen[c.Tag] = v
		i++
	}
	for name := range required {
		if seen[name] == "" {
			return formError("Applicant: %s is required", name)
		}
	}
	for _, name := range []string{"Surname", "GivenName", "Patronymic"} {
		if len([]rune(seen[name])) > 100 {
			return formError("Applicant: %s longer than 100 characters", name)
		}
	}
	if _, err := signing.ParseIIN(seen["IIN"]); err != nil {
		return err
	}
	if b := seen["BIN"]; b != "" {
		if _, err := signing.ParseBIN(b); err != nil {
			return err
		}
	}
	if p := seen["Phone"]; p != "" && !phonePattern.MatchString(p) {
		return egov.Errorf(egov.CodePhoneInvalid, "applicant phone")
	}
	*a = Applicant{IIN: seen["IIN"], BIN: seen["BIN"], Surname: seen["Surname"], GivenName: seen["GivenName"],
		Patronymic: seen["Patronymic"], Phone: seen["Phone"]}
	return nil
}

func parseAttachmentHeader(el *etree.Element) (AttachmentHeader, error) {
	if el.Tag != "Attachment" || el.NamespaceURI() != RequestNamespace || len(el.ChildElements()) > 0 {
		return AttachmentHeader{}, formError("Attachments may hold only <Attachment/> elements")
	}
	known := []string{"kind", "fileName", "mimeType", "size", "sha256", "expires"}
	for _, a := range el.Attr {
		if a.Space != "" || !slices.Contains(known, a.Key) {
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
	case h.FileName == "" || len([]rune(h.FileName)) > 100 || strings.ContainsAny(h.FileName, "/\\\x00"):
		return h, formError("Attachment: fileName must be a plain name of 1–100 characters")
	case !strings.Contains(h.MIMEType, "/"):
		return h, formError("Attachment: mimeType must be a media type")
	case err != nil || size <= 0:
		return h, formError("Attachment: size must be a positive integer")
	case !sha256Pattern.MatchString(h.SHA256):
		return h, formError("Attachment: sha256 must be 64 lowercase hex digits")
	}
	h.Size = size
	if v := el.SelectAttrValue("expires", ""); v != "" {
		t, err := time.ParseInLocation(time.DateOnly, v, Almaty)
		if err != nil {
			return h, formError("Attachment: expires must be a date")
		}
		h.Expires = &t
	}
	return h, nil
}

// CheckForm validates the request's form against the service's fields.
func (s *PortalService) CheckForm(r *ServiceRequest) error {
	for _, f := range s.Form {
		v, ok := r.Form[f.Name]
		if !ok || v == "" {
			if f.Required {
				return formError("field %q is required", f.Name)
			}
			continue
		}
		switch f.Type {
		case "enum":
			if !slices.Contains(f.Values, v) {
				return formError("field %q must be one of %s", f.Name, strings.Join(f.Values, ", "))
			}
		case "text":
			if f.MaxLength > 0 && len([]rune(v)) > f.MaxLength {
				return formError("field %q longer than %d characters", f.Name, f.MaxLength)
			}
		}
	}
	for name := range r.Form {
		if !slices.ContainsFunc(s.Form, func(f FormField) bool { return f.Name == name }) {
			return formError("field %q is not part of this service's form", name)
		}
	}
	return nil
}

// CheckDocuments validates the declared attachments against the service's
// document rules at time now: kinds known, required ones present, types,
// sizes and expiry within the rules.
func (s *PortalService) CheckDocuments(r *ServiceRequest, now time.Time) error {
	for _, rule := range s.Documents {
		if rule.Required && !slices.ContainsFunc(r.Attachments, func(a AttachmentHeader) bool { return a.Kind == rule.Kind }) {
			return egov.Errorf(egov.CodeAttachmentMissing, "document %q is required", rule.Kind)
		}
	}
	today := now.In(Almaty).Format(time.DateOnly)
	for _, a := range r.Attachments {
		i := slices.IndexFunc(s.Documents, func(d DocumentRule) bool { return d.Kind == a.Kind })
		if i < 0 {
			return egov.Errorf(egov.CodeAttachmentRejected, "document kind %q is not accepted by this service", a.Kind)
		}
		rule := s.Documents[i]
		if !slices.Contains(rule.MIMETypes, a.MIMEType) {
			return egov.Errorf(egov.CodeAttachmentRejected, "%s: type %s not accepted", a.Kind, a.MIMEType)
		}
		if a.Size > rule.MaxSize {
			return egov.Errorf(egov.CodeAttachmentRejected, "%s: %d bytes, limit %d", a.Kind, a.Size, rule.MaxSize)
		}
		if rule.ExpiryRequired && a.Expires == nil {
			return formError("%s: its expiry date is required", a.Kind)
		}
		if a.Expires != nil && a.Expires.Format(time.DateOnly) < today {
			return egov.Errorf(egov.CodeAttachmentRejected, "%s expired on %s", a.Kind, a.Expires.Format(time.DateOnly))
		}
	}
	return nil
}

// Skeleton returns an unsigned request document for the service, ready to
// fill and sign: the fields of its form and the headers of its documents
// with placeholders.
func (s *Service) Skeleton(region, requestID string, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServiceRequest xmlns=\"%s\" version=\"1\">\n", RequestNamespace)
	fmt.Fprintf(&b, "  <RequestId>%s</RequestId>\n  <ServiceCode>%s</ServiceCode>\n  <Region>%s</Region>\n", requestID, s.Code, region)
	fmt.Fprintf(&b, "  <IssuedAt>%s</IssuedAt>\n", now.In(Almaty).Format(time.RFC3339))
	b.WriteString("  <Applicant>\n    <IIN></IIN>\n    <Surname></Surname>\n    <GivenName></GivenName>\n    <Phone></Phone>\n  </Applicant>\n  <Form>\n")
	for _, f := range s.Portal.Form {
		hint := ""
		if f.Type == "enum" {
			hint = strings.Join(f.Values, "|")
		}
		fmt.Fprintf(&b, "    <Field name=\"%s\">%s</Field>\n", f.Name, hint)
	}
	b.WriteString("  </Form>\n  <Attachments>\n")
	for _, d := range s.Portal.Documents {
		expires := ""
		if d.ExpiryRequired {
			expires = ` expires=""`
		}
		fmt.Fprintf(&b, "    <Attachment kind=\"%s\" fileName=\"\" mimeType=\"%s\" size=\"\" sha256=\"\"%s/>\n", d.Kind, d.MIMETypes[0], expires)
	}
	b.WriteString("  </Attachments>\n</ServiceRequest>\n")
	return b.String()
}
