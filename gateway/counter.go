package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"egov"
	"egov/document"
	"egov/shep/soap"
)

// A request filed at a State Corporation counter is the counter's: its
// system files it and sends it to the provider itself. The citizen's
// cabinet shows it all the same, marked as filed at a counter: the
// counter's system tells the portal through the bus of the request its
// operator signed (document.CounterFilingService) and hands on the
// provider's signed result (document.CounterResultService). The portal
// believes each only as far as it verifies it: the operator's authority
// for the counter's BIN and the IIN the filing names; the provider's
// signature for the system the counter's channel goes to, about this very
// request of this applicant, from the counter that filed it.

// fileCounterFiling files a counter's request in its applicant's cabinet,
// once.
func (a *App) fileCounterFiling(ctx context.Context, m soap.AsyncMessage) error {
	info := m.MessageInfo
	bin, ok := a.cfg.CounterBINs[info.Sender.SenderID]
	if !ok {
		return unmatched("no counter %s known to the portal", info.Sender.SenderID)
	}
	res, err := a.cfg.ResultVerifier.Verify(ctx, []byte(m.MessageData.Data))
	if err != nil {
		return fmt.Errorf("counter filing: %w", err)
	}
	if err := res.RequireAuthority(bin, nil); err != nil {
		return err
	}
	req, err := document.ReadRequest(res.Element)
	if err != nil {
		return err
	}
	if req.Filing == nil || req.Filing.Channel != document.ChannelStateCorporation {
		return unmatched("a counter's filing that names no State Corporation counter")
	}
	if err := res.RequireIIN(req.Filing.OperatorIIN); err != nil {
		return err
	}
	svc, ch, err := a.counterChannel(req.ServiceCode, req.Region)
	if err != nil {
		return err
	}
	// The receipt's times are the counter's word, as the bus authenticated
	// it; without them, the term from the document's own time.
	accepted, due := req.IssuedAt, time.Time{}
	if v, ok := info.Property(document.PropAcceptedAt); ok {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			accepted = t
		}
	}
	if v, ok := info.Property(document.PropDueAt); ok {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil && t.After(accepted) {
			due = t
		}
	}
	if due.IsZero() {
		if due, err = ch.Due(a.cfg.Calendar, accepted, false); err != nil {
			return err
		}
	}
	ref := RequestRef{IIN: req.Applicant.IIN, ID: req.RequestID}
	r := &Request{ID: req.RequestID, Service: svc.Code, Region: req.Region, State: StateRelayed, AcceptedAt: accepted, DueAt: due,
		Attachments: req.Attachments, Evidence: &res.Evidence, Channel: ChannelStateCorporation, Office: req.Filing.Office}
	r.History = []HistoryEntry{{State: "accepted", At: accepted, Note: "filed at the State Corporation's counter " + req.Filing.Office}}
	seq, err := a.cabinetSeq(ctx, ref.IIN, 1)
	if err != nil {
		return err
	}
	err = a.create(ctx, ref, r, seq, newRecord{Recipient: ch.Recipient, BusService: ch.BusServiceOf(svc.Code), Document: []byte(m.MessageData.Data),
		Accepted: counterAcceptedMessage(r, svc), FiledBy: info.Sender.SenderID, Office: req.Filing.Office})
	var replayed *ErrReplayed
	if errors.As(err, &replayed) {
		return nil // told twice
	}
	if err == nil {
		a.log.Info("request filed at a counter", "request", r.ID, "service", r.Service, "office", r.Office)
	}
	return err
}

// counterChannel is the service's counter channel through the bus.
func (a *App) counterChannel(code, region string) (*Service, *Channel, error) {
	svc, err := a.cfg.Catalogue.Lookup(code)
	if err != nil {
		return nil, nil, unmatched("a counter's filing of an unknown service %q", code)
	}
	if r := svc.Regions[region]; r != nil {
		if ch := r.Channels[ChannelStateCorporation]; ch != nil && ch.Recipient != "" {
			return svc, ch, nil
		}
	}
	return nil, nil, unmatched("%s has no counter channel through the bus in %s", code, region)
}

// fileCounterResult files the provider's result of a request a counter
// filed, as the portal files a result of its own requests.
func (a *App) fileCounterResult(ctx context.Context, m soap.AsyncMessage) error {
	info := m.MessageInfo
	if _, ok := a.cfg.CounterBINs[info.Sender.SenderID]; !ok {
		return unmatched("no counter %s known to the portal", info.Sender.SenderID)
	}
	// Which request it is about: read from the verified document only;
	// whose signature it must carry is known once the request is.
	res, err := a.cfg.ResultVerifier.Verify(ctx, []byte(m.MessageData.Data))
	if err != nil {
		return fmt.Errorf("counter result: %w", err)
	}
	named, err := document.ReadResult(res.Element)
	if err != nil {
		return err
	}
	ref := RequestRef{IIN: named.Applicant, ID: named.RequestID}
	rec, err := a.load(ctx, ref, false)
	if err != nil {
		return err
	}
	if rec.State == "" {
		// The filing and its result are two messages, handled in any
		// order: the result comes back until the filing is in.
		return fmt.Errorf("a result handed on by %s for request %s, not filed here (yet)", info.Sender.SenderID, ref)
	}
	filedBy, err := a.rdb.HGet(ctx, a.requestKeys(ref).record, "filedBy").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	if filedBy != info.Sender.SenderID {
		return unmatched("a result handed on by %s for a request it did not file", info.Sender.SenderID)
	}
	svc, err := a.cfg.Catalogue.Lookup(rec.Service)
	if err != nil {
		return err
	}
	now := a.now()
	outcome, msg, err := a.readResult(ctx, m, ref, rec.Recipient, svc, now)
	if err != nil {
		return err
	}
	_, err = a.transition(ctx, ref, info.MessageID, resultStep(outcome, msg.Data["number"], m.MessageData.Data, now, msg))
	return err
}

// fileCounterHandOut files in the cabinet that the counter gave the
// result of a request it filed to the applicant or his representative:
// the counter's word, as the bus authenticated it, about a request that
// counter filed and whose result is in. It moves no state; it is taken
// once.
func (a *App) fileCounterHandOut(ctx context.Context, m soap.AsyncMessage) error {
	info := m.MessageInfo
	if _, ok := a.cfg.CounterBINs[info.Sender.SenderID]; !ok {
		return unmatched("no counter %s known to the portal", info.Sender.SenderID)
	}
	h, err := document.ReadHandOut([]byte(m.MessageData.Data))
	if err != nil {
		return err
	}
	ref := RequestRef{IIN: h.Applicant, ID: h.RequestID}
	v, err := a.rdb.HMGet(ctx, a.requestKeys(ref).record, "state", "filedBy", "office").Result()
	if err != nil {
		return err
	}
	if str(v[0]) == "" {
		return fmt.Errorf("a hand-out told by %s for request %s, not filed here (yet)", info.Sender.SenderID, ref)
	}
	if str(v[1]) != info.Sender.SenderID || str(v[2]) != h.Office {
		return unmatched("a hand-out told by %s for a request it did not file at office %s", info.Sender.SenderID, h.Office)
	}
	at := h.At.In(egov.Almaty).Format("02.01.2006 15:04")
	to := Names{RU: "заявителю", KK: "өтініш берушіге", EN: "the applicant"}
	if h.To == document.HandedToRepresentative {
		to = Names{RU: "представителю заявителя", KK: "өтініш берушінің өкіліне", EN: "the applicant's representative"}
	}
	msg := CabinetMessage{ID: "handout-" + ref.ID, Kind: "handed-out", RequestID: ref.ID, At: a.now(),
		Title: Names{RU: "Результат выдан в Государственной корпорации", KK: "Нәтиже Мемлекеттік корпорацияда берілді", EN: "Result handed out at the State Corporation"},
		Text: Names{RU: "Результат выдан " + to.RU + " в отделе " + h.Office + " Государственной корпорации " + at + " (время Астаны).",
			KK: "Нәтиже Мемлекеттік корпорацияның " + h.Office + " бөлімінде " + at + " (Астана уақыты) " + to.KK + " берілді.",
			EN: "The result was handed to " + to.EN + " at the State Corporation's office " + h.Office + " on " + at + " (Astana time)."},
		Data: map[string]string{"to": h.To, "office": h.Office, "at": h.At.UTC().Format(time.RFC3339)}}
	// Whatever result it has: one filed after the read above is the one
	// handed out. Before any, the hand-out waits (an error that passes).
	step := step{AfterEnd: true, Once: "handedOut",
		Set:   map[string]string{"handedOutAt": h.At.UTC().Format(time.RFC3339), "handedOutTo": h.To},
		Entry: historyJSON(eventHandedOut, h.At, "to the "+h.To+" at office "+h.Office), Message: messageStep(msg, "")}
	_, err = a.transition(ctx, ref, info.MessageID, step)
	return err
}

// counterAcceptedMessage is the cabinet's message of a request filed at a
// counter: where, and when the result is due.
func counterAcceptedMessage(r *Request, svc *Service) CabinetMessage {
	msg := acceptedMessage(r, svc)
	due := r.DueAt.In(egov.Almaty).Format("02.01.2006 15:04")
	msg.Title = Names{RU: "Заявление принято в Государственной корпорации: " + svc.Names.RU,
		KK: "Өтініш Мемлекеттік корпорацияда қабылданды: " + svc.Names.KK, EN: "Application accepted at the State Corporation: " + svc.Names.EN}
	msg.Text = Names{
		RU: "Ваше заявление принято в отделе " + r.Office + " Государственной корпорации. Результат будет готов не позднее " + due + " (время Астаны); его выдадут там же.",
		KK: "Өтінішіңіз Мемлекеттік корпорацияның " + r.Office + " бөлімінде қабылданды. Нәтиже " + kkAblative(due) + " кешіктірмей дайын болады (Астана уақыты); оны сол жерде береді.",
		EN: "Your application was accepted at the State Corporation's office " + r.Office + ". The result will be ready by " + due + " (Astana time), to collect there.",
	}
	msg.Data["channel"], msg.Data["office"] = ChannelStateCorporation, r.Office
	return msg
}
