package document_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/beevik/etree"

	"egov"
	"egov/document"
	"egov/signing"
)

// parse reads XML as a test would hand it to a reader: no verifier.
func parse(t testing.TB, data []byte) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil || doc.Root() == nil {
		t.Fatalf("not XML: %v\n%s", err, data)
	}
	return doc.Root()
}

// verifier checks signatures against the fixtures' test PKI at a time
// inside every fixture certificate's validity.
func verifier(t testing.TB) *signing.Verifier {
	t.Helper()
	trust, err := signing.LoadTrustDir("../fixtures/pki/trust")
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) }
	return &signing.Verifier{Trust: trust, Revocation: &signing.Revocation{AllowUnknown: true}, Now: now}
}

// verified signs data with a fixture key and returns the element the
// verifier gives back: what the readers see in production.
func verified(t testing.TB, key string, data []byte) *etree.Element {
	t.Helper()
	s, err := signing.LoadSigner(filepath.Join("../fixtures/pki/keys", key+".p12"), "Qwerty12")
	if err != nil {
		t.Fatal(err)
	}
	signed, err := s.Sign(data)
	if err != nil {
		t.Fatal(err)
	}
	res, err := verifier(t).Verify(context.Background(), signed)
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, signed)
	}
	return res.Element
}

// wantCode fails unless err carries code (nil code: no error).
func wantCode(t *testing.T, name string, err error, code egov.Code) {
	t.Helper()
	if got := egov.ErrorCode(err); got != code {
		t.Errorf("%s: code %q (%v), want %q", name, got, err, code)
	}
}

// sameRequest reports whether two requests hold the same values; times
// are compared as instants, and an empty form equals a missing one.
func sameRequest(a, b *document.Request) bool {
	if !a.IssuedAt.Equal(b.IssuedAt) || len(a.Attachments) != len(b.Attachments) || len(a.Form) != len(b.Form) {
		return false
	}
	for k, v := range a.Form {
		if w, ok := b.Form[k]; !ok || w != v {
			return false
		}
	}
	for i := range a.Attachments {
		x, y := a.Attachments[i], b.Attachments[i]
		if (x.Expires == nil) != (y.Expires == nil) || (x.Expires != nil && !x.Expires.Equal(*y.Expires)) {
			return false
		}
		x.Expires, y.Expires = nil, nil
		if x != y {
			return false
		}
	}
	return a.RequestID == b.RequestID && a.ServiceCode == b.ServiceCode && a.Region == b.Region && a.Applicant == b.Applicant &&
		sameFiling(a.Filing, b.Filing)
}

func sameFiling(a, b *document.Filing) bool {
	if a == nil || b == nil {
		return a == b
	}
	if (a.Representative == nil) != (b.Representative == nil) {
		return false
	}
	if a.Representative != nil {
		x, y := *a.Representative, *b.Representative
		if !x.PowerOfAttorney.Until.Equal(y.PowerOfAttorney.Until) {
			return false
		}
		x.PowerOfAttorney.Until, y.PowerOfAttorney.Until = time.Time{}, time.Time{}
		if x != y {
			return false
		}
	}
	return a.Channel == b.Channel && a.Office == b.Office && a.OperatorIIN == b.OperatorIIN
}

func sameResult(a, b *document.Result) bool { return reflect.DeepEqual(a, b) }
