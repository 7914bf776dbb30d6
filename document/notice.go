package document

import (
	"github.com/beevik/etree"

	"egov/signing"
)

// NoticeStatus is what a provider's notice says of a request.
type NoticeStatus string

// StatusAcceptedForProcessing is the one status of version 1: the provider
// has the request and is working on it.
const StatusAcceptedForProcessing NoticeStatus = "accepted-for-processing"

// Notice is the provider's unsigned notice (ProviderNotice, in the result
// namespace) that a request was accepted for processing. It names the
// request and its applicant, so the portal can check that the answer is
// about the person whose request it holds.
type Notice struct {
	RequestID string // lowercase UUID
	Status    NoticeStatus
	Applicant string // the applicant's IIN
}

// ReadNotice reads a notice element by the rules of the result schema's
// ProviderNotice: version 1, RequestId, Status and Applicant in that order,
// nothing else, a known status and a valid IIN. A refusal is an
// *egov.Error with egov.CodeAnswerUnmatched.
func ReadNotice(root *etree.Element) (*Notice, error) {
	if root.Tag != "ProviderNotice" || root.NamespaceURI() != ResultNamespace {
		return nil, answerError("notice root must be {%s}ProviderNotice", ResultNamespace)
	}
	if v, err := rootAttributes(root, answerError); err != nil {
		return nil, err
	} else if v != "1" {
		return nil, answerError("notice version %q, only 1 is accepted", v)
	}
	seq := newSequence(root, ResultNamespace, answerError)
	n := &Notice{}
	var status string
	var err error
	if n.RequestID, err = seq.requiredText("RequestId"); err != nil {
		return nil, err
	}
	if status, err = seq.requiredText("Status"); err != nil {
		return nil, err
	}
	if n.Applicant, err = seq.requiredText("Applicant"); err != nil {
		return nil, err
	}
	// Unsigned: a signature here would be one nobody checks.
	if err := seq.end(); err != nil {
		return nil, err
	}
	n.Status = NoticeStatus(status)
	switch {
	case !uuidPattern.MatchString(n.RequestID):
		return nil, answerError("notice RequestId must be a lowercase UUID")
	case n.Status != StatusAcceptedForProcessing:
		return nil, answerError("notice status %q unknown", status)
	}
	if _, err := signing.ParseIIN(n.Applicant); err != nil {
		return nil, answerError("notice Applicant: %w", err)
	}
	return n, nil
}

// Document writes the notice as XML. For a notice that ReadNotice
// returned, ReadNotice reads back the same notice. It checks nothing.
func (n *Notice) Document() []byte {
	var w writer
	w.raw(`<ProviderNotice xmlns="` + ResultNamespace + `" version="1">` + "\n")
	w.element(1, "RequestId", n.RequestID)
	w.element(1, "Status", string(n.Status))
	w.element(1, "Applicant", n.Applicant)
	w.raw("</ProviderNotice>\n")
	return w.bytes()
}
