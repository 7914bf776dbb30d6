package shep

// The evidence archive: the chain's links taken out of Redis into one file
// that proves itself without Redis and without this program's help.
//
// An archive is a ZIP file:
//
//	README.txt              how to check it (informative, not signed)
//	crl/000001.crl          revocation lists in force when it was signed (optional)
//	segments/000001.jsonl   segment 1: a contiguous run of links, one JSON line each
//	segments/000001.xml     segment 1's manifest, signed by the bus operator
//	…
//	index.xml               the archive's signed trailer
//
// A segment line is {"seq","entry","prev","hash","record"}: the link's
// sequence number, the Redis stream entry that held it, the hash of the
// link before, its own hash, and the record's exact JSON text as a string,
// so that any JSON parser gives back the bytes that were hashed:
// hash = hex(SHA-256(prev "\n" seq "\n" record)).
//
// A segment's manifest names the archive, the segment's number and file,
// its count, its first and last sequence numbers and stream entries, the
// head of the segment before it (the anchor: the previous segment's last
// hash, or the archive's anchor for the first), its own head (the hash of
// its last link), the length and the SHA-256 of the segment file's bytes
// and the signing time. The index names the archive, the number of
// segments, the count of links, the archive's anchor and head, the last
// stream entry, the SHA-256 of each revocation list in crl/ and the
// signing time.
//
// What each part proves. The hash chain inside a segment shows edits,
// deletions and reordering of links; the manifest's count, head and digest
// show a segment cut short or rewritten as a whole (a chain recomputed
// after an edit ends in another head); the anchors link the segments, so a
// segment removed, swapped or taken from elsewhere breaks the link with its
// neighbour. No manifest can tell that segments after it are missing: the
// index can, since it signs the number of segments and the last head. The
// archive's own anchor ties it to the archive before it (CheckContinuity).
// The index signs the revocation lists' digests, so that no list of the
// same CA (genuine, but issued before the operator's key was revoked) takes
// the place of the one the operator stored. A segment's signed length
// bounds the work of reading it before its digest can be compared: a file
// longer than signed is refused unread, and no more than the signed length
// is ever read.
//
// Why an enveloped XMLDSig manifest per segment and not a detached
// signature over the segment file: the manifest is checked by the same
// signing.Verifier, with the same allow-list, screen, chain, revocation and
// authority checks (RequireAuthority), as every signed document of the
// system, and a stranger checks it with xmlsec1 and sha256sum. A detached
// signature would need CMS (not in Go's standard library, a second
// verifier to keep right) or a bare RSA signature without a standard
// container for the certificate and the algorithm. The manifest signs the
// segment's digest, not its text, so it stays a few hundred bytes and its
// canonicalization costs the same whatever the segment weighs. A manifest
// per segment (not only the index) lets one segment, handed to a court or
// an auditor with its manifest, prove itself and its anchor alone.
//
// The signing time is the exporter's clock as the operator's key signs
// it; no trusted timestamp authority vouches for it. Signatures are judged
// as of that time (certificate validity, the newest revocation list of
// each CA issued by then, from the archive's and the verifier's own), and
// a time before the newest record it covers, or after the verifier's
// clock, is refused. Since a thief of the key chooses the time he signs
// at, a signer that any trusted list (however new) shows revoked at or
// before the signing time, or revoked for key compromise at any time, is
// refused too.

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/beevik/etree"

	"egov"
	"egov/signing"
)

// ArchiveNamespace is the XML namespace of segment manifests and the index.
// Format v3 names the evidence chain (index and manifests: Chain, after
// ArchiveID); v2, of the time of a single chain, is read as chain 0. v2
// signs the revocation lists' digests (index) and each segment's length
// (manifest); v1 signed neither and is no longer accepted.
const ArchiveNamespace = "urn:egov-gateway:shep:evidence-archive:v3"

// archiveNamespaceV2 is the single chain's format, still read.
const archiveNamespaceV2 = "urn:egov-gateway:shep:evidence-archive:v2"

// archiveNamespaceV1 is the first format's, named only to refuse it clearly.
const archiveNamespaceV1 = "urn:egov-gateway:shep:evidence-archive:v1"

// DefaultSegmentLinks is the number of links after which an export starts
// a new segment (at the end of the stream entry that reaches it).
const DefaultSegmentLinks = 10_000

// Bounds of what an archive may hold, checked before reading it.
const (
	maxArchiveSegments = 999_999  // six-digit file numbers
	maxArchiveCRLs     = 16       // revocation lists
	maxManifestBytes   = 64 << 10 // a manifest or the index
	maxArchiveLine     = 64 << 20 // one link (a record keeps an open service's whole envelope)
	maxCRLFileBytes    = 32 << 20
	archiveTimeSkew    = 5 * time.Minute
)

const (
	archiveIndexName  = "index.xml"
	archiveReadmeName = "README.txt"
)

func segmentName(n int, ext string) string { return fmt.Sprintf("segments/%06d.%s", n, ext) }
func crlName(n int) string                 { return fmt.Sprintf("crl/%06d.crl", n) }

// ChainPoint names one link of the evidence chain by its sequence number
// and hash; {0, ""} is the chain's start, before link 1.
type ChainPoint struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

func (p ChainPoint) String() string {
	if p.Seq == 0 && p.Hash == "" {
		return "the chain's start"
	}
	return fmt.Sprintf("link %d (%.12s…)", p.Seq, p.Hash)
}

// archiveLine is one link in a segment file, in the order written.
type archiveLine struct {
	Seq    int64  `json:"seq"`
	Entry  string `json:"entry"`
	Prev   string `json:"prev"`
	Hash   string `json:"hash"`
	Record string `json:"record"`
}

func encodeArchiveLine(l archiveLine) ([]byte, error) {
	b, err := json.Marshal(l)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// segmentManifest is what a segment's signed manifest states.
type segmentManifest struct {
	ArchiveID     string
	Chain         int
	Segment       int
	File          string
	Count         int64
	FirstSeq      int64
	FirstEntry    string
	LastSeq       int64
	LastEntry     string
	Anchor        ChainPoint // the head before the segment
	HeadHash      string     // the hash of link LastSeq
	EntriesBytes  int64      // the segment file's length
	EntriesSHA256 string     // of the segment file's bytes
	SignedAt      time.Time
}

var manifestFields = []string{"ArchiveID", "Chain", "Segment", "File", "Count", "FirstSeq", "FirstEntry", "LastSeq", "LastEntry",
	"AnchorSeq", "AnchorHash", "HeadHash", "EntriesBytes", "EntriesSHA256", "SignedAt"}

func (m *segmentManifest) fields() []string {
	return []string{m.ArchiveID, strconv.Itoa(m.Chain), strconv.Itoa(m.Segment), m.File, itoa(m.Count), itoa(m.FirstSeq), m.FirstEntry, itoa(m.LastSeq), m.LastEntry,
		itoa(m.Anchor.Seq), m.Anchor.Hash, m.HeadHash, itoa(m.EntriesBytes), m.EntriesSHA256, m.SignedAt.UTC().Format(time.RFC3339)}
}

// archiveIndex is what the archive's signed trailer states.
type archiveIndex struct {
	ArchiveID string
	Chain     int
	Segments  int
	Count     int64
	Anchor    ChainPoint
	Head      ChainPoint
	LastEntry string // "" for an archive without links
	// CRLs are the SHA-256 digests of crl/000001.crl, crl/000002.crl, … in
	// order: the archive holds exactly these lists.
	CRLs     []string
	SignedAt time.Time
}

// indexCRLField holds the lists' digests, separated by single spaces
// (empty: the archive holds no list).
const indexCRLField = "CRLSHA256"

var indexFields = []string{"ArchiveID", "Chain", "Segments", "Count", "AnchorSeq", "AnchorHash", "HeadSeq", "HeadHash", "LastEntry", indexCRLField, "SignedAt"}

func (x *archiveIndex) fields() []string {
	return []string{x.ArchiveID, strconv.Itoa(x.Chain), strconv.Itoa(x.Segments), itoa(x.Count), itoa(x.Anchor.Seq), x.Anchor.Hash,
		itoa(x.Head.Seq), x.Head.Hash, x.LastEntry, strings.Join(x.CRLs, " "), x.SignedAt.UTC().Format(time.RFC3339)}
}

// parseCRLDigests reads the index's list of revocation list digests.
func parseCRLDigests(v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	ds := strings.Split(v, " ")
	if len(ds) > maxArchiveCRLs {
		return nil, fmt.Errorf("%s names %d revocation lists, at most %d", indexCRLField, len(ds), maxArchiveCRLs)
	}
	for _, d := range ds {
		if !hexHash.MatchString(d) {
			return nil, fmt.Errorf("%s %q: not lower-case hex SHA-256 digests separated by single spaces", indexCRLField, v)
		}
	}
	return ds, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// buildArchiveXML writes root with one text child per field, in order, in
// ArchiveNamespace, without indentation (so no text but the values).
func buildArchiveXML(root string, names, values []string) ([]byte, error) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	el := doc.CreateElement(root)
	el.CreateAttr("xmlns", ArchiveNamespace)
	for i, n := range names {
		el.CreateElement(n).SetText(values[i])
	}
	return doc.WriteToBytes()
}

// readArchiveXML reads root's fields from el strictly: the root and every
// field in ArchiveNamespace, the fields exactly once each in their order,
// text only, nothing else but an enveloped ds:Signature as the last child.
// A document of format v2 has no Chain field: it is of chain 0.
func readArchiveXML(el *etree.Element, root string, names []string) (map[string]string, error) {
	if el != nil && el.Tag == root && el.NamespaceURI() == archiveNamespaceV1 {
		return nil, fmt.Errorf("an archive of format v1 (%s), which signed neither its revocation lists nor its segments' lengths: export it again", archiveNamespaceV1)
	}
	ns := ArchiveNamespace
	if el != nil && el.NamespaceURI() == archiveNamespaceV2 {
		ns = archiveNamespaceV2
		names = slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == "Chain" })
	}
	if el == nil || el.Tag != root || el.NamespaceURI() != ns {
		return nil, fmt.Errorf("the root element is not %s in %s", root, ArchiveNamespace)
	}
	for _, a := range el.Attr {
		if a.FullKey() != "xmlns" || a.Value != ns {
			return nil, fmt.Errorf("unexpected attribute %s on %s", a.FullKey(), root)
		}
	}
	out := make(map[string]string, len(names))
	i := 0
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.CharData:
			if strings.TrimSpace(t.Data) != "" {
				return nil, fmt.Errorf("text outside the fields of %s", root)
			}
		case *etree.Element:
			if t.Tag == "Signature" && t.NamespaceURI() == "http://www.w3.org/2000/09/xmldsig#" && i == len(names) {
				continue
			}
			if i >= len(names) || t.Tag != names[i] || t.NamespaceURI() != ns {
				return nil, fmt.Errorf("unexpected element %s in %s (expected %s)", t.Tag, root, expectedField(names, i))
			}
			if len(t.Attr) > 0 || len(t.ChildElements()) > 0 {
				return nil, fmt.Errorf("%s must hold text only", t.Tag)
			}
			for _, c := range t.Child {
				if _, ok := c.(*etree.CharData); !ok {
					return nil, fmt.Errorf("%s must hold text only", t.Tag)
				}
			}
			out[names[i]] = t.Text()
			i++
		default:
			return nil, fmt.Errorf("comment or instruction inside %s", root)
		}
	}
	if i != len(names) {
		return nil, fmt.Errorf("%s lacks %s", root, names[i])
	}
	if ns == archiveNamespaceV2 {
		out["Chain"] = "0"
	}
	return out, nil
}

func expectedField(names []string, i int) string {
	if i < len(names) {
		return names[i]
	}
	return "nothing more"
}

var (
	hexHash   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	streamID  = regexp.MustCompile(`^([0-9]{1,20})-([0-9]{1,20})$`)
	archiveID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// fieldReader converts fields, keeping the first error.
type fieldReader struct {
	f   map[string]string
	err error
}

func (r *fieldReader) fail(name, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%s %q: %s", name, r.f[name], fmt.Sprintf(format, args...))
	}
}

// chain reads the Chain field: an evidence chain's number.
func (r *fieldReader) chain() int {
	c := r.int("Chain", 0)
	if r.err == nil && c >= EvidenceChains {
		r.fail("Chain", "chain %d: there are chains 0 to %d", c, EvidenceChains-1)
	}
	return int(c)
}

func (r *fieldReader) int(name string, min int64) int64 {
	n, err := strconv.ParseInt(r.f[name], 10, 64)
	if err != nil || n < min || strconv.FormatInt(n, 10) != r.f[name] {
		r.fail(name, "not a whole number from %d", min)
	}
	return n
}

func (r *fieldReader) hash(name string, emptyOK bool) string {
	v := r.f[name]
	if !(emptyOK && v == "") && !hexHash.MatchString(v) {
		r.fail(name, "not a lower-case hex SHA-256")
	}
	return v
}

func (r *fieldReader) entry(name string, emptyOK bool) string {
	v := r.f[name]
	if !(emptyOK && v == "") && !validStreamID(v) {
		r.fail(name, "not a stream entry id")
	}
	return v
}

func (r *fieldReader) id(name string) string {
	if !archiveID.MatchString(r.f[name]) {
		r.fail(name, "not an archive id")
	}
	return r.f[name]
}

func (r *fieldReader) time(name string) time.Time {
	t, err := time.Parse(time.RFC3339, r.f[name])
	if err != nil || t.UTC().Format(time.RFC3339) != r.f[name] {
		r.fail(name, "not an RFC 3339 UTC time")
	}
	return t
}

// point reads a chain point: seq 0 goes with an empty hash, and only it.
func (r *fieldReader) point(seqName, hashName string) ChainPoint {
	p := ChainPoint{Seq: r.int(seqName, 0)}
	p.Hash = r.hash(hashName, p.Seq == 0)
	if p.Seq == 0 && p.Hash != "" {
		r.fail(hashName, "the chain's start has no hash")
	}
	return p
}

func parseManifest(f map[string]string) (*segmentManifest, error) {
	r := &fieldReader{f: f}
	m := &segmentManifest{
		ArchiveID:     r.id("ArchiveID"),
		Chain:         r.chain(),
		Segment:       int(r.int("Segment", 1)),
		File:          f["File"],
		Count:         r.int("Count", 1),
		FirstSeq:      r.int("FirstSeq", 1),
		FirstEntry:    r.entry("FirstEntry", false),
		LastSeq:       r.int("LastSeq", 1),
		LastEntry:     r.entry("LastEntry", false),
		Anchor:        r.point("AnchorSeq", "AnchorHash"),
		HeadHash:      r.hash("HeadHash", false),
		EntriesBytes:  r.int("EntriesBytes", 1),
		EntriesSHA256: r.hash("EntriesSHA256", false),
		SignedAt:      r.time("SignedAt"),
	}
	if r.err == nil && (m.FirstSeq != m.Anchor.Seq+1 || m.LastSeq-m.FirstSeq+1 != m.Count) {
		r.err = fmt.Errorf("anchor %d, links %d to %d and count %d do not agree", m.Anchor.Seq, m.FirstSeq, m.LastSeq, m.Count)
	}
	return m, r.err
}

func parseIndex(f map[string]string) (*archiveIndex, error) {
	r := &fieldReader{f: f}
	x := &archiveIndex{
		ArchiveID: r.id("ArchiveID"),
		Chain:     r.chain(),
		Segments:  int(r.int("Segments", 0)),
		Count:     r.int("Count", 0),
		Anchor:    r.point("AnchorSeq", "AnchorHash"),
		Head:      r.point("HeadSeq", "HeadHash"),
		SignedAt:  r.time("SignedAt"),
	}
	x.LastEntry = r.entry("LastEntry", x.Count == 0)
	if r.err == nil {
		x.CRLs, r.err = parseCRLDigests(f[indexCRLField])
	}
	switch {
	case r.err != nil:
	case x.Segments > maxArchiveSegments:
		r.err = fmt.Errorf("%d segments, at most %d", x.Segments, maxArchiveSegments)
	case x.Head.Seq-x.Anchor.Seq != x.Count:
		r.err = fmt.Errorf("anchor %d, head %d and count %d do not agree", x.Anchor.Seq, x.Head.Seq, x.Count)
	case (x.Count == 0) != (x.Segments == 0), x.Count == 0 && (x.Head != x.Anchor || x.LastEntry != ""):
		r.err = fmt.Errorf("%d segments of %d links", x.Segments, x.Count)
	}
	return x, r.err
}

func validStreamID(s string) bool {
	m := streamID.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	for _, part := range m[1:] {
		if _, err := strconv.ParseUint(part, 10, 64); err != nil || (len(part) > 1 && part[0] == '0') {
			return false
		}
	}
	return true
}

// compareStreamIDs orders two valid stream entry ids.
func compareStreamIDs(a, b string) int {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	ams, _ := strconv.ParseUint(am, 10, 64)
	bms, _ := strconv.ParseUint(bm, 10, 64)
	if ams != bms {
		if ams < bms {
			return -1
		}
		return 1
	}
	aseq, _ := strconv.ParseUint(as, 10, 64)
	bseq, _ := strconv.ParseUint(bs, 10, 64)
	switch {
	case aseq < bseq:
		return -1
	case aseq > bseq:
		return 1
	}
	return 0
}

// ArchiveFault says how an archive failed verification.
type ArchiveFault string

const (
	// FaultLayout: not a readable archive of this format (not a ZIP,
	// unknown, duplicate or oversized files, a line not as written).
	FaultLayout ArchiveFault = "layout"
	// FaultMissing: a file the index names (a segment, its manifest) or
	// the index itself is not in the archive.
	FaultMissing ArchiveFault = "missing"
	// FaultSignature: a manifest or the index does not verify, or its
	// signer is not the bus operator (another BIN, no signing right).
	FaultSignature ArchiveFault = "signature"
	// FaultManifest: a verified manifest does not fit where it stands
	// (another archive, another number or file, an anchor that is not the
	// previous head, signed before the records it covers).
	FaultManifest ArchiveFault = "manifest"
	// FaultChain: a link does not follow the one before it (sequence,
	// prev, its own hash, its stream entry).
	FaultChain ArchiveFault = "chain"
	// FaultTruncated: a segment holds fewer links than its manifest signs.
	FaultTruncated ArchiveFault = "truncated"
	// FaultDigest: a segment's links are not those its manifest signs
	// (another head, links beyond the signed last one, other bytes, another
	// length), or a revocation list in crl/ is not the one the index signs
	// (segment 0).
	FaultDigest ArchiveFault = "digest"
	// FaultContinuity: an archive does not begin where the one before it
	// ends (CheckContinuity).
	FaultContinuity ArchiveFault = "continuity"
)

// ArchiveReport is the outcome of checking an archive. The counts, points
// and times are those the index signs; when the archive is not intact,
// Fault, Segment (0: the index or the archive as a whole), BrokenAt (the
// link expected where a link fails) and Reason say where and how.
type ArchiveReport struct {
	Intact    bool       `json:"intact"`
	ArchiveID string     `json:"archiveId,omitempty"`
	Chain     int        `json:"chain"`
	Segments  int        `json:"segments"`
	Records   int64      `json:"records"`
	Anchor    ChainPoint `json:"anchor"`
	Head      ChainPoint `json:"head"`
	LastEntry string     `json:"lastEntry,omitempty"`
	SignedAt  time.Time  `json:"signedAt,omitzero"`
	// LastRecordAt is the time of the newest record in the archive.
	LastRecordAt time.Time                 `json:"lastRecordAt,omitzero"`
	Signer       *signing.Identity         `json:"signer,omitempty"`
	Revocation   *signing.RevocationStatus `json:"revocation,omitempty"`

	Fault    ArchiveFault `json:"fault,omitempty"`
	Segment  int          `json:"segment,omitempty"`
	BrokenAt int64        `json:"brokenAt,omitempty"`
	Code     egov.Code    `json:"code,omitempty"` // the signature refusal, for FaultSignature
	Reason   string       `json:"reason,omitempty"`
}

// CheckContinuity marks next broken (FaultContinuity) unless it is of the
// same chain and begins where prev ends: archives exported one after the
// other chain together.
func CheckContinuity(prev ArchiveReport, next *ArchiveReport) {
	if !next.Intact || next.Anchor == prev.Head && next.Chain == prev.Chain {
		return
	}
	next.Intact, next.Fault, next.Segment, next.BrokenAt = false, FaultContinuity, 0, next.Anchor.Seq+1
	next.Reason = fmt.Sprintf("begins after %s, but the archive before it ends at %s", next.Anchor, prev.Head)
	if next.Chain != prev.Chain {
		next.Reason = fmt.Sprintf("is of evidence chain %d, the archive before it of chain %d", next.Chain, prev.Chain)
	}
}

// ArchiveVerifyOptions is what the verifier of an archive trusts.
type ArchiveVerifyOptions struct {
	// Trust holds the roots and issuing CAs the signer must chain to.
	Trust *signing.TrustStore
	// BIN is the bus operator's: every manifest and the index must be
	// signed for this organisation.
	BIN string
	// Roles entitled to sign for it; empty means signing.SigningRoles().
	Roles []signing.KeyUser
	// CRLs are revocation lists (PEM or DER) of the verifier's own, always
	// added to those the archive carries; a list counts only when a CA of
	// Trust signed it. The newest list of each CA issued by the signing
	// time must be in force then (else the status is unknown); any list, of
	// whatever date, that shows the signer revoked at or before the signing
	// time, or for key compromise at any time, refuses the signature.
	CRLs [][]byte
	// AllowUnknownRevocation accepts a signer whose revocation status at
	// the signing time no list tells.
	AllowUnknownRevocation bool
	// Now is the verifier's clock (nil: time.Now): a signing time after it
	// is refused.
	Now func() time.Time
}

// ErrArchiveOptions is returned when the verifier itself is not set up:
// no trust store or no BIN.
var ErrArchiveOptions = errors.New("shep: archive verification needs a trust store and the bus operator's BIN")

// VerifyArchive checks an archive (size bytes readable from r) without
// Redis: the index's and every manifest's signature (the signer chaining
// to opt.Trust, acting for opt.BIN with a signing right, valid and not
// revoked at the signing time), every link of every segment, each
// segment's count, head and digest, the anchors between segments, and that
// the archive holds exactly the segments the index names. A damaged or
// forged archive is a report with Intact false, not an error; errors are
// for options that cannot verify anything.
func VerifyArchive(ctx context.Context, r io.ReaderAt, size int64, opt ArchiveVerifyOptions) (ArchiveReport, error) {
	return verifyArchive(ctx, r, size, opt, archiveHooks{})
}

// archiveHooks let a caller follow a verification (TrimArchived compares
// the links with the live chain): index is called once the index is
// verified, link for each link that passed the chain checks. An error of
// either ends the verification and is returned as is.
type archiveHooks struct {
	index func(ArchiveReport) error
	link  func(archiveLine) error
}

// archiveFailure is a fault found while checking.
type archiveFailure struct {
	fault    ArchiveFault
	segment  int
	brokenAt int64
	code     egov.Code
	reason   string
}

func (f *archiveFailure) Error() string { return string(f.fault) + ": " + f.reason }

func fail(fault ArchiveFault, segment int, brokenAt int64, format string, args ...any) *archiveFailure {
	return &archiveFailure{fault: fault, segment: segment, brokenAt: brokenAt, reason: fmt.Sprintf(format, args...)}
}

// hookError carries a hook's own error through the checks.
type hookError struct{ err error }

func (h hookError) Error() string { return h.err.Error() }

func verifyArchive(ctx context.Context, r io.ReaderAt, size int64, opt ArchiveVerifyOptions, hooks archiveHooks) (ArchiveReport, error) {
	var rep ArchiveReport
	if opt.Trust == nil || opt.BIN == "" {
		return rep, ErrArchiveOptions
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	a := &archiveCheck{opt: opt, hooks: hooks, rep: &rep}
	err := a.run(ctx, r, size)
	var f *archiveFailure
	var h hookError
	switch {
	case err == nil:
		rep.Intact = true
	case errors.As(err, &h):
		return rep, h.err
	case errors.As(err, &f):
		rep.Fault, rep.Segment, rep.BrokenAt, rep.Code, rep.Reason = f.fault, f.segment, f.brokenAt, f.code, f.reason
	default:
		return rep, err
	}
	return rep, nil
}

// archiveCheck is one verification in progress.
type archiveCheck struct {
	opt      ArchiveVerifyOptions
	hooks    archiveHooks
	rep      *ArchiveReport
	files    map[string]*zip.File
	verifier *signing.Verifier
	at       time.Time // the signing time of the document being verified

	lists    []trustedCRL                // the archive's and the verifier's lists a trusted CA signed, oldest first
	sets     map[int]*signing.CRLSet     // by how many of lists were issued by a signing time
	revokedQ map[string]signerRevocation // by certificate (DER): what all lists say of it
}

// trustedCRL is a revocation list signed by a CA of the trust store.
type trustedCRL struct {
	data []byte
	list *x509.RevocationList
}

// signerRevocation is what all the trusted lists say of one certificate:
// the earliest revocation any of them states, and whether one of them
// gives key compromise as the reason.
type signerRevocation struct {
	revoked       bool
	at            time.Time
	compromised   bool
	compromisedAt time.Time
}

// reasonKeyCompromise is the CRL reason code keyCompromise (RFC 5280 §5.3.1).
const reasonKeyCompromise = 1

func (a *archiveCheck) run(ctx context.Context, r io.ReaderAt, size int64) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fail(FaultLayout, 0, 0, "not a ZIP archive: %v", err)
	}
	if err := a.layout(zr); err != nil {
		return err
	}
	xf := a.files[archiveIndexName]
	if xf == nil {
		return fail(FaultMissing, 0, 0, "no %s: the archive's signed index is missing", archiveIndexName)
	}
	// The index's signature is judged with the revocation lists, and the
	// index signs which lists they are: the lists are compared with the
	// digests the index states before the signature is verified (so that a
	// list swapped or removed is named as such), and the verified index
	// must state the same digests (verifySigned compares every field).
	doc, claimed, err := a.readSigned(xf, "ArchiveIndex", indexFields, 0)
	if err != nil {
		return err
	}
	digests, err := parseCRLDigests(claimed[indexCRLField])
	if err != nil {
		return fail(FaultManifest, 0, 0, "%s: %v", archiveIndexName, err)
	}
	if err := a.revocation(digests); err != nil {
		return err
	}
	fields, err := a.verifySigned(ctx, xf, doc, claimed, "ArchiveIndex", indexFields, 0)
	if err != nil {
		return err
	}
	x, err := parseIndex(fields)
	if err != nil {
		return fail(FaultManifest, 0, 0, "%s: %v", archiveIndexName, err)
	}
	a.rep.ArchiveID, a.rep.Chain, a.rep.Segments, a.rep.Records = x.ArchiveID, x.Chain, x.Segments, x.Count
	a.rep.Anchor, a.rep.Head, a.rep.LastEntry, a.rep.SignedAt = x.Anchor, x.Head, x.LastEntry, x.SignedAt
	if err := a.notFuture(x.SignedAt, 0); err != nil {
		return err
	}
	for name := range a.files {
		if n, ok := segmentNumber(name); ok && n > x.Segments {
			return fail(FaultLayout, n, 0, "%s is not named by the index (%d segments)", name, x.Segments)
		}
	}
	if a.hooks.index != nil {
		if err := a.hooks.index(*a.rep); err != nil {
			return hookError{err}
		}
	}
	prev, prevEntry := x.Anchor, ""
	for n := 1; n <= x.Segments; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := a.segment(ctx, n, x, prev, prevEntry)
		if err != nil {
			return err
		}
		prev, prevEntry = ChainPoint{Seq: m.LastSeq, Hash: m.HeadHash}, m.LastEntry
	}
	if prev != x.Head || prevEntry != x.LastEntry {
		return fail(FaultManifest, 0, 0, "the segments end at %s (entry %s), the index at %s (entry %s)", prev, prevEntry, x.Head, x.LastEntry)
	}
	if !a.rep.LastRecordAt.IsZero() && a.rep.LastRecordAt.After(x.SignedAt.Add(archiveTimeSkew)) {
		return fail(FaultManifest, 0, 0, "the index is dated %s, before its newest record (%s)", x.SignedAt.Format(time.RFC3339), a.rep.LastRecordAt.Format(time.RFC3339))
	}
	return nil
}

var archiveFileName = regexp.MustCompile(`^(segments/[0-9]{6}\.(jsonl|xml)|crl/[0-9]{6}\.crl|index\.xml|README\.txt)$`)

// layout admits only the archive's own file names, each once.
func (a *archiveCheck) layout(zr *zip.Reader) error {
	if len(zr.File) > 2*maxArchiveSegments+maxArchiveCRLs+2 {
		return fail(FaultLayout, 0, 0, "%d files", len(zr.File))
	}
	a.files = make(map[string]*zip.File, len(zr.File))
	crls := 0
	for _, f := range zr.File {
		if !archiveFileName.MatchString(f.Name) {
			return fail(FaultLayout, 0, 0, "unexpected file %q", f.Name)
		}
		if a.files[f.Name] != nil {
			return fail(FaultLayout, 0, 0, "%s appears twice", f.Name)
		}
		if f.Method != zip.Store && f.Method != zip.Deflate {
			return fail(FaultLayout, 0, 0, "%s: compression method %d", f.Name, f.Method)
		}
		if strings.HasPrefix(f.Name, "crl/") {
			crls++
		}
		a.files[f.Name] = f
	}
	if crls > maxArchiveCRLs {
		return fail(FaultLayout, 0, 0, "%d revocation lists, at most %d", crls, maxArchiveCRLs)
	}
	return nil
}

func segmentNumber(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "segments/")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest[:6])
	return n, err == nil
}

// crlNumber returns n of crl/NNNNNN.crl.
func crlNumber(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "crl/")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(rest, ".crl"))
	return n, err == nil
}

// revocation checks that crl/ holds exactly the lists whose digests the
// index states, in order, and sets up the verifier with them and with the
// options' own lists. A list no trusted CA signed is left out: the
// verifier then knows less, and refuses what it cannot tell unless told
// to allow it.
func (a *archiveCheck) revocation(digests []string) error {
	for name := range a.files {
		if n, ok := crlNumber(name); ok && (n < 1 || n > len(digests)) {
			return fail(FaultLayout, 0, 0, "%s is not named by the index (%d revocation lists)", name, len(digests))
		}
	}
	for i, want := range digests {
		name := crlName(i + 1)
		f := a.files[name]
		if f == nil {
			return fail(FaultMissing, 0, 0, "%s, a revocation list the index signs, is missing", name)
		}
		data, err := readZipFile(f, maxCRLFileBytes)
		if err != nil {
			return fail(FaultLayout, 0, 0, "%s: %v", name, err)
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != want {
			return fail(FaultDigest, 0, 0, "%s has SHA-256 %s, the index signs %s: not the revocation list the operator stored", name, got, want)
		}
		a.addList(data)
	}
	for _, data := range a.opt.CRLs {
		a.addList(data)
	}
	sort.SliceStable(a.lists, func(i, j int) bool { return a.lists[i].list.ThisUpdate.Before(a.lists[j].list.ThisUpdate) })
	a.sets = make(map[int]*signing.CRLSet)
	a.revokedQ = make(map[string]signerRevocation)
	a.verifier = &signing.Verifier{Trust: a.opt.Trust, Now: func() time.Time { return a.at }}
	return nil
}

// addList keeps a list if a CA of the trust store signed it.
func (a *archiveCheck) addList(data []byte) {
	der := data
	if block, _ := pem.Decode(data); block != nil {
		der = block.Bytes
	}
	list, err := x509.ParseRevocationList(der)
	if err != nil || a.opt.Trust == nil {
		return
	}
	for _, ca := range a.opt.Trust.Authorities {
		if bytes.Equal(ca.RawSubject, list.RawIssuer) && list.CheckSignatureFrom(ca) == nil {
			a.lists = append(a.lists, trustedCRL{data: data, list: list})
			return
		}
	}
}

// crlsAt is the revocation lists a signature of time at is judged by: of
// each CA, the newest list issued by then (a list newer than the signing
// time answers nothing about that time; revokedBy reads those).
// The sets are kept by the number of lists issued by then, so that
// manifests of many signing times cost no more than one set per list.
func (a *archiveCheck) crlsAt(at time.Time) *signing.CRLSet {
	n := sort.Search(len(a.lists), func(i int) bool { return a.lists[i].list.ThisUpdate.After(at.Add(archiveTimeSkew)) })
	if s := a.sets[n]; s != nil {
		return s
	}
	s := &signing.CRLSet{Trust: a.opt.Trust, Skew: archiveTimeSkew}
	for _, l := range a.lists[:n] {
		_ = s.Add(l.data)
	}
	a.sets[n] = s
	return s
}

// revokedBy refuses a signer that any trusted list, of whatever date,
// shows revoked at or before the signing time, or revoked for key
// compromise at any time: a thief of the key dates his signatures as he
// likes, so a list issued since the revocation must not be set aside
// because it is newer than the time he claims.
func (a *archiveCheck) revokedBy(cert *x509.Certificate, at time.Time) error {
	key := string(cert.Raw)
	r, ok := a.revokedQ[key]
	if !ok {
		for _, l := range a.lists {
			if !bytes.Equal(l.list.RawIssuer, cert.RawIssuer) {
				continue
			}
			for _, e := range l.list.RevokedCertificateEntries {
				if e.SerialNumber == nil || e.SerialNumber.Cmp(cert.SerialNumber) != 0 {
					continue
				}
				if !r.revoked || e.RevocationTime.Before(r.at) {
					r.revoked, r.at = true, e.RevocationTime
				}
				if e.ReasonCode == reasonKeyCompromise && (!r.compromised || e.RevocationTime.Before(r.compromisedAt)) {
					r.compromised, r.compromisedAt = true, e.RevocationTime
				}
			}
		}
		a.revokedQ[key] = r
	}
	switch {
	case r.compromised:
		return egov.Errorf(egov.CodeCertificateRevoked, "revoked for key compromise at %s: no signature of this key is trusted, whatever its date", r.compromisedAt.UTC().Format(time.RFC3339))
	case r.revoked && !r.at.After(at):
		return egov.Errorf(egov.CodeCertificateRevoked, "revoked at %s, not after the signing time %s", r.at.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	}
	return nil
}

// signed reads a signed manifest or the index, verifies its signature as
// of the signing time it states and the signer's authority, and returns
// the fields of the verified element.
func (a *archiveCheck) signed(ctx context.Context, f *zip.File, root string, names []string, segment int) (map[string]string, error) {
	doc, claimed, err := a.readSigned(f, root, names, segment)
	if err != nil {
		return nil, err
	}
	return a.verifySigned(ctx, f, doc, claimed, root, names, segment)
}

// readSigned reads a signed document and its fields as received, not yet
// verified.
func (a *archiveCheck) readSigned(f *zip.File, root string, names []string, segment int) ([]byte, map[string]string, error) {
	doc, err := readZipFile(f, maxManifestBytes)
	if err != nil {
		return nil, nil, fail(FaultLayout, segment, 0, "%s: %v", f.Name, err)
	}
	tree := etree.NewDocument()
	if err := tree.ReadFromBytes(doc); err != nil {
		return nil, nil, fail(FaultSignature, segment, 0, "%s: %v", f.Name, err)
	}
	claimed, err := readArchiveXML(tree.Root(), root, names)
	if err != nil {
		return nil, nil, fail(FaultSignature, segment, 0, "%s: %v", f.Name, err)
	}
	return doc, claimed, nil
}

// verifySigned verifies doc, whose fields as received are claimed. The
// time to judge the signature at is inside what it signs: it is read from
// the document as received, and the verified element must state the same
// fields, that time among them.
func (a *archiveCheck) verifySigned(ctx context.Context, f *zip.File, doc []byte, claimed map[string]string, root string, names []string, segment int) (map[string]string, error) {
	at, err := time.Parse(time.RFC3339, claimed["SignedAt"])
	if err != nil {
		return nil, fail(FaultSignature, segment, 0, "%s: SignedAt %q", f.Name, claimed["SignedAt"])
	}
	a.at = at
	a.verifier.Revocation = &signing.Revocation{CRL: a.crlsAt(at), AllowUnknown: a.opt.AllowUnknownRevocation}
	res, err := a.verifier.Verify(ctx, doc)
	if err == nil {
		err = res.RequireAuthority(a.opt.BIN, a.opt.Roles)
	}
	if err == nil {
		err = a.revokedBy(res.Certificate, at)
	}
	if err != nil {
		ff := fail(FaultSignature, segment, 0, "%s: %v", f.Name, err)
		ff.code = egov.ErrorCode(err)
		return nil, ff
	}
	fields, err := readArchiveXML(res.Element, root, names)
	if err != nil {
		return nil, fail(FaultSignature, segment, 0, "%s: the signed content: %v", f.Name, err)
	}
	if !maps.Equal(fields, claimed) {
		return nil, fail(FaultSignature, segment, 0, "%s: the signed content is not the content read", f.Name)
	}
	if segment == 0 {
		a.rep.Signer, a.rep.Revocation = &res.Signer, &res.Evidence.Revocation
	}
	return fields, nil
}

func (a *archiveCheck) notFuture(t time.Time, segment int) error {
	if now := a.opt.Now(); t.After(now.Add(archiveTimeSkew)) {
		return fail(FaultSignature, segment, 0, "signed at %s, after the verifier's time %s", t.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// segment verifies segment n, which must begin after prev (whose stream
// entry was prevEntry), and returns its manifest.
func (a *archiveCheck) segment(ctx context.Context, n int, x *archiveIndex, prev ChainPoint, prevEntry string) (*segmentManifest, error) {
	mf, df := a.files[segmentName(n, "xml")], a.files[segmentName(n, "jsonl")]
	if mf == nil || df == nil {
		return nil, fail(FaultMissing, n, prev.Seq+1, "segment %d of %d is missing (%s, %s)", n, x.Segments, segmentName(n, "xml"), segmentName(n, "jsonl"))
	}
	fields, err := a.signed(ctx, mf, "SegmentManifest", manifestFields, n)
	if err != nil {
		return nil, err
	}
	m, err := parseManifest(fields)
	switch {
	case err != nil:
		return nil, fail(FaultManifest, n, 0, "%s: %v", mf.Name, err)
	case m.ArchiveID != x.ArchiveID:
		return nil, fail(FaultManifest, n, 0, "%s belongs to archive %s, not %s", mf.Name, m.ArchiveID, x.ArchiveID)
	case m.Chain != x.Chain:
		return nil, fail(FaultManifest, n, 0, "%s is of evidence chain %d, the index of chain %d", mf.Name, m.Chain, x.Chain)
	case m.Segment != n || m.File != df.Name:
		return nil, fail(FaultManifest, n, 0, "%s signs segment %d (%s), found as segment %d", mf.Name, m.Segment, m.File, n)
	case m.Anchor != prev:
		return nil, fail(FaultManifest, n, prev.Seq+1, "segment %d begins after %s, but the segment before it ends at %s", n, m.Anchor, prev)
	case prevEntry != "" && compareStreamIDs(m.FirstEntry, prevEntry) <= 0:
		return nil, fail(FaultManifest, n, m.FirstSeq, "segment %d begins in entry %s, not after entry %s", n, m.FirstEntry, prevEntry)
	}
	if err := a.notFuture(m.SignedAt, n); err != nil {
		return nil, err
	}
	// The chain hash has no key: anyone can write chain-consistent lines,
	// and the digest is known only at the end. What is read is bounded by
	// the signed length: a file declared longer is refused unread, and no
	// more than the signed length is read whatever the file declares
	// (archive/zip refuses, besides, more bytes than declared). A file
	// declared shorter is read, so that the fault is named where the links
	// go wrong, and refused at the latest when its length is compared.
	if df.UncompressedSize64 > uint64(m.EntriesBytes) {
		return nil, fail(FaultDigest, n, 0, "%s holds %d bytes, its manifest signs %d", df.Name, df.UncompressedSize64, m.EntriesBytes)
	}
	rc, err := df.Open()
	if err != nil {
		return nil, fail(FaultLayout, n, 0, "%s: %v", df.Name, err)
	}
	defer rc.Close()
	hw := &hashingWriter{w: io.Discard, sum: sha256.New()}
	newest, err := a.links(bufio.NewReaderSize(io.TeeReader(io.LimitReader(rc, m.EntriesBytes), hw), 64<<10), n, m, prev, prevEntry)
	if err != nil {
		return nil, err
	}
	if hw.n != m.EntriesBytes || df.UncompressedSize64 != uint64(m.EntriesBytes) {
		return nil, fail(FaultDigest, n, 0, "%s holds %d bytes, its manifest signs %d", df.Name, hw.n, m.EntriesBytes)
	}
	if got := hex.EncodeToString(hw.sum.Sum(nil)); got != m.EntriesSHA256 {
		return nil, fail(FaultDigest, n, 0, "%s has SHA-256 %s, its manifest signs %s", df.Name, got, m.EntriesSHA256)
	}
	if newest.After(m.SignedAt.Add(archiveTimeSkew)) {
		return nil, fail(FaultManifest, n, 0, "%s is dated %s, before its newest record (%s)", mf.Name, m.SignedAt.Format(time.RFC3339), newest.Format(time.RFC3339))
	}
	return m, nil
}

// links reads and checks the links of segment n against its manifest and
// returns the time of its newest record.
func (a *archiveCheck) links(br *bufio.Reader, n int, m *segmentManifest, prev ChainPoint, prevEntry string) (time.Time, error) {
	var newest time.Time
	count := int64(0)
	entry := prevEntry
	for {
		line, err := readLine(br, maxArchiveLine)
		if err == io.EOF {
			break
		}
		if err != nil {
			return newest, fail(FaultLayout, n, prev.Seq+1, "segment %d: %v", n, err)
		}
		l, err := decodeArchiveLine(line)
		if err != nil {
			return newest, fail(FaultLayout, n, prev.Seq+1, "segment %d, line %d: %v", n, count+1, err)
		}
		want := prev.Seq + 1
		switch {
		case l.Seq != want:
			return newest, fail(FaultChain, n, want, "link %d follows link %d", l.Seq, prev.Seq)
		case l.Prev != prev.Hash:
			return newest, fail(FaultChain, n, want, "prev does not match the hash of link %d", prev.Seq)
		case linkHash(l.Prev, l.Seq, []byte(l.Record)) != l.Hash:
			return newest, fail(FaultChain, n, want, "content does not match its hash")
		case entry != "" && compareStreamIDs(l.Entry, entry) < 0:
			return newest, fail(FaultChain, n, want, "stream entry %s comes after entry %s", l.Entry, entry)
		case count == 0 && l.Entry != m.FirstEntry:
			return newest, fail(FaultDigest, n, want, "the segment begins in entry %s, its manifest in %s", l.Entry, m.FirstEntry)
		case l.Seq > m.LastSeq:
			return newest, fail(FaultDigest, n, want, "link %d is beyond the segment's signed last link %d", l.Seq, m.LastSeq)
		}
		var rec struct {
			Time time.Time `json:"time"`
		}
		if err := json.Unmarshal([]byte(l.Record), &rec); err != nil {
			return newest, fail(FaultLayout, n, want, "link %d: the record is not JSON with a time: %v", l.Seq, err)
		}
		if rec.Time.After(newest) {
			newest = rec.Time
		}
		if a.hooks.link != nil {
			if err := a.hooks.link(l); err != nil {
				return newest, hookError{err}
			}
		}
		count++
		prev, entry = ChainPoint{Seq: l.Seq, Hash: l.Hash}, l.Entry
	}
	switch {
	case count < m.Count:
		return newest, fail(FaultTruncated, n, prev.Seq+1, "segment %d holds %d links, its manifest signs %d (to link %d)", n, count, m.Count, m.LastSeq)
	case prev.Hash != m.HeadHash:
		return newest, fail(FaultDigest, n, 0, "segment %d ends in hash %.12s…, its manifest signs %.12s…", n, prev.Hash, m.HeadHash)
	case entry != m.LastEntry:
		return newest, fail(FaultDigest, n, 0, "segment %d ends in entry %s, its manifest in %s", n, entry, m.LastEntry)
	}
	if newest.After(a.rep.LastRecordAt) {
		a.rep.LastRecordAt = newest
	}
	return newest, nil
}

// decodeArchiveLine reads one line, which must be exactly what the writer
// writes for it: one encoding of each link, so no duplicate keys, unknown
// fields or other spellings that another reader could read otherwise.
func decodeArchiveLine(line []byte) (archiveLine, error) {
	var l archiveLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return l, err
	}
	if !validStreamID(l.Entry) || !utf8.ValidString(l.Record) {
		return l, errors.New("not a link of the archive's format")
	}
	again, err := encodeArchiveLine(l)
	if err != nil || !bytes.Equal(again, line) {
		return l, errors.New("not in the archive's encoding of a link")
	}
	return l, nil
}

// readLine returns one line with its newline; a last line without one is
// not a line the writer wrote.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > limit {
			return nil, fmt.Errorf("a line longer than %d bytes", limit)
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			return buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(buf) == 0:
			return nil, io.EOF
		case err == io.EOF:
			return nil, errors.New("the last line has no newline")
		default:
			return nil, err
		}
	}
}

func readZipFile(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

// ArchiveHead reads, without verifying it, where an archive ends: its
// chain and the head its index names. It locates the point where the next
// export of that chain continues (ArchiveOptions.After); that export
// checks the point against the live chain, and the archives' continuity
// is checked with VerifyArchive and CheckContinuity, so nothing is trusted
// on its word.
func ArchiveHead(r io.ReaderAt, size int64) (int, ChainPoint, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return 0, ChainPoint{}, fmt.Errorf("shep: archive: %w", err)
	}
	for _, f := range zr.File {
		if f.Name != archiveIndexName {
			continue
		}
		data, err := readZipFile(f, maxManifestBytes)
		if err != nil {
			return 0, ChainPoint{}, fmt.Errorf("shep: archive index: %w", err)
		}
		tree := etree.NewDocument()
		if err := tree.ReadFromBytes(data); err != nil {
			return 0, ChainPoint{}, fmt.Errorf("shep: archive index: %w", err)
		}
		fields, err := readArchiveXML(tree.Root(), "ArchiveIndex", indexFields)
		if err != nil {
			return 0, ChainPoint{}, fmt.Errorf("shep: archive index: %w", err)
		}
		x, err := parseIndex(fields)
		if err != nil {
			return 0, ChainPoint{}, fmt.Errorf("shep: archive index: %w", err)
		}
		return x.Chain, x.Head, nil
	}
	return 0, ChainPoint{}, errors.New("shep: archive: no index")
}

// hashingWriter counts and hashes what passes to w.
type hashingWriter struct {
	w   io.Writer
	sum hash.Hash
	n   int64
}

func (h *hashingWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.sum.Write(p[:n])
	h.n += int64(n)
	return n, err
}
