package gateway

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"egov"
	"egov/document"
	"egov/internal/retry"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
)

// consumerWorkers is how many answers are filed at once. Answers of one
// request always go to the same worker, so they are filed in the order
// the bus handed them out.
const consumerWorkers = 16

// runConsumer polls the portal's queue on the bus for the providers'
// answers (NOTIFICATION, UPDATE, RESPONSE), files each, and confirms it only
// once it is filed; an answer it cannot file yet is refused and comes back.
func (a *App) runConsumer(ctx context.Context) {
	lanes := make([]chan soap.AsyncMessage, consumerWorkers)
	var wg sync.WaitGroup
	for i := range lanes {
		lanes[i] = make(chan soap.AsyncMessage, 64)
		wg.Add(1)
		go func(in <-chan soap.AsyncMessage) {
			defer wg.Done()
			for m := range in {
				a.fileAndConfirm(ctx, m)
			}
		}(lanes[i])
	}
	defer func() {
		for _, l := range lanes {
			close(l)
		}
		wg.Wait()
	}()
	backoff := retry.New(a.cfg.RelayBackoff, time.Minute)
	for ctx.Err() == nil {
		resp, err := a.cfg.Bus.GetMessages(ctx, shep.NewGetMessages(a.cfg.Sender, a.anyPortalService(), 100, a.cfg.PollWait))
		if err != nil {
			if ctx.Err() == nil {
				d := backoff.Next()
				a.log.Warn("consumer: polling the bus failed", "retry_in", d, "err", err)
				sleep(ctx, d)
			}
			continue
		}
		backoff.Reset()
		for _, m := range resp.Response.Messages {
			h := fnv.New32a()
			h.Write([]byte(m.MessageInfo.CorrelationID))
			lanes[h.Sum32()%consumerWorkers] <- m
		}
	}
}

// fileAndConfirm files one answer and tells the bus: confirmed when filed
// (or filed before), refused for now when it cannot be filed yet (it comes
// back), rejected for good when it never will be (it does not belong to
// the request it names, or its signature does not hold): the bus keeps it
// as a dead letter for the operators, and no cabinet ever sees it.
func (a *App) fileAndConfirm(ctx context.Context, m soap.AsyncMessage) {
	err := a.HandleAnswer(ctx, m)
	if ctx.Err() != nil {
		return // the lease expires and the answer comes back
	}
	note := shep.NewDeliveryNotification(a.cfg.Sender, m.MessageInfo, err == nil, errText(err))
	switch {
	case err == nil:
		a.metrics.answers.WithLabelValues("filed").Inc()
	case egov.Permanent(err):
		a.metrics.answers.WithLabelValues("rejected").Inc()
		a.log.Warn("consumer: answer rejected", "message", m.MessageInfo.MessageID, "sender", m.MessageInfo.Sender.SenderID, "err", err)
		note = shep.NewRejection(a.cfg.Sender, m.MessageInfo, string(egov.ErrorCode(err)), err.Error())
	default:
		a.metrics.answers.WithLabelValues("refused").Inc()
		a.log.Warn("consumer: answer not filed, refusing it for now", "message", m.MessageInfo.MessageID, "err", err)
	}
	if _, nerr := a.cfg.Bus.SendDeliveryNotification(ctx, note); nerr != nil {
		a.log.Warn("consumer: delivery notification failed", "message", m.MessageInfo.MessageID, "err", nerr)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return string(egov.ErrorCode(err))
}

// anyPortalService names a service for getMessages (the bus authorises the
// poll by it; the portal's queue holds the answers of all services).
func (a *App) anyPortalService() string {
	for _, s := range a.cfg.Catalogue.Services {
		if s.OnPortal() {
			return s.Code
		}
	}
	return ""
}

// unmatched refuses an answer that does not belong where it claims to.
func unmatched(format string, args ...any) error {
	return egov.Errorf(egov.CodeAnswerUnmatched, format, args...)
}

// HandleAnswer files one answer of a provider: it finds whose request the
// answer's correlation belongs to, checks that the answer agrees (the
// provider and service the request went to, the correlation it was relayed
// under, the request id and IIN the document names, the signature of the
// provider's authorised person) and moves the request by the transition
// table. Handling the same message twice changes nothing, and an answer
// that comes after the request ended is kept in its history only.
func (a *App) HandleAnswer(ctx context.Context, m soap.AsyncMessage) error {
	info := m.MessageInfo
	if info.MessageType == soap.TypeRequest {
		switch info.ServiceID {
		case document.EndNoticeService(a.cfg.Sender.SenderID):
			return a.fileEndNotice(ctx, m)
		case document.CounterFilingService(a.cfg.Sender.SenderID):
			return a.fileCounterFiling(ctx, m)
		case document.CounterResultService(a.cfg.Sender.SenderID):
			return a.fileCounterResult(ctx, m)
		case document.CounterHandOutService(a.cfg.Sender.SenderID):
			return a.fileCounterHandOut(ctx, m)
		}
	}
	owner, err := a.rdb.Get(ctx, a.correlationKey(info.CorrelationID)).Result()
	if errors.Is(err, redis.Nil) {
		// The relay writes the correlation right after the bus accepts the
		// request; a fast provider may answer before that.
		return fmt.Errorf("no request for correlation %s (yet)", info.CorrelationID)
	}
	if err != nil {
		return err
	}
	ref, ok := parseRef(owner)
	if !ok {
		return unmatched("correlation %s names no request", info.CorrelationID)
	}
	rec, err := a.load(ctx, ref, false)
	if err != nil {
		return err
	}
	service, recipient, state, corr := rec.Service, rec.Recipient, rec.State, rec.CorrelationID
	busService := rec.BusService
	var steps []step
	markedRelayed := false
	if corr == "" && state == StateWaitingForRelay {
		// The bus accepted the request (the relay wrote its correlation
		// after the bus's answer) but the relay has not marked it relayed:
		// its write failed, or it is slow. The answer does it in its
		// place, rather than be refused until the bus gives up on it. A
		// REQUEST's bus message id is its correlation id.
		now := a.now()
		steps = append(steps, relayedStep(info.CorrelationID, info.CorrelationID, now))
		state, corr, rec.BusMessageID = StateRelayed, info.CorrelationID, info.CorrelationID
		markedRelayed = true
	}
	switch {
	case state == "":
		return unmatched("correlation %s: request %s has no record", info.CorrelationID, ref)
	case corr != info.CorrelationID:
		return unmatched("request %s was relayed under another correlation", ref)
	case busService != info.ServiceID || recipient != info.Sender.SenderID:
		return unmatched("answer from %s for %s does not fit request %s", info.Sender.SenderID, info.ServiceID, ref)
	}
	svc, err := a.cfg.Catalogue.Lookup(service)
	if err != nil {
		return err
	}
	now := a.now()

	// The bus confirmed the request to the provider before it could answer.
	if state == StateRelayed {
		delivered := a.deliveredAt(ctx, rec.BusMessageID, now)
		steps = append(steps, deliveredStep(delivered, accessMessage(ref.ID, info.Sender.SenderID, delivered, svc)))
	}
	switch info.MessageType {
	case soap.TypeNotification:
		if err := readNotice(m.MessageData.Data, ref); err != nil {
			return err
		}
		steps = append(steps, inProgressStep(now, statusMessage(ref.ID, info.MessageID, now, svc)))
	case soap.TypeUpdate:
		steps = append(steps, updateStep(now))
	case soap.TypeResponse:
		outcome, msg, err := a.readResult(ctx, m, ref, recipient, svc, now)
		if err != nil {
			return err
		}
		steps = append(steps, resultStep(outcome, msg.Data["number"], m.MessageData.Data, now, msg))
	default:
		return unmatched("message type %s not expected on the portal's queue", info.MessageType)
	}
	res, err := a.transition(ctx, ref, info.MessageID, steps...)
	if err != nil {
		return err
	}
	if res.SMS && (res.Taken > 0 || res.Seen) {
		// Queued before the answer is confirmed: an answer that comes
		// again (seen) queues it again, and the notice is sent once.
		if err := a.queueSMS(ctx, ref, res.State); err != nil {
			return err
		}
	}
	if markedRelayed && !res.State.Terminal() {
		// Watched for being stuck as the relay would have: its write of
		// the watch may have failed with the transition.
		a.rdb.ZAdd(ctx, a.openKey(shardOf(ref.IIN)), redis.Z{Score: float64(now.UnixMilli()), Member: ref.encode()})
	}
	if res.State.Terminal() {
		// Ended: no longer watched for being stuck, and its correlation
		// kept only for late answers. A failure here costs checkStuck a
		// look, or keeps a correlation until the next answer ends it.
		_, _ = a.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.ZRem(ctx, a.openKey(shardOf(ref.IIN)), ref.encode())
			p.Expire(ctx, a.correlationKey(info.CorrelationID), a.cfg.LateAnswersFor)
			return nil
		})
	}
	return nil
}

// deliveredAt is when the bus handed the request to the provider, by the
// bus's own record; now when the bus cannot say.
func (a *App) deliveredAt(ctx context.Context, busID string, now time.Time) time.Time {
	delivered := now
	st, err := a.cfg.Bus.GetMessageStatus(ctx, shep.NewGetMessageStatus(a.cfg.Sender, busID))
	if err != nil {
		return now
	}
	for _, p := range st.Response.Properties {
		if p.Key == "CONFIRMED_AT" || (p.Key == "LEASED_AT" && delivered.Equal(now)) {
			if t, err := time.Parse(time.RFC3339Nano, p.Value); err == nil {
				delivered = t
			}
		}
	}
	return delivered
}

// readNotice checks the provider's notice names the request it is about
// and its owner.
func readNotice(data string, ref RequestRef) error {
	doc, err := signing.ParseScreened([]byte(data), signing.Limits{MaxBytes: 4 << 10, MaxDepth: 4, MaxElements: 8})
	if err != nil {
		return unmatched("notice: %v", err)
	}
	n, err := document.ReadNotice(doc.Root())
	if err != nil {
		return err
	}
	if n.RequestID != ref.ID || n.Applicant != ref.IIN {
		return unmatched("notice names another request or applicant than %s", ref)
	}
	return nil
}

// fileEndNotice files a provider's notice that a job seeker's
// registration ended (at the citizen's request or by the provider's
// decision). It is believed only as far as it is verified: signed by the
// authorised person of the system that sent it, naming a request of the
// citizen it names that this system answered with a registration. The
// request stays completed (it was answered); its history and the cabinet
// say that the registration ended, once.
func (a *App) fileEndNotice(ctx context.Context, m soap.AsyncMessage) error {
	sender := m.MessageInfo.Sender.SenderID
	res, notice, err := a.verifyProviderDocument(ctx, m.MessageData.Data, sender, "end notice")
	if err != nil {
		return err
	}
	if notice.Outcome != document.OutcomeDeregistered {
		return unmatched("an end notice of outcome %s", notice.Outcome)
	}
	ref := RequestRef{IIN: notice.Applicant, ID: notice.RequestID}
	rec, err := a.load(ctx, ref, false)
	if err != nil {
		return err
	}
	if rec.State == "" || rec.Recipient != sender || rec.Service != notice.ServiceCode {
		// Nobody is told of a registration the sender did not make.
		return unmatched("end notice from %s names no request of that citizen it answered (%s)", sender, ref)
	}
	svc, err := a.cfg.Catalogue.Lookup(rec.Service)
	if err != nil {
		return err
	}
	now := a.now()
	g := notice.EndGround
	msg := CabinetMessage{ID: "ended-" + ref.ID, Kind: "registration-ended", RequestID: ref.ID, At: now, HasDocument: true,
		Title: Names{RU: "Регистрация прекращена: " + svc.Names.RU, KK: "Тіркеу тоқтатылды: " + svc.Names.KK, EN: "Registration ended: " + svc.Names.EN},
		Text: Names{RU: g.Text.RU + ". Регистрация № " + notice.Number + ", " + notice.Date + ".",
			KK: g.Text.KK + ". Тіркеу № " + notice.Number + ", " + notice.Date + ".",
			EN: g.Text.EN + ". Registration No. " + notice.Number + ", " + notice.Date + "."},
		Data: map[string]string{"outcome": string(notice.Outcome), "ground": g.Code, "number": notice.Number, "date": notice.Date,
			"signer": res.Signer.CommonName, "certificate": res.Evidence.CertificateSerial}}
	if notice.Kind == "unemployed" {
		// The registration as unemployed made on it (S2) ends with it.
		msg.Text.RU += " Вместе с ней прекращена регистрация в качестве безработного."
		msg.Text.KK += " Онымен бірге жұмыссыз ретінде тіркеу де тоқтатылды."
		msg.Text.EN += " The registration as unemployed made on it ends with it."
		msg.Data["unemployed"] = "ended"
	}
	_, err = a.transition(ctx, ref, m.MessageInfo.MessageID, registrationEndedStep(notice.Number, g.Code, m.MessageData.Data, now, msg))
	return err
}

// verifyProviderDocument verifies a document a provider's system signed:
// a valid signature by an organisation certificate of the system's BIN
// whose holder may sign for it, read as a result that names that BIN.
func (a *App) verifyProviderDocument(ctx context.Context, data, system, what string) (*signing.Result, *document.Result, error) {
	bin, ok := a.cfg.ProviderBINs[system]
	if !ok {
		return nil, nil, unmatched("no provider %s known to the portal", system)
	}
	res, doc, err := document.VerifyResult(ctx, a.cfg.ResultVerifier, []byte(data), bin, a.cfg.ProviderRoles[system])
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	return res, doc, nil
}

// readResult verifies the provider's signed result: a valid signature by an
// organisation certificate of the provider's BIN whose holder may sign for
// it, about this request of this citizen.
func (a *App) readResult(ctx context.Context, m soap.AsyncMessage, ref RequestRef, recipient string, svc *Service, now time.Time) (string, CabinetMessage, error) {
	id := ref.ID
	res, result, err := a.verifyProviderDocument(ctx, m.MessageData.Data, recipient, "result")
	if err != nil {
		return "", CabinetMessage{}, err
	}
	if result.RequestID != id {
		return "", CabinetMessage{}, unmatched("result names another request than %s", ref)
	}
	if result.Applicant != ref.IIN {
		return "", CabinetMessage{}, unmatched("result names another applicant than the owner of %s", ref)
	}
	outcome := string(result.Outcome)
	msg := CabinetMessage{ID: "answer-" + m.MessageInfo.MessageID, Kind: "result", RequestID: id, At: now, HasDocument: true,
		Data: map[string]string{"outcome": outcome, "signer": res.Signer.CommonName, "certificate": res.Evidence.CertificateSerial}}
	for name, v := range map[string]string{"number": result.Number, "date": result.Date, "kind": result.Kind} {
		if v != "" {
			msg.Data[name] = v
		}
	}
	if g := result.EndGround; g != nil {
		msg.Data["ground"] = g.Code
	}
	if result.Outcome == document.OutcomeRefused {
		msg.Kind = "refusal"
		// The reader guarantees a refusal its ground.
		msg.Data["ground"] = result.Ground.Code
		ru, kk, en := result.Ground.Text.RU, result.Ground.Text.KK, result.Ground.Text.EN
		msg.Title = Names{RU: "Отказ в оказании услуги: " + svc.Names.RU, KK: "Қызмет көрсетуден бас тарту: " + svc.Names.KK, EN: "Refusal: " + svc.Names.EN}
		msg.Text = Names{RU: "Мотивированный ответ об отказе: " + ru, KK: "Бас тарту туралы дәлелді жауап: " + kk, EN: "Reasoned refusal: " + en}
	} else {
		msg.Title = Names{RU: "Результат оказания услуги: " + svc.Names.RU, KK: "Қызмет көрсету нәтижесі: " + svc.Names.KK, EN: "Result: " + svc.Names.EN}
		msg.Text = Names{RU: "Результат подписан ЭЦП уполномоченного лица услугодателя и доступен для скачивания.",
			KK: "Нәтижеге көрсетілетін қызметті берушінің уәкілетті тұлғасы ЭЦҚ-мен қол қойды, оны жүктеп алуға болады.",
			EN: "The result is signed by the provider's authorised person and can be downloaded."}
	}
	return outcome, msg, nil
}

func statusMessage(id, busID string, at time.Time, svc *Service) CabinetMessage {
	return CabinetMessage{ID: "status-" + busID, Kind: "status", RequestID: id, At: at,
		Title: Names{RU: "Запрос принят в работу услугодателем", KK: "Сұрауды көрсетілетін қызметті беруші жұмысқа қабылдады", EN: "Request accepted for processing by the provider"},
		Text:  Names{RU: svc.Names.RU, KK: svc.Names.KK, EN: svc.Names.EN}}
}

// accessMessage tells the citizen which system received their data (the
// personal-data access record).
func accessMessage(id, system string, at time.Time, svc *Service) CabinetMessage {
	return CabinetMessage{ID: "access-" + id, Kind: "access", RequestID: id, At: at,
		Title: Names{RU: "Доступ к вашим данным", KK: "Деректеріңізге қол жеткізу", EN: "Access to your data"},
		Text: Names{
			RU: "Система " + system + " получила данные вашего запроса «" + svc.Names.RU + "» " + at.In(egov.Almaty).Format("02.01.2006 15:04") + ".",
			KK: system + " жүйесі «" + svc.Names.KK + "» сұрауыңыздың деректерін " + kkLocative(at.In(egov.Almaty).Format("02.01.2006 15:04")) + " алды.",
			EN: "System " + system + " received the data of your request \"" + svc.Names.EN + "\" at " + at.In(egov.Almaty).Format("02.01.2006 15:04") + ".",
		},
		Data: map[string]string{"system": system}}
}
