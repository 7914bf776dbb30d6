package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"egov/internal/redistest"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
	"egov/signing/pki"
)

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func TestBusOperatorKey(t *testing.T) {
	dir := t.TempDir()
	a, err := pki.Init(dir, pki.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	path, issued, err := ensureBusOperatorKey(a, dir, from, from.AddDate(2, 0, 0), pki.DefaultPassword)
	if err != nil || !issued || path != filepath.Join(dir, "keys", "shep-operator.p12") {
		t.Fatalf("first: %s %v %v", path, issued, err)
	}
	s, err := signing.LoadSigner(path, pki.DefaultPassword)
	if err != nil {
		t.Fatal(err)
	}
	id := signing.IdentityOf(s.Certificate)
	if id.BIN != busOperatorBIN || !id.HasKeyUser(signing.KeyUserOrganization) || !id.HasKeyUser(signing.KeyUserCanSign) ||
		id.Purpose != signing.PurposeSign || !id.NotBefore.Equal(from) {
		t.Fatalf("identity %+v", id)
	}
	if _, issued, err := ensureBusOperatorKey(a, dir, from, from.AddDate(2, 0, 0), pki.DefaultPassword); err != nil || issued {
		t.Fatalf("second call issued again: %v %v", issued, err)
	}
	again, err := signing.LoadSigner(path, pki.DefaultPassword)
	if err != nil || !again.Certificate.Equal(s.Certificate) {
		t.Fatalf("the key changed: %v", err)
	}
}

// TestEvidenceArchiveCommands runs the operator's cycle on a real bus:
// export, verify offline, trim, more traffic, export again; both archives
// verify in order and the live chain from the anchor.
func TestEvidenceArchiveCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := &testClock{now: time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)}
	a, err := pki.Init(filepath.Join(dir, "pki"), pki.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := ensureBusOperatorKey(a, filepath.Join(dir, "pki"), clock.Now().AddDate(0, -1, 0), clock.Now().AddDate(2, 0, 0), pki.DefaultPassword)
	if err != nil {
		t.Fatal(err)
	}
	crl := filepath.Join(dir, "pki", "crl.pem")
	writeCRL := func() {
		der, err := a.CRL(clock.Now().Add(-time.Minute), clock.Now().Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(crl, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	trust := filepath.Join(dir, "pki", pki.TrustDir)

	hash, err := shep.HashPassword("portal-secret")
	if err != nil {
		t.Fatal(err)
	}
	routing := &shep.Routing{
		Services: map[string]*shep.Service{"open-data": {Recipient: "ais-rynok-truda", Channel: "async"}},
		Systems:  map[string]*shep.System{"egov-portal": {PasswordHash: hash, Send: []string{"open-data"}, Poll: []string{"egov-portal"}}},
	}
	r := redistest.New(t)
	bus, err := shep.New(r.Client, routing, shep.Config{KeyPrefix: r.Prefix, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	traffic := func(n int) {
		sender := soap.SenderInfo{SenderID: "egov-portal", Password: "portal-secret"}
		for i := 0; i < n; i++ {
			if _, err := bus.SendMessage(ctx, shep.NewSendMessage(sender, "open-data", soap.TypeRequest, "", "<D/>")); err != nil {
				t.Fatal(err)
			}
		}
	}
	export := func(name, after string) shep.ArchiveSummary {
		t.Helper()
		clock.Add(time.Minute)
		writeCRL()
		var out bytes.Buffer
		err := evidenceExportArchive(ctx, r.Client, archiveExportOptions{Prefix: r.Prefix, Out: filepath.Join(dir, name), Key: key,
			Password: pki.DefaultPassword, CRLs: []string{crl}, SegmentLinks: 2, After: after, Now: clock.Now}, &out)
		if err != nil {
			t.Fatalf("export %s: %v", name, err)
		}
		var set shep.ArchiveSetSummary
		if err := json.Unmarshal(out.Bytes(), &set); err != nil {
			t.Fatal(err)
		}
		if len(set.Chains) != 1 || set.Chains[0].Chain != 0 || set.Records != set.Chains[0].Records {
			t.Fatalf("export %s: %+v, want chain 0 alone", name, set)
		}
		return set.Chains[0]
	}
	verify := func(archives ...string) (archiveVerifyReport, error) {
		t.Helper()
		for i := range archives {
			archives[i] = filepath.Join(dir, archives[i])
		}
		var out bytes.Buffer
		err := evidenceVerifyArchive(ctx, archiveVerifyOptions{Archives: archives, Trust: trust, BIN: busOperatorBIN, Now: clock.Now}, &out)
		var rep archiveVerifyReport
		if jerr := json.Unmarshal(out.Bytes(), &rep); jerr != nil {
			t.Fatalf("%v: %s", jerr, out.String())
		}
		return rep, err
	}
	trimOpts := func(name string) archiveTrimOptions {
		return archiveTrimOptions{Prefix: r.Prefix, Archive: filepath.Join(dir, name), Trust: trust, BIN: busOperatorBIN, Now: clock.Now}
	}
	liveVerify := func() shep.ChainReport {
		t.Helper()
		rep, err := shep.VerifyEvidence(ctx, r.Client, r.Prefix)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Intact && rep.Chain(0).Intact {
			t.Fatalf("evidence: %s", rep.Reason)
		}
		return rep.Chain(0)
	}

	traffic(5)
	if sum := export("day1.zip", ""); sum.Records != 5 || sum.Segments != 3 || sum.Head.Seq != 5 {
		t.Fatalf("day 1: %+v", sum)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".day1.zip.*")); len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
	if rep, err := verify("day1.zip"); err != nil || !rep.Intact || rep.Archives[0].Records != 5 || rep.Archives[0].Signer.BIN != busOperatorBIN {
		t.Fatalf("verify day 1: %+v %v", rep, err)
	}

	// The policy keeps the live chain a week: a fresh archive stays.
	young := trimOpts("day1.zip")
	young.KeepLive = 7 * 24 * time.Hour
	var out bytes.Buffer
	if err := evidenceTrimArchive(ctx, r.Client, young, &out); !errors.Is(err, errRefused) || !strings.Contains(out.String(), "younger than the live retention") {
		t.Fatalf("trim of a young archive: %v\n%s", err, out.String())
	}
	if live := liveVerify(); !live.Intact || live.Records != 5 || live.Anchor != 0 {
		t.Fatalf("live after the refused trim: %+v", live)
	}
	out.Reset()
	if err := evidenceTrimArchive(ctx, r.Client, trimOpts("day1.zip"), &out); err != nil {
		t.Fatalf("trim: %v\n%s", err, out.String())
	}
	var trims trimReports
	if err := json.Unmarshal(out.Bytes(), &trims); err != nil || len(trims.Chains) != 1 || trims.Records != 5 {
		t.Fatalf("trim report %s %v", out.String(), err)
	}
	if trim := trims.Chains[0]; trim.Chain != 0 || trim.Records != 5 || trim.Entries != 5 || trim.Anchor.Seq != 5 {
		t.Fatalf("trim report %s %v", out.String(), err)
	}
	if live := liveVerify(); !live.Intact || live.Records != 0 || live.Anchor != 5 || live.Head != 5 {
		t.Fatalf("live after trim: %+v", live)
	}

	traffic(3)
	if sum := export("day2.zip", ""); sum.Records != 3 || sum.Anchor.Seq != 5 || sum.Head.Seq != 8 {
		t.Fatalf("day 2: %+v", sum)
	}
	traffic(2)
	if sum := export("day3.zip", filepath.Join(dir, "day2.zip")); sum.Records != 2 || sum.Anchor.Seq != 8 {
		t.Fatalf("day 3 after day 2 without a trim: %+v", sum)
	}
	if rep, err := verify("day1.zip", "day2.zip", "day3.zip"); err != nil || !rep.Intact || len(rep.Archives) != 3 {
		t.Fatalf("the series: %+v %v", rep, err)
	}
	if live := liveVerify(); !live.Intact || live.Records != 5 || live.Anchor != 5 || live.Head != 10 {
		t.Fatalf("live: %+v", live)
	}
	// A gap in the series is refused.
	rep, err := verify("day1.zip", "day3.zip")
	if !errors.Is(err, errRefused) || rep.Intact || rep.Archives[1].Fault != shep.FaultContinuity {
		t.Fatalf("day 2 left out: %+v %v", rep, err)
	}
	// Another organisation's BIN is not the bus operator's.
	var wrong bytes.Buffer
	err = evidenceVerifyArchive(ctx, archiveVerifyOptions{Archives: []string{filepath.Join(dir, "day2.zip")}, Trust: trust, BIN: "940140000385", Now: clock.Now}, &wrong)
	if !errors.Is(err, errRefused) || !strings.Contains(wrong.String(), `"code": "bin-mismatch"`) {
		t.Fatalf("another BIN: %v\n%s", err, wrong.String())
	}
	// An edited manifest is refused.
	forged := rezip(t, filepath.Join(dir, "day2.zip"), func(name string, data []byte) []byte {
		if name == "segments/000001.xml" {
			return bytes.Replace(data, []byte("<Count>2</Count>"), []byte("<Count>1</Count>"), 1)
		}
		return data
	})
	if err := os.WriteFile(filepath.Join(dir, "forged.zip"), forged, 0o644); err != nil {
		t.Fatal(err)
	}
	if rep, err := verify("forged.zip"); !errors.Is(err, errRefused) || rep.Intact || rep.Archives[0].Code != "signature-invalid" {
		t.Fatalf("forged: %+v %v", rep, err)
	}

	// Trimmed in order, the live chain holds nothing archived.
	for _, name := range []string{"day2.zip", "day3.zip"} {
		out.Reset()
		if err := evidenceTrimArchive(ctx, r.Client, trimOpts(name), &out); err != nil {
			t.Fatalf("trim %s: %v\n%s", name, err, out.String())
		}
	}
	if live := liveVerify(); !live.Intact || live.Records != 0 || live.Anchor != 10 {
		t.Fatalf("live after the trims: %+v", live)
	}
}

// TestEvidenceArchiveVerifyHearsItsOwnCRL: verify --crl is heard even
// when the archive carries lists: a list issued after the export that shows
// the operator's key revoked for key compromise refuses the archive.
func TestEvidenceArchiveVerifyHearsItsOwnCRL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := &testClock{now: time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)}
	a, err := pki.Init(filepath.Join(dir, "pki"), pki.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := ensureBusOperatorKey(a, filepath.Join(dir, "pki"), clock.Now().AddDate(0, -1, 0), clock.Now().AddDate(2, 0, 0), pki.DefaultPassword)
	if err != nil {
		t.Fatal(err)
	}
	writeCRL := func(name string) string {
		der, err := a.CRL(clock.Now().Add(-time.Minute), clock.Now().Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	hash, err := shep.HashPassword("portal-secret")
	if err != nil {
		t.Fatal(err)
	}
	routing := &shep.Routing{
		Services: map[string]*shep.Service{"open-data": {Recipient: "ais-rynok-truda", Channel: "async"}},
		Systems:  map[string]*shep.System{"egov-portal": {PasswordHash: hash, Send: []string{"open-data"}, Poll: []string{"egov-portal"}}},
	}
	r := redistest.New(t)
	bus, err := shep.New(r.Client, routing, shep.Config{KeyPrefix: r.Prefix, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	sender := soap.SenderInfo{SenderID: "egov-portal", Password: "portal-secret"}
	for i := 0; i < 2; i++ {
		if _, err := bus.SendMessage(ctx, shep.NewSendMessage(sender, "open-data", soap.TypeRequest, "", "<D/>")); err != nil {
			t.Fatal(err)
		}
	}
	clock.Add(time.Minute)
	archive := filepath.Join(dir, "day1.zip")
	if err := evidenceExportArchive(ctx, r.Client, archiveExportOptions{Prefix: r.Prefix, Out: archive, Key: key,
		Password: pki.DefaultPassword, CRLs: []string{writeCRL("crl-day1.pem")}, Now: clock.Now}, io.Discard); err != nil {
		t.Fatal(err)
	}
	verify := func(crls ...string) (archiveVerifyReport, error) {
		t.Helper()
		var out bytes.Buffer
		err := evidenceVerifyArchive(ctx, archiveVerifyOptions{Archives: []string{archive}, Trust: filepath.Join(dir, "pki", pki.TrustDir),
			BIN: busOperatorBIN, CRLs: crls, Now: clock.Now}, &out)
		var rep archiveVerifyReport
		if jerr := json.Unmarshal(out.Bytes(), &rep); jerr != nil {
			t.Fatalf("%v: %s", jerr, out.String())
		}
		return rep, err
	}

	clock.Add(24 * time.Hour)
	signer, err := signing.LoadSigner(key, pki.DefaultPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Revoke(signer.Certificate, clock.Now(), 1); err != nil { // keyCompromise
		t.Fatal(err)
	}
	newer := writeCRL("crl-day2.pem")
	cases := []struct {
		name   string
		crls   []string
		intact bool
	}{
		{name: "the archive's own list only", crls: nil, intact: true},
		{name: "the list of the day after, key compromise", crls: []string{newer}, intact: false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := verify(c.crls...)
			if c.intact {
				if err != nil || !rep.Intact {
					t.Fatalf("%+v %v", rep, err)
				}
				return
			}
			if !errors.Is(err, errRefused) || rep.Intact || rep.Archives[0].Fault != shep.FaultSignature || rep.Archives[0].Code != "certificate-revoked" {
				t.Fatalf("%+v %v", rep, err)
			}
		})
	}
}

func TestEvidenceArchiveUsage(t *testing.T) {
	ctx := context.Background()
	cases := map[string]error{
		"export without a key":   evidenceExportArchive(ctx, nil, archiveExportOptions{Out: "x.zip"}, &bytes.Buffer{}),
		"verify without a BIN":   evidenceVerifyArchive(ctx, archiveVerifyOptions{Archives: []string{"x.zip"}, Trust: "t"}, &bytes.Buffer{}),
		"verify without archive": evidenceVerifyArchive(ctx, archiveVerifyOptions{Trust: "t", BIN: busOperatorBIN}, &bytes.Buffer{}),
		"trim without trust":     evidenceTrimArchive(ctx, nil, archiveTrimOptions{Archive: "x.zip", BIN: busOperatorBIN}, &bytes.Buffer{}),
		"an invalid BIN":         evidenceVerifyArchive(ctx, archiveVerifyOptions{Archives: []string{"x.zip"}, Trust: "../../fixtures/pki/trust", BIN: "050740000014"}, &bytes.Buffer{}),
	}
	for name, err := range cases {
		if !errors.Is(err, errUsage) {
			t.Errorf("%s: %v, want a usage error", name, err)
		}
	}
}

// rezip returns the archive (or archive set) at path with every file
// passed through edit; an archive set's members are edited inside and
// stored again.
func rezip(t *testing.T, path string, edit func(name string, data []byte) []byte) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return rezipBytes(t, data, edit)
}

func rezipBytes(t *testing.T, archive []byte, edit func(name string, data []byte) []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
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
		h := &zip.FileHeader{Name: f.Name, Method: zip.Deflate}
		if strings.HasPrefix(f.Name, "chains/") {
			h.Method, data = zip.Store, rezipBytes(t, data, edit)
		} else {
			data = edit(f.Name, data)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
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
