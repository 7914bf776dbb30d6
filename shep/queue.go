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

	"egov/internal/redisconn"
	"egov/internal/redisscript"
	"egov/shep/soap"
)

// enqueueScript stores message records and appends them to one
// recipient's stream, each atomically with its idempotency check: a repeat
// with the same key gets the first message's ids back and enqueues nothing.
//
// KEYS: stream, then per message its record and its idempotency key
// ARGV: idempotency TTL (s), then per message: id, correlation id,
// use idempotency (0/1), number of fields, field, value, …
// Returns per message "1 id corr" (enqueued) or "0 id corr" (a repeat).
// A repeat refreshes its idempotency key's lifetime: a write, so that a
// WAIT after it also covers the first message (replication keeps the
// master's order), and a repeat answered "accepted" is as safe as the
// first answer.
var enqueueScript = redisscript.New(`
local out = {}
local a = 2
for i = 1, (#KEYS - 1) / 2 do
  local rec, idem = KEYS[2 * i], KEYS[2 * i + 1]
  local id, corr, use, n = ARGV[a], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3])
  a = a + 4
  local prev = false
  if use == '1' then prev = redis.call('GET', idem) end
  if prev then
    redis.call('EXPIRE', idem, ARGV[1])
    out[i] = '0 ' .. prev
  else
    redis.call('HSET', rec, unpack(ARGV, a, a + n - 1))
    local sid = redis.call('XADD', KEYS[1], '*', 'id', id)
    redis.call('HSET', rec, 'sid', sid)
    if use == '1' then redis.call('SET', idem, id .. ' ' .. corr, 'EX', ARGV[1]) end
    out[i] = '1 ' .. id .. ' ' .. corr
  end
  a = a + n
end
return out
`)

// deliverScript turns stream entries into leases, or retires them: a
// record already confirmed or stopped is dropped from the stream, an
// expired one or one leased too often goes to the dead letters as
// DELIVERY_STOPPED. Each call names its lease: run again with the same
// one (the client sends a script again when its answer is late), it hands
// out the same delivery rather than count a second.
//
// KEYS: stream, dead letters, then one message record per entry
// ARGV: now (ms), max deliveries, lease, then per entry: stream id, message id
// Returns per entry {"ok", count, info, data}, {"stopped", reason} or {"gone"}.
var deliverScript = redisscript.New(`
local out = {}
for i = 3, #KEYS do
  local rec = KEYS[i]
  local sid, id = ARGV[2 * (i - 2) + 2], ARGV[2 * (i - 2) + 3]
  local function retire()
    redis.call('XACK', KEYS[1], 'bus', sid)
    redis.call('XDEL', KEYS[1], sid)
  end
  local st = redis.call('HMGET', rec, 'state', 'deliveries', 'eol', 'lease')
  if not st[1] or st[1] == 'DELIVERED' or st[1] == 'DELIVERY_STOPPED' then
    retire()
    out[#out + 1] = {'gone'}
  elseif st[1] == 'ON_DELIVERY' and st[4] == ARGV[3] then
    local body = redis.call('HMGET', rec, 'info', 'data')
    out[#out + 1] = {'ok', st[2], body[1], body[2]}
  else
    local n = tonumber(st[2] or '0') + 1
    local eol = tonumber(st[3] or '0')
    local reason = nil
    if eol > 0 and tonumber(ARGV[1]) > eol then reason = 'expired'
    elseif n > tonumber(ARGV[2]) then reason = 'max-deliveries' end
    if reason then
      redis.call('XADD', KEYS[2], '*', 'id', id, 'reason', reason, 'at', ARGV[1])
      retire()
      redis.call('HSET', rec, 'state', 'DELIVERY_STOPPED', 'stoppedAt', ARGV[1], 'reason', reason)
      out[#out + 1] = {'stopped', reason}
    else
      redis.call('HSET', rec, 'state', 'ON_DELIVERY', 'deliveries', n, 'leasedAt', ARGV[1], 'lease', ARGV[3])
      local body = redis.call('HMGET', rec, 'info', 'data')
      out[#out + 1] = {'ok', tostring(n), body[1], body[2]}
    end
  end
end
return out
`)

// confirmScript marks leased messages of one queue DELIVERED and removes
// them from the stream. A delivered message's body is the recipient's now:
// the record drops it and keeps what status queries and answers read
// (most of a message's memory; the evidence log keeps its digest). KEYS: stream, confirmed index, then one record per
// message. ARGV: now (ms), then the message ids. Returns per message ok,
// already, stopped, not-leased or unknown.
var confirmScript = redisscript.New(`
local out = {}
for i = 3, #KEYS do
  local rec, id = KEYS[i], ARGV[i - 1]
  local st = redis.call('HMGET', rec, 'state', 'sid', 'leasedAt')
  if not st[1] then out[#out + 1] = 'unknown'
  elseif st[1] == 'DELIVERED' then out[#out + 1] = 'already'
  elseif st[1] == 'DELIVERY_STOPPED' then out[#out + 1] = 'stopped'
  elseif not st[3] then out[#out + 1] = 'not-leased'
  else
    redis.call('XACK', KEYS[1], 'bus', st[2])
    redis.call('XDEL', KEYS[1], st[2])
    redis.call('HSET', rec, 'state', 'DELIVERED', 'confirmedAt', ARGV[1])
    redis.call('HDEL', rec, 'data')
    redis.call('XADD', KEYS[2], '*', 'id', id, 'at', ARGV[1])
    out[#out + 1] = 'ok'
  end
end
return out
`)

// refuseScript marks a leased message NOT_DELIVERED and makes it due for
// redelivery after a delay that doubles with each delivery, capped at the
// visibility timeout: the lease is re-dated so that it expires then.
// KEYS: message record, stream. ARGV: now (ms), visibility (ms), reason,
// first delay (ms).
var refuseScript = redisscript.New(`
local st = redis.call('HMGET', KEYS[1], 'state', 'sid', 'leasedAt', 'deliveries')
if not st[1] then return 'unknown' end
if st[1] == 'DELIVERED' or st[1] == 'DELIVERY_STOPPED' then return 'final' end
if not st[3] then return 'not-leased' end
local visibility = tonumber(ARGV[2])
local delay = math.min(visibility, tonumber(ARGV[4]) * 2 ^ (tonumber(st[4] or '1') - 1))
redis.call('XCLAIM', KEYS[2], 'bus', 'bus', 0, st[2], 'IDLE', math.floor(visibility - delay), 'JUSTID')
redis.call('HSET', KEYS[1], 'state', 'NOT_DELIVERED', 'refusedAt', ARGV[1], 'reason', ARGV[3], 'lastRefusal', ARGV[3])
return 'ok'
`)

// rejectScript dead-letters a leased message at once, for a recipient that
// will never accept it (an answer that belongs to no request of its, a
// document that cannot be verified): redelivering it would only spend the
// deliveries and delay the operators. KEYS: message record, stream, dead
// letters. ARGV: now (ms), reason, the recipient's code. Returns ok,
// unknown, final or not-leased.
var rejectScript = redisscript.New(`
local st = redis.call('HMGET', KEYS[1], 'state', 'sid', 'leasedAt')
if not st[1] then return 'unknown' end
if st[1] == 'DELIVERED' or st[1] == 'DELIVERY_STOPPED' then return 'final' end
if not st[3] then return 'not-leased' end
redis.call('XACK', KEYS[2], 'bus', st[2])
redis.call('XDEL', KEYS[2], st[2])
redis.call('XADD', KEYS[3], '*', 'id', redis.call('HGET', KEYS[1], 'id'), 'reason', 'rejected', 'at', ARGV[1])
redis.call('HSET', KEYS[1], 'state', 'DELIVERY_STOPPED', 'stoppedAt', ARGV[1], 'reason', 'rejected', 'lastRefusal', ARGV[2], 'refusalCode', ARGV[3])
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
		// A provider's result, and a document the sending organisation
		// files itself (a provider's notice to the portal), carries its
		// authorised person's authority; a citizen's request relayed by
		// the portal does not.
		byOrganisation := info.MessageType == soap.TypeResponse || svc.SignedBySender
		if f := b.checkSignature(ctx, op, svc, sender, req.Request.MessageData.Data, byOrganisation); f != nil {
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
	eolMS := int64(0)
	if !eol.IsZero() {
		eolMS = eol.UnixMilli()
	}
	// The recipient may read the attachments before the message is in its
	// queue: a recipient that polls at once must find them, and a crash
	// between the two must not leave a delivered message whose documents
	// nobody may read. Granting again on a repeat changes nothing.
	if len(refs) > 0 {
		if err := b.grantAttachments(ctx, refs, recipient); err != nil {
			return nil, b.internal(op, err)
		}
	}
	res, err := b.enqueuer.do(ctx, enqueueItem{q: q, id: id, corr: corr, sender: info.Sender.SenderID, idemKey: idemKey,
		fields: []any{"id", id, "corr", corr, "service", info.ServiceID, "type", string(info.MessageType),
			"sender", info.Sender.SenderID, "recipient", recipient, "info", infoJSON,
			"data", req.Request.MessageData.Data, "state", string(soap.StateOnDelivery),
			"sentAt", now.UnixMilli(), "deliveries", 0, "eol", eolMS}})
	if err != nil {
		return nil, b.internal(op, err)
	}
	fresh, gotID, gotCorr := res.fresh, res.id, res.corr
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

// enqueueItem is one message waiting to be written to its queue.
type enqueueItem struct {
	q               queueKeys
	id, corr        string
	sender, idemKey string
	fields          []any
}

type enqueueResult struct {
	fresh    bool
	id, corr string
}

// flushEnqueue writes a batch of messages: one script call per recipient,
// all in one pipeline.
func (b *Bus) flushEnqueue(ctx context.Context, items []enqueueItem) ([]enqueueResult, error) {
	// What sendMessage answers "accepted" for waits for the replicas the
	// configuration asks for; confirmations do not (a lost one is a
	// redelivery, which the recipients already take).
	answers, err := perQueue(ctx, b.rdb, b.cfg.Durability, enqueueScript, items,
		func(it enqueueItem) queueKeys { return it.q },
		func(q queueKeys) ([]string, []any) {
			return []string{q.stream}, []any{int64(b.cfg.IdempotencyTTL / time.Second)}
		},
		func(it enqueueItem, keys *[]string, args *[]any) {
			use := "0"
			if it.idemKey != "" {
				use = "1"
			}
			*keys = append(*keys, it.q.message(it.id), it.q.idempotency(it.sender, it.idemKey))
			*args = append(append(*args, it.id, it.corr, use, len(it.fields)), it.fields...)
		})
	if err != nil {
		return nil, err
	}
	out := make([]enqueueResult, len(items))
	for i, a := range answers {
		parts := strings.Fields(a)
		if len(parts) != 3 {
			return nil, fmt.Errorf("enqueue: unexpected answer %q", a)
		}
		out[i] = enqueueResult{fresh: parts[0] == "1", id: parts[1], corr: parts[2]}
	}
	return out, nil
}

// perQueue runs script once per queue for a batch of items, all calls in
// one pipeline: head gives a queue's leading keys and arguments, add
// appends one item's. The script answers one string per item; the answers
// come back in the items' order.
func perQueue[T any](ctx context.Context, rdb redis.UniversalClient, durable redisconn.Durability, script *redis.Script, items []T,
	queueOf func(T) queueKeys, head func(queueKeys) ([]string, []any), add func(T, *[]string, *[]any)) ([]string, error) {
	type call struct {
		idx  []int
		keys []string
		args []any
	}
	calls := map[string]*call{}
	var order []string
	for i, it := range items {
		q := queueOf(it)
		c := calls[q.stream]
		if c == nil {
			c = &call{}
			c.keys, c.args = head(q)
			calls[q.stream] = c
			order = append(order, q.stream)
		}
		c.idx = append(c.idx, i)
		add(it, &c.keys, &c.args)
	}
	cmds, err := runScripts(ctx, rdb, durable, script, len(order), func(i int) ([]string, []any) {
		return calls[order[i]].keys, calls[order[i]].args
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, len(items))
	for ci, stream := range order {
		vals, err := cmds[ci].StringSlice()
		if err != nil {
			return nil, err
		}
		if len(vals) != len(calls[stream].idx) {
			return nil, fmt.Errorf("script answered %d times for %d items", len(vals), len(calls[stream].idx))
		}
		for j, idx := range calls[stream].idx {
			out[idx] = vals[j]
		}
	}
	return out, nil
}

// runScripts runs n calls of one script in a pipeline, loading the script
// first if Redis does not know it (EVALSHA cannot fall back inside a
// pipeline). With durable on, the calls go in one pipeline per master,
// each ended by WAIT on that master's connection.
func runScripts(ctx context.Context, rdb redis.UniversalClient, durable redisconn.Durability, script *redis.Script, n int, call func(i int) ([]string, []any)) ([]*redis.Cmd, error) {
	if durable.On() {
		return runScriptsDurably(ctx, rdb, durable, script, n, call)
	}
	for attempt := 0; ; attempt++ {
		pipe := rdb.Pipeline()
		cmds := make([]*redis.Cmd, n)
		for i := 0; i < n; i++ {
			keys, args := call(i)
			cmds[i] = script.EvalSha(ctx, pipe, keys, args...)
		}
		_, err := pipe.Exec(ctx)
		if err != nil && attempt == 0 && strings.Contains(err.Error(), "NOSCRIPT") {
			if err := script.Load(ctx, rdb).Err(); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		return cmds, nil
	}
}

// reclaimDue says whether a poll should look for expired leases.
func (b *Bus) reclaimDue(stream string) bool {
	v, ok := b.reclaimAfter.Load(stream)
	return !ok || !time.Now().Before(v.(time.Time))
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
	sys, f := b.authenticateOptional(op, r.Sender)
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
		// room, and a long poll blocks in slices: try again while there is
		// time and nothing was handed out.
		// Less than a millisecond left counts as none: BLOCK takes whole
		// milliseconds (see blockFor).
		if len(out) > 0 || time.Until(deadline) < time.Millisecond || ctx.Err() != nil {
			return out, nil
		}
	}
}

// claim returns stream entries for a lease: expired leases first, then new
// messages, blocking up to wait when there are none.
func (b *Bus) claim(ctx context.Context, q queueKeys, amount int, wait time.Duration) ([]redis.XMessage, error) {
	var entries []redis.XMessage
	if b.reclaimDue(q.stream) {
		var err error
		entries, _, err = b.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: q.stream, Group: consumerGroup, Consumer: "bus",
			MinIdle: b.cfg.Visibility, Start: "0-0", Count: int64(amount),
		}).Result()
		if err != nil {
			return nil, err
		}
		if len(entries) > 0 {
			b.metrics.redelivered.WithLabelValues(q.recipient).Add(float64(len(entries)))
		}
		if len(entries) < amount {
			// Nothing more is overdue now; look again a little later. The
			// scan of the pending list costs Redis more than the poll itself.
			b.reclaimAfter.Store(q.stream, time.Now().Add(min(b.cfg.Visibility/10, time.Second)))
		}
	}
	if len(entries) >= amount {
		return entries, nil
	}
	block := time.Duration(-1) // go-redis: negative means no BLOCK argument
	if len(entries) == 0 {
		block = blockFor(wait, b.cfg.PollSlice)
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

// blockFor is the BLOCK of one slice of a long poll with wait left, or -1
// for a read that does not block. A long poll blocks in slices (default a
// second): a blocked read does not notice its context ending, and shutdown
// should not wait out a long poll. BLOCK counts whole milliseconds and
// BLOCK 0 means for ever, so a remainder under a millisecond must not
// block at all: sent as BLOCK 0 it held the poll until the client's read
// timeout cut it (an "i/o timeout", answered SCE909), which on the
// embedded Redis, whose blocked reads end within microseconds of their
// deadline, happened about once a minute.
func blockFor(wait, slice time.Duration) time.Duration {
	if slice <= 0 {
		slice = time.Second
	}
	block := min(wait, slice).Truncate(time.Millisecond)
	if block <= 0 {
		return -1
	}
	return block
}

// deliver turns claimed entries into leases with one script call.
func (b *Bus) deliver(ctx context.Context, q queueKeys, entries []redis.XMessage) ([]soap.AsyncMessage, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	keys := []string{q.stream, q.dead}
	args := []any{b.cfg.Now().UnixMilli(), b.cfg.MaxDeliveries, uuid.NewString()}
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i], _ = e.Values["id"].(string)
		keys = append(keys, q.message(ids[i]))
		args = append(args, e.ID, ids[i])
	}
	res, err := deliverScript.Run(ctx, b.rdb, keys, args...).Slice()
	if err != nil {
		return nil, err
	}
	var out []soap.AsyncMessage
	var records []evidenceRecord
	for i, r := range res {
		row := r.([]any)
		switch row[0].(string) {
		case "ok":
			var m soap.AsyncMessage
			if err := json.Unmarshal([]byte(row[2].(string)), &m.MessageInfo); err != nil {
				return nil, fmt.Errorf("message %s: %w", ids[i], err)
			}
			m.MessageData.Data = row[3].(string)
			m.MessageInfo.Properties = append(m.MessageInfo.Properties, soap.Property{Key: PropDeliveryCount, Value: row[1].(string)})
			out = append(out, m)
			records = append(records, evidenceRecord{Direction: "out", Operation: "getMessages",
				MessageID: ids[i], CorrelationID: m.MessageInfo.CorrelationID, ServiceID: m.MessageInfo.ServiceID,
				Sender: m.MessageInfo.Sender.SenderID, Recipient: q.recipient})
		case "stopped":
			b.metrics.deadLettered.WithLabelValues(q.recipient, row[1].(string)).Inc()
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
	sys, f := b.authenticateOptional(op, r.Sender)
	if f != nil {
		return nil, f
	}
	n := r.Notification
	if n.MessageID == "" {
		return nil, b.fault(op, soap.CodeFormat, "messageId is required")
	}
	// The message is in one of the caller's queues (usually its only one):
	// the scripts answer "unknown" for the others.
	// DELIVERED confirms, NOT_DELIVERED refuses for now (handed out again
	// later), DELIVERY_STOPPED rejects for good (a dead letter at once).
	state := soap.MessageState(n.DeliveryStatus.ReceiveStatus)
	if state != soap.StateDelivered && state != soap.StateNotDelivered && state != soap.StateDeliveryStopped {
		return nil, b.fault(op, soap.CodeFormat, "receiveStatus must be DELIVERED, NOT_DELIVERED or DELIVERY_STOPPED, got %q", n.DeliveryStatus.ReceiveStatus)
	}
	now := b.cfg.Now().UnixMilli()
	res := "unknown"
	for _, queue := range sys.Poll {
		q := b.queue(queue)
		var err error
		if state == soap.StateDelivered {
			res, err = b.confirmer.do(ctx, confirmItem{q: q, id: n.MessageID, now: now})
			if err == nil && res == "ok" {
				b.metrics.confirmed.WithLabelValues(q.recipient).Inc()
			}
		} else {
			reason := "refused by recipient"
			if e := n.DeliveryStatus.Error; e != nil {
				reason = e.ErrorCode + " " + e.ErrorMessage
			}
			if state == soap.StateDeliveryStopped {
				code := ""
				if e := n.DeliveryStatus.Error; e != nil {
					code = e.ErrorCode
				}
				res, err = rejectScript.Run(ctx, b.rdb, []string{q.message(n.MessageID), q.stream, q.dead}, now, reason, code).Text()
				if err == nil && res == "ok" {
					b.cfg.Log.Warn("shep: message rejected by its recipient, dead-lettered", "message", n.MessageID, "recipient", q.recipient, "reason", reason)
				}
				if err != nil {
					return nil, b.internal(op, err)
				}
				if res != "unknown" {
					break
				}
				continue
			}
			res, err = refuseScript.Run(ctx, b.rdb, []string{q.message(n.MessageID), q.stream}, now,
				b.cfg.Visibility.Milliseconds(), reason, b.cfg.RefusalDelay.Milliseconds()).Text()
		}
		if err != nil {
			return nil, b.internal(op, err)
		}
		if res != "unknown" {
			break
		}
	}
	if res == "unknown" {
		return nil, b.fault(op, soap.CodeFormat, "no message %q in the caller's queues", n.MessageID)
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

// confirmItem is one confirmation waiting to be written.
type confirmItem struct {
	q   queueKeys
	id  string
	now int64
}

// flushConfirm writes a batch of confirmations: one script call per queue,
// all in one pipeline.
func (b *Bus) flushConfirm(ctx context.Context, items []confirmItem) ([]string, error) {
	return perQueue(ctx, b.rdb, redisconn.Durability{}, confirmScript, items,
		func(it confirmItem) queueKeys { return it.q },
		func(q queueKeys) ([]string, []any) { return []string{q.stream, q.done}, nil },
		func(it confirmItem, keys *[]string, args *[]any) {
			if len(*args) == 0 {
				*args = append(*args, it.now)
			}
			*keys = append(*keys, it.q.message(it.id))
			*args = append(*args, it.id)
		})
}

// Trim forgets confirmed messages older than KeepConfirmed and, beyond
// MaxConfirmed per recipient, the oldest ones. Unconfirmed messages are
// never trimmed: only the confirmation log names candidates.
func (b *Bus) Trim(ctx context.Context) (int, error) {
	removed := 0
	cutoff := b.cfg.Now().Add(-b.cfg.KeepConfirmed).UnixMilli()
	for recipient := range b.recipients() {
		q := b.queue(recipient)
		total, err := b.rdb.XLen(ctx, q.done).Result()
		if err != nil {
			return removed, err
		}
		excess := total - int64(b.cfg.MaxConfirmed)
		for {
			entries, err := b.rdb.XRangeN(ctx, q.done, "-", "+", 500).Result()
			if err != nil {
				return removed, err
			}
			var drop []redis.XMessage
			for _, e := range entries {
				at, _ := strconv.ParseInt(fmt.Sprint(e.Values["at"]), 10, 64)
				if excess <= 0 && at > cutoff {
					break
				}
				drop = append(drop, e)
				excess--
			}
			if len(drop) == 0 {
				break
			}
			keys := make([]string, len(drop))
			ids := make([]string, len(drop))
			for i, e := range drop {
				keys[i], ids[i] = q.message(fmt.Sprint(e.Values["id"])), e.ID
			}
			pipe := b.rdb.TxPipeline()
			pipe.Unlink(ctx, keys...)
			pipe.XDel(ctx, q.done, ids...)
			if _, err := pipe.Exec(ctx); err != nil {
				return removed, err
			}
			removed += len(drop)
			if len(drop) < len(entries) || len(entries) < 500 {
				break
			}
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

// runScriptsDurably is runScripts where every master's calls are followed
// by WAIT on the connection that carried them: ErrNotReplicated when any
// master's replicas did not acknowledge in time. Each master's calls go on
// a connection of its own (Conn): the scripts in one pipeline, then WAIT
// alone, which the client reads with WAIT's own timeout and never resends
// on another connection (in a pipeline it would be cut at the read
// timeout and the whole batch sent again).
func runScriptsDurably(ctx context.Context, rdb redis.UniversalClient, durable redisconn.Durability, script *redis.Script, n int,
	call func(i int) ([]string, []any)) ([]*redis.Cmd, error) {
	firstKeys := make([]string, n)
	for i := range n {
		keys, _ := call(i)
		firstKeys[i] = keys[0]
	}
	groups, err := redisconn.ByMaster(ctx, rdb, firstKeys)
	if err != nil {
		return nil, err
	}
	cmds := make([]*redis.Cmd, n)
	for node, idx := range groups {
		if err := runOnMaster(ctx, node, durable, script, idx, call, cmds); err != nil {
			if c, ok := rdb.(*redis.ClusterClient); ok {
				// A master's own client follows no redirection and no
				// failover: reload the map for the sender's retry.
				c.ReloadState(ctx)
			}
			return nil, err
		}
	}
	return cmds, nil
}

// runOnMaster runs the calls idx on one connection of node, then WAIT.
func runOnMaster(ctx context.Context, node *redis.Client, durable redisconn.Durability, script *redis.Script, idx []int,
	call func(i int) ([]string, []any), cmds []*redis.Cmd) error {
	cn := node.Conn()
	defer cn.Close()
	for attempt := 0; ; attempt++ {
		_, err := cn.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for _, i := range idx {
				keys, args := call(i)
				cmds[i] = script.EvalSha(ctx, pipe, keys, args...)
			}
			return nil
		})
		if err != nil && attempt == 0 && strings.Contains(err.Error(), "NOSCRIPT") {
			if err := script.Load(ctx, cn).Err(); err != nil {
				return err
			}
			continue
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		return durable.Wait(ctx, cn)
	}
}
