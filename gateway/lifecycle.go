package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"egov"
	"egov/document"
	"egov/internal/redisconn"
	"egov/internal/redisscript"
	"egov/signing"
)

// This file owns a request's record: its keys, its states and the only
// ways they change. The relay, the answer consumer and the stuck check call
// it; none of them writes the record's fields by name.

// State is where a request is in its life.
type State string

// Request states, in the order a request passes them. completed and refused
// are terminal: nothing leaves them.
const (
	StateWaitingForRelay State = "waiting-for-relay"
	StateRelayed         State = "relayed"
	StateDelivered       State = "delivered"
	StateInProgress      State = "in-progress" // accepted for processing by the provider
	StateCompleted       State = "completed"
	StateRefused         State = "refused"
)

// stateRank is the transition table: a request moves only to a state of a
// higher rank, and never out of the last rank. Late, repeated or
// out-of-order events therefore cannot move it back, and a second result
// cannot be filed once one was.
var stateRank = map[State]int{
	StateWaitingForRelay: 1,
	StateRelayed:         2,
	StateDelivered:       3,
	StateInProgress:      4,
	StateCompleted:       5,
	StateRefused:         5,
}

const terminalRank = 5

// Terminal reports whether the request has ended.
func (s State) Terminal() bool { return stateRank[s] == terminalRank }

// CanMoveTo reports whether the table allows the step from s to next.
func (s State) CanMoveTo(next State) bool {
	r, ok := stateRank[next]
	return ok && stateRank[s] < terminalRank && r > stateRank[s]
}

// RequestRef names one citizen's request. A request id is chosen by the
// citizen's software and is unique for that citizen only, so a request is
// always named by both: nothing is found by its id alone.
type RequestRef struct {
	IIN string
	ID  string
}

// String names the request in logs without the IIN in full.
func (r RequestRef) String() string { return signing.MaskIIN(r.IIN) + "/" + r.ID }

// encode is the reference as stored in indexes and hints.
func (r RequestRef) encode() string { return r.IIN + " " + r.ID }

// parseRef reads an encoded reference; anything else is not one.
func parseRef(s string) (RequestRef, bool) {
	iin, id, ok := strings.Cut(s, " ")
	if !ok || id == "" || strings.Contains(id, " ") {
		return RequestRef{}, false
	}
	if _, err := signing.ParseIIN(iin); err != nil {
		return RequestRef{}, false
	}
	return RequestRef{IIN: iin, ID: id}, true
}

// busKey is the idempotency key of the request's message on the bus: made
// of its owner and its id, so that another citizen's request that carries
// the same id is a message of its own, and hashed, so that no IIN appears
// in the bus's key names.
func (r RequestRef) busKey() string {
	sum := sha256.Sum256([]byte("request\x00" + r.IIN + "\x00" + r.ID))
	return "request-" + hex.EncodeToString(sum[:16])
}

// requestKeys are the Redis keys of one request. They share the citizen's
// hash tag with the cabinet, so one script may change them together.
type requestKeys struct {
	record  string // hash: the request's fields
	history string // list: HistoryEntry JSON, oldest first
	answers string // set: bus message ids of the answers already handled
}

func (a *App) citizenKey(iin string, parts ...string) string {
	return a.key(append([]string{"{" + iin + "}"}, parts...)...)
}

func (a *App) requestKeys(ref RequestRef) requestKeys {
	record := a.citizenKey(ref.IIN, "request", ref.ID)
	return requestKeys{record: record, history: record + ":history", answers: record + ":answers"}
}

func (a *App) requestIndexKey(iin string) string { return a.citizenKey(iin, "requests") }

// outboxKey holds the citizen's requests not yet relayed, as encoded
// references: the sweeper reads whose they are from the members, never
// from a key's name.
func (a *App) outboxKey(iin string) string { return a.citizenKey(iin, "outbox") }

func (a *App) attachmentKey(iin, sum string) string { return a.citizenKey(iin, "attachment", sum) }

// relayShards is how many hint streams and open indexes the portal keeps,
// each under a hash tag of its own, so that on a cluster the relay's
// traffic spreads over the masters instead of heating one slot. Every
// portal sharing a Redis must use the same number: it is fixed.
const relayShards = 8

// shardOf is the shard of a citizen's hints and open requests.
func shardOf(iin string) int {
	h := fnv.New32a()
	h.Write([]byte(iin))
	return int(h.Sum32() % relayShards)
}

// relayStream is hint stream shard n: references to requests to relay.
func (a *App) relayStream(n int) string { return a.key("{outbox:" + strconv.Itoa(n) + "}") }

// correlationKey maps the bus's correlation id of a relayed request to
// its owner.
func (a *App) correlationKey(correlationID string) string { return a.key("correlation", correlationID) }

// record is what the workflow reads of a request.
type record struct {
	State         State
	Service       string
	Recipient     string // the provider's system the request went to
	BusService    string // the bus's service id it went under
	BusMessageID  string // its REQUEST on the bus
	CorrelationID string // the bus's correlation of that REQUEST
	LastError     string
	AcceptedAt    time.Time
	// The relay's view: the signed document, the attachment headers, its
	// attempts so far and when it may try again.
	Document      string
	Attachments   []document.AttachmentHeader
	RelayAttempts int
	NextRelayAt   time.Time
}

// recordFields are the hash fields a record is read from, by name once.
var recordFields = []string{"state", "service", "recipient", "busMessageId", "correlationId", "lastError", "acceptedAt", "busService",
	"document", "attachments", "relayAttempts", "nextRelayAt"}

// load reads the request's record; a request without one reads as state "".
// withDocument leaves the document and its headers out when false, for
// callers that do not send it.
func (a *App) load(ctx context.Context, ref RequestRef, withDocument bool) (record, error) {
	fields := recordFields
	if !withDocument {
		fields = recordFields[:8]
	}
	v, err := a.rdb.HMGet(ctx, a.requestKeys(ref).record, fields...).Result()
	if err != nil {
		return record{}, err
	}
	r := record{State: State(str(v[0])), Service: str(v[1]), Recipient: str(v[2]), BusMessageID: str(v[3]),
		CorrelationID: str(v[4]), LastError: str(v[5]), AcceptedAt: msToTime(str(v[6])), BusService: str(v[7])}
	if r.BusService == "" {
		r.BusService = r.Service // accepted before requests named their bus service
	}
	if withDocument {
		r.Document = str(v[8])
		if err := jsonUnmarshal(str(v[9]), &r.Attachments); err != nil {
			return record{}, fmt.Errorf("request %s: attachment headers: %w", ref, err)
		}
		r.RelayAttempts, r.NextRelayAt = atoi(str(v[10])), msToTime(str(v[11]))
	}
	return r, nil
}

// newRecord is what an accepted request's record starts with beyond the
// Request itself.
type newRecord struct {
	BIN        string
	Recipient  string
	BusService string
	Document   []byte
	// Accepted is the cabinet's "request accepted" message.
	Accepted CabinetMessage
	// FiledBy is the counter's system that filed the request and relays
	// it itself (the portal does not), at Office.
	FiledBy, Office string
}

// create writes an accepted request, in its first state, with its
// history, its place in the citizen's list and outbox and the cabinet's
// message (sequence number seq), in one transaction; a request id the
// citizen used before is refused as *ErrReplayed.
func (a *App) create(ctx context.Context, ref RequestRef, r *Request, seq int64, n newRecord) error {
	keys := a.requestKeys(ref)
	return a.rdb.Watch(ctx, func(tx *redis.Tx) error {
		if exists, err := tx.Exists(ctx, keys.record).Result(); err != nil {
			return err
		} else if exists == 1 {
			if a.cfg.Durability.On() {
				// "Already accepted" is a promise too: a write after the
				// record's, then WAIT, covers the record (replication
				// keeps the master's order).
				if _, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.HIncrBy(ctx, keys.record, "replays", 1)
					return nil
				}); err != nil {
					return err
				}
				if err := a.cfg.Durability.Wait(ctx, tx); err != nil {
					return err
				}
			}
			return &ErrReplayed{RequestID: r.ID}
		}
		attJSON, _ := json.Marshal(r.Attachments)
		evJSON, _ := json.Marshal(r.Evidence)
		histJSON, _ := json.Marshal(r.History[0])
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, keys.record, "id", r.ID, "iin", ref.IIN, "bin", n.BIN, "service", r.Service, "region", r.Region,
				"state", string(r.State), "acceptedAt", r.AcceptedAt.UnixMilli(), "dueAt", r.DueAt.UnixMilli(),
				"recipient", n.Recipient, "busService", n.BusService, "document", n.Document, "attachments", attJSON, "evidence", evJSON)
			p.RPush(ctx, keys.history, histJSON)
			p.ZAdd(ctx, a.requestIndexKey(ref.IIN), redis.Z{Score: float64(r.AcceptedAt.UnixMilli()), Member: r.ID})
			if n.FiledBy != "" {
				p.HSet(ctx, keys.record, "filedBy", n.FiledBy, "channel", ChannelStateCorporation, "office", n.Office)
			} else {
				p.SAdd(ctx, a.outboxKey(ref.IIN), ref.encode())
			}
			a.fileMessage(ctx, p, ref.IIN, seq, n.Accepted, "")
			return nil
		})
		if err != nil {
			return err
		}
		// On the connection that carried the transaction.
		return a.cfg.Durability.Wait(ctx, tx)
	}, keys.record)
}

// RequestOf returns one of the citizen's requests with its history;
// another citizen's request is not found.
func (a *App) RequestOf(ctx context.Context, iin, id string) (*Request, error) {
	keys := a.requestKeys(RequestRef{IIN: iin, ID: id})
	pipe := a.rdb.Pipeline()
	h := pipe.HGetAll(ctx, keys.record)
	hist := pipe.LRange(ctx, keys.history, 0, -1)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	v := h.Val()
	if v["id"] == "" {
		return nil, egov.Errorf(egov.CodeNotFound, "request")
	}
	r := &Request{ID: v["id"], Service: v["service"], Region: v["region"], State: State(v["state"]),
		AcceptedAt: msToTime(v["acceptedAt"]), DueAt: msToTime(v["dueAt"]), LastError: v["lastError"], Outcome: v["outcome"],
		Channel: v["channel"], Office: v["office"], SMSNotices: smsNoticesOf(v)}
	_ = json.Unmarshal([]byte(v["attachments"]), &r.Attachments)
	if v["evidence"] != "" {
		r.Evidence = &signing.Evidence{}
		_ = json.Unmarshal([]byte(v["evidence"]), r.Evidence)
	}
	for _, e := range hist.Val() {
		var he HistoryEntry
		if json.Unmarshal([]byte(e), &he) == nil {
			r.History = append(r.History, he)
		}
	}
	return r, nil
}

// Requests lists the citizen's requests, newest first.
func (a *App) Requests(ctx context.Context, iin string, limit int) ([]*Request, error) {
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	ids, err := a.rdb.ZRevRange(ctx, a.requestIndexKey(iin), 0, int64(limit-1)).Result()
	if err != nil {
		return nil, err
	}
	out := make([]*Request, 0, len(ids))
	for _, id := range ids {
		r, err := a.RequestOf(ctx, iin, id)
		if err != nil {
			return nil, err
		}
		r.History, r.Evidence = nil, nil
		out = append(out, r)
	}
	return out, nil
}

// step is one transition a change asks for. It is applied if the table
// allows it from the state the record is in at that moment; otherwise
// only Otherwise is written to the history.
type step struct {
	To State `json:"to,omitempty"`
	// Set are fields written with the transition.
	Set map[string]string `json:"set,omitempty"`
	// Entry goes to the history with the transition; Otherwise when the
	// step is not taken (a late or repeated event, kept for the record).
	Entry     string `json:"entry,omitempty"`
	Otherwise string `json:"otherwise,omitempty"`
	// Message is filed in the cabinet with the transition only.
	Message *stepMessage `json:"msg,omitempty"`
	// AfterEnd makes the step one for a request that has ended: it moves
	// no state and is taken once (it writes the field Once, and is not
	// taken while Once is there) when the request ended with outcome
	// IfOutcome and result number IfNumber (either left empty: any). On a request that has not
	// ended yet the change waits (an error that passes); on one that
	// ended otherwise it is refused as unmatched.
	AfterEnd  bool   `json:"afterEnd,omitempty"`
	IfOutcome string `json:"ifOutcome,omitempty"`
	IfNumber  string `json:"ifNumber,omitempty"`
	Once      string `json:"once,omitempty"`
}

type stepMessage struct {
	Key      int    `json:"key"` // index into KEYS of its record
	ID       string `json:"id"`
	Body     string `json:"body"`
	Document string `json:"doc"`
}

// transitionScript applies steps to one request atomically, in order,
// each by the transition table, and records the answer that caused them
// so that a redelivered answer changes nothing.
//
// KEYS: record, history, answers, cabinet index, cabinet unread, cabinet
// sequence, the citizen's wish for SMS notices, then the cabinet message
// records the steps may file.
// ARGV: answer message id ("" for changes that are not answers), then one
// JSON step each.
// Returns {"seen", state, sms}, {"unknown"}, {"early", state} (an
// after-end step on a request not ended yet), {"unfit", state} (on one it
// does not fit) or {"ok", state after, steps taken, sms}; sms is "1" when
// the citizen asked to be told of changes by SMS.
var transitionScript = redisscript.New(luaRanks() + `
-- The citizen's wish for SMS is read only for the states he is told of.
local function wish(s)
  if s == 'in-progress' or rank[s] == terminal then return tostring(redis.call('EXISTS', KEYS[7])) end
  return '0'
end
if ARGV[1] ~= '' and redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then
  local s = redis.call('HGET', KEYS[1], 'state') or ''
  return {'seen', s, wish(s)}
end
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'unknown'} end
local taken = 0
local function take(s, f)
  if type(s['set']) == 'table' then
    for k, v in pairs(s['set']) do f[#f + 1] = k; f[#f + 1] = v end
  end
  if #f > 0 then redis.call('HSET', KEYS[1], unpack(f)) end
  if type(s['entry']) == 'string' then redis.call('RPUSH', KEYS[2], s['entry']) end
  local m = s['msg']
  if type(m) == 'table' then
    local seq = redis.call('INCR', KEYS[6])
    redis.call('HSET', KEYS[m['key']], 'message', m['body'], 'document', m['doc'])
    redis.call('ZADD', KEYS[4], seq, m['id'])
    redis.call('SADD', KEYS[5], m['id'])
  end
  taken = taken + 1
end
for i = 2, #ARGV do
  local s = cjson.decode(ARGV[i])
  local to = s['to']
  if s['afterEnd'] then
    if rank[state] ~= terminal then return {'early', state} end
    local ended = redis.call('HMGET', KEYS[1], 'outcome', 'number')
    if (s['ifOutcome'] and ended[1] ~= s['ifOutcome']) or (s['ifNumber'] and ended[2] ~= s['ifNumber']) then return {'unfit', state} end
    if redis.call('HEXISTS', KEYS[1], s['once']) == 0 then take(s, {s['once'], '1'}) end
  elseif type(to) == 'string' and rank[to] and rank[state] < terminal and rank[to] > rank[state] then
    state = to
    take(s, {'state', to})
  elseif type(s['otherwise']) == 'string' then
    redis.call('RPUSH', KEYS[2], s['otherwise'])
  end
end
if ARGV[1] ~= '' then redis.call('SADD', KEYS[3], ARGV[1]) end
local told = '0'
if taken > 0 then told = wish(state) end
return {'ok', state, tostring(taken), told}
`)

// luaRanks writes the transition table into the script, so that Go and
// Redis read one table; in a fixed order, so that every process makes the
// same script (one SHA for Redis's cache).
func luaRanks() string {
	var b strings.Builder
	b.WriteString("local rank = {")
	for _, s := range slices.Sorted(maps.Keys(stateRank)) {
		fmt.Fprintf(&b, "[%q] = %d, ", s, stateRank[s])
	}
	fmt.Fprintf(&b, "}\nlocal terminal = %d\n", terminalRank)
	return b.String()
}

// transitionResult says what a change did.
type transitionResult struct {
	// Seen: the answer was handled before; nothing changed.
	Seen bool
	// State after the change, and how many of its steps were taken.
	State State
	Taken int
	// SMS: the citizen asked to be told of status changes by SMS (read
	// with the change, in the same script).
	SMS bool
}

// transition applies steps to the request in one script. answerID names
// the answer that causes them ("" for the portal's own changes).
func (a *App) transition(ctx context.Context, ref RequestRef, answerID string, steps ...step) (transitionResult, error) {
	k := a.requestKeys(ref)
	index, unread := a.cabinetKeys(ref.IIN)
	keys := []string{k.record, k.history, k.answers, index, unread, a.cabinetSeqKey(ref.IIN), a.smsWishKey(ref.IIN)}
	args := []any{answerID}
	for _, s := range steps {
		if s.Message != nil {
			keys = append(keys, a.cabinetMessageKey(ref.IIN, s.Message.ID))
			s.Message.Key = len(keys) // Lua counts from 1
		}
		data, err := json.Marshal(s)
		if err != nil {
			return transitionResult{}, err
		}
		args = append(args, data)
	}
	// An answer's filing is confirmed to the bus once this returns: it
	// waits for the replicas the durability asks for, or a master's death
	// could take the filing while the bus, told it was filed, forgets the
	// answer. The portal's own changes need no wait: the relay and the
	// sweep repeat them.
	durable := redisconn.Durability{}
	if answerID != "" {
		durable = a.cfg.Durability
	}
	out, err := redisconn.RunScript(ctx, a.rdb, durable, transitionScript, keys, args...).StringSlice()
	if err != nil {
		return transitionResult{}, err
	}
	switch out[0] {
	case "seen":
		if answerID != "" {
			// Filed before, perhaps without the replicas' acknowledgement
			// (then refused, and here again): a write after the filing,
			// then WAIT, covers it before the bus is told.
			if err := redisconn.RunScript(ctx, a.rdb, durable, countRepeatScript, keys[:1]).Err(); err != nil {
				return transitionResult{}, err
			}
		}
		return transitionResult{Seen: true, State: State(out[1]), SMS: out[2] == "1"}, nil
	case "unknown":
		return transitionResult{}, fmt.Errorf("request %s has no record", ref)
	case "early":
		return transitionResult{}, fmt.Errorf("request %s has not ended yet (%s)", ref, out[1])
	case "unfit":
		return transitionResult{}, unmatched("request %s (%s) is not one this change can follow", ref, out[1])
	}
	var taken int
	fmt.Sscan(out[2], &taken)
	return transitionResult{State: State(out[1]), Taken: taken, SMS: out[3] == "1"}, nil
}

// countRepeatScript counts an answer that came again on its request's
// record. KEYS: record.
var countRepeatScript = redisscript.New(`
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBY', KEYS[1], 'answerRepeats', 1) end
return 0
`)

// annotateScript writes fields of a request that are not its state (the
// relay's attempts, the reason it is stuck) while it is in one of the
// given states: an annotation never lands on a request that moved on.
// KEYS: record. ARGV: number of states, states…, field, value, …
var annotateScript = redisscript.New(`
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 0 end
local n = tonumber(ARGV[1])
for i = 2, n + 1 do
  if ARGV[i] == state then
    redis.call('HSET', KEYS[1], unpack(ARGV, n + 2))
    return 1
  end
end
return 0
`)

// openStates are the states a request waits in.
var openStates = []State{StateWaitingForRelay, StateRelayed, StateDelivered, StateInProgress}

// annotate writes fields of the request while it is in one of states, and
// reports whether it did.
func (a *App) annotate(ctx context.Context, ref RequestRef, states []State, fields ...string) (bool, error) {
	args := []any{len(states)}
	for _, s := range states {
		args = append(args, string(s))
	}
	for _, f := range fields {
		args = append(args, f)
	}
	n, err := annotateScript.Run(ctx, a.rdb, []string{a.requestKeys(ref).record}, args...).Int()
	return n == 1, err
}

// History events that move no state.
const (
	eventUpdate            = "update"
	eventIgnored           = "ignored"
	eventRegistrationEnded = "registration-ended" // the registration the request made ended
	eventHandedOut         = "handed-out"         // a counter gave the result to the applicant or his representative
	eventSMSFailed         = "sms-failed"         // a status notice by SMS was not delivered (notices.go)
)

// historyJSON is a history entry as stored; what is a State or an event.
func historyJSON[T ~string](what T, at time.Time, note string) string {
	data, _ := json.Marshal(HistoryEntry{State: string(what), At: at, Note: note})
	return string(data)
}

// messageStep files a cabinet message with a transition.
func messageStep(m CabinetMessage, document string) *stepMessage {
	body, _ := json.Marshal(m)
	return &stepMessage{ID: m.ID, Body: string(body), Document: document}
}

// The events of a request's life, as steps of the table. The workflow
// (relay, consumer, stuck check) names the event; the fields it writes
// are known here only.

// relayedStep: the bus accepted the request as message busID of
// correlation corr.
func relayedStep(busID, corr string, at time.Time) step {
	return step{To: StateRelayed, Entry: historyJSON(StateRelayed, at, ""),
		Set: map[string]string{"busMessageId": busID, "correlationId": corr, "lastError": ""}}
}

// deliveredStep: the provider's system received the request (at, by the
// bus's record), and the citizen is told who received the data.
func deliveredStep(at time.Time, access CabinetMessage) step {
	return step{To: StateDelivered, Entry: historyJSON(StateDelivered, at, ""), Message: messageStep(access, "")}
}

// inProgressStep: the provider accepted the request for processing.
func inProgressStep(at time.Time, status CabinetMessage) step {
	return step{To: StateInProgress, Entry: historyJSON(StateInProgress, at, "accepted for processing by the provider"),
		Otherwise: historyJSON(eventIgnored, at, "notice of the provider (accepted for processing) after the request moved on"),
		Message:   messageStep(status, "")}
}

// updateStep: the provider said something that moves nothing.
func updateStep(at time.Time) step {
	return step{Otherwise: historyJSON(eventUpdate, at, "update from the provider")}
}

// resultStep: the provider's signed result, filed with its document; the
// request ends completed, or refused when the outcome is a refusal.
func resultStep(outcome, number, document string, at time.Time, result CabinetMessage) step {
	to := StateCompleted
	if outcome == "refused" {
		to = StateRefused
	}
	return step{To: to, Entry: historyJSON(to, at, outcome),
		Otherwise: historyJSON(eventIgnored, at, "another result of the provider ("+outcome+") after the request ended: not filed"),
		Set:       map[string]string{"outcome": outcome, "number": number, "result": document, "lastError": ""},
		Message:   messageStep(result, document)}
}

// registrationEndedStep: the provider says registration number, made by
// this request, has ended; filed once, with its signed notice, on a
// request that ended registered under that number.
func registrationEndedStep(number, ground, doc string, at time.Time, notice CabinetMessage) step {
	return step{AfterEnd: true, IfOutcome: string(document.OutcomeRegistered), IfNumber: number, Once: "registrationEnded",
		Set:   map[string]string{"registrationEndedAt": at.UTC().Format(time.RFC3339), "registrationEndGround": ground},
		Entry: historyJSON(eventRegistrationEnded, at, ground), Message: messageStep(notice, doc)}
}

// noteRelayFailure records a failed relay while the request still waits
// for it: the attempts so far, when to try again, why.
func (a *App) noteRelayFailure(ctx context.Context, ref RequestRef, attempts int, next time.Time, reason string) error {
	_, err := a.annotate(ctx, ref, []State{StateWaitingForRelay}, "relayAttempts", strconv.Itoa(attempts),
		"nextRelayAt", strconv.FormatInt(next.UnixMilli(), 10), "lastError", reason)
	return err
}

// markStuck says why an open request cannot go on; it reports false when
// the request has ended meanwhile.
func (a *App) markStuck(ctx context.Context, ref RequestRef, note string) (bool, error) {
	return a.annotate(ctx, ref, openStates, "lastError", note)
}

// clearStuck takes the mark away once the request moves again.
func (a *App) clearStuck(ctx context.Context, ref RequestRef) error {
	_, err := a.annotate(ctx, ref, openStates, "lastError", "")
	return err
}
