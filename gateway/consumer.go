package gateway

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"egov"
	"egov/document"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
)

// ResultNamespace is the namespace of the provider's signed result document.
const ResultNamespace = "urn:egov-gateway:result:v1"

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
	backoff := a.cfg.RelayBackoff
	for ctx.Err() == nil {
		resp, err := a.cfg.Bus.GetMessages(ctx, shep.NewGetMessages(a.cfg.Sender, a.anyPortalService(), 100, 10*time.Second))
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("consumer: polling the bus failed", "err", err)
				sleep(ctx, backoff)
				backoff = min(backoff*2, time.Minute)
			}
			continue
		}
		backoff = a.cfg.RelayBackoff
		for _, m := range resp.Response.Messages {
			h := fnv.New32a()
			h.Write([]byte(m.MessageInfo.CorrelationID))
			lanes[h.Sum32()%consumerWorkers] <- m
		}
	}
}

func (a *App) fileAndConfirm(ctx context.Context, m soap.AsyncMessage) {
	err := a.HandleAnswer(ctx, m)
	if err != nil {
		a.log.Warn("consumer: answer not filed, refusing it for now", "message", m.MessageInfo.MessageID, "err", err)
	}
	if ctx.Err() != nil {
		return // the lease expires and the answer comes back
	}
	if _, nerr := a.cfg.Bus.SendDeliveryNotification(ctx, shep.NewDeliveryNotification(a.cfg.Sender, m.MessageInfo, err == nil, errText(err))); nerr != nil {
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
		if s.Portal != nil {
			return s.Code
		}
	}
	return ""
}

// HandleAnswer files one answer of a provider. Handling the same message
// twice changes nothing: the message id is recorded in the same
// transaction as its effects.
func (a *App) HandleAnswer(ctx context.Context, m soap.AsyncMessage) (err error) {
	info := m.MessageInfo
	ref, err := a.rdb.Get(ctx, a.key("correlation", info.CorrelationID)).Result()
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("no request for correlation %s (yet)", info.CorrelationID)
	}
	if err != nil {
		return err
	}
	iin, id, _ := strings.Cut(ref, " ")
	reqKey := a.requestKey(iin, id)
	v, err := a.rdb.HMGet(ctx, reqKey, "service", "recipient", "busMessageId", "state").Result()
	if err != nil {
		return err
	}
	service, recipient, busID := str(v[0]), str(v[1]), str(v[2])
	if service != info.ServiceID || recipient != info.Sender.SenderID {
		return fmt.Errorf("answer from %s for %s does not fit request %s", info.Sender.SenderID, info.ServiceID, id)
	}
	svc, err := a.cfg.Catalogue.Lookup(service)
	if err != nil {
		return err
	}
	now := a.now()

	var (
		entries  []HistoryEntry
		messages []CabinetMessage
		fields   []any
		document string
	)
	// The bus confirmed the request to the provider before it could answer.
	if str(v[3]) == StateRelayed {
		delivered := now
		if st, err := a.cfg.Bus.GetMessageStatus(ctx, shep.NewGetMessageStatus(a.cfg.Sender, busID)); err == nil {
			for _, p := range st.Response.Properties {
				if p.Key == "CONFIRMED_AT" || (p.Key == "LEASED_AT" && delivered.Equal(now)) {
					if t, err := time.Parse(time.RFC3339Nano, p.Value); err == nil {
						delivered = t
					}
				}
			}
		}
		entries = append(entries, HistoryEntry{State: StateDelivered, At: delivered})
		fields = append(fields, "state", StateDelivered)
		messages = append(messages, accessMessage(id, info.Sender.SenderID, delivered, svc))
	}
	switch info.MessageType {
	case soap.TypeNotification:
		entries = append(entries, HistoryEntry{State: StateInProgress, At: now, Note: "accepted for processing by the provider"})
		fields = append(fields, "state", StateInProgress)
		messages = append(messages, statusMessage(id, info.MessageID, now, svc))
	case soap.TypeUpdate:
		entries = append(entries, HistoryEntry{State: StateInProgress, At: now, Note: "update from the provider"})
	case soap.TypeResponse:
		outcome, msg, err := a.readResult(ctx, m, id, recipient, svc, now)
		if err != nil {
			return err
		}
		state := StateCompleted
		if outcome == "refused" {
			state = StateRefused
		}
		entries = append(entries, HistoryEntry{State: state, At: now, Note: outcome})
		fields = append(fields, "state", state, "outcome", outcome, "result", m.MessageData.Data, "lastError", "")
		messages = append(messages, msg)
		document = m.MessageData.Data
	default:
		return fmt.Errorf("message type %s not expected on the portal's queue", info.MessageType)
	}

	seq, err := a.cabinetSeq(ctx, iin, len(messages))
	if err != nil {
		return err
	}
	seen := a.key("{"+iin+"}", "request", id, "answers")
	if info.MessageType == soap.TypeResponse {
		// Answered: no longer watched for being stuck. Done once the answer
		// is filed; a failure here only costs checkStuck a look.
		defer func() {
			if err == nil {
				a.rdb.ZRem(ctx, a.openKey(), iin+" "+id)
			}
		}()
	}
	return a.rdb.Watch(ctx, func(tx *redis.Tx) error {
		if done, err := tx.SIsMember(ctx, seen, info.MessageID).Result(); err != nil || done {
			return err // already filed
		}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			if len(fields) > 0 {
				p.HSet(ctx, reqKey, fields...)
			}
			for _, e := range entries {
				a.appendHistory(ctx, p, iin, id, e)
			}
			for i, msg := range messages {
				doc := ""
				if msg.HasDocument {
					doc = document
				}
				a.fileMessage(ctx, p, iin, seq+int64(i), msg, doc)
			}
			p.SAdd(ctx, seen, info.MessageID)
			return nil
		})
		return err
	}, seen)
}

// readResult verifies the provider's signed result: a valid signature by an
// organisation certificate carrying the provider's BIN, about this request.
func (a *App) readResult(ctx context.Context, m soap.AsyncMessage, id, recipient string, svc *Service, now time.Time) (string, CabinetMessage, error) {
	res, err := a.cfg.ResultVerifier.Verify(ctx, []byte(m.MessageData.Data))
	if err != nil {
		return "", CabinetMessage{}, fmt.Errorf("result signature: %w", err)
	}
	bin, ok := a.cfg.ProviderBINs[recipient]
	if !ok {
		return "", CabinetMessage{}, fmt.Errorf("no provider BIN configured for %s", recipient)
	}
	if err := res.RequireBIN(bin); err != nil {
		return "", CabinetMessage{}, err
	}
	if !res.Signer.HasKeyUser(signing.KeyUserOrganization) {
		return "", CabinetMessage{}, errors.New("result not signed with an organisation certificate")
	}
	result, err := document.ReadResult(res.Element)
	if err != nil {
		return "", CabinetMessage{}, err
	}
	if result.RequestID != id {
		return "", CabinetMessage{}, errors.New("result names another request")
	}
	outcome := string(result.Outcome)
	msg := CabinetMessage{ID: "answer-" + m.MessageInfo.MessageID, Kind: "result", RequestID: id, At: now, HasDocument: true,
		Data: map[string]string{"outcome": outcome, "signer": res.Signer.CommonName, "certificate": res.Evidence.CertificateSerial}}
	for name, v := range map[string]string{"number": result.Number, "date": result.Date, "kind": result.Kind} {
		if v != "" {
			msg.Data[name] = v
		}
	}
	if result.Outcome == document.OutcomeRefused {
		msg.Kind = "refusal"
		// The reader guarantees a refusal its ground.
		msg.Data["ground"] = result.Ground.Code
		ru, kk, en := result.Ground.Text.RU, result.Ground.Text.KK, result.Ground.Text.EN
		msg.Title = Names{RU: "Отказ в оказании услуги: " + svc.Names.RU, KK: "Қызмет көрсетуден бас тарту: " + svc.Names.KK, EN: "Refusal: " + svc.Names.EN}
		msg.Text = Names{RU: "Мотивированный отказ: " + ru, KK: "Дәлелді бас тарту: " + kk, EN: "Reasoned refusal: " + en}
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
			RU: "Система " + system + " получила данные вашего запроса «" + svc.Names.RU + "» " + at.In(Almaty).Format("02.01.2006 15:04") + ".",
			KK: system + " жүйесі «" + svc.Names.KK + "» сұрауыңыздың деректерін " + at.In(Almaty).Format("02.01.2006 15:04") + " алды.",
			EN: "System " + system + " received the data of your request \"" + svc.Names.EN + "\" at " + at.In(Almaty).Format("02.01.2006 15:04") + ".",
		},
		Data: map[string]string{"system": system}}
}
