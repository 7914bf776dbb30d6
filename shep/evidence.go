package shep

import (
	"bytes"
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
	// Heads are, in a cross-anchor, the other chains' heads.
	Heads []ChainHead `json:"heads,omitempty"`
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
// still the one they were linked to. KEYS: stream, head, head entry.
// ARGV: expected head, new head ("seq hash"), first seq, links (JSON
// array). The head entry is the stream entry holding the head's link, so
// that a cross-anchor naming the head can be checked with one read; it is
// a key of its own, so that the head keeps the form every version of the
// bus reads. A head that is already the new one is this very batch,
// appended by a first run whose answer was late (the client sends a
// script again): it is not appended twice. The new head's hash covers
// every link of the batch, so no other batch can leave it.
var appendEvidenceScript = redisscript.New(`
local head = redis.call('GET', KEYS[2]) or ''
if head == ARGV[2] then return {1, head} end
if head ~= ARGV[1] then return {0, head} end
local id = redis.call('XADD', KEYS[1], '*', 'seq', ARGV[3], 'links', ARGV[4])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], id)
return {1, ARGV[2]}
`)

// EvidenceChains is the number of evidence chains. Each bus process
// appends its records to one of them (Config.EvidenceChain), so that bus
// processes do not contend for one head and, on a Redis Cluster, the
// chains' writes spread over the masters (each chain is its own hash tag).
// The chains witness each other: CrossAnchor writes into each the heads of
// the others. Chain 0 keeps the keys of the single chain of earlier
// versions, so a chain written before the chains existed goes on.
const EvidenceChains = 8

// evidenceTag is chain's hash tag.
func evidenceTag(chain int) string {
	if chain == 0 {
		return "{evidence}"
	}
	return "{evidence:" + strconv.Itoa(chain) + "}"
}

func evidenceKeys(prefix string, chain int) (stream, head string) {
	tag := evidenceTag(chain)
	return prefix + "shep:" + tag + ":log", prefix + "shep:" + tag + ":head"
}

// evidenceHeadEntryKey holds the stream entry of chain's head link.
func evidenceHeadEntryKey(prefix string, chain int) string {
	return prefix + "shep:" + evidenceTag(chain) + ":headentry"
}

// evidenceLog appends the records of one bus process to its chain; it
// writes the other chains only for cross-anchors.
type evidenceLog struct {
	rdb    redis.UniversalClient
	prefix string
	home   int
	chains [EvidenceChains]*chainWriter
}

func newEvidenceLog(rdb redis.UniversalClient, prefix string, home int) *evidenceLog {
	e := &evidenceLog{rdb: rdb, prefix: prefix, home: home}
	for c := range e.chains {
		e.chains[c] = newChainWriter(rdb, prefix, c)
	}
	return e
}

// append marshals the records in the caller's goroutine and waits until
// the writer has linked and stored them in the process's chain.
func (e *evidenceLog) append(ctx context.Context, recs []evidenceRecord) error {
	_, err := e.chains[e.home].append(ctx, recs)
	return err
}

func (e *evidenceLog) close() {
	for _, c := range e.chains {
		c.close()
	}
}

// chainWriter writes records in batches from one goroutine (group commit):
// callers wait until their records are in Redis, and concurrent callers
// share one round trip. Several bus processes may share a chain: the
// script refuses a batch linked to a stale head, and the batch is linked
// again.
type chainWriter struct {
	rdb                     redis.UniversalClient
	stream, head, headEntry string
	writer                  *groupCommit[[][]byte, string]

	headValue string // "seq hash" as last seen; only the writer goroutine touches it
	headKnown bool
}

func newChainWriter(rdb redis.UniversalClient, prefix string, chain int) *chainWriter {
	stream, head := evidenceKeys(prefix, chain)
	w := &chainWriter{rdb: rdb, stream: stream, head: head, headEntry: evidenceHeadEntryKey(prefix, chain)}
	w.writer = newGroupCommit(512, w.flush)
	return w
}

// append stores the records and returns the chain's head as their last
// link left it ("seq hash").
func (w *chainWriter) append(ctx context.Context, recs []evidenceRecord) (string, error) {
	if len(recs) == 0 {
		return "", nil
	}
	data := make([][]byte, len(recs))
	for i := range recs {
		var err error
		if data[i], err = json.Marshal(&recs[i]); err != nil {
			return "", err
		}
	}
	return w.writer.do(ctx, data)
}

func (w *chainWriter) close() { w.writer.close() }

// flush links the batches' records to the chain's head and appends them;
// it returns each batch's last link as a head.
func (w *chainWriter) flush(ctx context.Context, batches [][][]byte) ([]string, error) {
	for attempt := 0; attempt < 20; attempt++ {
		if !w.headKnown {
			v, err := w.rdb.Get(ctx, w.head).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return nil, err
			}
			w.headValue, w.headKnown = v, true
		}
		seq, prev := parseHead(w.headValue)
		first := seq + 1
		var links []evidenceLink
		lasts := make([]string, len(batches))
		for i, recs := range batches {
			for _, rec := range recs {
				seq++
				h := linkHash(prev, seq, rec)
				links = append(links, evidenceLink{Seq: seq, Prev: prev, Record: rec, Hash: h})
				prev = h
			}
			lasts[i] = strconv.FormatInt(seq, 10) + " " + prev
		}
		blob, err := json.Marshal(links)
		if err != nil {
			return nil, err
		}
		newHead := strconv.FormatInt(seq, 10) + " " + prev
		res, err := appendEvidenceScript.Run(ctx, w.rdb, []string{w.stream, w.head, w.headEntry}, w.headValue, newHead, first, blob).Slice()
		if err != nil {
			w.headKnown = false
			return nil, err
		}
		if res[0].(int64) == 1 {
			w.headValue = newHead
			return lasts, nil
		}
		// Another writer moved the head: link the batch to the new one.
		w.headValue = res[1].(string)
	}
	return nil, errors.New("shep: evidence chain contended, giving up")
}

// parseHead reads a stored head, "seq hash".
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

// ChainHead names the head of one evidence chain as a cross-anchor saw it:
// its last link and the stream entry holding it.
type ChainHead struct {
	Chain int    `json:"chain"`
	Seq   int64  `json:"seq"`
	Hash  string `json:"hash"`
	Entry string `json:"entry"`
}

// directionCrossAnchor marks a record that names the other chains' heads.
const directionCrossAnchor = "cross-anchor"

// CrossAnchorEvery is how often bus processes write cross-anchors; a
// lease lets one of them do it each time.
const CrossAnchorEvery = time.Minute

// CrossAnchor writes into every evidence chain a record naming the heads
// of the other chains, so that the chains witness each other: a chain cut
// short or rewritten after a cross-anchor no longer holds the link its
// witnesses name, and VerifyEvidence says so. Any number of bus processes
// may call it; a lease (shorter than CrossAnchorEvery) lets one of them
// write a round, and nothing is written when no chain moved since the
// last round (an idle bus grows no chain). It reports whether it wrote.
func (b *Bus) CrossAnchor(ctx context.Context) (bool, error) {
	prefix := b.cfg.KeyPrefix
	ok, err := b.rdb.SetNX(ctx, prefix+"shep:{evidence}:crossing", b.cfg.Now().UTC().Format(time.RFC3339Nano), CrossAnchorEvery*5/6).Result()
	if err != nil || !ok {
		return false, err
	}
	snap, err := readChainHeads(ctx, b.rdb, prefix)
	if err != nil {
		return false, err
	}
	crossedKey := prefix + "shep:{evidence}:crossed"
	if last, err := b.rdb.Get(ctx, crossedKey).Result(); err != nil && !errors.Is(err, redis.Nil) {
		return false, err
	} else if last == snap.state() {
		return false, nil
	}
	now := b.cfg.Now().UTC()
	type written struct {
		chain int
		head  string
		err   error
	}
	done := make(chan written, EvidenceChains)
	n := 0
	named := snap.named()
	for c := range EvidenceChains {
		var others []ChainHead
		for _, h := range named {
			if h.Chain != c {
				others = append(others, h)
			}
		}
		if len(others) == 0 {
			continue
		}
		n++
		go func() {
			head, err := b.evidence.chains[c].append(ctx, []evidenceRecord{{Time: now, Direction: directionCrossAnchor, Heads: others}})
			done <- written{c, head, err}
		}()
	}
	after := snap
	for range n {
		w := <-done
		if w.err != nil && err == nil {
			err = w.err
		}
		after.heads[w.chain] = w.head
	}
	if err != nil || n == 0 {
		return false, err
	}
	// The round's own links moved the heads: the next round writes only
	// if a chain moved past them (a link written meanwhile by another bus
	// included).
	return true, b.rdb.Set(ctx, crossedKey, after.state(), 0).Err()
}

// chainHeads is every chain's head and head entry as read at one time.
type chainHeads struct {
	heads, entries [EvidenceChains]string
}

// readChainHeads reads every chain's head and head entry.
func readChainHeads(ctx context.Context, rdb redis.UniversalClient, prefix string) (chainHeads, error) {
	var out chainHeads
	var heads, entries [EvidenceChains]*redis.StringCmd
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for c := range EvidenceChains {
			_, head := evidenceKeys(prefix, c)
			heads[c] = p.Get(ctx, head)
			entries[c] = p.Get(ctx, evidenceHeadEntryKey(prefix, c))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return out, err
	}
	for c := range EvidenceChains {
		out.heads[c], out.entries[c] = heads[c].Val(), entries[c].Val()
	}
	return out, nil
}

// state is the heads as one string, to tell whether any moved.
func (h chainHeads) state() string { return strings.Join(h.heads[:], "|") }

// named are the heads a cross-anchor can name: those with an entry (a
// head written before the chains existed has none until its next link).
func (h chainHeads) named() []ChainHead {
	var out []ChainHead
	for c := range EvidenceChains {
		if seq, hash := parseHead(h.heads[c]); seq > 0 && h.entries[c] != "" {
			out = append(out, ChainHead{Chain: c, Seq: seq, Hash: hash, Entry: h.entries[c]})
		}
	}
	return out
}

// EvidenceReport is the outcome of checking every evidence chain and the
// cross-anchors between them.
type EvidenceReport struct {
	Records int  `json:"records"`
	Intact  bool `json:"intact"`
	// Chains reports each chain that holds or held links.
	Chains []ChainReport `json:"chains"`
	// CrossAnchors counts the heads named by cross-anchors and found in
	// their chain with the hash named; CrossAnchorsTrimmed those naming a
	// link since trimmed (checked in the archives).
	CrossAnchors        int `json:"crossAnchors"`
	CrossAnchorsTrimmed int `json:"crossAnchorsTrimmed,omitempty"`
	// Reason says where the first failure is.
	Reason string `json:"reason,omitempty"`
}

// Chain returns the report of chain n (zero if it holds nothing).
func (r EvidenceReport) Chain(n int) ChainReport {
	for _, c := range r.Chains {
		if c.Chain == n {
			return c
		}
	}
	return ChainReport{Chain: n, Intact: true}
}

// ChainReport is the outcome of checking one evidence chain.
type ChainReport struct {
	Chain   int   `json:"chain"`
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

// crossReference is a head one chain's cross-anchor names.
type crossReference struct {
	ChainHead
	from    int   // the chain holding the cross-anchor
	fromSeq int64 // and its link
}

// VerifyEvidence checks every evidence chain under prefix (verifyChain),
// then every cross-anchor read. Every head is read first, and each chain
// is checked up to the head read: a cross-anchor met on the way was
// written before, and names heads at or before those read, so each head it
// names must lie in the part of its chain just checked — at or before the
// head read, in a stream entry at or before the head's — and that entry
// must hold the link with the hash named. Links appended while the chains
// are read are the next verification's. A cross-anchor naming a link since
// trimmed is counted apart: that link is checked in its archive.
func VerifyEvidence(ctx context.Context, rdb redis.UniversalClient, prefix string) (EvidenceReport, error) {
	rep := EvidenceReport{Intact: true}
	snap, err := readChainHeads(ctx, rdb, prefix)
	if err != nil {
		return rep, err
	}
	var refs []crossReference
	seen := map[ChainHead]bool{}
	for c := range EvidenceChains {
		cr, crefs, err := verifyChain(ctx, rdb, prefix, c, snap.heads[c])
		if err != nil {
			return rep, err
		}
		for _, r := range crefs {
			// The seven chains a round writes to name one head alike.
			if !seen[r.ChainHead] {
				seen[r.ChainHead] = true
				refs = append(refs, r)
			}
		}
		if cr.Records == 0 && cr.Head == 0 && cr.Anchor == 0 && cr.Intact {
			continue
		}
		rep.Chains = append(rep.Chains, cr)
		rep.Records += cr.Records
		if !cr.Intact && rep.Intact {
			rep.Intact = false
			rep.Reason = fmt.Sprintf("chain %d: %s", c, cr.Reason)
		}
	}
	broken := func(r crossReference, why string) {
		if rep.Intact {
			rep.Intact = false
			rep.Reason = fmt.Sprintf("chain %d's link %d names link %d of chain %d (entry %s), %s", r.from, r.fromSeq, r.Seq, r.Chain, r.Entry, why)
		}
	}
	var lookup []crossReference
	for _, r := range refs {
		headSeq, _ := parseHead(snap.heads[r.Chain])
		switch {
		case r.Seq <= rep.Chain(r.Chain).Anchor:
			rep.CrossAnchorsTrimmed++
		case r.Seq > headSeq || snap.entries[r.Chain] == "" || !validStreamID(r.Entry) || compareStreamIDs(r.Entry, snap.entries[r.Chain]) > 0:
			broken(r, fmt.Sprintf("past that chain's head, link %d", headSeq))
		default:
			lookup = append(lookup, r)
		}
	}
	found, err := crossAnchored(ctx, rdb, prefix, lookup)
	if err != nil {
		return rep, err
	}
	anchors := map[int]int64{}
	for _, r := range lookup {
		if found[r.ChainHead] {
			rep.CrossAnchors++
			continue
		}
		// A trim since the chain was checked deletes entries named: its
		// anchor, read again, tells.
		if _, ok := anchors[r.Chain]; !ok {
			a, err := readAnchor(ctx, rdb, prefix, r.Chain)
			if err != nil {
				return rep, err
			}
			anchors[r.Chain] = a.Seq
		}
		if r.Seq <= anchors[r.Chain] {
			rep.CrossAnchorsTrimmed++
			continue
		}
		broken(r, "which that chain does not hold")
	}
	return rep, nil
}

// crossAnchored tells which of the heads named are in their chains as
// named: one read of the stream entry each, pipelined.
func crossAnchored(ctx context.Context, rdb redis.UniversalClient, prefix string, refs []crossReference) (map[ChainHead]bool, error) {
	found := make(map[ChainHead]bool, len(refs))
	for start := 0; start < len(refs); start += 200 {
		batch := refs[start:min(start+200, len(refs))]
		cmds := make([]*redis.XMessageSliceCmd, len(batch))
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, r := range batch {
				stream, _ := evidenceKeys(prefix, r.Chain)
				cmds[i] = p.XRange(ctx, stream, r.Entry, r.Entry)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for i, r := range batch {
			for _, m := range cmds[i].Val() {
				for _, l := range entryLinks(m) {
					if l.Seq == r.Seq && l.Hash == r.Hash {
						found[r.ChainHead] = true
					}
				}
			}
		}
	}
	return found, nil
}

// verifyChain reads one chain and checks every link: consecutive sequence
// numbers, each link's prev equal to the hash before it, each hash
// recomputed, up to the link head (read before) names, which must be there
// with the head's hash. Links a running bus appends while the chain is
// read are after it, and are left to the next verification (a link
// appended past the head by anyone but the bus is found then, when the
// bus's next link repeats its number). Where archived links were trimmed
// (TrimArchived), the chain is checked from the stored anchor: the first
// link left must follow it, and the head may not be behind it. It returns
// the heads the chain's cross-anchors name.
//
// A trim while the chain is read moves its start: a break found then is
// checked again from the new anchor.
func verifyChain(ctx context.Context, rdb redis.UniversalClient, prefix string, chain int, head string) (ChainReport, []crossReference, error) {
	for attempt := 0; ; attempt++ {
		anchor, err := readAnchor(ctx, rdb, prefix, chain)
		if err != nil {
			return ChainReport{}, nil, err
		}
		rep, refs, err := verifyChainFrom(ctx, rdb, prefix, chain, head, anchor)
		if err != nil || rep.Intact || attempt == 2 {
			return rep, refs, err
		}
		if now, err := readAnchor(ctx, rdb, prefix, chain); err != nil || now == anchor {
			return rep, refs, err
		}
	}
}

func verifyChainFrom(ctx context.Context, rdb redis.UniversalClient, prefix string, chain int, head string, anchor storedAnchor) (ChainReport, []crossReference, error) {
	rep := ChainReport{Chain: chain}
	stream, _ := evidenceKeys(prefix, chain)
	headSeq, headHash := parseHead(head)
	rep.Head = headSeq
	rep.Anchor, rep.AnchorArchive = anchor.Seq, anchor.Archive
	if anchor.Seq > 0 && headSeq < anchor.Seq {
		rep.BrokenAt = anchor.Seq + 1
		rep.Reason = fmt.Sprintf("its head (link %d) is behind its anchor (link %d, trimmed)", headSeq, anchor.Seq)
		return rep, nil, nil
	}
	prevSeq, prevHash := anchor.Seq, anchor.Hash
	var refs []crossReference
	var broken error
	err := scanEvidence(ctx, rdb, stream, func(l evidenceLink) bool {
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
		for _, h := range crossAnchorHeads(l.Record) {
			refs = append(refs, crossReference{ChainHead: h, from: chain, fromSeq: l.Seq})
		}
		prevSeq, prevHash = l.Seq, l.Hash
		return head == "" || l.Seq < headSeq
	})
	if err != nil {
		return rep, nil, err
	}
	if broken != nil {
		rep.BrokenAt, rep.Reason = prevSeq+1, broken.Error()
		return rep, nil, nil
	}
	if head != "" && (headSeq != prevSeq || headHash != prevHash) {
		rep.BrokenAt = prevSeq + 1
		rep.Reason = fmt.Sprintf("the chain ends at link %d but its head names link %d", prevSeq, rep.Head)
		if prevSeq == rep.Head {
			rep.BrokenAt = prevSeq
			rep.Reason = fmt.Sprintf("link %d is not the one its head names", prevSeq)
		}
		return rep, nil, nil
	}
	rep.Intact = true
	return rep, refs, nil
}

// crossAnchorHeads returns the heads a cross-anchor record names (nil
// for any other record). The bus writes the direction second, after the
// time, so other records are told apart without parsing them.
func crossAnchorHeads(record []byte) []ChainHead {
	if !bytes.Contains(record[:min(len(record), 96)], []byte(`"direction":"`+directionCrossAnchor+`"`)) {
		return nil
	}
	var rec struct {
		Direction string      `json:"direction"`
		Heads     []ChainHead `json:"heads"`
	}
	if json.Unmarshal(record, &rec) != nil || rec.Direction != directionCrossAnchor {
		return nil
	}
	var heads []ChainHead
	for _, h := range rec.Heads {
		if h.Chain >= 0 && h.Chain < EvidenceChains && h.Seq > 0 {
			heads = append(heads, h)
		}
	}
	return heads
}

// ExportEvidence writes every chain as JSON lines, one link per line,
// chain after chain: {"chain", "seq", "prev", "record", "hash"}.
func ExportEvidence(ctx context.Context, rdb redis.UniversalClient, prefix string, w io.Writer) (int, error) {
	n := 0
	enc := json.NewEncoder(w)
	for c := range EvidenceChains {
		stream, _ := evidenceKeys(prefix, c)
		var werr error
		err := scanEvidence(ctx, rdb, stream, func(l evidenceLink) bool {
			n++
			werr = enc.Encode(struct {
				Chain int `json:"chain"`
				evidenceLink
			}{c, l})
			return werr == nil
		})
		if err == nil {
			err = werr
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
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
func evidenceAnchorKey(prefix string, chain int) string {
	return prefix + "shep:" + evidenceTag(chain) + ":anchor"
}

// storedAnchor is the anchor as Redis keeps it; zero before any trim.
type storedAnchor struct {
	ChainPoint
	Entry   string // the last trimmed stream entry
	Archive string // the id of the archive holding the trimmed links
}

func readAnchor(ctx context.Context, rdb redis.UniversalClient, prefix string, chain int) (storedAnchor, error) {
	v, err := rdb.HMGet(ctx, evidenceAnchorKey(prefix, chain), "seq", "hash", "entry", "archive").Result()
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
