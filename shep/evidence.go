package shep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"egov/internal/redisscript"
	"egov/shep/soap"
)

// evidenceRecord is what the evidence log keeps of one envelope: what
// passed the bus, when, between whom, and the SHA-256 of the envelope.
type evidenceRecord struct {
	Time           time.Time `json:"time"`
	Direction      string    `json:"direction"` // in (accepted), out (handed out), sync-in, sync-out
	Operation      string    `json:"operation"`
	MessageID      string    `json:"messageId"`
	CorrelationID  string    `json:"correlationId,omitempty"`
	ServiceID      string    `json:"serviceId"`
	Sender         string    `json:"sender"`
	Recipient      string    `json:"recipient"`
	Repeat         bool      `json:"repeat,omitempty"` // an idempotent repeat answered with the first result
	EnvelopeSHA256 string    `json:"envelopeSHA256"`
	// Body is the envelope (password removed), kept only for services without personal data.
	Body string `json:"body,omitempty"`
}

// A link of the chain is a record with its sequence number, prev (the hash
// of the link before) and its own hash, the SHA-256 over prev, seq and the
// record's JSON. Editing, deleting or reordering any link breaks the chain
// from there on. Links written together are stored as one stream entry
// (field "links": a JSON array), so a busy bus pays one XADD per batch.
func linkHash(prev string, seq int64, record []byte) string {
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{'\n'})
	h.Write(strconv.AppendInt(nil, seq, 10))
	h.Write([]byte{'\n'})
	h.Write(record)
	return hex.EncodeToString(h.Sum(nil))
}

// appendEvidenceScript appends a batch of links if the chain's head is
// still the one they were linked to. KEYS: stream, head. ARGV: expected
// head, new head, first seq, links (JSON array).
var appendEvidenceScript = redisscript.New(`
local head = redis.call('GET', KEYS[2]) or ''
if head ~= ARGV[1] then return {0, head} end
redis.call('XADD', KEYS[1], '*', 'seq', ARGV[3], 'links', ARGV[4])
redis.call('SET', KEYS[2], ARGV[2])
return {1, ARGV[2]}
`)

// evidenceLog writes records in batches from one goroutine (group commit):
// callers wait until their records are in Redis, and concurrent callers
// share one round trip. Several bus processes may share a chain: the
// script refuses a batch linked to a stale head, and the batch is linked
// again.
type evidenceLog struct {
	rdb          redis.UniversalClient
	stream, head string
	writer       *groupCommit[[][]byte, struct{}]

	headValue string // "seq hash" as last seen; only the writer goroutine touches it
	headKnown bool
}

func evidenceKeys(prefix string) (stream, head string) {
	return prefix + "shep:{evidence}:log", prefix + "shep:{evidence}:head"
}

func newEvidenceLog(rdb redis.UniversalClient, prefix string) *evidenceLog {
	stream, head := evidenceKeys(prefix)
	e := &evidenceLog{rdb: rdb, stream: stream, head: head}
	e.writer = newGroupCommit(512, e.flush)
	return e
}

// append marshals the records in the caller's goroutine and waits until
// the writer has linked and stored them.
func (e *evidenceLog) append(ctx context.Context, recs []evidenceRecord) error {
	if len(recs) == 0 {
		return nil
	}
	data := make([][]byte, len(recs))
	for i := range recs {
		var err error
		if data[i], err = json.Marshal(&recs[i]); err != nil {
			return err
		}
	}
	_, err := e.writer.do(ctx, data)
	return err
}

func (e *evidenceLog) close() { e.writer.close() }

// flush links the batches' records to the chain's head and appends them.
func (e *evidenceLog) flush(ctx context.Context, batches [][][]byte) ([]struct{}, error) {
	for attempt := 0; attempt < 20; attempt++ {
		if !e.headKnown {
			v, err := e.rdb.Get(ctx, e.head).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return nil, err
			}
			e.headValue, e.headKnown = v, true
		}
		seq, prev := parseHead(e.headValue)
		first := seq + 1
		var links []evidenceLink
		for _, recs := range batches {
			for _, rec := range recs {
				seq++
				h := linkHash(prev, seq, rec)
				links = append(links, evidenceLink{Seq: seq, Prev: prev, Record: rec, Hash: h})
				prev = h
			}
		}
		blob, err := json.Marshal(links)
		if err != nil {
			return nil, err
		}
		newHead := strconv.FormatInt(seq, 10) + " " + prev
		res, err := appendEvidenceScript.Run(ctx, e.rdb, []string{e.stream, e.head}, e.headValue, newHead, first, blob).Slice()
		if err != nil {
			e.headKnown = false
			return nil, err
		}
		if res[0].(int64) == 1 {
			e.headValue = newHead
			return make([]struct{}, len(batches)), nil
		}
		// Another writer moved the head: link the batch to the new one.
		e.headValue = res[1].(string)
	}
	return nil, errors.New("shep: evidence chain contended, giving up")
}

func parseHead(v string) (int64, string) {
	seqStr, hash, ok := strings.Cut(v, " ")
	if !ok {
		return 0, ""
	}
	seq, _ := strconv.ParseInt(seqStr, 10, 64)
	return seq, hash
}

// record appends the evidence of one accepted envelope. The envelope is
// the bus's own encoding of the message with the sender's password
// removed: neither the log nor a digest of known text may reveal it.
func (b *Bus) record(ctx context.Context, rec evidenceRecord, svc *Service, msg any) error {
	envelope, err := soap.Encode(withoutPassword(msg))
	if err != nil {
		return err
	}
	rec.Time = b.cfg.Now().UTC()
	sum := sha256.Sum256(envelope)
	rec.EnvelopeSHA256 = hex.EncodeToString(sum[:])
	if svc != nil && !svc.PersonalData {
		rec.Body = string(envelope)
	}
	return b.evidence.append(ctx, []evidenceRecord{rec})
}

// recordHandedOut appends the evidence of messages handed out by one poll.
func (b *Bus) recordHandedOut(ctx context.Context, recs []evidenceRecord, msgs []soap.AsyncMessage) error {
	now := b.cfg.Now().UTC()
	for i := range recs {
		data, err := xml.Marshal(&msgs[i])
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		recs[i].Time, recs[i].EnvelopeSHA256 = now, hex.EncodeToString(sum[:])
		if svc := b.routing.Services[recs[i].ServiceID]; svc != nil && !svc.PersonalData {
			recs[i].Body = string(data)
		}
	}
	return b.evidence.append(ctx, recs)
}

// EvidenceReport is the outcome of checking the evidence chain.
type EvidenceReport struct {
	Records int   `json:"records"`
	Intact  bool  `json:"intact"`
	Head    int64 `json:"head"`
	// Anchor is the last link trimmed from Redis after it was archived
	// (TrimArchived): the live chain starts after it. AnchorArchive names
	// the archive holding it, where the chain before it is checked.
	Anchor        int64  `json:"anchor,omitempty"`
	AnchorArchive string `json:"anchorArchive,omitempty"`
	// BrokenAt is the sequence number where the chain first fails (the
	// record expected there), and Reason says how.
	BrokenAt int64  `json:"brokenAt,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// evidenceLink is one stored link.
type evidenceLink struct {
	Seq    int64           `json:"seq"`
	Prev   string          `json:"prev"`
	Record json.RawMessage `json:"record"`
	Hash   string          `json:"hash"`
}

// VerifyEvidence reads the whole chain under prefix and checks every link:
// consecutive sequence numbers, each link's prev equal to the hash before
// it, each hash recomputed, up to the link the stored head names, which
// must be there with the head's hash. The head is read first: links a
// running bus appends while the chain is read are after it, and are left
// to the next verification (a link appended past the head by anyone but
// the bus is found then, when the bus's next link repeats its number).
// Where archived links were trimmed (TrimArchived), the chain is checked
// from the stored anchor: the first link left must follow it.
//
// A trim while the chain is read moves its start: a break found then is
// checked again from the new anchor.
func VerifyEvidence(ctx context.Context, rdb redis.UniversalClient, prefix string) (EvidenceReport, error) {
	for attempt := 0; ; attempt++ {
		anchor, err := readAnchor(ctx, rdb, prefix)
		if err != nil {
			return EvidenceReport{}, err
		}
		rep, err := verifyEvidenceFrom(ctx, rdb, prefix, anchor)
		if err != nil || rep.Intact || attempt == 2 {
			return rep, err
		}
		if now, err := readAnchor(ctx, rdb, prefix); err != nil || now == anchor {
			return rep, err
		}
	}
}

func verifyEvidenceFrom(ctx context.Context, rdb redis.UniversalClient, prefix string, anchor storedAnchor) (EvidenceReport, error) {
	var rep EvidenceReport
	stream, headKey := evidenceKeys(prefix)
	head, err := rdb.Get(ctx, headKey).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return rep, err
	}
	rep.Head, _ = parseHead(head)
	rep.Anchor, rep.AnchorArchive = anchor.Seq, anchor.Archive
	prevSeq, prevHash := anchor.Seq, anchor.Hash
	var broken error
	err = scanEvidence(ctx, rdb, stream, func(l evidenceLink) bool {
		rep.Records++
		switch {
		case l.Seq != prevSeq+1:
			broken = fmt.Errorf("link %d follows link %d", l.Seq, prevSeq)
		case l.Prev != prevHash:
			broken = fmt.Errorf("prev does not match the hash of link %d", prevSeq)
		case linkHash(l.Prev, l.Seq, l.Record) != l.Hash:
			broken = fmt.Errorf("content does not match its hash")
		}
		if broken != nil {
			return false
		}
		prevSeq, prevHash = l.Seq, l.Hash
		return head == "" || l.Seq < rep.Head
	})
	if err != nil {
		return rep, err
	}
	if broken != nil {
		rep.BrokenAt, rep.Reason = prevSeq+1, broken.Error()
		return rep, nil
	}
	if head != "" && head != strconv.FormatInt(prevSeq, 10)+" "+prevHash {
		rep.BrokenAt = prevSeq + 1
		rep.Reason = fmt.Sprintf("the chain ends at link %d but its head names link %d", prevSeq, rep.Head)
		if prevSeq == rep.Head {
			rep.BrokenAt = prevSeq
			rep.Reason = fmt.Sprintf("link %d is not the one its head names", prevSeq)
		}
		return rep, nil
	}
	rep.Intact = true
	return rep, nil
}

// ExportEvidence writes the chain as JSON lines, one link per line:
// {"seq", "prev", "record", "hash"}.
func ExportEvidence(ctx context.Context, rdb redis.UniversalClient, prefix string, w io.Writer) (int, error) {
	stream, _ := evidenceKeys(prefix)
	n := 0
	enc := json.NewEncoder(w)
	var werr error
	err := scanEvidence(ctx, rdb, stream, func(l evidenceLink) bool {
		n++
		werr = enc.Encode(l)
		return werr == nil
	})
	if err == nil {
		err = werr
	}
	return n, err
}

// scanEvidence calls fn for each stored link in order until it returns false.
func scanEvidence(ctx context.Context, rdb redis.UniversalClient, stream string, fn func(evidenceLink) bool) error {
	return scanEvidenceEntries(ctx, rdb, stream, "+", func(_ string, links []evidenceLink) bool {
		for _, l := range links {
			if !fn(l) {
				return false
			}
		}
		return true
	})
}

// scanEvidenceEntries calls fn for each stream entry up to and including
// the id end ("+": the last) with its links, in order, until fn returns
// false.
func scanEvidenceEntries(ctx context.Context, rdb redis.UniversalClient, stream, end string, fn func(id string, links []evidenceLink) bool) error {
	start := "-"
	for {
		msgs, err := rdb.XRangeN(ctx, stream, start, end, 1000).Result()
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if !fn(m.ID, entryLinks(m)) {
				return nil
			}
		}
		if len(msgs) < 1000 {
			return nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// entryLinks reads the links of one stream entry. An unreadable entry is a
// broken link where it stands.
func entryLinks(m redis.XMessage) []evidenceLink {
	blob, _ := m.Values["links"].(string)
	var links []evidenceLink
	if err := json.Unmarshal([]byte(blob), &links); err != nil || len(links) == 0 {
		return []evidenceLink{{Seq: -1}}
	}
	return links
}

// evidenceAnchorKey holds the anchor: the last link trimmed after it was
// archived (a hash: seq, hash, entry, archive, trimmedAt). Same hash tag
// as the stream, so one script may touch both.
func evidenceAnchorKey(prefix string) string { return prefix + "shep:{evidence}:anchor" }

// storedAnchor is the anchor as Redis keeps it; zero before any trim.
type storedAnchor struct {
	ChainPoint
	Entry   string // the last trimmed stream entry
	Archive string // the id of the archive holding the trimmed links
}

func readAnchor(ctx context.Context, rdb redis.UniversalClient, prefix string) (storedAnchor, error) {
	v, err := rdb.HMGet(ctx, evidenceAnchorKey(prefix), "seq", "hash", "entry", "archive").Result()
	if err != nil {
		return storedAnchor{}, err
	}
	str := func(i int) string { s, _ := v[i].(string); return s }
	var a storedAnchor
	if s := str(0); s != "" {
		if a.Seq, err = strconv.ParseInt(s, 10, 64); err != nil || a.Seq < 0 {
			return storedAnchor{}, fmt.Errorf("shep: evidence anchor: seq %q", s)
		}
	}
	a.Hash, a.Entry, a.Archive = str(1), str(2), str(3)
	return a, nil
}

// withoutPassword returns a copy of a request with its sender password blanked.
func withoutPassword(msg any) any {
	switch m := msg.(type) {
	case *soap.SendMessage:
		c := *m
		c.Request.MessageInfo.Sender.Password = ""
		return &c
	case *soap.SyncSendMessage:
		c := *m
		c.Request.RequestInfo.Sender.Password = ""
		return &c
	}
	return msg
}
