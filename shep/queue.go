package shep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"egov/shep/soap"
)

// enqueueScript stores a message record and appends it to its recipient's
// stream, atomically with the idempotency check: a repeat with the same key
// gets the first message's ids back and enqueues nothing.
//
// KEYS: stream, message record, idempotency key
// ARGV: messageId, correlationId, use idempotency (0/1), idempotency TTL s, field, value, …
var enqueueScript = redis.NewScript(`
if ARGV[3] == '1' then
  local prev = redis.call('GET', KEYS[3])
  if prev then return {0, prev} end
end
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], unpack(fields))
local sid = redis.call('XADD', KEYS[1], '*', 'id', ARGV[1])
redis.call('HSET', KEYS[2], 'sid', sid)
local ids = ARGV[1] .. ' ' .. ARGV[2]
if ARGV[3] == '1' then redis.call('SET', KEYS[3], ids, 'EX', ARGV[4]) end
return {1, ids}
`)

// deliverScript turns one stream entry into a lease, or retires it: a
// record already confirmed or stopped is dropped from the stream, an
// expired one or one leased too often goes to the dead letters as
// DELIVERY_STOPPED.
//
// KEYS: message record, stream, dead letters
// ARGV: stream id, now (ms), max deliveries, message id
var deliverScript = redis.NewScript(`
local function retire()
  redis.call('XACK', KEYS[2], 'bus', ARGV[1])
  redis.call('XDEL', KEYS[2], ARGV[1])
end
local st = redis.call('HMGET', KEYS[1], 'state', 'deliveries', 'eol')
if not st[1] then retire() return {'gone'} end
if st[1] == 'DELIVERED' or st[1] == 'DELIVERY_STOPPED' then retire() return {'done'} end
local n = tonumber(st[2] or '0') + 1
local eol = tonumber(st[3] or '0')
local reason = nil
if eol > 0 and tonumber(ARGV[2]) > eol then reason = 'expired'
elseif n > tonumber(ARGV[3]) then reason = 'max-deliveries' end
if reason then
  redis.call('XADD', KEYS[3], '*', 'id', ARGV[4], 'reason', reason, 'at', ARGV[2])
  retire()
  redis.call('HSET', KEYS[1], 'state', 'DELIVERY_STOPPED', 'stoppedAt', ARGV[2], 'reason', reason)
  return {'stopped', reason}
end
redis.call('HSET', KEYS[1], 'state', 'ON_DELIVERY', 'deliveries', n, 'leasedAt', ARGV[2])
local body = redis.call('HMGET', KEYS[1], 'info', 'data')
return {'ok', tostring(n), body[1], body[2]}
`)

// confirmScript marks a leased message DELIVERED and removes it from the
// queue. KEYS: message record, stream, confirmed index. ARGV: now (ms), message id.
var confirmScript = redis.NewScript(`
local st = redis.call('HMGET', KEYS[1], 'state', 'sid', 'leasedAt')
if not st[1] then return 'unknown' end
if st[1] == 'DELIVERED' then return 'already' end
if st[1] == 'DELIVERY_STOPPED' then return 'stopped' end
if not st[3] then return 'not-leased' end
redis.call('XACK', KEYS[2], 'bus', st[2])
redis.call('XDEL', KEYS[2], st[2])
redis.call('HSET', KEYS[1], 'state', 'DELIVERED', 'confirmedAt', ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[2])
return 'ok'
`)

// refuseScript marks a leased message NOT_DELIVERED and makes it due for
// redelivery at the next poll. KEYS: message record, stream.
// ARGV: now (ms), visibility (ms), reason.
var refuseScript = redis.NewScript(`
local st = redis.call('HMGET', KEYS[1], 'state', 'sid', 'leasedAt')
if not st[1] then return 'unknown' end
if st[1] == 'DELIVERED' or st[1] == 'DELIVERY_STOPPED' then return 'final' end
if not st[3] then return 'not-leased' end
redis.call('XCLAIM', KEYS[2], 'bus', 'bus', 0, st[2], 'IDLE', ARGV[2], 'JUSTID')
redis.call('HSET', KEYS[1], 'state', 'NOT_DELIVERED', 'refusedAt', ARGV[1], 'reason', ARGV[3])
return 'ok'
`)

// SendMessage accepts a message once it is durable in its recipient's queue.
func (b *Bus) SendMessage(ctx context.Context, req *soap.SendMessage) (*soap.SendMessageResponse, error) {
	const op = "sendMessage"
	info := req.Request.MessageInfo
	sender, f := b.authenticate(op, info.Sender)
	if f != nil {
		return nil, f
	}
	if !info.MessageType.Valid() {
		return nil, b.fault(op, soap.CodeFormat, "messageType %q", info.MessageType)
	}
	svc := b.routing.Services[info.ServiceID]
	if svc == nil || svc.Channel != "async" {
		return nil, b.fault(op, soap.CodeUnknownService, "no asynchronous service %q", info.ServiceID)
	}
	if strings.TrimSpace(req.Request.MessageData.Data) == "" {
		return nil, b.fault(op, soap.CodeFormat, "messageData is empty")
	}
	now := b.cfg.Now()
	id := uuid.NewString()
	corr := id
	var recipient string
	if info.MessageType == soap.TypeRequest {
		if !sender.MaySend(info.ServiceID) {
			return nil, b.fault(op, soap.CodeUnknownService, "service %q is not available to %s", info.ServiceID, info.Sender.SenderID)
		}
		recipient = svc.Recipient
	} else {
		// Answers go back along the chain to whoever sent its request.
		if svc.Recipient != info.Sender.SenderID {
			return nil, b.fault(op, soap.CodeUnknownService, "%s does not provide service %q", info.Sender.SenderID, info.ServiceID)
		}
		if info.CorrelationID == "" {
			return nil, b.fault(op, soap.CodeFormat, "%s needs the correlationId of its request", info.MessageType)
		}
		vals, err := b.rdb.HMGet(ctx, b.queue(info.Sender.SenderID).message(info.CorrelationID), "sender", "service").Result()
		if err != nil {
			return nil, b.internal(op, err)
		}
		reqSender, _ := vals[0].(string)
		reqService, _ := vals[1].(string)
		if reqSender == "" || reqService != info.ServiceID {
			return nil, b.fault(op, soap.CodeFormat, "no request %q of service %q to answer", info.CorrelationID, info.ServiceID)
		}
		recipient, corr = reqSender, info.CorrelationID
	}
	var eol time.Time
	if v, ok := info.Property(PropEOL); ok {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return nil, b.fault(op, soap.CodeFormat, "EOL %q is not an RFC 3339 time", v)
		}
		if !t.After(now) {
			return nil, b.fault(op, soap.CodeFormat, "EOL %s has already passed", v)
		}
		eol = t
	}
	refs, f := b.checkAttachments(ctx, op, info)
	if f != nil {
		return nil, f
	}
	if info.MessageType == soap.TypeRequest || info.MessageType == soap.TypeResponse {
		if f := b.checkSignature(ctx, op, svc, sender, req.Request.MessageData.Data); f != nil {
			return nil, f
		}
	}

	q := b.queue(recipient)
	if err := b.ensureGroup(ctx, q); err != nil {
		return nil, b.internal(op, err)
	}
	stored := info
	stored.MessageID, stored.CorrelationID = id, corr
	stored.Sender.Password = ""
	infoJSON, err := json.Marshal(stored)
	if err != nil {
		return nil, b.internal(op, err)
	}
	idemKey, _ := info.Property(PropIdempotencyKey)
	useIdem := "0"
	if idemKey != "" {
		useIdem = "1"
	}
	eolMS := int64(0)
	if !eol.IsZero() {
		eolMS = eol.UnixMilli()
	}
	args := []any{id, corr, useIdem, int64(b.cfg.IdempotencyTTL / time.Second),
		"id", id, "corr", corr, "service", info.ServiceID, "type", string(info.MessageType),
		"sender", info.Sender.SenderID, "recipient", recipient, "info", infoJSON,
		"data", req.Request.MessageData.Data, "state", string(soap.StateOnDelivery),
		"sentAt", now.UnixMilli(), "deliveries", 0, "eol", eolMS}
	res, err := enqueueScript.Run(ctx, b.rdb, []string{q.stream, q.message(id), q.idempotency(info.Sender.SenderID, idemKey)}, args...).Slice()
	if err != nil {
		return nil, b.internal(op, err)
	}
	fresh := res[0].(int64) == 1
	gotID, gotCorr, _ := strings.Cut(res[1].(string), " ")
	if fresh && len(refs) > 0 {
		if err := b.grantAttachments(ctx, refs, recipient); err != nil {
			return nil, b.internal(op, err)
		}
	}
	if fresh {
		b.metrics.sent.WithLabelValues(recipient).Inc()
	}
	rec := evidenceRecord{Direction: "in", Operation: op, MessageID: gotID, CorrelationID: gotCorr,
		ServiceID: info.ServiceID, Sender: info.Sender.SenderID, Recipient: recipient, Repeat: !fresh}
	if err := b.record(ctx, rec, svc, req); err != nil {
		return nil, b.internal(op, err)
	}
	resp := &soap.SendMessageResponse{}
	resp.Response.MessageID, resp.Response.CorrelationID, resp.Response.ResponseDate = gotID, gotCorr, now
	return resp, nil
}

// ensureGroup creates the recipient's consumer group once; it starts at
// the stream's beginning so that nothing sent before the first poll is missed.
func (b *Bus) ensureGroup(ctx context.Context, q queueKeys) error {
	if _, ok := b.groups.Load(q.stream); ok {
		return nil
	}
	err := b.rdb.XGroupCreateMkStream(ctx, q.stream, consumerGroup, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return err
	}
	b.groups.Store(q.stream, struct{}{})
	return nil
}

// isNoGroup reports a stream or group that vanished (deleted by an
// operator): the group is created again and the call retried.
func isNoGroup(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOGROUP") }

// GetMessages leases up to amount messages of the caller's queue, waiting
// up to WAIT_SECONDS (capped by Config.MaxWait) when it is empty. Leases
// not confirmed within the visibility timeout are handed out again first.
func (b *Bus) GetMessages(ctx context.Context, req *soap.GetMessages) (*soap.GetMessagesResponse, error) {
	const op = "getMessages"
	r := req.Request
	if r.Sender == nil {
		return nil, b.fault(op, soap.CodeFormat, "sender is required")
	}
	sys, f := b.authenticate(op, *r.Sender)
	if f != nil {
		return nil, f
	}
	if b.routing.Services[r.ServiceID] == nil {
		return nil, b.fault(op, soap.CodeUnknownService, "unknown service %q", r.ServiceID)
	}
	queue := r.Sender.SenderID
	wait := time.Duration(0)
	for _, p := range r.Properties {
		switch p.Key {
		case PropQueue:
			queue = p.Value
		case PropWaitSeconds:
			s, err := strconv.Atoi(p.Value)
			if err != nil || s < 0 {
				return nil, b.fault(op, soap.CodeFormat, "WAIT_SECONDS %q", p.Value)
			}
			wait = time.Duration(s) * time.Second
		}
	}
	if !sys.MayPoll(queue) {
		return nil, b.fault(op, soap.CodeUnknownService, "%s may not poll queue %q", r.Sender.SenderID, queue)
	}
	wait = min(wait, b.cfg.MaxWait)
	amount := r.Amount
	if amount <= 0 {
		amount = 1
	}
	amount = min(amount, b.cfg.MaxAmount)
	msgs, err := b.lease(ctx, b.queue(queue), amount, wait)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, b.internal(op, err)
	}
	resp := &soap.GetMessagesResponse{}
	resp.Response.ResponseDate = b.cfg.Now()
	resp.Response.Messages = msgs
	return resp, nil
}

func (b *Bus) lease(ctx context.Context, q queueKeys, amount int, wait time.Duration) ([]soap.AsyncMessage, error) {
	if err := b.ensureGroup(ctx, q); err != nil {
		return nil, err
	}
	var out []soap.AsyncMessage
	deadline := time.Now().Add(wait)
	for {
		entries, err := b.claim(ctx, q, amount-len(out), time.Until(deadline))
		if isNoGroup(err) {
			b.groups.Delete(q.stream)
			if err = b.ensureGroup(ctx, q); err == nil {
				entries, err = b.claim(ctx, q, amount-len(out), time.Until(deadline))
			}
		}
		if err != nil {
			return nil, err
		}
		got, err := b.deliver(ctx, q, entries)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
		// Entries that were retired (expired, confirmed meanwhile) leave
		// room: try again while there is time and nothing was handed out.
		if len(out) > 0 || len(entries) == 0 || !time.Now().Before(deadline) {
			return out, nil
		}
	}
}

// claim returns stream entries for a lease: expired leases first, then new
// messages, blocking up to wait when there are none.
func (b *Bus) claim(ctx context.Context, q queueKeys, amount int, wait time.Duration) ([]redis.XMessage, error) {
	entries, _, err := b.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: q.stream, Group: consumerGroup, Consumer: "bus",
		MinIdle: b.cfg.Visibility, Start: "0-0", Count: int64(amount),
	}).Result()
	if err != nil {
		return nil, err
	}
	if len(entries) > 0 {
		b.metrics.redelivered.WithLabelValues(q.recipient).Add(float64(len(entries)))
	}
	if len(entries) >= amount {
		return entries, nil
	}
	block := time.Duration(-1) // go-redis: negative means no BLOCK argument
	if len(entries) == 0 && wait > 0 {
		block = wait
	}
	streams, err := b.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: consumerGroup, Consumer: "bus", Streams: []string{q.stream, ">"},
		Count: int64(amount - len(entries)), Block: block,
	}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	for _, s := range streams {
		entries = append(entries, s.Messages...)
	}
	return entries, nil
}

// deliver runs deliverScript for each entry in one pipeline.
func (b *Bus) deliver(ctx context.Context, q queueKeys, entries []redis.XMessage) ([]soap.AsyncMessage, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	now := b.cfg.Now().UnixMilli()
	pipe := b.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(entries))
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i], _ = e.Values["id"].(string)
		cmds[i] = deliverScript.Run(ctx, pipe, []string{q.message(ids[i]), q.stream, q.dead},
			e.ID, now, b.cfg.MaxDeliveries, ids[i])
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		// EVALSHA may have failed with NOSCRIPT inside the pipeline: load and retry once.
		if !strings.Contains(err.Error(), "NOSCRIPT") {
			return nil, err
		}
		if err := deliverScript.Load(ctx, b.rdb).Err(); err != nil {
			return nil, err
		}
		return b.deliver(ctx, q, entries)
	}
	var out []soap.AsyncMessage
	var records []evidenceRecord
	for i, cmd := range cmds {
		res, err := cmd.Slice()
		if err != nil {
			return nil, err
		}
		switch res[0].(string) {
		case "ok":
			var m soap.AsyncMessage
			if err := json.Unmarshal([]byte(res[2].(string)), &m.MessageInfo); err != nil {
				return nil, fmt.Errorf("message %s: %w", ids[i], err)
			}
			m.MessageData.Data = res[3].(string)
			m.MessageInfo.Properties = append(m.MessageInfo.Properties, soap.Property{Key: PropDeliveryCount, Value: res[1].(string)})
			out = append(out, m)
			records = append(records, evidenceRecord{Direction: "out", Operation: "getMessages",
				MessageID: ids[i], CorrelationID: m.MessageInfo.CorrelationID, ServiceID: m.MessageInfo.ServiceID,
				Sender: m.MessageInfo.Sender.SenderID, Recipient: q.recipient})
		case "stopped":
			b.metrics.deadLettered.WithLabelValues(q.recipient, res[1].(string)).Inc()
		}
	}
	if err := b.recordHandedOut(ctx, records, out); err != nil {
		return nil, err
	}
	b.metrics.handedOut.WithLabelValues(q.recipient).Add(float64(len(out)))
	return out, nil
}

// SendDeliveryNotification confirms (DELIVERED) or refuses (NOT_DELIVERED,
// handed out again at the next poll) a leased message. Only the queue's
// owner may notify.
func (b *Bus) SendDeliveryNotification(ctx context.Context, req *soap.SendDeliveryNotification) (*soap.SendDeliveryNotificationResponse, error) {
	const op = "sendDeliveryNotification"
	r := req.Request
	if r.Sender == nil {
		return nil, b.fault(op, soap.CodeFormat, "sender is required")
	}
	sys, f := b.authenticate(op, *r.Sender)
	if f != nil {
		return nil, f
	}
	n := r.Notification
	if n.MessageID == "" {
		return nil, b.fault(op, soap.CodeFormat, "messageId is required")
	}
	var q queueKeys
	found := false
	for _, queue := range sys.Poll {
		cand := b.queue(queue)
		if ok, err := b.rdb.Exists(ctx, cand.message(n.MessageID)).Result(); err != nil {
			return nil, b.internal(op, err)
		} else if ok == 1 {
			q, found = cand, true
			break
		}
	}
	if !found {
		return nil, b.fault(op, soap.CodeFormat, "no message %q in the caller's queues", n.MessageID)
	}
	now := b.cfg.Now().UnixMilli()
	var res string
	var err error
	switch soap.MessageState(n.DeliveryStatus.ReceiveStatus) {
	case soap.StateDelivered:
		res, err = confirmScript.Run(ctx, b.rdb, []string{q.message(n.MessageID), q.stream, q.done}, now, n.MessageID).Text()
		if err == nil && res == "ok" {
			b.metrics.confirmed.WithLabelValues(q.recipient).Inc()
		}
	case soap.StateNotDelivered:
		reason := "refused by recipient"
		if e := n.DeliveryStatus.Error; e != nil {
			reason = e.ErrorCode + " " + e.ErrorMessage
		}
		res, err = refuseScript.Run(ctx, b.rdb, []string{q.message(n.MessageID), q.stream}, now, b.cfg.Visibility.Milliseconds(), reason).Text()
	default:
		return nil, b.fault(op, soap.CodeFormat, "receiveStatus must be DELIVERED or NOT_DELIVERED, got %q", n.DeliveryStatus.ReceiveStatus)
	}
	if err != nil {
		return nil, b.internal(op, err)
	}
	switch res {
	case "ok", "already":
	case "not-leased":
		return nil, b.fault(op, soap.CodeFormat, "message %q was never handed out", n.MessageID)
	default:
		return nil, b.fault(op, soap.CodeFormat, "message %q is %s", n.MessageID, res)
	}
	resp := &soap.SendDeliveryNotificationResponse{}
	resp.Response.NotificationID, resp.Response.ResponseDate = uuid.NewString(), b.cfg.Now()
	return resp, nil
}

// Trim forgets confirmed messages older than KeepConfirmed and, beyond
// MaxConfirmed per recipient, the oldest ones. Unconfirmed messages are
// never trimmed.
func (b *Bus) Trim(ctx context.Context) (int, error) {
	removed := 0
	cutoff := b.cfg.Now().Add(-b.cfg.KeepConfirmed).UnixMilli()
	for recipient := range b.recipients() {
		q := b.queue(recipient)
		old, err := b.rdb.ZRangeByScore(ctx, q.done, &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(cutoff, 10)}).Result()
		if err != nil {
			return removed, err
		}
		if n, err := b.rdb.ZCard(ctx, q.done).Result(); err != nil {
			return removed, err
		} else if extra := int(n) - len(old) - b.cfg.MaxConfirmed; extra > 0 {
			more, err := b.rdb.ZRange(ctx, q.done, int64(len(old)), int64(len(old)+extra-1)).Result()
			if err != nil {
				return removed, err
			}
			old = append(old, more...)
		}
		for start := 0; start < len(old); start += 500 {
			batch := old[start:min(start+500, len(old))]
			keys := make([]string, len(batch))
			members := make([]any, len(batch))
			for i, id := range batch {
				keys[i], members[i] = q.message(id), id
			}
			pipe := b.rdb.TxPipeline()
			pipe.Unlink(ctx, keys...)
			pipe.ZRem(ctx, q.done, members...)
			if _, err := pipe.Exec(ctx); err != nil {
				return removed, err
			}
			removed += len(batch)
		}
	}
	return removed, nil
}

// recipients lists every system that can own a queue.
func (b *Bus) recipients() map[string]struct{} {
	out := map[string]struct{}{}
	for id := range b.routing.Systems {
		out[id] = struct{}{}
	}
	for _, s := range b.routing.Services {
		out[s.Recipient] = struct{}{}
	}
	return out
}
