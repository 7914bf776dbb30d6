package shep

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"egov/internal/redisscript"
	"egov/signing"
)

// ArchiveOptions configure an export of an evidence chain into an archive.
type ArchiveOptions struct {
	// Chain is the evidence chain exported (an archive holds one).
	Chain int
	// Signer is the bus operator's organisation key: it signs every
	// manifest and the index.
	Signer *signing.Signer
	// Now is the clock of the signing time (nil: time.Now).
	Now func() time.Time
	// SegmentLinks starts a new segment once a segment holds this many
	// links, at the end of the stream entry that reached it (0:
	// DefaultSegmentLinks).
	SegmentLinks int
	// CRLs are the revocation lists (PEM or DER) in force now, stored in
	// the archive (the index signs their digests) so that it can be
	// verified offline as of its signing time; without them a verifier
	// must bring its own.
	CRLs [][]byte
	// After continues from this head (another archive's, see ArchiveHead)
	// instead of the live chain's start: archives exported one after the
	// other without trimming chain together. It must be a link of the live
	// chain that ends a stream entry.
	After *ChainPoint
}

// ArchiveSummary says what an export wrote.
type ArchiveSummary struct {
	ArchiveID string     `json:"archiveId"`
	Chain     int        `json:"chain"`
	Segments  int        `json:"segments"`
	Records   int64      `json:"records"`
	Anchor    ChainPoint `json:"anchor"`
	Head      ChainPoint `json:"head"`
	LastEntry string     `json:"lastEntry,omitempty"`
	SignedAt  time.Time  `json:"signedAt"`
}

// ErrEvidenceBroken is returned when the live chain does not verify: a
// broken chain is never signed into an archive.
var ErrEvidenceBroken = errors.New("shep: the evidence chain is broken")

// ExportArchive writes the live evidence chain under prefix, from its
// anchor (or opt.After) to its last entry at the start of the export, as
// an archive to w (see the format in archive.go), every link checked on
// the way. Links appended during the export are left for the next one.
func ExportArchive(ctx context.Context, rdb redis.UniversalClient, prefix string, w io.Writer, opt ArchiveOptions) (ArchiveSummary, error) {
	var sum ArchiveSummary
	if opt.Signer == nil || opt.Signer.Certificate == nil {
		return sum, errors.New("shep: export archive: no signer")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.SegmentLinks <= 0 {
		opt.SegmentLinks = DefaultSegmentLinks
	}
	signedAt := opt.Now().UTC().Truncate(time.Second)
	if c := opt.Signer.Certificate; signedAt.Before(c.NotBefore) || signedAt.After(c.NotAfter) {
		return sum, fmt.Errorf("shep: export archive: the signer's certificate is not valid at %s", signedAt.Format(time.RFC3339))
	}
	if len(opt.CRLs) > maxArchiveCRLs {
		return sum, fmt.Errorf("shep: export archive: %d revocation lists, at most %d", len(opt.CRLs), maxArchiveCRLs)
	}
	for i, data := range opt.CRLs {
		der := data
		if block, _ := pem.Decode(data); block != nil {
			der = block.Bytes
		}
		if _, err := x509.ParseRevocationList(der); err != nil || len(data) > maxCRLFileBytes {
			return sum, fmt.Errorf("shep: export archive: revocation list %d: not a CRL of at most %d bytes", i+1, maxCRLFileBytes)
		}
	}
	if opt.Chain < 0 || opt.Chain >= EvidenceChains {
		return sum, fmt.Errorf("shep: export archive: evidence chain %d: there are chains 0 to %d", opt.Chain, EvidenceChains-1)
	}
	anchor, err := readAnchor(ctx, rdb, prefix, opt.Chain)
	if err != nil {
		return sum, err
	}
	start := anchor.ChainPoint
	if opt.After != nil {
		if opt.After.Seq < anchor.Seq {
			return sum, fmt.Errorf("shep: export archive: %s was trimmed already (the live chain starts after %s)", *opt.After, anchor.ChainPoint)
		}
		if opt.After.Seq == anchor.Seq && opt.After.Hash != anchor.Hash {
			return sum, fmt.Errorf("shep: export archive: %s is not the live chain's anchor %s", *opt.After, anchor.ChainPoint)
		}
		start = *opt.After
	}
	stream, _ := evidenceKeys(prefix, opt.Chain)
	last, err := rdb.XRevRangeN(ctx, stream, "+", "-", 1).Result()
	if err != nil {
		return sum, err
	}

	x := &archiveWriter{
		zw:    zip.NewWriter(w),
		index: archiveIndex{ArchiveID: uuid.NewString(), Chain: opt.Chain, Anchor: start, Head: start, SignedAt: signedAt},
		opt:   opt,
	}
	if err := x.file(archiveReadmeName, []byte(archiveReadme)); err != nil {
		return sum, err
	}
	for i, data := range opt.CRLs {
		if err := x.file(crlName(i+1), data); err != nil {
			return sum, err
		}
		d := sha256.Sum256(data)
		x.index.CRLs = append(x.index.CRLs, hex.EncodeToString(d[:]))
	}
	chain := anchor.ChainPoint // the chain as checked so far
	var werr error
	if len(last) > 0 {
		err = scanEvidenceEntries(ctx, rdb, stream, last[0].ID, func(id string, links []evidenceLink) bool {
			for i, l := range links {
				if werr = checkLiveLink(chain, l); werr != nil {
					return false
				}
				chain = ChainPoint{Seq: l.Seq, Hash: l.Hash}
				if l.Seq < start.Seq {
					continue
				}
				if l.Seq == start.Seq {
					if l.Hash != start.Hash {
						werr = fmt.Errorf("shep: export archive: the live chain's link %d is not %s", l.Seq, start)
					} else if i != len(links)-1 {
						werr = fmt.Errorf("shep: export archive: %s does not end stream entry %s", start, id)
					}
					if werr != nil {
						return false
					}
					continue
				}
				if werr = x.link(archiveLine{Seq: l.Seq, Entry: id, Prev: l.Prev, Hash: l.Hash, Record: string(l.Record)}); werr != nil {
					return false
				}
			}
			if x.seg != nil && x.seg.m.Count >= int64(opt.SegmentLinks) {
				werr = x.closeSegment()
			}
			return werr == nil
		})
		if err == nil {
			err = werr
		}
		if err != nil {
			return sum, err
		}
	}
	if start.Seq > chain.Seq {
		return sum, fmt.Errorf("shep: export archive: the live chain ends at link %d, before %s", chain.Seq, start)
	}
	if x.seg != nil {
		if err := x.closeSegment(); err != nil {
			return sum, err
		}
	}
	if err := x.signedFile(archiveIndexName, "ArchiveIndex", indexFields, x.index.fields()); err != nil {
		return sum, err
	}
	if err := x.zw.Close(); err != nil {
		return sum, err
	}
	ix := x.index
	return ArchiveSummary{ArchiveID: ix.ArchiveID, Chain: ix.Chain, Segments: ix.Segments, Records: ix.Count, Anchor: ix.Anchor, Head: ix.Head,
		LastEntry: ix.LastEntry, SignedAt: ix.SignedAt}, nil
}

// checkLiveLink checks a link read from Redis against the chain before it.
func checkLiveLink(prev ChainPoint, l evidenceLink) error {
	var why string
	switch {
	case l.Seq != prev.Seq+1:
		why = fmt.Sprintf("link %d follows link %d", l.Seq, prev.Seq)
	case l.Prev != prev.Hash:
		why = fmt.Sprintf("prev does not match the hash of link %d", prev.Seq)
	case linkHash(l.Prev, l.Seq, l.Record) != l.Hash:
		why = "content does not match its hash"
	case !utf8.Valid(l.Record):
		why = "the record is not UTF-8"
	default:
		return nil
	}
	return fmt.Errorf("%w at link %d: %s; nothing exported", ErrEvidenceBroken, prev.Seq+1, why)
}

// archiveWriter writes an archive's files in order: the open segment's
// links, then its manifest, and the index last.
type archiveWriter struct {
	zw    *zip.Writer
	opt   ArchiveOptions
	index archiveIndex
	seg   *openSegment
}

type openSegment struct {
	m  segmentManifest
	hw *hashingWriter
}

func (x *archiveWriter) header(name string) *zip.FileHeader {
	return &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: x.index.SignedAt}
}

func (x *archiveWriter) file(name string, data []byte) error {
	w, err := x.zw.CreateHeader(x.header(name))
	if err == nil {
		_, err = w.Write(data)
	}
	return err
}

func (x *archiveWriter) signedFile(name, root string, names, values []string) error {
	doc, err := buildArchiveXML(root, names, values)
	if err != nil {
		return err
	}
	signed, err := x.opt.Signer.Sign(doc)
	if err != nil {
		return err
	}
	return x.file(name, signed)
}

func (x *archiveWriter) link(l archiveLine) error {
	if x.seg == nil {
		n := x.index.Segments + 1
		if n > maxArchiveSegments {
			return fmt.Errorf("shep: export archive: more than %d segments; raise the segment size", maxArchiveSegments)
		}
		w, err := x.zw.CreateHeader(x.header(segmentName(n, "jsonl")))
		if err != nil {
			return err
		}
		x.seg = &openSegment{
			m:  segmentManifest{ArchiveID: x.index.ArchiveID, Chain: x.index.Chain, Segment: n, File: segmentName(n, "jsonl"), FirstSeq: l.Seq, FirstEntry: l.Entry, Anchor: x.index.Head, SignedAt: x.index.SignedAt},
			hw: &hashingWriter{w: w, sum: sha256.New()},
		}
	}
	line, err := encodeArchiveLine(l)
	if err != nil {
		return err
	}
	if _, err := x.seg.hw.Write(line); err != nil {
		return err
	}
	s := &x.seg.m
	s.Count++
	s.LastSeq, s.LastEntry, s.HeadHash = l.Seq, l.Entry, l.Hash
	return nil
}

func (x *archiveWriter) closeSegment() error {
	s := x.seg
	x.seg = nil
	s.m.EntriesBytes = s.hw.n
	s.m.EntriesSHA256 = hex.EncodeToString(s.hw.sum.Sum(nil))
	if err := x.signedFile(segmentName(s.m.Segment, "xml"), "SegmentManifest", manifestFields, s.m.fields()); err != nil {
		return err
	}
	x.index.Segments++
	x.index.Count += s.m.Count
	x.index.Head = ChainPoint{Seq: s.m.LastSeq, Hash: s.m.HeadHash}
	x.index.LastEntry = s.m.LastEntry
	return nil
}

// TrimOptions configure TrimArchived.
type TrimOptions struct {
	// Verify is how the archive is verified before anything is deleted.
	Verify ArchiveVerifyOptions
	// KeepLive refuses to trim an archive whose newest record is younger:
	// the retention of the live chain.
	KeepLive time.Duration
	// Now is the clock for KeepLive and the anchor's time (nil:
	// Verify.Now, else time.Now).
	Now func() time.Time
	// Chain, if set, is the chain the archive must be of (an archive
	// set's member named for it): checked before anything is compared.
	Chain *int
}

// TrimReport says what TrimArchived deleted.
type TrimReport struct {
	ArchiveID string     `json:"archiveId"`
	Chain     int        `json:"chain"`
	Entries   int64      `json:"entries"` // stream entries deleted
	Records   int64      `json:"records"` // links in them
	Anchor    ChainPoint `json:"anchor"`  // where the live chain now starts after
	// AlreadyTrimmed: the live chain starts after this very archive (a
	// trim of a set resumed); nothing was deleted.
	AlreadyTrimmed bool `json:"alreadyTrimmed,omitempty"`
}

// errAlreadyTrimmed stops the verification of an archive whose trim is
// done already.
var errAlreadyTrimmed = errors.New("shep: trim: the archive was trimmed already")

// Errors of TrimArchived; nothing was deleted.
var (
	ErrArchiveNotIntact  = errors.New("shep: trim: the archive does not verify")
	ErrArchiveNotAtStart = errors.New("shep: trim: the archive does not begin where the live chain begins")
	ErrArchiveNotLive    = errors.New("shep: trim: the archive's links are not the live chain's")
	ErrArchiveTooYoung   = errors.New("shep: trim: the archive holds records younger than the live retention")
)

// trimEvidenceScript deletes the archived entries and stores the anchor,
// if the live chain still begins where it was compared. KEYS: stream,
// anchor. ARGV: expected anchor seq and hash, the first entry id, the
// trim threshold (the id after the last archived entry), then the new
// anchor: seq, hash, entry, archive id, time.
var trimEvidenceScript = redisscript.New(`
local a = redis.call('HMGET', KEYS[2], 'seq', 'hash')
if (a[1] or '0') ~= ARGV[1] or (a[2] or '') ~= ARGV[2] then return {0, 'the anchor moved'} end
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
if #first == 0 or first[1][1] ~= ARGV[3] then return {0, 'the stream start moved'} end
local n = redis.call('XTRIM', KEYS[1], 'MINID', ARGV[4])
redis.call('HSET', KEYS[2], 'seq', ARGV[5], 'hash', ARGV[6], 'entry', ARGV[7], 'archive', ARGV[8], 'trimmedAt', ARGV[9])
return {1, n}
`)

// TrimArchived deletes from Redis exactly the links an archive holds and
// keeps the archive's head as the live chain's anchor, after which
// VerifyEvidence checks the chain left and ExportArchive continues. It
// deletes nothing unless the archive verifies (VerifyArchive with
// opt.Verify), begins at the live chain's start (its anchor), holds the
// live chain's links one for one up to the end of a stream entry, and its
// newest record is older than opt.KeepLive. The deletion and the new
// anchor are one atomic step.
func TrimArchived(ctx context.Context, rdb redis.UniversalClient, prefix string, r io.ReaderAt, size int64, opt TrimOptions) (TrimReport, ArchiveReport, error) {
	var rep TrimReport
	now := opt.Now
	if now == nil {
		now = opt.Verify.Now
	}
	if now == nil {
		now = time.Now
	}
	// The chain is the one the index signs: known once it is verified,
	// before any link is compared.
	var anchor storedAnchor
	live := &liveCursor{ctx: ctx, rdb: rdb}
	var firstEntry string
	var entries int64
	hooks := archiveHooks{
		index: func(ar ArchiveReport) error {
			if opt.Chain != nil && ar.Chain != *opt.Chain {
				return fmt.Errorf("%w: it is of evidence chain %d, not %d", ErrArchiveNotLive, ar.Chain, *opt.Chain)
			}
			var err error
			if anchor, err = readAnchor(ctx, rdb, prefix, ar.Chain); err != nil {
				return err
			}
			live.stream, _ = evidenceKeys(prefix, ar.Chain)
			if ar.Records > 0 && ar.Head == anchor.ChainPoint && ar.ArchiveID == anchor.Archive {
				return errAlreadyTrimmed
			}
			if ar.Anchor != anchor.ChainPoint {
				return fmt.Errorf("%w: it begins after %s, the live chain after %s", ErrArchiveNotAtStart, ar.Anchor, anchor.ChainPoint)
			}
			return nil
		},
		link: func(l archiveLine) error {
			ll, ok, err := live.next()
			if err != nil {
				return err
			}
			switch {
			case !ok:
				return fmt.Errorf("%w: the live chain has no link %d", ErrArchiveNotLive, l.Seq)
			case ll.link.Seq != l.Seq || ll.link.Hash != l.Hash || ll.link.Prev != l.Prev || string(ll.link.Record) != l.Record || ll.entry != l.Entry:
				return fmt.Errorf("%w: at link %d the live chain holds link %d of entry %s", ErrArchiveNotLive, l.Seq, ll.link.Seq, ll.entry)
			}
			if firstEntry == "" {
				firstEntry = ll.entry
			}
			if ll.first {
				entries++
			}
			return nil
		},
	}
	ar, err := verifyArchive(ctx, r, size, opt.Verify, hooks)
	if errors.Is(err, errAlreadyTrimmed) {
		return TrimReport{ArchiveID: ar.ArchiveID, Chain: ar.Chain, Anchor: ar.Head, AlreadyTrimmed: true}, ar, nil
	}
	if err != nil {
		return rep, ar, err
	}
	if !ar.Intact {
		return rep, ar, fmt.Errorf("%w: %s: %s", ErrArchiveNotIntact, ar.Fault, ar.Reason)
	}
	rep.ArchiveID, rep.Chain, rep.Anchor = ar.ArchiveID, ar.Chain, anchor.ChainPoint
	if ar.Records == 0 {
		return rep, ar, nil
	}
	if ll, ok, err := live.next(); err != nil {
		return rep, ar, err
	} else if ok && !ll.first {
		return rep, ar, fmt.Errorf("%w: the archive ends inside stream entry %s", ErrArchiveNotLive, ll.entry)
	}
	if young := now().Sub(ar.LastRecordAt); young < opt.KeepLive {
		return rep, ar, fmt.Errorf("%w: its newest record is %s old, the live chain keeps %s", ErrArchiveTooYoung, young.Round(time.Second), opt.KeepLive)
	}
	threshold, err := nextStreamID(ar.LastEntry)
	if err != nil {
		return rep, ar, err
	}
	res, err := trimEvidenceScript.Run(ctx, rdb, []string{live.stream, evidenceAnchorKey(prefix, ar.Chain)},
		itoa(anchor.Seq), anchor.Hash, firstEntry, threshold,
		itoa(ar.Head.Seq), ar.Head.Hash, ar.LastEntry, ar.ArchiveID, now().UTC().Format(time.RFC3339)).Slice()
	if err != nil {
		return rep, ar, err
	}
	if res[0].(int64) != 1 {
		return rep, ar, fmt.Errorf("%w: %v while trimming; nothing deleted", ErrArchiveNotAtStart, res[1])
	}
	rep.Entries, rep.Records, rep.Anchor = res[1].(int64), ar.Records, ar.Head
	if rep.Entries != entries {
		return rep, ar, fmt.Errorf("shep: trim: deleted %d stream entries, the archive holds %d", rep.Entries, entries)
	}
	return rep, ar, nil
}

// nextStreamID returns the smallest stream id after id.
func nextStreamID(id string) (string, error) {
	ms, seq, ok := strings.Cut(id, "-")
	n, err := strconv.ParseUint(seq, 10, 64)
	if !ok || err != nil || n == ^uint64(0) {
		return "", fmt.Errorf("shep: trim: stream id %q", id)
	}
	return ms + "-" + strconv.FormatUint(n+1, 10), nil
}

// liveCursor reads the live chain's links one at a time, a page of
// entries at a time.
type liveCursor struct {
	ctx    context.Context
	rdb    redis.UniversalClient
	stream string
	after  string // the last entry read
	buf    []liveLink
	done   bool
}

type liveLink struct {
	entry string
	first bool // the entry's first link
	link  evidenceLink
}

func (c *liveCursor) next() (liveLink, bool, error) {
	for len(c.buf) == 0 && !c.done {
		start := "-"
		if c.after != "" {
			start = "(" + c.after
		}
		msgs, err := c.rdb.XRangeN(c.ctx, c.stream, start, "+", 500).Result()
		if err != nil {
			return liveLink{}, false, err
		}
		for _, m := range msgs {
			for i, l := range entryLinks(m) {
				c.buf = append(c.buf, liveLink{entry: m.ID, first: i == 0, link: l})
			}
			c.after = m.ID
		}
		c.done = len(msgs) < 500
	}
	if len(c.buf) == 0 {
		return liveLink{}, false, nil
	}
	l := c.buf[0]
	c.buf = c.buf[1:]
	return l, true, nil
}

const archiveReadme = `Evidence archive of the egov-gateway SHEP bus (format v2)

The signed files are the evidence; this text is not signed.

index.xml              signed trailer: archive id, number of segments, number of links,
                       anchor (the head before the archive) and head (its last link),
                       CRLSHA256 (the SHA-256 of each crl/ file, in order), signing time
segments/NNNNNN.jsonl  one link per line: {"seq","entry","prev","hash","record"};
                       "record" is the exact JSON text that was hashed:
                       hash = hex(SHA-256(prev + "\n" + seq + "\n" + record))
segments/NNNNNN.xml    signed manifest of segment NNNNNN: count, first and last seq and stream
                       entry, anchor (the previous segment's head), head, length (EntriesBytes)
                       and SHA-256 of the .jsonl file
crl/NNNNNN.crl         revocation lists in force at the signing time, exactly those the index names

Every XML file carries an enveloped XMLDSig signature (exc-c14n, rsa-sha256) with the bus
operator's organisation certificate (its BIN in OU=BIN...). To check the archive: verify each
signature against the CA certificates you trust as of its SignedAt; check each crl/ file's
SHA-256 against the index, and each segment's length, SHA-256 and chain; check that segment N's anchor is segment N-1's head and that the index's
number of segments and head match the last segment. egovctl evidence verify --archive does all
of it; the product README ("Evidence archive and retention") shows how to do it by hand.
`
