package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"egov"
	"egov/internal/redisscript"
	"egov/internal/retry"
)

// A citizen may ask to be told of his requests' status changes by SMS
// (PUT /notifications), as the regulations tell S2's applicants of their
// registration by mobile phone (000:210-217, 004:475). Each change to
// in-progress, completed or refused then gets one SMS at the phone the
// mobile citizens' register holds for his IIN. The change and the
// citizen's wish are read in the one script that makes the change
// (transitionScript), so a change is never missed; the notice waits in a
// queue until the SMS gateway reports it delivered, is tried again with a
// growing pause, and after smsAttempts tries is shown on the request as
// failed. A notice is settled once per request and state, whatever queues
// it twice; one whose request moved on before it went out is superseded
// (the citizen is told the newer state, not an old one after it), and one
// the citizen no longer wants when it is due is dropped.

// notifiedStates are the states a citizen is told of.
var notifiedStates = map[State]bool{StateInProgress: true, StateCompleted: true, StateRefused: true}

// The states of an SMS notice.
const (
	SMSPending   = "pending"   // not delivered yet; tried again
	SMSDelivered = "delivered" // the gateway's delivery report says so
	SMSNoPhone   = "no-phone"  // the register holds no phone for the IIN
	SMSFailed    = "failed"    // not delivered after smsAttempts tries
	// SMSSuperseded: the request moved on before the notice went out; the
	// newer state's notice tells it.
	SMSSuperseded = "superseded"
)

// smsAttempts bounds the tries of one notice; smsLease is how long one
// portal holds the notice it is sending (two bus calls of at most
// busCallTimeout each, well within it); smsBatch how many one look sends.
const (
	smsAttempts = 5
	smsLease    = 30 * time.Second
	smsBatch    = 20
)

// SMSNotice is what came of the SMS of one status change.
type SMSNotice struct {
	State     State     `json:"state"`
	Status    string    `json:"status"`          // SMSPending, SMSDelivered, SMSNoPhone or SMSFailed
	Phone     string    `json:"phone,omitempty"` // masked
	Attempts  int       `json:"attempts"`
	At        time.Time `json:"at"` // of the last try
	LastError string    `json:"lastError,omitempty"`
}

// Notifications are a citizen's wishes about notices.
type Notifications struct {
	SMS bool `json:"sms"`
}

func (a *App) smsWishKey(iin string) string { return a.citizenKey(iin, "notify-sms") }

// smsQueue is one shard of the notices waiting to be sent, by when to try
// next; members are "IIN id state".
func (a *App) smsQueue(n int) string { return a.key("{sms:" + strconv.Itoa(n) + "}") }

// smsField is the request record's field of the notice of state.
func smsField(s State) string { return "sms:" + string(s) }

// SetNotifications records what the citizen wants to be told by SMS.
func (a *App) SetNotifications(ctx context.Context, iin string, n Notifications) error {
	if n.SMS {
		return a.rdb.Set(ctx, a.smsWishKey(iin), "1", 0).Err()
	}
	return a.rdb.Del(ctx, a.smsWishKey(iin)).Err()
}

// NotificationsOf returns the citizen's wishes.
func (a *App) NotificationsOf(ctx context.Context, iin string) (Notifications, error) {
	n, err := a.rdb.Exists(ctx, a.smsWishKey(iin)).Result()
	return Notifications{SMS: n == 1}, err
}

// queueSMS puts the notice of ref's state in the queue, once.
func (a *App) queueSMS(ctx context.Context, ref RequestRef, s State) error {
	if !notifiedStates[s] {
		return nil
	}
	return a.rdb.ZAddNX(ctx, a.smsQueue(shardOf(ref.IIN)), redis.Z{Score: float64(a.now().UnixMilli()), Member: ref.encode() + " " + string(s)}).Err()
}

// takeSMSScript leases the first due notice of a queue: it is put
// smsLease ahead, so that another portal does not send it meanwhile.
// Leased one at a time, just before it is sent, a notice is never held
// past its lease by the ones before it. KEYS: queue. ARGV: now (ms),
// lease (ms). Returns the member, or false when none is due.
var takeSMSScript = redisscript.New(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #due == 0 then return false end
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), due[1])
return due[1]
`)

// runSMS sends the queued notices until ctx ends.
func (a *App) runSMS(ctx context.Context) {
	for retry.Sleep(ctx, a.cfg.SMSEvery) {
		for n := range relayShards {
			if err := a.sendQueuedSMS(ctx, n); err != nil && ctx.Err() == nil {
				a.log.Warn("sms: sending the status notices failed; tried again", "err", err)
			}
		}
	}
}

// sendQueuedSMS tries the due notices of one shard, up to smsBatch.
func (a *App) sendQueuedSMS(ctx context.Context, shard int) error {
	queue := a.smsQueue(shard)
	for range smsBatch {
		member, err := takeSMSScript.Run(ctx, a.rdb, []string{queue}, a.now().UnixMilli(), smsLease.Milliseconds()).Text()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		if err != nil {
			return err
		}
		i := strings.LastIndexByte(member, ' ')
		ref, ok := parseRef(member[:max(i, 0)])
		if i < 0 || !ok {
			a.rdb.ZRem(ctx, queue, member) // not ours to read
			continue
		}
		next, err := a.sendStatusSMS(ctx, ref, State(member[i+1:]))
		if err != nil {
			return err
		}
		if next.IsZero() {
			a.rdb.ZRem(ctx, queue, member)
		} else {
			a.rdb.ZAdd(ctx, queue, redis.Z{Score: float64(next.UnixMilli()), Member: member})
		}
	}
	return nil
}

// sendStatusSMS tries the notice of ref's state once and records what came
// of it on the request; it returns when to try again, or zero when the
// notice is settled. An error is Redis's: the notice stays leased.
func (a *App) sendStatusSMS(ctx context.Context, ref RequestRef, s State) (time.Time, error) {
	key := a.requestKeys(ref).record
	pipe := a.rdb.Pipeline()
	fields := pipe.HMGet(ctx, key, "state", smsField(s))
	wish := pipe.Exists(ctx, a.smsWishKey(ref.IIN))
	if _, err := pipe.Exec(ctx); err != nil {
		return time.Time{}, err
	}
	var n SMSNotice
	if raw, _ := fields.Val()[1].(string); raw != "" {
		_ = json.Unmarshal([]byte(raw), &n)
	}
	if n.Status != "" && n.Status != SMSPending {
		return time.Time{}, nil // settled already
	}
	if wish.Val() == 0 {
		return time.Time{}, nil // no longer wanted
	}
	now := a.now()
	n.State, n.At = s, now
	if current, _ := fields.Val()[0].(string); State(current) != s {
		// Told now, the citizen would read an old state after the new
		// one's notice, which is queued too.
		n.Status, n.LastError = SMSSuperseded, ""
		js, _ := json.Marshal(n)
		return time.Time{}, a.rdb.HSet(ctx, key, smsField(s), js).Err()
	}
	n.Attempts++
	phone, err := a.phoneOf(ctx, ref.IIN)
	switch {
	case err != nil:
	case phone == "":
		n.Status, n.LastError = SMSNoPhone, ""
	default:
		n.Phone = phone.Masked()
		if err = a.sendSMS(ctx, phone, statusText(ref, s)); err == nil {
			n.Status, n.LastError = SMSDelivered, ""
		}
	}
	if err != nil {
		n.Status, n.LastError = SMSPending, err.Error()
		if n.Attempts >= smsAttempts {
			n.Status = SMSFailed
		}
	}
	js, _ := json.Marshal(n)
	write := a.rdb.TxPipeline()
	write.HSet(ctx, key, smsField(s), js)
	if n.Status == SMSFailed {
		write.RPush(ctx, a.requestKeys(ref).history, historyJSON(eventSMSFailed, now, "the SMS of "+string(s)+" was not delivered: "+n.LastError))
	}
	if _, err := write.Exec(ctx); err != nil {
		return time.Time{}, err
	}
	switch n.Status {
	case SMSPending:
		return now.Add(a.smsBackoff.Delay(n.Attempts)), nil
	case SMSFailed:
		a.log.Warn("sms: a status notice was not delivered", "request", ref.String(), "state", s, "err", n.LastError)
	}
	return time.Time{}, nil
}

// statusText is the SMS of a status change, in Russian and Kazakh, within
// three UCS-2 segments: the request's number, and where to read more.
func statusText(ref RequestRef, s State) string {
	number := ref.ID
	if len(number) > 8 {
		number = number[:8]
	}
	text := statusTexts[s]
	return "egov.kz: " + fmt.Sprintf(text.RU, number) + " " + fmt.Sprintf(text.KK, number)
}

// statusTexts word each notified state; %s is the request's number.
var statusTexts = map[State]egov.Message{
	StateInProgress: {RU: "заявка № %s принята услугодателем в работу.", KK: "№ %s өтініміңізді көрсетілетін қызметті беруші қарауға алды."},
	StateCompleted:  {RU: "заявка № %s исполнена, результат в личном кабинете.", KK: "№ %s өтініміңіз орындалды, нәтижесі жеке кабинетте."},
	StateRefused:    {RU: "по заявке № %s отказ, мотивированный ответ в личном кабинете.", KK: "№ %s өтінім бойынша бас тартылды, дәлелді жауап жеке кабинетте."},
}

// smsNoticesOf reads a record's notices, in the order of the states.
func smsNoticesOf(v map[string]string) []SMSNotice {
	var out []SMSNotice
	for _, s := range []State{StateInProgress, StateCompleted, StateRefused} {
		var n SMSNotice
		if raw := v[smsField(s)]; raw != "" && json.Unmarshal([]byte(raw), &n) == nil {
			out = append(out, n)
		}
	}
	return out
}
