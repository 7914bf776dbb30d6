package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"egov/internal/loopback"
)

// egovctl runs one command line in-process and returns its exit code and
// output.
func egovctl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := egovctl(t, args...)
	if code != 0 {
		t.Fatalf("egovctl %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

const request = `<?xml version="1.0" encoding="UTF-8"?>
<ServiceRequest xmlns="urn:egov-gateway:request:v1">
  <ServiceCode>job-seeker-registration</ServiceCode>
  <Applicant><IIN>791028302728</IIN></Applicant>
</ServiceRequest>
`

func TestPKISignVerifyRevoke(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	mustRun(t, "pki", "init", "--dir", ca)
	if code, _, _ := egovctl(t, "pki", "init", "--dir", ca); code != 3 {
		t.Fatalf("second init over an authority: exit %d, want 3", code)
	}
	prefix := filepath.Join(dir, "aidos")
	mustRun(t, "pki", "issue", "--dir", ca, "--iin", "791028302728", "--name", "ЖАҚСЫЛЫҚОВ АЙДОС", "--password", "secret1", "--out", prefix)
	for _, ext := range []string{".p12", ".crt", ".key"} {
		if _, err := os.Stat(prefix + ext); err != nil {
			t.Fatal(err)
		}
	}
	in := filepath.Join(dir, "request.xml")
	signed := filepath.Join(dir, "request.signed.xml")
	if err := os.WriteFile(in, []byte(request), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "sign", "--key", prefix+".p12", "--password", "secret1", "--in", in, "--out", signed)
	crl := filepath.Join(dir, "ca.crl")
	mustRun(t, "pki", "crl", "--dir", ca, "--out", crl)

	trust := filepath.Join(ca, "trust")
	report := verifyJSON(t, 0, "verify", "--trust", trust, "--crl", crl, "--iin", "791028302728", "--in", signed)
	if !report.Valid || report.Signer.IIN != "791028302728" || report.Evidence.Revocation.Source != "crl" {
		t.Fatalf("report %+v", report)
	}
	if r := verifyJSON(t, 1, "verify", "--trust", trust, "--crl", crl, "--iin", "900101300811", "--in", signed); r.Code != "iin-mismatch" {
		t.Fatalf("code %q, want iin-mismatch", r.Code)
	}
	if r := verifyJSON(t, 1, "verify", "--trust", trust, "--in", signed); r.Code != "revocation-unknown" {
		t.Fatalf("without revocation data: code %q, want revocation-unknown", r.Code)
	}
	if r := verifyJSON(t, 1, "verify", "--trust", trust, "--crl", crl, "--at", "2099-01-01", "--in", signed); r.Code != "certificate-expired" {
		t.Fatalf("--at 2099: code %q, want certificate-expired", r.Code)
	}

	// Revoke, and both the OCSP responder and a fresh CRL say so.
	mustRun(t, "pki", "revoke", "--dir", ca, "--cert", prefix+".crt", "--at", time.Now().Add(-time.Minute).UTC().Format(time.RFC3339))
	mustRun(t, "pki", "crl", "--dir", ca, "--out", crl)
	if r := verifyJSON(t, 1, "verify", "--trust", trust, "--crl", crl, "--in", signed); r.Code != "certificate-revoked" || r.Messages.RU == "" || r.Messages.KK == "" {
		t.Fatalf("after revoke: %+v", r)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		var out, errOut bytes.Buffer
		done <- run(ctx, []string{"pki", "ocsp", "--dir", ca, "--listen", addr}, &out, &errOut)
	}()
	waitListening(t, addr)
	if r := verifyJSON(t, 1, "verify", "--trust", trust, "--ocsp", "http://"+addr+"/", "--in", signed); r.Code != "certificate-revoked" || r.Detail == "" {
		t.Fatalf("ocsp after revoke: %+v", r)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("ocsp responder exit %d", code)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"pki"},
		{"verify", "--in", "x.xml"},
		{"sign", "--key", "k.p12"},
		{"pki", "issue", "--dir", "d", "--iin", "791028302728", "--name", "A B", "--out", "p", "--kind", "gost"},
		{"pki", "issue", "--dir", "d", "--iin", "791028302728", "--name", "A B", "--out", "p", "--not-before", "yesterday"},
		{"verify", "--trust", "t", "--in", "x", "stray"},
	} {
		if code, _, _ := egovctl(t, args...); code != 2 {
			t.Errorf("egovctl %v: exit %d, want 2", args, code)
		}
	}
	if code, _, _ := egovctl(t, "pki", "issue", "--dir", t.TempDir(), "--iin", "791028302728", "--name", "A B", "--out", "p"); code != 3 {
		t.Errorf("issue without an authority: exit %d, want 3", code)
	}
}

type report struct {
	Valid    bool   `json:"valid"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	Detail   string `json:"detail"`
	Messages struct {
		RU, KK, EN string
	} `json:"messages"`
	Signer struct {
		IIN     string   `json:"iin"`
		KeyUser []string `json:"keyUser"`
	} `json:"signer"`
	Evidence struct {
		Revocation struct {
			Source string `json:"source"`
		} `json:"revocation"`
	} `json:"evidence"`
}

func verifyJSON(t *testing.T, wantExit int, args ...string) report {
	t.Helper()
	code, out, errOut := egovctl(t, args...)
	if code != wantExit {
		t.Fatalf("egovctl %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantExit, out, errOut)
	}
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	return r
}

// freeAddr is a loopback address to give a listener that binds it later
// (see package loopback for why not "127.0.0.1:0").
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := loopback.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}
