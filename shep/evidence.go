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
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"egov/shep/soap"
)

// evidenceRecord is one link of the evidence chain: what passed the bus,
// when, between whom, and the SHA-256 of the envelope. Hash covers every
// other field and the previous record's hash, so editing, deleting or
// reordering any record breaks the chain from there on.
type evidenceRecord struct {
	Seq            int64     `json:"seq"`
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
	Prev string `json:"prev"`
	Hash string `json:"hash,omitempty"`
}

// chainHash is the record's own hash: SHA-256 over the previous hash and
// the record's JSON without its hash.
func (r evidenceRecord) chainHash() string {
	r.Hash = ""
	data, _ := json.Marshal(r)
	h := sha256.New()
	h.Write([]byte(r.Prev))
	h.Write([]byte{'\n'})
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// appendEvidenceScript appends records if the chain's head is still the one
// they were linked to. KEYS: stream, head. ARGV: expected head, new head, record…
var appendEvidenceScript = redis.NewScript(`
local head = redis.call('GET', KEYS[2]) or ''
if head ~= ARGV[1] then return {0, head} end
for i = 3, #ARGV do redis.call('XADD', KEYS[1], '*', 'r', ARGV[i]) end
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
	log          *slog.Logger

	reqs   chan *evidenceBatch
	stop   chan struct{}
	closed sync.Once
	done   chan struct{}

	headValue string // "seq hash" as last seen; only the writer goroutine touches it
	headKnown bool
}

type evidenceBatch struct {
	recs []evidenceRecord
	err  chan error
}

func evidenceKeys(prefix string) (stream, head string) {
	return prefix + "shep:{evidence}:log", prefix + "shep:{evidence}:head"
}

func newEvidenceLog(rdb redis.UniversalClient, prefix string, log *slog.Logger) *evidenceLog {
	stream, head := evidenceKeys(prefix)
	e := &evidenceLog{rdb: rdb, stream: stream, head: head, log: log,
		reqs: make(chan *evidenceBatch, 1024), stop: make(chan struct{}), done: make(chan struct{})}
	go e.run()
	return e
}

// errEvidenceClosed is returned for records offered after Close.
var errEvidenceClosed = errors.New("shep: evidence log closed")

func (e *evidenceLog) append(ctx context.Context, recs []evidenceRecord) error {
	if len(recs) == 0 {
		return nil
	}
	b := &evidenceBatch{recs: recs, err: make(chan error, 1)}
	select {
	case e.reqs <- b:
	case <-e.stop:
		return errEvidenceClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-b.err:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *evidenceLog) close() error {
	e.closed.Do(func() { close(e.stop) })
	<-e.done
	return nil
}

const maxEvidenceBatch = 512

func (e *evidenceLog) run() {
	defer close(e.done)
	for {
		var first *evidenceBatch
		select {
		case first = <-e.reqs:
		case <-e.stop:
			// Write what is already queued, then stop.
			for {
				select {
				case b := <-e.reqs:
					e.write([]*evidenceBatch{b})
				default:
					return
				}
			}
		}
		batches := []*evidenceBatch{first}
		n := len(first.recs)
	drain:
		for n < maxEvidenceBatch {
			select {
			case b := <-e.reqs:
				batches = append(batches, b)
				n += len(b.recs)
			default:
				break drain
			}
		}
		e.write(batches)
	}
}

func (e *evidenceLog) write(batches []*evidenceBatch) {
	err := e.writeOnce(batches)
	for _, b := range batches {
		b.err <- err
	}
}

func (e *evidenceLog) writeOnce(batches []*evidenceBatch) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for attempt := 0; attempt < 20; attempt++ {
		if !e.headKnown {
			v, err := e.rdb.Get(ctx, e.head).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			e.headValue, e.headKnown = v, true
		}
		seq, prev := parseHead(e.headValue)
		args := []any{e.headValue, ""}
		for _, b := range batches {
			for i := range b.recs {
				seq++
				r := &b.recs[i]
				r.Seq, r.Prev = seq, prev
				r.Hash = r.chainHash()
				prev = r.Hash
				data, err := json.Marshal(r)
				if err != nil {
					return err
				}
				args = append(args, data)
			}
		}
		newHead := strconv.FormatInt(seq, 10) + " " + prev
		args[1] = newHead
		res, err := appendEvidenceScript.Run(ctx, e.rdb, []string{e.stream, e.head}, args...).Slice()
		if err != nil {
			e.headKnown = false
			return err
		}
		if res[0].(int64) == 1 {
			e.headValue = newHead
			return nil
		}
		// Another writer moved the head: link the batch to the new one.
		e.headValue = res[1].(string)
	}
	return errors.New("shep: evidence chain contended, giving up")
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
	// BrokenAt is the sequence number where the chain first fails (the
	// record expected there), and Reason says how.
	BrokenAt int64  `json:"brokenAt,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// VerifyEvidence reads the whole chain under prefix and checks every link:
// consecutive sequence numbers, each record's prev equal to the hash before
// it, each hash recomputed, and the last record equal to the stored head.
func VerifyEvidence(ctx context.Context, rdb redis.UniversalClient, prefix string) (EvidenceReport, error) {
	var rep EvidenceReport
	var prevHash string
	var prevSeq int64
	broken := func(seq int64, format string, args ...any) (EvidenceReport, error) {
		rep.BrokenAt, rep.Reason = seq, fmt.Sprintf(format, args...)
		return rep, nil
	}
	stream, headKey := evidenceKeys(prefix)
	head, err := rdb.Get(ctx, headKey).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return rep, err
	}
	rep.Head, _ = parseHead(head)
	err = scanEvidence(ctx, rdb, stream, func(r evidenceRecord, raw string) error {
		rep.Records++
		switch {
		case r.Seq != prevSeq+1:
			return fmt.Errorf("%d|record %d follows record %d", prevSeq+1, r.Seq, prevSeq)
		case r.Prev != prevHash:
			return fmt.Errorf("%d|prev does not match the hash of record %d", r.Seq, prevSeq)
		case r.chainHash() != r.Hash:
			return fmt.Errorf("%d|content does not match its hash", r.Seq)
		}
		prevSeq, prevHash = r.Seq, r.Hash
		return nil
	})
	if err != nil {
		seqStr, reason, ok := strings.Cut(err.Error(), "|")
		if !ok {
			return rep, err
		}
		seq, _ := strconv.ParseInt(seqStr, 10, 64)
		return broken(seq, "%s", reason)
	}
	if head != "" && head != strconv.FormatInt(prevSeq, 10)+" "+prevHash {
		return broken(prevSeq+1, "the chain ends at record %d but its head names record %d", prevSeq, rep.Head)
	}
	rep.Intact = true
	return rep, nil
}

// ExportEvidence writes the chain as JSON lines, one record per line.
func ExportEvidence(ctx context.Context, rdb redis.UniversalClient, prefix string, w io.Writer) (int, error) {
	stream, _ := evidenceKeys(prefix)
	n := 0
	err := scanEvidence(ctx, rdb, stream, func(_ evidenceRecord, raw string) error {
		n++
		_, err := io.WriteString(w, raw+"\n")
		return err
	})
	return n, err
}

func scanEvidence(ctx context.Context, rdb redis.UniversalClient, stream string, fn func(evidenceRecord, string) error) error {
	start := "-"
	for {
		msgs, err := rdb.XRangeN(ctx, stream, start, "+", 1000).Result()
		if err != nil {
			return err
		}
		for _, m := range msgs {
			raw, _ := m.Values["r"].(string)
			var r evidenceRecord
			if err := json.Unmarshal([]byte(raw), &r); err != nil {
				r = evidenceRecord{Seq: -1}
			}
			if err := fn(r, raw); err != nil {
				return err
			}
		}
		if len(msgs) < 1000 {
			return nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
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
