package shep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"egov/internal/redisscript"
	"egov/shep/soap"
)

// DeadLetter is a message the bus stopped delivering, with the reason:
// expired (its end of life passed) or max-deliveries (refused or not
// confirmed that many times). Until an operator redelivers it, the request
// or answer it carries is stuck, and this is where it is seen.
type DeadLetter struct {
	MessageID string                `json:"messageId"`
	Recipient string                `json:"recipient"`
	Reason    string                `json:"reason"`
	StoppedAt time.Time             `json:"stoppedAt"`
	LastError string                `json:"lastError,omitempty"` // the recipient's last refusal, if any
	Info      soap.AsyncMessageInfo `json:"info"`
}

// DeadLetters lists the dead letters of one recipient's queue, oldest
// first, from the Redis of a bus running with the key prefix.
func DeadLetters(ctx context.Context, rdb redis.UniversalClient, prefix, recipient string) ([]DeadLetter, error) {
	q := queueOf(prefix, recipient)
	entries, err := rdb.XRange(ctx, q.dead, "-", "+").Result()
	if err != nil {
		return nil, err
	}
	var out []DeadLetter
	for _, e := range entries {
		id, _ := e.Values["id"].(string)
		rec, err := rdb.HMGet(ctx, q.message(id), "state", "info", "stoppedAt", "lastRefusal").Result()
		if err != nil {
			return nil, err
		}
		if state, _ := rec[0].(string); state != string(soap.StateDeliveryStopped) {
			continue // redelivered since
		}
		d := DeadLetter{MessageID: id, Recipient: recipient}
		d.Reason, _ = e.Values["reason"].(string)
		if info, ok := rec[1].(string); ok {
			_ = json.Unmarshal([]byte(info), &d.Info)
		}
		if ms, err := strconv.ParseInt(fmt.Sprint(rec[2]), 10, 64); err == nil {
			d.StoppedAt = time.UnixMilli(ms).UTC()
		}
		d.LastError, _ = rec[3].(string)
		out = append(out, d)
	}
	return out, nil
}

// redeliverScript puts a stopped message back in its queue with a fresh
// count of deliveries. KEYS: message record, stream. ARGV: message id.
var redeliverScript = redisscript.New(`
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'unknown' end
if state ~= 'DELIVERY_STOPPED' then return 'not-stopped' end
local sid = redis.call('XADD', KEYS[2], '*', 'id', ARGV[1])
redis.call('HSET', KEYS[1], 'state', 'ON_DELIVERY', 'deliveries', 0, 'sid', sid)
redis.call('HDEL', KEYS[1], 'leasedAt', 'stoppedAt', 'reason', 'eol', 'refusalCode')
return 'ok'
`)

// ErrNotStopped is returned when asked to redeliver a message that is not
// a dead letter.
var ErrNotStopped = errors.New("shep: the message is not a dead letter")

// Redeliver hands a dead letter out again, as if just sent: once the cause
// is fixed (the recipient's database is back, a bug is deployed away), the
// stuck request or answer goes on. Its end of life is lifted.
func Redeliver(ctx context.Context, rdb redis.UniversalClient, prefix, recipient, messageID string) error {
	q := queueOf(prefix, recipient)
	res, err := redeliverScript.Run(ctx, rdb, []string{q.message(messageID), q.stream}, messageID).Text()
	if err != nil {
		return err
	}
	switch res {
	case "ok":
		return nil
	case "unknown":
		return fmt.Errorf("shep: no message %s for %s", messageID, recipient)
	default:
		return ErrNotStopped
	}
}
