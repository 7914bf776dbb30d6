package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"egov"
	"egov/document"
	"egov/internal/redisconn"
	"egov/signing"
)

// Request is a citizen's accepted request as the portal tracks it.
type Request struct {
	ID          string                      `json:"id"`
	Service     string                      `json:"service"`
	Region      string                      `json:"region"`
	State       State                       `json:"state"`
	AcceptedAt  time.Time                   `json:"acceptedAt"`
	DueAt       time.Time                   `json:"dueAt"`
	Attachments []document.AttachmentHeader `json:"attachments,omitempty"`
	LastError   string                      `json:"lastError,omitempty"`
	Outcome     string                      `json:"outcome,omitempty"`
	History     []HistoryEntry              `json:"history"`
	// Evidence of the citizen's signature (of the operator's, for a
	// request filed at a counter).
	Evidence *signing.Evidence `json:"evidence,omitempty"`
	// Channel is "state-corporation" for a request filed at a counter,
	// Office the office; empty for the portal's own.
	Channel string `json:"channel,omitempty"`
	Office  string `json:"office,omitempty"`
	// SMSNotices are the status notices by SMS the citizen asked for, what
	// came of each (a failed one is shown here).
	SMSNotices []SMSNotice `json:"smsNotices,omitempty"`
}

// HistoryEntry is one step of a request's life: the state it entered, or
// an event that moved nothing — "accepted" (its first entry), "update" (an
// update from the provider), "ignored" (a late or repeated answer, kept
// for the record with what it was).
type HistoryEntry struct {
	State string    `json:"state"`
	At    time.Time `json:"at"`
	Note  string    `json:"note,omitempty"`
}

// Attachment is one uploaded document of a submission.
type Attachment struct {
	FileName string
	MIMEType string
	Data     []byte
}

// Submission is what a citizen sends: the signed XML and the attachments.
type Submission struct {
	Session     *Session
	Document    []byte
	Attachments []Attachment
}

// ErrReplayed carries the id of the request already accepted under the
// same request id.
type ErrReplayed struct{ RequestID string }

func (e *ErrReplayed) Error() string { return "request already accepted: " + e.RequestID }

// attachmentRetention keeps submitted bytes until long after the relay.
const attachmentRetention = 30 * 24 * time.Hour

// Submit runs the submission pipeline of DESIGN §3.1 and SPEC §1 (C2, P4,
// acceptance): signature and certificate, the IIN of request, certificate
// and session, the service and its form, the attachments against their
// signed headers, freshness and replay; then it persists the request, its
// outbox entry and the cabinet's "accepted" message in one transaction.
func (a *App) Submit(ctx context.Context, sub Submission) (*Request, error) {
	if int64(len(sub.Document)) > a.cfg.MaxXML {
		return nil, egov.Errorf(egov.CodeXMLTooLarge, "%d bytes", len(sub.Document))
	}
	res, err := a.verifier.Verify(ctx, sub.Document)
	if err != nil {
		return nil, err
	}
	req, err := document.ReadRequest(res.Element)
	if err != nil {
		return nil, err
	}
	if req.Filing != nil {
		// A counter files through its own system, signed by its operator:
		// a citizen's request that claims a counter or a representative
		// would have the provider take his word for both.
		return nil, egov.Errorf(egov.CodeFormInvalid, "a request filed at a counter (Filing) is not submitted on the portal")
	}
	// C2: the IIN of the request, of the certificate and of the session agree.
	if err := res.RequireIIN(req.Applicant.IIN); err != nil {
		return nil, err
	}
	if req.Applicant.IIN != sub.Session.IIN {
		return nil, egov.Errorf(egov.CodeIINMismatch, "request IIN differs from the session's")
	}
	if req.Applicant.BIN != "" {
		if err := res.RequireBIN(req.Applicant.BIN); err != nil {
			return nil, err
		}
		if req.Applicant.BIN != sub.Session.BIN {
			return nil, egov.Errorf(egov.CodeBINMismatch, "request BIN differs from the session's")
		}
	}
	svc, channel, err := a.cfg.Catalogue.PortalChannel(req.ServiceCode, req.Region)
	if err != nil {
		return nil, err
	}
	if err := svc.Portal.CheckForm(req); err != nil {
		return nil, err
	}
	now := a.now()
	if err := svc.Portal.CheckDocuments(req, now); err != nil {
		return nil, err
	}
	if err := a.matchAttachments(req, sub.Attachments); err != nil {
		return nil, err
	}
	if d := now.Sub(req.IssuedAt); d > a.cfg.IssueWindow || d < -a.cfg.IssueWindow {
		return nil, egov.Errorf(egov.CodeRequestStale, "issued %s, now %s", req.IssuedAt.Format(time.RFC3339), now.Format(time.RFC3339))
	}

	iin := req.Applicant.IIN
	ref := RequestRef{IIN: iin, ID: req.RequestID}
	due, err := channel.Due(a.cfg.Calendar, now, false)
	if err != nil {
		return nil, err
	}
	r := &Request{ID: req.RequestID, Service: req.ServiceCode, Region: req.Region, State: StateWaitingForRelay,
		AcceptedAt: now, DueAt: due,
		Attachments: req.Attachments, Evidence: &res.Evidence}
	r.History = []HistoryEntry{{State: "accepted", At: now}}
	seq, err := a.cabinetSeq(ctx, iin, 1)
	if err != nil {
		return nil, err
	}
	// Attachments first: content-addressed, so a failed transaction leaves
	// nothing wrong behind, only bytes that expire.
	if len(sub.Attachments) > 0 {
		pipe := a.rdb.Pipeline()
		for _, att := range sub.Attachments {
			sum := sha256.Sum256(att.Data)
			pipe.Set(ctx, a.attachmentKey(iin, hex.EncodeToString(sum[:])), att.Data, attachmentRetention)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, err
		}
	}
	err = a.create(ctx, ref, r, seq, newRecord{BIN: req.Applicant.BIN, Recipient: channel.Recipient, BusService: channel.BusServiceOf(svc.Code),
		Document: sub.Document, Accepted: acceptedMessage(r, svc)})
	if outcomeUnknown(err) {
		// The connection went while the transaction was on its way, or
		// it committed on the master but not yet on the replicas asked
		// for: then nothing hints the relay. Sweep as soon as Redis
		// answers rather than a minute later.
		a.signalHintLost()
	}
	if errors.Is(err, redisconn.ErrNotReplicated) {
		// Not promised: the citizen tries again, and finds the request
		// accepted (request-replayed) if the master kept it.
		a.log.Warn("request written but not acknowledged by the replicas in time; answered unavailable", "request", r.ID, "err", err)
		return nil, egov.Errorf(egov.CodeUnavailable, "request %s not yet on the replicas", r.ID)
	}
	if err != nil {
		return nil, err
	}
	// Wake the relay. Were this lost, the sweeper finds the outbox entry.
	if err := a.rdb.XAdd(ctx, &redis.XAddArgs{Stream: a.relayStream(shardOf(iin)), Values: []any{"iin", iin, "id", r.ID}}).Err(); err != nil {
		a.log.Warn("relay hint lost, the sweeper will find the request", "err", err)
		a.signalHintLost()
	}
	a.log.Info("request accepted", "request", r.ID, "service", r.Service, "iin", signing.MaskIIN(iin),
		"certificate", res.Evidence.CertificateSerial, "due", r.DueAt)
	return r, nil
}

// outcomeUnknown tells whether err leaves it open if Redis carried the
// command out: the connection failed, not Redis's answer.
func outcomeUnknown(err error) bool {
	var replayed *ErrReplayed
	var answer redis.Error
	return err != nil && !errors.As(err, &replayed) && !errors.As(err, &answer)
}

// matchAttachments pairs the uploaded files with the signed headers: each
// header has exactly one file of its size and SHA-256, and no file is left
// over.
func (a *App) matchAttachments(req *document.Request, files []Attachment) error {
	used := make([]bool, len(files))
	for _, h := range req.Attachments {
		found := false
		for i, f := range files {
			if used[i] || f.FileName != h.FileName {
				continue
			}
			sum := sha256.Sum256(f.Data)
			if hex.EncodeToString(sum[:]) != h.SHA256 || int64(len(f.Data)) != h.Size {
				return egov.Errorf(egov.CodeAttachmentMismatch, "%s", h.FileName)
			}
			if int64(len(f.Data)) > a.cfg.MaxAttachment {
				return egov.Errorf(egov.CodeAttachmentRejected, "%s larger than %d bytes", h.FileName, a.cfg.MaxAttachment)
			}
			if err := checkContentType(h, f); err != nil {
				return err
			}
			used[i], found = true, true
			break
		}
		if !found {
			return egov.Errorf(egov.CodeAttachmentMissing, "%s declared but not attached", h.FileName)
		}
	}
	for i, f := range files {
		if !used[i] {
			return egov.Errorf(egov.CodeAttachmentUndeclared, "%s", f.FileName)
		}
	}
	return nil
}

// checkContentType compares what an attachment is with what its signed
// header says it is: the type sniffed from its first bytes (the WHATWG
// algorithm of net/http, which knows PDF, JPEG and PNG, the types the
// catalogue accepts) must be the declared one, and the part's own
// Content-Type, when it names one, must not say otherwise. A page of HTML
// signed as a PDF is refused, whatever its hash.
func checkContentType(h document.AttachmentHeader, f Attachment) error {
	sniffed, _, _ := mime.ParseMediaType(http.DetectContentType(f.Data))
	if sniffed != h.MIMEType {
		return egov.Errorf(egov.CodeAttachmentTypeFalse, "%s: declared %s, the content is %s", h.FileName, h.MIMEType, sniffed)
	}
	if f.MIMEType != "" {
		part, _, err := mime.ParseMediaType(f.MIMEType)
		if err != nil || (part != h.MIMEType && part != "application/octet-stream") {
			return egov.Errorf(egov.CodeAttachmentTypeFalse, "%s: declared %s, sent as %q", h.FileName, h.MIMEType, f.MIMEType)
		}
	}
	return nil
}

func acceptedMessage(r *Request, svc *Service) CabinetMessage {
	due := r.DueAt.In(egov.Almaty).Format("02.01.2006 15:04")
	return CabinetMessage{
		ID: "accepted-" + r.ID, Kind: "accepted", RequestID: r.ID, At: r.AcceptedAt,
		Title: Names{RU: "Запрос принят: " + svc.Names.RU, KK: "Сұрау қабылданды: " + svc.Names.KK, EN: "Request accepted: " + svc.Names.EN},
		Text: Names{
			RU: "Ваш запрос принят. Результат будет готов не позднее " + due + " (время Астаны).",
			KK: "Сұрауыңыз қабылданды. Нәтиже " + kkAblative(due) + " кешіктірмей дайын болады (Астана уақыты).",
			EN: "Your request has been accepted. The result will be ready by " + due + " (Astana time).",
		},
		Data: map[string]string{"dueAt": r.DueAt.Format(time.RFC3339), "service": svc.Code},
	}
}

func msToTime(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
