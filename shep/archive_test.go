package shep_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"hash/crc32"
	"io"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"egov"
	"egov/shep"
	"egov/signing"
	"egov/signing/pki"
)

const operatorBIN = "050740000013" // the bus operator of the tests

// archiveKit is the test PKI of an archive: a copy of the committed
// authority, the bus operator's organisation key, and one clock for the
// bus's records, the signing time and the verifier.
type archiveKit struct {
	ca       *pki.Authority
	operator *signing.Signer
	trust    *signing.TrustStore
	clock    *clock
}

var archiveEpoch = time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)

func newArchiveKit(t *testing.T) *archiveKit {
	t.Helper()
	ca, err := pki.Clone("../fixtures/pki", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	k := &archiveKit{ca: ca, trust: ca.TrustStore(), clock: &clock{now: archiveEpoch}}
	k.operator = k.issue(t, operatorBIN, signing.KeyUserCanSign)
	return k
}

func (k *archiveKit) issue(t *testing.T, bin string, role signing.KeyUser) *signing.Signer {
	t.Helper()
	iss, err := k.ca.Issue(pki.IssueOptions{IIN: "850312300052", Name: "ӘБІЛҚАСЫМОВ ТИМУР НҰРЛАНҰЛЫ", Kind: pki.KindOrg,
		BIN: bin, Organization: "АО «ОПЕРАТОР ШЭП» (TEST)", Role: role,
		NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return &signing.Signer{Key: iss.Key, Certificate: iss.Certificate}
}

// crl is the authority's list in force now.
func (k *archiveKit) crl(t *testing.T) []byte {
	t.Helper()
	now := k.clock.Now()
	der, err := k.ca.CRL(now.Add(-time.Minute), now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

func (k *archiveKit) bus(t *testing.T) *fixture {
	t.Helper()
	return newBus(t, func(c *shep.Config) { c.Now = k.clock.Now })
}

func (k *archiveKit) export(t *testing.T, f *fixture, segmentLinks int, after *shep.ChainPoint) ([]byte, shep.ArchiveSummary) {
	t.Helper()
	return k.exportCRLs(t, f, segmentLinks, after, [][]byte{k.crl(t)})
}

// exportCRLs exports with these revocation lists stored in the archive.
func (k *archiveKit) exportCRLs(t *testing.T, f *fixture, segmentLinks int, after *shep.ChainPoint, crls [][]byte) ([]byte, shep.ArchiveSummary) {
	t.Helper()
	var buf bytes.Buffer
	sum, err := shep.ExportArchive(context.Background(), f.redis.Client, f.redis.Prefix, &buf, shep.ArchiveOptions{
		Signer: k.operator, Now: k.clock.Now, SegmentLinks: segmentLinks, CRLs: crls, After: after})
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	return buf.Bytes(), sum
}

func (k *archiveKit) verifyOptions() shep.ArchiveVerifyOptions {
	return shep.ArchiveVerifyOptions{Trust: k.trust, BIN: operatorBIN, Now: k.clock.Now}
}

func (k *archiveKit) verify(t *testing.T, archive []byte) shep.ArchiveReport {
	t.Helper()
	rep, err := shep.VerifyArchive(context.Background(), bytes.NewReader(archive), int64(len(archive)), k.verifyOptions())
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

// zipFile is one file of an archive being tampered with.
type zipFile struct {
	name string
	data []byte
}

func unzipArchive(t *testing.T, archive []byte) []zipFile {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatal(err)
	}
	var files []zipFile
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, zipFile{f.Name, data})
	}
	return files
}

func zipArchive(t *testing.T, files []zipFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func fileOf(t *testing.T, files []zipFile, name string) *zipFile {
	t.Helper()
	for i := range files {
		if files[i].name == name {
			return &files[i]
		}
	}
	t.Fatalf("no %s in the archive", name)
	return nil
}

func without(files []zipFile, names ...string) []zipFile {
	var out []zipFile
	for _, f := range files {
		drop := false
		for _, n := range names {
			drop = drop || f.name == n
		}
		if !drop {
			out = append(out, f)
		}
	}
	return out
}

// archiveLink is a segment line as a test edits it.
type archiveLink struct {
	Seq    int64  `json:"seq"`
	Entry  string `json:"entry"`
	Prev   string `json:"prev"`
	Hash   string `json:"hash"`
	Record string `json:"record"`
}

func readLinks(t *testing.T, data []byte) []archiveLink {
	t.Helper()
	var out []archiveLink
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if line == "" {
			continue
		}
		var l archiveLink
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

func writeLinks(t *testing.T, links []archiveLink) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, l := range links {
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// chainHash is the link hash as the README states it, computed here
// independently of the package.
func chainHash(prev string, seq int64, record string) string {
	h := sha256.Sum256([]byte(prev + "\n" + strconv.FormatInt(seq, 10) + "\n" + record))
	return hex.EncodeToString(h[:])
}

// rehash recomputes the chain of links from index i on, as a forger
// without the operator's key would to hide an edit.
func rehash(links []archiveLink, i int) {
	for ; i < len(links); i++ {
		if i > 0 {
			links[i].Prev = links[i-1].Hash
		}
		links[i].Hash = chainHash(links[i].Prev, links[i].Seq, links[i].Record)
	}
}

// resign replaces the signature of a manifest by one of signer.
func resign(t *testing.T, doc []byte, signer *signing.Signer) []byte {
	t.Helper()
	tree := etree.NewDocument()
	if err := tree.ReadFromBytes(doc); err != nil {
		t.Fatal(err)
	}
	for _, c := range tree.Root().ChildElements() {
		if c.Tag == "Signature" {
			tree.Root().RemoveChild(c)
		}
	}
	out, err := tree.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := signer.Sign(out)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// archivedBus is a bus whose chain holds 12 links and their archive of 4
// segments: links 1-3, 4-6, 7-9 and 10-12 (six sends of one stream entry
// each, a poll handing out three messages as one entry, three sends).
func archivedBus(t *testing.T, k *archiveKit) (*fixture, []byte) {
	t.Helper()
	f := k.bus(t)
	fillEvidence(t, f)
	for i := 0; i < 3; i++ {
		send(t, f.bus, portal, svcOpen, "<More/>")
	}
	k.clock.Add(time.Minute)
	archive, sum := k.export(t, f, 3, nil)
	if sum.Segments != 4 || sum.Records != 12 || sum.Head.Seq != 12 || sum.Anchor != (shep.ChainPoint{}) {
		t.Fatalf("summary %+v", sum)
	}
	return f, archive
}

func TestArchiveVerifiesOffline(t *testing.T) {
	k := newArchiveKit(t)
	f, archive := archivedBus(t, k)
	rep := k.verify(t, archive)
	if !rep.Intact || rep.Segments != 4 || rep.Records != 12 || rep.Head.Seq != 12 || rep.Signer.BIN != operatorBIN ||
		!rep.SignedAt.Equal(archiveEpoch.Add(time.Minute)) || rep.Revocation.Source != signing.SourceCRL {
		t.Fatalf("report %+v", rep)
	}
	live, err := shep.VerifyEvidence(context.Background(), f.redis.Client, f.redis.Prefix)
	if err != nil || !live.Intact {
		t.Fatalf("live %+v %v", live, err)
	}
	// The README's check by hand: the line's record is the hashed text.
	files := unzipArchive(t, archive)
	links := readLinks(t, fileOf(t, files, "segments/000001.jsonl").data)
	if len(links) != 3 || links[0].Prev != "" || chainHash("", 1, links[0].Record) != links[0].Hash {
		t.Fatalf("segment 1 as read by hand: %+v", links)
	}
}

func TestArchiveTamperingIsDetected(t *testing.T) {
	k := newArchiveKit(t)
	_, archive := archivedBus(t, k)
	_, otherArchive := archivedBus(t, k) // the same traffic on another chain
	stranger := k.issue(t, otherBIN, signing.KeyUserCEO)
	employee := k.issue(t, operatorBIN, signing.KeyUserEmployee)
	untrusted, err := signing.LoadSigner("../fixtures/pki/keys/untrusted.p12", pki.DefaultPassword)
	if err != nil {
		t.Fatal(err)
	}
	otherCRL := k.crl(t) // the CA's, genuine and in force, but not the list stored

	editLinks := func(name string, edit func([]archiveLink) []archiveLink) func(t *testing.T, files []zipFile) []zipFile {
		return func(t *testing.T, files []zipFile) []zipFile {
			f := fileOf(t, files, name)
			f.data = writeLinks(t, edit(readLinks(t, f.data)))
			return files
		}
	}
	rename := func(from, to string) func([]zipFile) {
		return func(files []zipFile) {
			for i := range files {
				if files[i].name == from {
					files[i].name = to
				}
			}
		}
	}
	cases := []struct {
		name     string
		tamper   func(t *testing.T, files []zipFile) []zipFile
		raw      func(archive []byte) []byte // tampering of the file's bytes
		fault    shep.ArchiveFault
		segment  int
		brokenAt int64
		code     egov.Code
	}{
		{name: "edit a record", fault: shep.FaultChain, segment: 2, brokenAt: 5,
			tamper: editLinks("segments/000002.jsonl", func(l []archiveLink) []archiveLink {
				l[1].Record = strings.Replace(l[1].Record, `"sender":"egov-portal"`, `"sender":"intruder"`, 1)
				return l
			})},
		{name: "edit a record and recompute the segment's chain", fault: shep.FaultDigest, segment: 2,
			tamper: editLinks("segments/000002.jsonl", func(l []archiveLink) []archiveLink {
				l[1].Record = strings.Replace(l[1].Record, `"sender":"egov-portal"`, `"sender":"intruder"`, 1)
				rehash(l, 1)
				return l
			})},
		{name: "delete a link", fault: shep.FaultChain, segment: 2, brokenAt: 5,
			tamper: editLinks("segments/000002.jsonl", func(l []archiveLink) []archiveLink { return append(l[:1:1], l[2:]...) })},
		{name: "reorder two links", fault: shep.FaultChain, segment: 2, brokenAt: 4,
			tamper: editLinks("segments/000002.jsonl", func(l []archiveLink) []archiveLink { l[0], l[1] = l[1], l[0]; return l })},
		{name: "truncate a segment", fault: shep.FaultTruncated, segment: 2, brokenAt: 6,
			tamper: editLinks("segments/000002.jsonl", func(l []archiveLink) []archiveLink { return l[:2] })},
		{name: "truncate the last segment's links", fault: shep.FaultTruncated, segment: 4, brokenAt: 12,
			tamper: editLinks("segments/000004.jsonl", func(l []archiveLink) []archiveLink { return l[:len(l)-1] })},
		// Longer than the manifest's signed length: refused unread, so at
		// no link in particular.
		{name: "append a link past the signed head", fault: shep.FaultDigest, segment: 4,
			tamper: editLinks("segments/000004.jsonl", func(l []archiveLink) []archiveLink {
				last := l[len(l)-1]
				forged := archiveLink{Seq: last.Seq + 1, Entry: last.Entry, Prev: last.Hash, Record: last.Record}
				forged.Hash = chainHash(forged.Prev, forged.Seq, forged.Record)
				return append(l, forged)
			})},
		{name: "remove the last segment", fault: shep.FaultMissing, segment: 4, brokenAt: 10,
			tamper: func(t *testing.T, files []zipFile) []zipFile {
				return without(files, "segments/000004.jsonl", "segments/000004.xml")
			}},
		{name: "remove a middle segment", fault: shep.FaultMissing, segment: 2, brokenAt: 4,
			tamper: func(t *testing.T, files []zipFile) []zipFile {
				return without(files, "segments/000002.jsonl", "segments/000002.xml")
			}},
		{name: "remove a middle segment and renumber the rest", fault: shep.FaultManifest, segment: 2,
			tamper: func(t *testing.T, files []zipFile) []zipFile {
				files = without(files, "segments/000002.jsonl", "segments/000002.xml")
				for _, ext := range []string{"jsonl", "xml"} {
					rename("segments/000003."+ext, "segments/000002."+ext)(files)
					rename("segments/000004."+ext, "segments/000003."+ext)(files)
				}
				return files
			}},
		{name: "swap two segments", fault: shep.FaultManifest, segment: 2,
			tamper: func(t *testing.T, files []zipFile) []zipFile {
				for _, ext := range []string{"jsonl", "xml"} {
					rename("segments/000002."+ext, "swap")(files)
					rename("segments/000003."+ext, "segments/000002."+ext)(files)
					rename("swap", "segments/000003."+ext)(files)
				}
				return files
			}},
		// Segment 3's links are longer than segment 2's signed length:
		// refused unread.
		{name: "swap two segments' links under their manifests", fault: shep.FaultDigest, segment: 2,
			tamper: func(t *testing.T, files []zipFile) []zipFile {
				a, b := fileOf(t, files, "segments/000002.jsonl"), fileOf(t, files, "segments/000003.jsonl")
				a.data, b.data = b.data, a.data
				return files
			}},
		{name: "remove the index", fault: shep.FaultMissing, segment: 0,
			tamper: func(t *testing.T, files []zipFile) []zipFile { return without(files, "index.xml") }},
		{name: "the index of another archive, with its revocation list", fault: shep.FaultManifest, segment: 1,
			tamper: func(t *testing.T, files []zipFile) []zipFile {
				theirs := unzipArchive(t, otherArchive)
				fileOf(t, files, "index.xml").data = fileOf(t, theirs, "index.xml").data
				fileOf(t, files, "crl/000001.crl").data = fileOf(t, theirs, "crl/000001.crl").data
				return files
			}},
		{name: "the index of another archive alone", fault: shep.FaultDigest,
			tamper: func(t *testing.T, files []zipFile) []zipFile {
				fileOf(t, files, "index.xml").data = fileOf(t, unzipArchive(t, otherArchive), "index.xml").data
				return files
			}},
		{name: "a segment of another chain", fault: shep.FaultManifest, segment: 2,
			tamper: func(t *testing.T, files []zipFile) []zipFile {
				theirs := unzipArchive(t, otherArchive)
				fileOf(t, files, "segments/000002.xml").data = fileOf(t, theirs, "segments/000002.xml").data
				fileOf(t, files, "segments/000002.jsonl").data = fileOf(t, theirs, "segments/000002.jsonl").data
				return files
			}},
		{name: "edit a manifest's count", fault: shep.FaultSignature, segment: 3, code: egov.CodeSignatureInvalid,
			tamper: func(t *testing.T, files []zipFile) []zipFile {
				m := fileOf(t, files, "segments/000003.xml")
				m.data = bytes.Replace(m.data, []byte("<Count>3</Count>"), []byte("<Count>2</Count>"), 1)
				return files
			}},
		{name: "a manifest signed by another organisation", fault: shep.FaultSignature, segment: 1, code: egov.CodeBINMismatch,
			tamper: func(t *testing.T, files []zipFile) []zipFile {
				m := fileOf(t, files, "segments/000001.xml")
				m.data = resign(t, m.data, stranger)
				return files
			}},
		{name: "the index signed by an employee without signing right", fault: shep.FaultSignature, segment: 0, code: egov.CodeSignerNotAuthorised,
			tamper: func(t *testing.T, files []zipFile) []zipFile {
				m := fileOf(t, files, "index.xml")
				m.data = resign(t, m.data, employee)
				return files
			}},
		{name: "a manifest signed under an untrusted authority", fault: shep.FaultSignature, segment: 2, code: egov.CodeCertificateUntrusted,
			tamper: func(t *testing.T, files []zipFile) []zipFile {
				m := fileOf(t, files, "segments/000002.xml")
				m.data = resign(t, m.data, untrusted)
				return files
			}},
		{name: "a file slipped in", fault: shep.FaultLayout,
			tamper: func(t *testing.T, files []zipFile) []zipFile {
				return append(files, zipFile{"segments/notes.txt", []byte("x")})
			}},
		{name: "a segment the index does not name", fault: shep.FaultLayout, segment: 5,
			tamper: func(t *testing.T, files []zipFile) []zipFile {
				return append(files, zipFile{"segments/000005.jsonl", fileOf(t, files, "segments/000004.jsonl").data})
			}},
		{name: "a line written otherwise, of the same length", fault: shep.FaultLayout, segment: 1, brokenAt: 1,
			tamper: func(t *testing.T, files []zipFile) []zipFile {
				s := fileOf(t, files, "segments/000001.jsonl")
				s.data = regexp.MustCompile(`^\{"seq":1,"entry":"([0-9-]+)",`).ReplaceAll(s.data, []byte(`{"entry":"$1","seq":1,`))
				return files
			}},
		{name: "a line written otherwise, one byte longer", fault: shep.FaultDigest, segment: 1,
			tamper: func(t *testing.T, files []zipFile) []zipFile {
				s := fileOf(t, files, "segments/000001.jsonl")
				s.data = bytes.Replace(s.data, []byte(`{"seq":1,`), []byte(`{"seq": 1,`), 1)
				return files
			}},
		{name: "a cut-off file", fault: shep.FaultLayout,
			raw: func(b []byte) []byte { return b[:len(b)/2] }},
		// The index signs the revocation lists' digests.
		{name: "another genuine list of the same CA in crl/", fault: shep.FaultDigest,
			tamper: func(t *testing.T, files []zipFile) []zipFile {
				fileOf(t, files, "crl/000001.crl").data = otherCRL
				return files
			}},
		{name: "the revocation list removed", fault: shep.FaultMissing,
			tamper: func(t *testing.T, files []zipFile) []zipFile { return without(files, "crl/000001.crl") }},
		{name: "a revocation list the index does not name", fault: shep.FaultLayout,
			tamper: func(t *testing.T, files []zipFile) []zipFile {
				return append(files, zipFile{"crl/000002.crl", otherCRL})
			}},
		{name: "the index's revocation lists edited", fault: shep.FaultSignature, code: egov.CodeSignatureInvalid,
			tamper: func(t *testing.T, files []zipFile) []zipFile {
				sum := sha256.Sum256(otherCRL)
				x := fileOf(t, files, "index.xml")
				x.data = regexp.MustCompile(`<CRLSHA256>[0-9a-f]{64}</CRLSHA256>`).ReplaceAll(x.data, []byte("<CRLSHA256>"+hex.EncodeToString(sum[:])+"</CRLSHA256>"))
				fileOf(t, files, "crl/000001.crl").data = otherCRL
				return files
			}},
		{name: "a manifest's signed length edited", fault: shep.FaultSignature, segment: 2, code: egov.CodeSignatureInvalid,
			tamper: func(t *testing.T, files []zipFile) []zipFile {
				m := fileOf(t, files, "segments/000002.xml")
				m.data = regexp.MustCompile(`<EntriesBytes>[0-9]+</EntriesBytes>`).ReplaceAll(m.data, []byte("<EntriesBytes>99999999</EntriesBytes>"))
				return files
			}},
	}
	if rep := k.verify(t, archive); !rep.Intact {
		t.Fatalf("the untouched archive: %+v", rep)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tampered := archive
			if c.raw != nil {
				tampered = c.raw(bytes.Clone(archive))
			} else {
				tampered = zipArchive(t, c.tamper(t, unzipArchive(t, archive)))
			}
			rep := k.verify(t, tampered)
			if rep.Intact || rep.Reason == "" {
				t.Fatalf("not detected: %+v", rep)
			}
			if rep.Fault != c.fault || rep.Segment != c.segment || rep.BrokenAt != c.brokenAt || rep.Code != c.code {
				t.Fatalf("fault %s in segment %d at link %d (code %q): %s; want %s in segment %d at link %d (code %q)",
					rep.Fault, rep.Segment, rep.BrokenAt, rep.Code, rep.Reason, c.fault, c.segment, c.brokenAt, c.code)
			}
		})
	}
}

// TestArchiveSignatureIsJudgedAtItsTime: a signature is checked as of its
// signing time, with the revocation lists the archive carries; a time the
// verifier has not reached, or a signer revoked by then, is refused.
func TestArchiveSignatureIsJudgedAtItsTime(t *testing.T) {
	k := newArchiveKit(t)
	f, archive := archivedBus(t, k)
	signedAt := k.clock.Now()

	// Years later, the CRL in the archive long stale and the certificate
	// expired, the archive still verifies as of its signing time.
	later := k.verifyOptions()
	later.Now = func() time.Time { return signedAt.AddDate(12, 0, 0) }
	if rep, err := shep.VerifyArchive(context.Background(), bytes.NewReader(archive), int64(len(archive)), later); err != nil || !rep.Intact {
		t.Fatalf("twelve years later: %+v %v", rep, err)
	}
	// Before its signing time.
	early := k.verifyOptions()
	early.Now = func() time.Time { return signedAt.Add(-time.Hour) }
	if rep, _ := shep.VerifyArchive(context.Background(), bytes.NewReader(archive), int64(len(archive)), early); rep.Intact || rep.Fault != shep.FaultSignature {
		t.Fatalf("signed in the verifier's future: %+v", rep)
	}
	// Without revocation lists, the status is unknown.
	stripped, _ := k.exportCRLs(t, f, 3, nil, nil)
	rep := k.verify(t, stripped)
	if rep.Intact || rep.Code != egov.CodeRevocationUnknown {
		t.Fatalf("no revocation list: %+v", rep)
	}
	unknownOK := k.verifyOptions()
	unknownOK.AllowUnknownRevocation = true
	if rep, _ := shep.VerifyArchive(context.Background(), bytes.NewReader(stripped), int64(len(stripped)), unknownOK); !rep.Intact || rep.Revocation.Source != signing.SourceNone {
		t.Fatalf("unknown revocation allowed: %+v", rep)
	}
	// The verifier's own list of the signing time serves an archive
	// without one; a newer list tells nothing about that time, and does
	// not displace the archive's own.
	withCRL := k.verifyOptions()
	withCRL.CRLs = [][]byte{k.crl(t)}
	if rep, _ := shep.VerifyArchive(context.Background(), bytes.NewReader(stripped), int64(len(stripped)), withCRL); !rep.Intact || rep.Revocation.Source != signing.SourceCRL {
		t.Fatalf("the verifier's list: %+v", rep)
	}
	k.clock.Add(24 * time.Hour)
	newer := k.verifyOptions()
	newer.CRLs = [][]byte{k.crl(t)}
	if rep, _ := shep.VerifyArchive(context.Background(), bytes.NewReader(stripped), int64(len(stripped)), newer); rep.Intact || rep.Code != egov.CodeRevocationUnknown {
		t.Fatalf("a list of the next day: %+v", rep)
	}
	if rep, _ := shep.VerifyArchive(context.Background(), bytes.NewReader(archive), int64(len(archive)), newer); !rep.Intact {
		t.Fatalf("the archive's own list beside a newer one: %+v", rep)
	}

	// A key revoked before it signed.
	f = k.bus(t)
	fillEvidence(t, f)
	if err := k.ca.Revoke(k.operator.Certificate, k.clock.Now().Add(-time.Minute), 1); err != nil {
		t.Fatal(err)
	}
	revoked, _ := k.export(t, f, 0, nil)
	if rep := k.verify(t, revoked); rep.Intact || rep.Code != egov.CodeCertificateRevoked {
		t.Fatalf("revoked signer: %+v", rep)
	}
}

func TestArchiveRefusesAClockBeforeItsRecords(t *testing.T) {
	k := newArchiveKit(t)
	f := k.bus(t)
	fillEvidence(t, f)
	backdated := *k
	backdated.clock = &clock{now: archiveEpoch.Add(-time.Hour)}
	archive, _ := backdated.export(t, f, 0, nil)
	if rep := k.verify(t, archive); rep.Intact || rep.Fault != shep.FaultManifest || rep.Segment != 1 {
		t.Fatalf("an archive dated before its records: %+v", rep)
	}
}

func TestArchiveExportTrimAndContinue(t *testing.T) {
	ctx := context.Background()
	k := newArchiveKit(t)
	f, first := archivedBus(t, k)
	stream := evidenceStream(f)
	k.clock.Add(time.Hour)

	trim, ar, err := shep.TrimArchived(ctx, f.redis.Client, f.redis.Prefix, bytes.NewReader(first), int64(len(first)), shep.TrimOptions{Verify: k.verifyOptions()})
	if err != nil || trim.Records != 12 || trim.Entries != 10 || trim.Anchor != ar.Head || trim.Anchor.Seq != 12 {
		t.Fatalf("trim: %+v %v", trim, err)
	}
	if n, _ := f.redis.Client.XLen(ctx, stream).Result(); n != 0 {
		t.Fatalf("%d entries left after trimming all of them", n)
	}
	live, err := shep.VerifyEvidence(ctx, f.redis.Client, f.redis.Prefix)
	if err != nil || !live.Intact || live.Records != 0 || live.Chain(0).Anchor != 12 || live.Chain(0).Head != 12 || live.Chain(0).AnchorArchive != ar.ArchiveID {
		t.Fatalf("live after trim: %+v %v", live, err)
	}
	// Trimming the same archive again deletes nothing: the live chain
	// starts after it.
	if again, _, err := shep.TrimArchived(ctx, f.redis.Client, f.redis.Prefix, bytes.NewReader(first), int64(len(first)), shep.TrimOptions{Verify: k.verifyOptions()}); err != nil || !again.AlreadyTrimmed || again.Entries != 0 {
		t.Fatalf("second trim: %+v %v", again, err)
	}
	// An export with nothing new is a signed statement of where the chain stands.
	empty, sum := k.export(t, f, 3, nil)
	if rep := k.verify(t, empty); !rep.Intact || sum.Segments != 0 || rep.Anchor != rep.Head || rep.Head.Seq != 12 {
		t.Fatalf("empty archive: %+v %+v", sum, rep)
	}

	// More traffic, then the next archive continues from the anchor.
	for i := 0; i < 4; i++ {
		send(t, f.bus, portal, svcOpen, "<Later/>")
	}
	k.clock.Add(time.Minute)
	second, sum := k.export(t, f, 3, nil)
	if sum.Anchor != ar.Head || sum.Records != 4 || sum.Head.Seq != 16 || sum.Segments != 2 {
		t.Fatalf("second export: %+v", sum)
	}
	a, b := k.verify(t, first), k.verify(t, second)
	shep.CheckContinuity(a, &b)
	if !a.Intact || !b.Intact {
		t.Fatalf("the two archives: %+v\n%+v", a, b)
	}
	// Out of order, they do not chain.
	c := k.verify(t, first)
	shep.CheckContinuity(b, &c)
	if c.Intact || c.Fault != shep.FaultContinuity {
		t.Fatalf("first after second: %+v", c)
	}
	live, err = shep.VerifyEvidence(ctx, f.redis.Client, f.redis.Prefix)
	if err != nil || !live.Intact || live.Records != 4 || live.Chain(0).Head != 16 {
		t.Fatalf("live before the second trim: %+v %v", live, err)
	}

	// Deleting the first link left after the anchor is seen by the live check.
	ids, _ := f.redis.Client.XRange(ctx, stream, "-", "+").Result()
	f.redis.Client.XDel(ctx, stream, ids[0].ID)
	live, _ = shep.VerifyEvidence(ctx, f.redis.Client, f.redis.Prefix)
	if live.Intact || live.Chain(0).BrokenAt != 13 {
		t.Fatalf("deletion after the anchor: %+v", live)
	}
	// And the archive no longer matches the live chain: no trim.
	if _, _, err := shep.TrimArchived(ctx, f.redis.Client, f.redis.Prefix, bytes.NewReader(second), int64(len(second)), shep.TrimOptions{Verify: k.verifyOptions()}); !errors.Is(err, shep.ErrArchiveNotLive) {
		t.Fatalf("trim over a damaged live chain: %v", err)
	}
	if n, _ := f.redis.Client.XLen(ctx, stream).Result(); n != 3 {
		t.Fatalf("%d entries after a refused trim, want 3", n)
	}
}

// TestArchiveExportAfter: archives exported daily while the live chain
// keeps its days chain together, and are trimmed in order once old enough.
func TestArchiveExportAfter(t *testing.T) {
	ctx := context.Background()
	k := newArchiveKit(t)
	f, first := archivedBus(t, k)
	chain, head, err := shep.ArchiveHead(bytes.NewReader(first), int64(len(first)))
	if err != nil || head.Seq != 12 || chain != 0 {
		t.Fatalf("head %+v %v", head, err)
	}
	k.clock.Add(24 * time.Hour)
	for i := 0; i < 5; i++ {
		send(t, f.bus, portal, svcOpen, "<NextDay/>")
	}
	second, sum := k.export(t, f, 0, &head)
	if sum.Anchor != head || sum.Records != 5 || sum.Segments != 1 {
		t.Fatalf("continued export: %+v", sum)
	}
	a, b := k.verify(t, first), k.verify(t, second)
	shep.CheckContinuity(a, &b)
	if !a.Intact || !b.Intact {
		t.Fatalf("%+v\n%+v", a, b)
	}
	// A point that is not the live chain's is refused.
	forged := shep.ChainPoint{Seq: 12, Hash: strings.Repeat("0", 64)}
	if _, err := shep.ExportArchive(ctx, f.redis.Client, f.redis.Prefix, io.Discard, shep.ArchiveOptions{Signer: k.operator, Now: k.clock.Now, After: &forged}); err == nil {
		t.Fatal("export after a point the chain does not hold")
	}

	trimOpts := func(keep time.Duration) shep.TrimOptions {
		return shep.TrimOptions{Verify: k.verifyOptions(), KeepLive: keep}
	}
	// The second archive cannot go before the first.
	if _, _, err := shep.TrimArchived(ctx, f.redis.Client, f.redis.Prefix, bytes.NewReader(second), int64(len(second)), trimOpts(0)); !errors.Is(err, shep.ErrArchiveNotAtStart) {
		t.Fatalf("trim out of order: %v", err)
	}
	// The first is a day old: kept while the live chain keeps two days.
	if _, _, err := shep.TrimArchived(ctx, f.redis.Client, f.redis.Prefix, bytes.NewReader(first), int64(len(first)), trimOpts(48*time.Hour)); !errors.Is(err, shep.ErrArchiveTooYoung) {
		t.Fatalf("trim of a young archive: %v", err)
	}
	if _, _, err := shep.TrimArchived(ctx, f.redis.Client, f.redis.Prefix, bytes.NewReader(first), int64(len(first)), trimOpts(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := shep.TrimArchived(ctx, f.redis.Client, f.redis.Prefix, bytes.NewReader(second), int64(len(second)), trimOpts(0)); err != nil {
		t.Fatal(err)
	}
	live, err := shep.VerifyEvidence(ctx, f.redis.Client, f.redis.Prefix)
	if err != nil || !live.Intact || live.Records != 0 || live.Chain(0).Anchor != 17 {
		t.Fatalf("live: %+v %v", live, err)
	}
	// The bus goes on writing after the anchor.
	send(t, f.bus, portal, svcOpen, "<After/>")
	if live, _ := shep.VerifyEvidence(ctx, f.redis.Client, f.redis.Prefix); !live.Intact || live.Records != 1 || live.Chain(0).Head != 18 {
		t.Fatalf("live after more traffic: %+v", live)
	}
}

func TestArchiveRefusals(t *testing.T) {
	ctx := context.Background()
	k := newArchiveKit(t)

	t.Run("a broken live chain is not exported", func(t *testing.T) {
		f := k.bus(t)
		fillEvidence(t, f)
		rewrite(t, f, func(recs []string) []string {
			recs[2] = strings.Replace(recs[2], `"sender":"egov-portal"`, `"sender":"intruder"`, 1)
			return recs
		})
		_, err := shep.ExportArchive(ctx, f.redis.Client, f.redis.Prefix, io.Discard, shep.ArchiveOptions{Signer: k.operator, Now: k.clock.Now})
		if !errors.Is(err, shep.ErrEvidenceBroken) || !strings.Contains(err.Error(), "link 3") {
			t.Fatalf("export of a broken chain: %v", err)
		}
	})
	t.Run("a tampered archive trims nothing", func(t *testing.T) {
		f, archive := archivedBus(t, k)
		files := unzipArchive(t, archive)
		s := fileOf(t, files, "segments/000004.jsonl")
		links := readLinks(t, s.data)
		s.data = writeLinks(t, links[:len(links)-1])
		tampered := zipArchive(t, files)
		_, rep, err := shep.TrimArchived(ctx, f.redis.Client, f.redis.Prefix, bytes.NewReader(tampered), int64(len(tampered)), shep.TrimOptions{Verify: k.verifyOptions()})
		if !errors.Is(err, shep.ErrArchiveNotIntact) || rep.Fault != shep.FaultTruncated {
			t.Fatalf("trim of a truncated archive: %v %+v", err, rep)
		}
		if n, _ := f.redis.Client.XLen(ctx, evidenceStream(f)).Result(); n != 10 {
			t.Fatalf("%d entries left, want all 10", n)
		}
	})
	t.Run("an archive edited live after export trims nothing", func(t *testing.T) {
		f, archive := archivedBus(t, k)
		rewrite(t, f, func(recs []string) []string {
			recs[8] = strings.Replace(recs[8], `"sender":"egov-portal"`, `"sender":"intruder"`, 1)
			return recs
		})
		if _, _, err := shep.TrimArchived(ctx, f.redis.Client, f.redis.Prefix, bytes.NewReader(archive), int64(len(archive)), shep.TrimOptions{Verify: k.verifyOptions()}); !errors.Is(err, shep.ErrArchiveNotLive) {
			t.Fatalf("trim against a changed live chain: %v", err)
		}
	})
	t.Run("options", func(t *testing.T) {
		if _, err := shep.VerifyArchive(ctx, bytes.NewReader(nil), 0, shep.ArchiveVerifyOptions{Trust: k.trust}); !errors.Is(err, shep.ErrArchiveOptions) {
			t.Fatalf("no BIN: %v", err)
		}
		f := k.bus(t)
		late := &clock{now: time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC)}
		if _, err := shep.ExportArchive(ctx, f.redis.Client, f.redis.Prefix, io.Discard, shep.ArchiveOptions{Signer: k.operator, Now: late.Now}); err == nil {
			t.Fatal("export signed with an expired certificate")
		}
		if _, err := shep.ExportArchive(ctx, f.redis.Client, f.redis.Prefix, io.Discard, shep.ArchiveOptions{Signer: k.operator, Now: k.clock.Now, CRLs: [][]byte{[]byte("not a list")}}); err == nil {
			t.Fatal("export with a CRL that is none")
		}
	})
}

// TestArchiveRevocationIsTheSignedOne: the lists in crl/ are the ones the
// index signs, and the verifier's own lists are always heard: one issued
// after the signing time that shows the key revoked by then, or revoked
// for key compromise at any time, refuses the archive.
func TestArchiveRevocationIsTheSignedOne(t *testing.T) {
	// Each case runs on its own authority and bus from the epoch t0: the
	// records are of t0, before is the CA's list of t0 (in force two hours).
	type setup struct {
		k      *archiveKit
		f      *fixture
		before []byte
	}
	revoke := func(t *testing.T, s setup, at time.Time, reason int) {
		t.Helper()
		if err := s.k.ca.Revoke(s.k.operator.Certificate, at, reason); err != nil {
			t.Fatal(err)
		}
	}
	const unspecified, keyCompromise, superseded = 0, 1, 4
	cases := []struct {
		name string
		// run exports (and tampers with) an archive and returns it with
		// the verifier's lists.
		run      func(t *testing.T, s setup) (archive []byte, verifierCRLs [][]byte)
		fault    shep.ArchiveFault // "" for an intact archive
		segment  int
		code     egov.Code
		inReason string
	}{
		{name: "the list stored swapped for the CA's list from before the revocation",
			fault: shep.FaultDigest, inReason: "crl/000001.crl",
			run: func(t *testing.T, s setup) ([]byte, [][]byte) {
				s.k.clock.Add(10 * time.Minute)
				revoke(t, s, archiveEpoch.Add(5*time.Minute), unspecified)
				archive, _ := s.k.export(t, s.f, 0, nil) // its list shows the revocation
				if rep := s.k.verify(t, archive); rep.Intact || rep.Code != egov.CodeCertificateRevoked {
					t.Fatalf("the archive as exported: %+v", rep)
				}
				files := unzipArchive(t, archive)
				fileOf(t, files, "crl/000001.crl").data = s.before // genuine, and in force at the signing time
				return zipArchive(t, files), nil
			}},
		{name: "a thief's archive with the old list, the verifier's list of an hour later",
			fault: shep.FaultSignature, code: egov.CodeCertificateRevoked, inReason: "not after the signing time",
			run: func(t *testing.T, s setup) ([]byte, [][]byte) {
				s.k.clock.Add(10 * time.Minute)
				revoke(t, s, archiveEpoch.Add(5*time.Minute), unspecified)
				archive, _ := s.k.exportCRLs(t, s.f, 0, nil, [][]byte{s.before})
				s.k.clock.Add(time.Hour)
				return archive, [][]byte{s.k.crl(t)} // issued after the signing time
			}},
		{name: "a thief's archive with the old list and nothing newer: nothing tells",
			run: func(t *testing.T, s setup) ([]byte, [][]byte) {
				s.k.clock.Add(10 * time.Minute)
				revoke(t, s, archiveEpoch.Add(5*time.Minute), unspecified)
				archive, _ := s.k.exportCRLs(t, s.f, 0, nil, [][]byte{s.before})
				return archive, nil
			}},
		{name: "revoked for key compromise a day after the signing time",
			fault: shep.FaultSignature, code: egov.CodeCertificateRevoked, inReason: "key compromise",
			run: func(t *testing.T, s setup) ([]byte, [][]byte) {
				archive, _ := s.k.export(t, s.f, 0, nil)
				s.k.clock.Add(24 * time.Hour)
				revoke(t, s, s.k.clock.Now(), keyCompromise)
				return archive, [][]byte{s.k.crl(t)}
			}},
		{name: "superseded a day after the signing time: the signature stands",
			run: func(t *testing.T, s setup) ([]byte, [][]byte) {
				archive, _ := s.k.export(t, s.f, 0, nil)
				s.k.clock.Add(24 * time.Hour)
				revoke(t, s, s.k.clock.Now(), superseded)
				return archive, [][]byte{s.k.crl(t)}
			}},
		{name: "the verifier's list of the signing time beside the archive's",
			run: func(t *testing.T, s setup) ([]byte, [][]byte) {
				archive, _ := s.k.export(t, s.f, 0, nil)
				return archive, [][]byte{s.before}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := newArchiveKit(t)
			f := k.bus(t)
			fillEvidence(t, f)
			archive, crls := c.run(t, setup{k: k, f: f, before: k.crl(t)})
			opt := k.verifyOptions()
			opt.CRLs = crls
			rep, err := shep.VerifyArchive(context.Background(), bytes.NewReader(archive), int64(len(archive)), opt)
			if err != nil {
				t.Fatal(err)
			}
			if c.fault == "" {
				if !rep.Intact {
					t.Fatalf("refused: %+v", rep)
				}
				return
			}
			if rep.Intact || rep.Fault != c.fault || rep.Segment != c.segment || rep.Code != c.code || !strings.Contains(rep.Reason, c.inReason) {
				t.Fatalf("fault %s in segment %d (code %q): %s; want %s in segment %d (code %q, reason with %q)",
					rep.Fault, rep.Segment, rep.Code, rep.Reason, c.fault, c.segment, c.code, c.inReason)
			}
		})
	}
}

// countingReaderAt counts the bytes read from an archive.
type countingReaderAt struct {
	r *bytes.Reader
	n int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

// TestArchiveSegmentLengthIsBounded: the chain hash has no key, so anyone
// can write chain-consistent lines; a segment longer than its manifest
// signs is refused before its lines are read, and no more than the signed
// length is read whatever the ZIP declares. The work is measured in bytes
// read from the archive (a stored segment) and in memory allocated (a
// deflate bomb: a few hundred kilobytes that inflate to 48 MiB).
func TestArchiveSegmentLengthIsBounded(t *testing.T) {
	k := newArchiveKit(t)
	_, archive := archivedBus(t, k)
	genuine := fileOf(t, unzipArchive(t, archive), "segments/000001.jsonl").data
	first := readLinks(t, genuine)[0]

	// forged is as many chain-consistent links as the manifest signs
	// (three), each a record of size bytes.
	forged := func(size int) []byte {
		links := make([]archiveLink, 3)
		for i := range links {
			pad := strings.Repeat("a", size)
			links[i] = archiveLink{Seq: int64(i + 1), Entry: first.Entry,
				Record: `{"time":"2026-06-01T06:00:00Z","pad":"` + pad + `"}`}
		}
		rehash(links, 0)
		return writeLinks(t, links)
	}
	// rebuild writes the archive again with segment 1 as given: written
	// with method, and declared (if declared > 0) as that many bytes.
	rebuild := func(t *testing.T, segment []byte, method uint16, declared int) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, f := range unzipArchive(t, archive) {
			var w io.Writer
			var err error
			switch {
			case f.name != "segments/000001.jsonl":
				w, err = zw.Create(f.name)
			case declared > 0:
				var raw bytes.Buffer
				fw, _ := flate.NewWriter(&raw, flate.BestCompression)
				fw.Write(segment)
				fw.Close()
				w, err = zw.CreateRaw(&zip.FileHeader{Name: f.name, Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(segment),
					CompressedSize64: uint64(raw.Len()), UncompressedSize64: uint64(declared)})
				segment = raw.Bytes()
			default:
				w, err = zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: method})
			}
			if err != nil {
				t.Fatal(err)
			}
			data := f.data
			if f.name == "segments/000001.jsonl" {
				data = segment
			}
			if _, err := w.Write(data); err != nil {
				t.Fatal(err)
			}
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	cases := []struct {
		name     string
		segment  []byte
		method   uint16
		declared int // the size the ZIP declares; 0: the true size
		fault    shep.ArchiveFault
		brokenAt int64
	}{
		{name: "stored, 12 MiB of chain-consistent links", segment: forged(4 << 20), method: zip.Store, fault: shep.FaultDigest},
		{name: "a deflate bomb of chain-consistent links", segment: forged(16 << 20), method: zip.Deflate, fault: shep.FaultDigest},
		{name: "one byte more than signed", segment: append(bytes.Clone(genuine), '\n'), method: zip.Deflate, fault: shep.FaultDigest},
		{name: "a bomb declared at the signed length", segment: forged(16 << 20), method: zip.Deflate, declared: len(genuine), fault: shep.FaultLayout, brokenAt: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tampered := rebuild(t, c.segment, c.method, c.declared)
			r := &countingReaderAt{r: bytes.NewReader(tampered)}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			rep, err := shep.VerifyArchive(context.Background(), r, int64(len(tampered)), k.verifyOptions())
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Intact || rep.Fault != c.fault || rep.Segment != 1 || rep.BrokenAt != c.brokenAt {
				t.Fatalf("fault %s in segment %d at link %d: %s; want %s in segment 1 at link %d", rep.Fault, rep.Segment, rep.BrokenAt, rep.Reason, c.fault, c.brokenAt)
			}
			if c.fault == shep.FaultDigest && !strings.Contains(rep.Reason, "bytes, its manifest signs") {
				t.Fatalf("not refused on its length: %s", rep.Reason)
			}
			work := int64(len(c.segment))
			if alloc := int64(after.TotalAlloc - before.TotalAlloc); alloc > 8<<20 && alloc > work/4 {
				t.Errorf("verification allocated %d bytes for a segment of %d", alloc, work)
			}
			if c.method == zip.Store && r.n > work/4 {
				t.Errorf("verification read %d bytes of an archive of %d", r.n, len(tampered))
			}
		})
	}
}

// TestArchiveSetOfEveryChain: an export of every chain is a set of one
// archive a chain, each verified and trimmed on its own; a member renamed
// to another chain's place is refused.
func TestArchiveSetOfEveryChain(t *testing.T) {
	ctx := context.Background()
	k := newArchiveKit(t)
	f := newBus(t, func(c *shep.Config) { c.Now, c.EvidenceChain = k.clock.Now, 1 })
	other, err := shep.New(f.redis.Client, testRouting(t), shep.Config{KeyPrefix: f.redis.Prefix, Now: k.clock.Now, EvidenceChain: 6})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for i := 0; i < 3; i++ {
		send(t, f.bus, portal, svcOpen, "<One/>")
		send(t, other, portal, svcOpen, "<Six/>")
	}
	send(t, other, portal, svcOpen, "<Six/>")
	k.clock.Add(time.Minute)
	var buf bytes.Buffer
	sum, err := shep.ExportArchiveSet(ctx, f.redis.Client, f.redis.Prefix, &buf, shep.ArchiveOptions{Signer: k.operator, Now: k.clock.Now, CRLs: [][]byte{k.crl(t)}}, nil)
	if err != nil || sum.Records != 7 || len(sum.Chains) != 2 || sum.Chains[0].Chain != 1 || sum.Chains[1].Chain != 6 || sum.Chains[1].Records != 4 {
		t.Fatalf("export: %+v %v", sum, err)
	}
	set := buf.Bytes()
	members, err := shep.ArchiveMembers(bytes.NewReader(set), int64(len(set)))
	if err != nil || len(members) != 2 {
		t.Fatalf("members %+v %v", members, err)
	}
	for _, m := range members {
		rep, err := shep.VerifyMember(ctx, m, k.verifyOptions())
		if err != nil || !rep.Intact || rep.Chain != m.Chain {
			t.Fatalf("%s: %+v %v", m.Name, rep, err)
		}
		if _, _, err := shep.TrimArchived(ctx, f.redis.Client, f.redis.Prefix, m.R, m.Size, shep.TrimOptions{Verify: k.verifyOptions()}); err != nil {
			t.Fatalf("trim %s: %v", m.Name, err)
		}
	}
	live, err := shep.VerifyEvidence(ctx, f.redis.Client, f.redis.Prefix)
	if err != nil || !live.Intact || live.Records != 0 || live.Chain(1).Anchor != 3 || live.Chain(6).Anchor != 4 {
		t.Fatalf("live after trimming the set: %+v %v", live, err)
	}
	// A trim of the set again (one that stopped halfway, resumed) passes
	// over the chains trimmed already; a member is trimmed only as the
	// chain it is named for.
	for _, m := range members {
		trim, _, err := shep.TrimArchived(ctx, f.redis.Client, f.redis.Prefix, m.R, m.Size, shep.TrimOptions{Verify: k.verifyOptions(), Chain: &m.Chain})
		if err != nil || !trim.AlreadyTrimmed || trim.Entries != 0 || trim.Chain != m.Chain {
			t.Fatalf("trim %s again: %+v %v", m.Name, trim, err)
		}
	}
	three := 3
	if _, _, err := shep.TrimArchived(ctx, f.redis.Client, f.redis.Prefix, members[1].R, members[1].Size, shep.TrimOptions{Verify: k.verifyOptions(), Chain: &three}); !errors.Is(err, shep.ErrArchiveNotLive) {
		t.Fatalf("chain 6's archive trimmed as chain 3's: %v", err)
	}

	// Chain 6's archive stored as chains/2.zip.
	var moved bytes.Buffer
	zw := zip.NewWriter(&moved)
	inner, err := io.ReadAll(io.NewSectionReader(members[1].R, 0, members[1].Size))
	if err != nil {
		t.Fatal(err)
	}
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "chains/2.zip", Method: zip.Store})
	w.Write(inner)
	zw.Close()
	members, err = shep.ArchiveMembers(bytes.NewReader(moved.Bytes()), int64(moved.Len()))
	if err != nil || len(members) != 1 {
		t.Fatalf("members %+v %v", members, err)
	}
	if rep, err := shep.VerifyMember(ctx, members[0], k.verifyOptions()); err != nil || rep.Intact || rep.Fault != shep.FaultLayout {
		t.Fatalf("a member in another chain's place: %+v %v", rep, err)
	}
	// A compressed member or a stranger's file is not a set.
	for name, method := range map[string]uint16{"chains/6.zip": zip.Deflate, "notes.txt": zip.Store} {
		var bad bytes.Buffer
		zw := zip.NewWriter(&bad)
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		w.Write(inner)
		zw.Close()
		if _, err := shep.ArchiveMembers(bytes.NewReader(bad.Bytes()), int64(bad.Len())); err == nil {
			t.Fatalf("%s (method %d) taken for a member", name, method)
		}
	}
}
