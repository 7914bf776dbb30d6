package document

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"time"

	"egov"
	"egov/signing"
)

// CounterHandOutService names the bus service under which a counter's
// system tells a portal that the result of a request it filed was handed
// out: a REQUEST whose data is a HandOut document. It is the counter's
// word, as the bus authenticated its sender; the portal believes it only
// of a request that counter filed and that has its result.
func CounterHandOutService(portal string) string { return portal + ".counter-handout" }

// The people a result is handed to at a counter.
const (
	HandedToApplicant      = "applicant"
	HandedToRepresentative = "representative"
)

// HandOut records that a counter gave a request's result to the applicant
// or his representative.
type HandOut struct {
	XMLName   xml.Name  `xml:"urn:egov-gateway:counter:v1 HandOut"`
	RequestID string    `xml:"RequestId"`
	Applicant string    `xml:"Applicant"` // IIN
	To        string    `xml:"To"`        // HandedToApplicant or HandedToRepresentative
	Office    string    `xml:"Office"`
	At        time.Time `xml:"At"`
}

// maxHandOut bounds the document: a few short fields.
const maxHandOut = 1 << 10

// Document is the hand-out as the counter sends it.
func (h *HandOut) Document() []byte {
	data, _ := xml.Marshal(h)
	return data
}

// ReadHandOut reads a hand-out document strictly: its size, its one
// element of the counter's namespace, every field valid.
func ReadHandOut(data []byte) (*HandOut, error) {
	bad := func(format string, args ...any) error {
		return egov.Errorf(egov.CodeAnswerUnmatched, "hand-out: "+format, args...)
	}
	if len(data) > maxHandOut {
		return nil, bad("larger than %d bytes", maxHandOut)
	}
	if bytes.Contains(data, []byte("<!")) {
		return nil, bad("a DTD or comment")
	}
	var h HandOut
	dec := xml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&h); err != nil {
		return nil, bad("%v", err)
	}
	// One element, and nothing after it but white space.
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, bad("%v", err)
		}
		if cd, ok := tok.(xml.CharData); !ok || len(bytes.TrimSpace(cd)) > 0 {
			return nil, bad("content after the document")
		}
	}
	if _, err := signing.ParseIIN(h.Applicant); err != nil {
		return nil, bad("applicant: %v", err)
	}
	switch {
	case h.To != HandedToApplicant && h.To != HandedToRepresentative:
		return nil, bad("handed to %q", h.To)
	case !codePattern.MatchString(h.Office) || !uuidPattern.MatchString(h.RequestID) || h.At.IsZero():
		return nil, bad("a request id, an office and a time are required")
	}
	return &h, nil
}
