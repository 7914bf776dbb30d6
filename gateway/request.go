package gateway

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"egov"
	"egov/document"
)

// formError is a refusal of the form with what exactly is wrong.
func formError(format string, args ...any) error {
	return egov.Errorf(egov.CodeFormInvalid, format, args...)
}

// CheckForm validates the request's form against the service's fields.
func (s *PortalForm) CheckForm(r *document.Request) error {
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
func (s *PortalForm) CheckDocuments(r *document.Request, now time.Time) error {
	for _, rule := range s.Documents {
		if rule.Required && !slices.ContainsFunc(r.Attachments, func(a document.AttachmentHeader) bool { return a.Kind == rule.Kind }) {
			return egov.Errorf(egov.CodeAttachmentMissing, "document %q is required", rule.Kind)
		}
	}
	today := now.In(egov.Almaty).Format(time.DateOnly)
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
// with placeholders. It is a template rather than document.Request's
// writer because its placeholders (empty values, the choices of an enum
// field) are exactly what the writer's reader would refuse.
func (s *Service) Skeleton(region, requestID string, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServiceRequest xmlns=\"%s\" version=\"1\">\n", document.RequestNamespace)
	fmt.Fprintf(&b, "  <RequestId>%s</RequestId>\n  <ServiceCode>%s</ServiceCode>\n  <Region>%s</Region>\n", requestID, s.Code, region)
	fmt.Fprintf(&b, "  <IssuedAt>%s</IssuedAt>\n", now.In(egov.Almaty).Format(time.RFC3339))
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
