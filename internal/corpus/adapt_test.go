package corpus

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"egov"
	"egov/signing"
	"egov/signing/pki"
)

func TestFreshIINKeepsBirthDateCenturyAndSex(t *testing.T) {
	seen := map[string]bool{}
	for _, orig := range []string{"791028302728", "050815600217", "900101300811", "880714300102"} {
		for range 20 {
			fresh, err := freshIIN(orig)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := signing.ParseIIN(fresh); err != nil {
				t.Fatalf("%s → %s: %v", orig, fresh, err)
			}
			if fresh == orig || fresh[:7] != orig[:7] {
				t.Fatalf("%s → %s: not a fresh IIN of the same birth date, century and sex", orig, fresh)
			}
			seen[fresh] = true
		}
	}
	if len(seen) < 60 {
		t.Fatalf("only %d distinct fresh IINs in 80 draws", len(seen))
	}
}

// TestPlanMapsOnlyTheStatesTheCorpusCreates: the IIN it registers and the
// one whose password login it fails get fresh IINs, everywhere; the
// others (the registers decide their answers) are kept.
func TestPlanMapsOnlyTheStatesTheCorpusCreates(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("1.json", `{"iin":"880714300102","password":"Samal-2026-parol","signedChallenge":"x"}`)
	write("2.json", `{"iin":"050815600217","password":"Wrong-parol-1"}`)
	write("3.json", `{"iin":"900101300811"}`)
	write("4.json", `{"iin":"791028302728","password":"Samal-2026-parol"}`)
	c := &Corpus{Dir: dir, Entries: []Entry{
		{Seq: 1, Kind: KindPortal, Method: "POST", Path: "/api/v1/accounts", File: "1.json", Expect: Expect{Status: 201}},
		{Seq: 2, Kind: KindPortal, Method: "POST", Path: "/api/v1/sessions", File: "2.json", Expect: Expect{Status: 401, Code: "authorization-refused"}},
		{Seq: 3, Kind: KindPortal, Method: "POST", Path: "/api/v1/accounts/codes", File: "3.json", Expect: Expect{Status: 202}},
		{Seq: 4, Kind: KindPortal, Method: "POST", Path: "/api/v1/accounts", File: "4.json", Expect: Expect{Status: 400, Code: "password-weak"}},
	}}
	ad := NewAdapter(nil)
	if err := ad.Plan(c, c.Entries); err != nil {
		t.Fatal(err)
	}
	for _, iin := range []string{"880714300102", "050815600217"} {
		if ad.MapIIN(iin) == iin {
			t.Errorf("%s was not mapped", iin)
		}
	}
	for _, iin := range []string{"900101300811", "791028302728"} {
		if ad.MapIIN(iin) != iin {
			t.Errorf("%s was mapped", iin)
		}
	}
	in := `<IIN>880714300102</IIN><Phone>+77088071430010299</Phone>{"iin":"050815600217"}`
	out := string(ad.mapIINs([]byte(in)))
	if !strings.Contains(out, "<IIN>"+ad.MapIIN("880714300102")+"</IIN>") || !strings.Contains(out, `"iin":"`+ad.MapIIN("050815600217")+`"`) {
		t.Fatalf("mapped %s", out)
	}
	if !strings.Contains(out, "+77088071430010299") {
		t.Fatalf("a longer number that holds the IIN was changed: %s", out)
	}
}

// TestResignInPlaceKeepsWhatTheRecordingShows re-signs committed signed
// documents with a key of another authority: the valid one verifies under
// that authority, the tampered ones stay refused for their signature, as
// when recorded, and not for their chain.
func TestResignInPlaceKeepsWhatTheRecordingShows(t *testing.T) {
	authority, err := pki.Init(filepath.Join(t.TempDir(), "pki"), pki.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ad := NewAdapter(authority)
	verifier := &signing.Verifier{Trust: authority.TrustStore(), Revocation: &signing.Revocation{AllowUnknown: true}}
	for _, tc := range []struct {
		file string
		want egov.Code
	}{
		{"valid.xml", ""},
		{"valid-second-citizen.xml", ""},
		{"tampered-iin.xml", egov.CodeSignatureInvalid},
		{"tampered-form.xml", egov.CodeSignatureInvalid},
		{"wrapping-moved.xml", egov.CodeSignatureInvalid},
	} {
		doc, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "signing", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verifier.Verify(context.Background(), doc); egov.ErrorCode(err) != egov.CodeCertificateUntrusted {
			t.Fatalf("%s as recorded: %v, want certificate-untrusted under another authority", tc.file, err)
		}
		cert, err := certificateOf(doc)
		if err != nil {
			t.Fatal(err)
		}
		key, err := ad.keyFor(cert, false)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := signing.IdentityOf(key.Certificate).IIN, signing.IdentityOf(cert).IIN; got != want {
			t.Fatalf("%s: issued for %s, recorded %s", tc.file, got, want)
		}
		pairs, err := resignInPlace(doc, key)
		if err != nil {
			t.Fatal(err)
		}
		resigned, err := replaceAll(doc, pairs)
		if err != nil {
			t.Fatal(err)
		}
		_, err = verifier.Verify(context.Background(), resigned)
		if got := egov.ErrorCode(err); (tc.want == "" && err != nil) || got != tc.want {
			t.Errorf("%s re-signed: %v, want %q", tc.file, err, tc.want)
		}
	}
	// A registration by signature of the recorded signer maps its IIN into
	// the issued certificate.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "1.json"), []byte(`{"iin":"791028302728","password":"Samal-2026-parol"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &Corpus{Dir: dir, Entries: []Entry{{Kind: KindPortal, Method: "POST", Path: "/api/v1/accounts", File: "1.json", Expect: Expect{Status: 201}}}}
	ad2 := NewAdapter(authority)
	if err := ad2.Plan(c, c.Entries); err != nil {
		t.Fatal(err)
	}
	doc, _ := os.ReadFile(filepath.Join("..", "..", "fixtures", "signing", "valid.xml"))
	cert, _ := certificateOf(doc)
	key, err := ad2.keyFor(cert, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := signing.IdentityOf(key.Certificate).IIN; got != ad2.MapIIN("791028302728") || got == "791028302728" {
		t.Fatalf("issued for %s", got)
	}
	var summary strings.Builder
	json.NewEncoder(&summary).Encode(ad2.Summary())
	if !strings.Contains(summary.String(), "1 of them revoked") || !strings.Contains(summary.String(), "791028302728 →") {
		t.Fatalf("summary %s", summary.String())
	}
}

// TestAdaptedReplayWaitsOutTheTargetsAttemptLimit: a rate-limited answer
// the recording did not get is waited out (Retry-After) and the message
// sent once more, only when adapting; the report says so.
func TestAdaptedReplayWaitsOutTheTargetsAttemptLimit(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%2 == 1 {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"code":"rate-limited"}`)
			return
		}
		fmt.Fprint(w, `{"items":[]}`)
	}))
	defer srv.Close()
	c := &Corpus{Dir: t.TempDir(), Entries: []Entry{{Seq: 1, Name: "0001-portal-get-services", Kind: KindPortal, Method: "GET", Path: "/api/v1/services", Expect: Expect{Status: 200}}}}
	rep, err := Replay(context.Background(), c, Options{Portal: srv.URL, Bus: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Differences != 1 || rep.Results[0].Got.Code != "rate-limited" {
		t.Fatalf("without adapting a rate-limited answer must differ: %+v", rep.Results[0])
	}
	authority, err := pki.Init(filepath.Join(t.TempDir(), "pki"), pki.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	calls.Store(0)
	rep, err = Replay(context.Background(), c, Options{Portal: srv.URL, Bus: srv.URL, Adapt: NewAdapter(authority)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Differences != 0 || !strings.Contains(rep.Results[0].Note, "waited") || !strings.Contains(strings.Join(rep.Adapted, "\n"), "1 answers rate-limited") {
		t.Fatalf("adapted: %+v\n%s", rep.Results[0], strings.Join(rep.Adapted, "\n"))
	}
}
