package counter

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"time"
	"unicode/utf8"

	"egov/registers/mobile"
	"egov/shep"
	"egov/sms"
)

// Notice is the SMS that tells the applicant his result is at the desk (or,
// in flow C, the decision itself),
// sent to the phone the mobile citizens' register holds for his IIN,
// with what came of it.
type Notice struct {
	Status    string    `json:"status"`          // NoticePending, NoticeDelivered, NoticeNoPhone or NoticeFailed
	Phone     string    `json:"phone,omitempty"` // masked
	Attempts  int       `json:"attempts"`
	MessageID string    `json:"messageId,omitempty"` // the gateway's, from its delivery report
	At        time.Time `json:"at"`                  // of the last attempt
	LastError string    `json:"lastError,omitempty"`
}

// The states of a notice.
const (
	NoticePending   = "pending"   // not delivered yet; tried again
	NoticeDelivered = "delivered" // the gateway's delivery report says so
	NoticeNoPhone   = "no-phone"  // the register holds no phone: the operator calls or waits
	NoticeFailed    = "failed"    // not delivered after noticeAttempts tries
)

// noticeAttempts bounds the tries of one notice; they are paced by the
// relay's backoff.
const noticeAttempts = 5

// notify sends a filing's notice unless it was settled: delivered, no
// phone, or given up. It reports whether the notice is settled. One try
// at a time: the answer's handler and the relay may both come for it, and
// the applicant must get it once.
func (w *Workstation) notify(ctx context.Context, office, id string) (bool, error) {
	lock := w.officeKey(office, "notifying", id)
	if ok, err := w.rdb.SetNX(ctx, lock, "1", 30*time.Second).Result(); err != nil || !ok {
		return false, err // another try is under way
	}
	defer w.rdb.Del(context.WithoutCancel(ctx), lock)
	key := w.filingKey(office, id)
	var n Notice
	if raw, err := w.rdb.HGet(ctx, key, "notice").Result(); err == nil {
		_ = json.Unmarshal([]byte(raw), &n)
	}
	if n.Status != "" && n.Status != NoticePending {
		return true, nil
	}
	f, err := w.load(ctx, office, id)
	if err != nil {
		return false, err
	}
	now := w.cfg.Now()
	n.Attempts++
	n.At = now
	err = w.sendNotice(ctx, f.Applicant, w.noticeText(f), &n)
	switch {
	case err == nil:
	case n.Attempts >= noticeAttempts:
		n.Status, n.LastError = NoticeFailed, err.Error()
	default:
		n.Status, n.LastError = NoticePending, err.Error()
	}
	js, _ := json.Marshal(n)
	if herr := w.rdb.HSet(ctx, key, "notice", js).Err(); herr != nil {
		return false, herr
	}
	if n.Status == NoticeFailed {
		w.cfg.Log.Warn(w.cfg.Desk.Name+": the applicant's notice was not delivered; the operator is to call", "request", id, "office", office, "err", err)
	}
	return n.Status != NoticePending, err
}

// sendNotice asks the mobile citizens' register for the applicant's phone
// and the SMS gateway to deliver the notice, both through the bus.
func (w *Workstation) sendNotice(ctx context.Context, iin, text string, n *Notice) error {
	q, _ := xml.Marshal(mobile.Request{IIN: iin})
	data, err := shep.AskSync(ctx, w.cfg.Bus, w.cfg.Sender, mobile.ServiceID, q, n.At)
	if err != nil {
		return fmt.Errorf("mobile register: %w", err)
	}
	phone, err := mobile.ReadResponse(data, iin)
	if err != nil {
		return err
	}
	if phone == "" {
		n.Status = NoticeNoPhone
		return nil
	}
	n.Phone = phone.Masked()
	q, _ = xml.Marshal(sms.Request{Phone: string(phone), Text: text})
	if data, err = shep.AskSync(ctx, w.cfg.Bus, w.cfg.Sender, sms.ServiceID, q, n.At); err != nil {
		return fmt.Errorf("sms gateway: %w", err)
	}
	rep, err := sms.ReadReport(data, phone)
	if err != nil {
		return err
	}
	n.Status, n.MessageID, n.LastError = NoticeDelivered, rep.MessageID, ""
	return nil
}

// notifyPending sends again the notices of the office not settled yet,
// each after its backoff.
func (w *Workstation) notifyPending(ctx context.Context, office string) {
	outbox := w.officeKey(office, "sms-outbox")
	ids, err := w.rdb.SMembers(ctx, outbox).Result()
	if err != nil {
		return
	}
	for _, id := range ids {
		key := w.filingKey(office, id)
		if next, _ := w.rdb.HGet(ctx, key, "nextNoticeAt").Int64(); time.Now().UnixMilli() < next {
			continue
		}
		settled, err := w.notify(ctx, office, id)
		if settled {
			w.rdb.SRem(ctx, outbox, id)
			continue
		}
		if err != nil {
			attempts, _ := w.rdb.HIncrBy(ctx, key, "noticeTries", 1).Result()
			w.rdb.HSet(ctx, key, "nextNoticeAt", time.Now().Add(w.sendBackoff.Delay(int(attempts))).UnixMilli())
		}
	}
}

// noticeText is the SMS of a filing whose result came: where the channel
// tells the decision by phone, the decision (the signed result's date and
// number, or its ground, as the workstation read them from the verified
// result), else that the result waits at the office.
func (w *Workstation) noticeText(f *Filing) string {
	if !f.NoticeByPhone {
		// The office by its name, by its code if the name is too long,
		// by neither if even that is.
		for _, where := range []string{w.cfg.Operators.OfficeName(f.Office), f.Office} {
			if text := w.cfg.Desk.Ready(where); where != "" && utf8.RuneCountInString(text) <= sms.MaxText {
				return text
			}
		}
		return w.cfg.Desk.Ready("")
	}
	return decisionText(f)
}
