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
// (PUT /notifications), as the regulations' notice by mobile phone
// promises (000:210-217, 004:475). Each change to in-progress, completed
// or refused then gets one SMS at the phone the mobile citizens' register
// holds for his IIN. The change and the citizen's wish are read in the one
// script that makes the change (transitionScript), so a change is never
// missed; the notice waits in a queue until the SMS gateway reports it
// delivered, is tried again with a growing pause, and after smsAttempts
// tries is shown on the request as failed. A notice is settled once per
// request and state, whatever delivers it twice.

// notifiedStates are the states a citizen is told of.
var notifiedStates = map[State]bool{StateInProgress: true, StateCompleted: true, StateRefused: true}

// The states of an SMS notice.
const (
	SMSPending   = "pending"   // not delivered yet; tried again
	SMSDelivered = "delivered" // the gateway's delivery report says so
	SMSNoPhone   = "no-phone"  // the register holds no phone for the IIN
	SMSFailed    = "failed"    // not delivered after smsAttempts tries
)

// smsAttempts bounds the tries of one notice; smsLease is how long one
// portal holds a notice it is sending.
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

// takeSMSScript leases the notices of a queue that are due: each is put
// smsLease ahead, so that another portal does not send it meanwhile.
// KEYS: queue. ARGV: now (ms), lease (ms), batch. Returns the members.
var takeSMSScript = redisscript.New(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), m) end
return due
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

// sendQueuedSMS tries the due notices of one shard.
func (a *App) sendQueuedSMS(ctx context.Context, shard int) error {
	queue := a.smsQueue(shard)
	due, err := takeSMSScript.Run(ctx, a.rdb, []string{queue}, a.now().UnixMilli(), smsLease.Milliseconds(), smsBatch).StringSlice()
	if err != nil {
		return err
	}
	for _, member := range due {
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
	var n SMSNotice
	raw, err := a.rdb.HGet(ctx, key, smsField(s)).Result()
	switch {
	case errors.Is(err, redis.Nil):
	case err != nil:
		return time.Time{}, err
	default:
		_ = json.Unmarshal([]byte(raw), &n)
	}
	if n.Status != "" && n.Status != SMSPending {
		return time.Time{}, nil // settled already
	}
	now := a.now()
	n.State, n.Attempts, n.At = s, n.Attempts+1, now
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
	pipe := a.rdb.TxPipeline()
	pipe.HSet(ctx, key, smsField(s), js)
	if n.Status == SMSFailed {
		pipe.RPush(ctx, a.requestKeys(ref).history, historyJSON(eventSMSFailed, now, "the SMS of "+string(s)+" was not delivered: "+n.LastError))
	}
	if _, err := pipe.Exec(ctx); err != nil {
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
