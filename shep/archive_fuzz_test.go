package shep

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"egov/signing"
)

// fuzzArchive is a real archive of one segment of three links, written by
// the archive writer without Redis and signed with the committed
// provider key (an organisation key of fixtures/pki).
func fuzzArchive(tb testing.TB) (archive, segment []byte, opts ArchiveVerifyOptions) {
	tb.Helper()
	signer, err := signing.LoadSigner("../fixtures/pki/keys/provider.p12", "Qwerty12")
	if err != nil {
		tb.Fatal(err)
	}
	trust, err := signing.LoadTrustDir("../fixtures/pki/trust")
	if err != nil {
		tb.Fatal(err)
	}
	crl, err := os.ReadFile("../fixtures/pki/crl.pem")
	if err != nil {
		tb.Fatal(err)
	}
	at := time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	x := &archiveWriter{zw: zip.NewWriter(&buf), opt: ArchiveOptions{Signer: signer},
		index: archiveIndex{ArchiveID: "0f8c3a52-6a1e-4d4b-9a7e-3c2b1d0e9f8a", SignedAt: at}}
	prev := ""
	for seq := int64(1); seq <= 3; seq++ {
		rec := fmt.Sprintf(`{"time":"2026-06-01T05:59:0%dZ","direction":"in","messageId":"m%d","envelopeSHA256":"\u003cx\u003e"}`, seq, seq)
		h := linkHash(prev, seq, []byte(rec))
		if err := x.link(archiveLine{Seq: seq, Entry: fmt.Sprintf("1780293540000-%d", seq), Prev: prev, Hash: h, Record: rec}); err != nil {
			tb.Fatal(err)
		}
		prev = h
	}
	if err := x.closeSegment(); err != nil {
		tb.Fatal(err)
	}
	if err := x.signedFile(archiveIndexName, "ArchiveIndex", indexFields, x.index.fields()); err != nil {
		tb.Fatal(err)
	}
	if err := x.zw.Close(); err != nil {
		tb.Fatal(err)
	}
	archive = buf.Bytes()
	zr, _ := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	for _, f := range zr.File {
		if f.Name == segmentName(1, "jsonl") {
			rc, _ := f.Open()
			segment, _ = io.ReadAll(rc)
			rc.Close()
		}
	}
	opts = ArchiveVerifyOptions{Trust: trust, BIN: signing.IdentityOf(signer.Certificate).BIN, CRLs: [][]byte{crl}, Now: func() time.Time { return at }}
	return archive, segment, opts
}

// withSegment returns archive with segment 1's links replaced.
func withSegment(tb testing.TB, archive, segment []byte) []byte {
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, _ := f.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		if f.Name == segmentName(1, "jsonl") {
			data = segment
		}
		w, _ := zw.Create(f.Name)
		_, _ = w.Write(data)
	}
	_ = zw.Close()
	return buf.Bytes()
}

// FuzzVerifyArchive feeds the verifier arbitrary files: it reports, never
// panics, and accepts none but the real archive's entries. What the ZIP
// container says beside them (file modes, times, comments, compression)
// is signed by nothing and judged by nothing, as in an ASiC container:
// the fuzzer found a central directory with other file modes, and those
// entries are the real ones.
func FuzzVerifyArchive(f *testing.F) {
	archive, _, opts := fuzzArchive(f)
	f.Add(archive)
	f.Add([]byte("PK\x03\x04"))
	f.Add(archive[:len(archive)/2])
	want := zipEntries(archive)
	f.Fuzz(func(t *testing.T, raw []byte) {
		rep, err := VerifyArchive(context.Background(), bytes.NewReader(raw), int64(len(raw)), opts)
		if err != nil {
			t.Fatalf("%+v %v", rep, err)
		}
		if got := zipEntries(raw); rep.Intact && (got == nil || !slices.Equal(got, want)) {
			t.Fatalf("accepted an archive whose entries are not the real ones: %+v", rep)
		}
		if bytes.Equal(raw, archive) && !rep.Intact {
			t.Fatalf("the real archive refused: %+v", rep)
		}
	})
}

// zipEntries lists a ZIP's entries as name and content, in order, but for
// the signed XML (manifests and index) only the name: their signatures
// are what the verifier checks, and a genuine archive of format v2 (the
// corpus holds one) states the same links under other manifests. Nil if it
// cannot be read.
func zipEntries(data []byte) []string {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil
	}
	var out []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil
		}
		content, err := io.ReadAll(io.LimitReader(rc, 1<<20))
		rc.Close()
		if err != nil {
			return nil
		}
		if strings.HasSuffix(f.Name, ".xml") {
			content = nil
		}
		out = append(out, f.Name, string(content))
	}
	return out
}

// FuzzArchiveSegment puts arbitrary links under a real signed manifest:
// the verifier accepts a segment only when it is the signed one byte for
// byte.
func FuzzArchiveSegment(f *testing.F) {
	archive, segment, opts := fuzzArchive(f)
	f.Add(segment)
	f.Add(bytes.Replace(segment, []byte(`"seq":2`), []byte(`"seq":3`), 1))
	f.Add(append(bytes.Clone(segment), segment...))
	f.Add(bytes.TrimSuffix(segment, []byte("\n")))
	f.Fuzz(func(t *testing.T, links []byte) {
		tampered := withSegment(t, archive, links)
		rep, err := VerifyArchive(context.Background(), bytes.NewReader(tampered), int64(len(tampered)), opts)
		if err != nil || rep.Intact != bytes.Equal(links, segment) {
			t.Fatalf("links %q: %+v %v", links, rep, err)
		}
	})
}

// FuzzArchiveLine: a line is read only in the one encoding the writer
// gives it.
func FuzzArchiveLine(f *testing.F) {
	f.Add([]byte(`{"seq":1,"entry":"1-0","prev":"","hash":"ab","record":"{\"a\":\"\u003c\"}"}` + "\n"))
	f.Add([]byte(`{"seq":1,"seq":2,"entry":"1-0","prev":"","hash":"","record":""}` + "\n"))
	f.Fuzz(func(t *testing.T, line []byte) {
		l, err := decodeArchiveLine(line)
		if err != nil {
			return
		}
		again, err := encodeArchiveLine(l)
		if err != nil || !bytes.Equal(again, line) {
			t.Fatalf("%q read as %+v, written %q", line, l, again)
		}
	})
}
