package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"egov/signing/ncalayer"
)

// egovctl signer serves NCALayer's protocol over wss:// with a certificate
// it made, whose fingerprint it prints; it signs with the key store given
// and refuses an address off the loopback.
func TestSignerCommand(t *testing.T) {
	if code := run(context.Background(), []string{"signer", "--listen", "0.0.0.0:13579", "--key", "x.p12"}, &syncBuffer{}, &syncBuffer{}); code != 2 {
		t.Fatalf("a non-loopback address: exit %d, want 2", code)
	}
	addr := freeAddr(t)
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"signer", "--listen", addr, "--key", filepath.Join("..", "..", "fixtures", "pki", "keys", "citizen.p12")}, out, out)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("signer exited %d:\n%s", code, out.String())
		}
	})
	var fingerprint string
	for i := 0; i < 200 && !strings.Contains(out.String(), "listening"); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if f, ok := strings.CutPrefix(line, "TLS certificate SHA-256 "); ok {
			fingerprint, _, _ = strings.Cut(f, " ")
		}
	}
	if fingerprint == "" {
		t.Fatalf("no fingerprint printed:\n%s", out.String())
	}
	// The client trusts the certificate the signer printed, and no other.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if hex.EncodeToString(sum[:]) != fingerprint {
				t.Errorf("served another certificate than the one printed")
			}
			return nil
		}}}}
	c, _, err := websocket.Dial(context.Background(), "wss://"+addr+"/", &websocket.DialOptions{HTTPClient: client,
		HTTPHeader: http.Header{"Origin": {"http://127.0.0.1:8080"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	read := func(v any) {
		t.Helper()
		_, data, err := c.Read(context.Background())
		if err != nil || json.Unmarshal(data, v) != nil {
			t.Fatalf("%v: %s", err, data)
		}
	}
	var hello struct{ Result struct{ Version string } }
	read(&hello)
	if hello.Result.Version != ncalayer.Version {
		t.Fatalf("hello %+v", hello)
	}
	req, _ := json.Marshal(map[string]any{"module": ncalayer.ModuleBasics, "method": "sign", "args": map[string]any{
		"allowedStorages": []string{"PKCS12"}, "format": "xml", "data": "<Doc><A>1</A></Doc>", "signerParams": map[string]any{"iin": "791028302728"}}})
	if err := c.Write(context.Background(), websocket.MessageText, req); err != nil {
		t.Fatal(err)
	}
	var answer struct {
		Status bool
		Body   struct{ Result []string }
	}
	read(&answer)
	if !answer.Status || len(answer.Body.Result) != 1 || !strings.Contains(answer.Body.Result[0], "SignatureValue") {
		t.Fatalf("sign: %+v", answer)
	}
}
