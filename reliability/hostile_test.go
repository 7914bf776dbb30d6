package reliability

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"egov/internal/loadgen"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
	"egov/signing/pki"
	"egov/sms"
)

// portalCall sends one request to the running portal and decodes the
// answer's problem code, if any.
func portalCall(t *testing.T, s *Stack, method, path, token, contentType string, body io.Reader) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.PortalURL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var p struct{ Code string }
	_ = json.Unmarshal(data, &p)
	return resp.StatusCode, p.Code, data
}

// TestHostileInputAgainstTheRunningStack sends what an attacker would to
// the portal and the bus running as their own processes: every refused
// document of the signing corpus, oversized, deep and broken documents,
// huge attachments, a client that never finishes its headers, forged and
// revoked sessions, another citizen's records, and SHEP envelopes from a
// spoofed sender. Each gets its stable code and nothing gets in.
func TestHostileInputAgainstTheRunningStack(t *testing.T) {
	s := startStack(t, Options{})
	ctx := context.Background()

	// The owner of the corpus's signatures, and two synthetic citizens.
	const corpusIIN, password = "791028302728", "Corpus-owner-2026"
	owner, err := signing.LoadSigner(filepath.Join(s.opt.Root, "fixtures", "pki", "keys", "citizen.p12"), pki.DefaultPassword)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := loadgen.RegisterBySignature(ctx, client, s.PortalURL, owner, corpusIIN, password); code != http.StatusCreated {
		t.Fatalf("registering the corpus's citizen: %d %s", code, body)
	}
	login, _ := json.Marshal(map[string]string{"iin": corpusIIN, "password": password})
	_, body := loadgen.Post(ctx, client, s.PortalURL+"/api/v1/sessions", "", "application/json", login)
	var sess struct{ Token string }
	_ = json.Unmarshal(body, &sess)
	people, reqs := citizens(t, s, 2, 2)
	alice, bob := people[0], people[1]

	t.Run("signing corpus", func(t *testing.T) {
		table, err := os.ReadFile(filepath.Join(s.opt.Root, "fixtures", "signing", "expected.tsv"))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, line := range strings.Split(strings.TrimSpace(string(table)), "\n") {
			cols := strings.Split(line, "\t")
			if strings.HasPrefix(line, "#") || len(cols) < 2 || cols[1] == "-" || cols[1] == "iin-mismatch" {
				continue
			}
			doc, err := os.ReadFile(filepath.Join(s.opt.Root, "fixtures", "signing", cols[0]))
			if err != nil {
				t.Fatal(err)
			}
			ct, b := loadgen.Multipart(doc)
			if status, code, _ := portalCall(t, s, "POST", "/api/v1/requests", sess.Token, ct, bytes.NewReader(b)); code != cols[1] || status < 400 {
				t.Errorf("%s: %d %s, want %s", cols[0], status, code, cols[1])
			}
			n++
		}
		t.Logf("%d attacks of the signing corpus refused with their codes", n)
	})

	t.Run("malformed documents", func(t *testing.T) {
		deep := strings.Repeat("<a>", 200) + strings.Repeat("</a>", 200)
		for _, tt := range []struct {
			name, doc, code string
			status          int
		}{
			{"too deep", `<?xml version="1.0"?><ServiceRequest>` + deep + `</ServiceRequest>`, "xml-too-deep", 400},
			{"invalid UTF-8", "<?xml version=\"1.0\"?><ServiceRequest><IIN>\xff\xfe</IIN></ServiceRequest>", "xml-malformed", 400},
			{"entity expansion", `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">]><ServiceRequest>&a;</ServiceRequest>`, "xml-doctype-forbidden", 400},
			{"not XML", "%PDF-1.7", "xml-malformed", 400},
		} {
			ct, b := loadgen.Multipart([]byte(tt.doc))
			if status, code, body := portalCall(t, s, "POST", "/api/v1/requests", alice.Token, ct, bytes.NewReader(b)); code != tt.code || status != tt.status {
				t.Errorf("%s: %d %s, want %d %s (%s)", tt.name, status, code, tt.status, tt.code, body)
			}
		}
	})

	t.Run("oversized body and attachment", func(t *testing.T) {
		ct, b := loadgen.Multipart(reqs[0].Body, loadgen.File{Name: "huge.pdf", Data: bytes.Repeat([]byte("A"), 11<<20)})
		if status, code, _ := portalCall(t, s, "POST", "/api/v1/requests", alice.Token, ct, bytes.NewReader(b)); status != http.StatusUnprocessableEntity || code != "attachment-rejected" {
			t.Errorf("11 MiB attachment: %d %s, want 422 attachment-rejected", status, code)
		}
		var parts []loadgen.File
		for _, name := range []string{"a", "b", "c", "d", "e", "f"} {
			parts = append(parts, loadgen.File{Name: name + ".pdf", Data: bytes.Repeat([]byte(name), 9<<20)})
		}
		ct, b = loadgen.Multipart(reqs[0].Body, parts...)
		if status, code, _ := portalCall(t, s, "POST", "/api/v1/requests", alice.Token, ct, bytes.NewReader(b)); status != http.StatusRequestEntityTooLarge || code != "body-too-large" {
			t.Errorf("54 MiB body: %d %s, want 413 body-too-large", status, code)
		}
		big := bytes.NewReader(bytes.Repeat([]byte("x"), 70<<10))
		if status, code, _ := portalCall(t, s, "POST", "/api/v1/sessions", "", "application/json", big); status != http.StatusRequestEntityTooLarge || code != "body-too-large" {
			t.Errorf("70 KiB login: %d %s, want 413 body-too-large", status, code)
		}
	})

	t.Run("slow client", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.PortalURL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		// Headers that never end: the portal hangs up after its
		// read-header timeout (2 s in this stack).
		fmt.Fprintf(conn, "GET /api/v1/services HTTP/1.1\r\nHost: x\r\n")
		_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		for time.Since(start) < 12*time.Second {
			if _, err := fmt.Fprintf(conn, "X-Slow: %d\r\n", time.Now().UnixNano()); err != nil {
				break
			}
			time.Sleep(500 * time.Millisecond)
			conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			if _, err := bufio.NewReader(conn).ReadByte(); err != nil && !isTimeout(err) {
				break // closed by the portal
			}
		}
		if held := time.Since(start); held > 10*time.Second {
			t.Fatalf("a client trickling headers held its connection for %s", held)
		} else {
			t.Logf("a client trickling headers was cut off after %s", held.Round(100*time.Millisecond))
		}
	})

	t.Run("sessions and other citizens' records", func(t *testing.T) {
		for _, token := range []string{"forged", strings.Repeat("A", 43), alice.Token + "x"} {
			if status, code, _ := portalCall(t, s, "GET", "/api/v1/requests", token, "", nil); status != 401 || code != "authorization-refused" {
				t.Errorf("token %.10q…: %d %s", token, status, code)
			}
		}
		// Alice's request, accepted and answered.
		if status, code, _ := portalCall(t, s, "POST", "/api/v1/requests", alice.Token, reqs[0].ContentType, bytes.NewReader(reqs[0].Body)); status != http.StatusAccepted {
			t.Fatalf("alice's request: %d %s", status, code)
		}
		expectEachOnce(t, s, people[:1], []string{reqs[0].ID})
		_, _, page := portalCall(t, s, "GET", "/api/v1/cabinet/messages", alice.Token, "", nil)
		var cab struct{ Messages []struct{ ID string } }
		_ = json.Unmarshal(page, &cab)
		if len(cab.Messages) == 0 {
			t.Fatal("alice's cabinet is empty")
		}
		msg := cab.Messages[0].ID
		for _, tt := range []struct{ method, path string }{
			{"GET", "/api/v1/requests/" + reqs[0].ID},
			{"GET", "/api/v1/cabinet/messages/" + msg},
			{"GET", "/api/v1/cabinet/messages/" + msg + "/document"},
			{"POST", "/api/v1/cabinet/messages/" + msg + "/read"},
		} {
			if status, code, _ := portalCall(t, s, tt.method, tt.path, bob.Token, "", nil); status != 404 || code != "not-found" {
				t.Errorf("bob %s %s: %d %s, want 404", tt.method, tt.path, status, code)
			}
		}
		// Bob replaying Alice's signed request under his own session.
		if status, code, _ := portalCall(t, s, "POST", "/api/v1/requests", bob.Token, reqs[0].ContentType, bytes.NewReader(reqs[0].Body)); status != http.StatusForbidden || code != "iin-mismatch" {
			t.Errorf("bob submitting alice's request: %d %s, want 403 iin-mismatch", status, code)
		}
		// A session past its lifetime: Redis expires its key, as the
		// lifetime's TTL would.
		rdb, err := s.Redis()
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(bob.Token))
		if ok, err := rdb.PExpire(ctx, "gw:session:"+hex.EncodeToString(sum[:]), time.Millisecond).Result(); err != nil || !ok {
			t.Fatalf("expiring bob's session: %v %v", ok, err)
		}
		rdb.Close()
		time.Sleep(20 * time.Millisecond)
		if status, code, _ := portalCall(t, s, "GET", "/api/v1/requests", bob.Token, "", nil); status != 401 || code != "authorization-refused" {
			t.Errorf("expired session: %d %s", status, code)
		}
		// After logout the token is dead.
		portalCall(t, s, "DELETE", "/api/v1/sessions", alice.Token, "", nil)
		if status, _, _ := portalCall(t, s, "GET", "/api/v1/requests", alice.Token, "", nil); status != 401 {
			t.Errorf("token after logout: %d", status)
		}
	})

	t.Run("squatting another's IIN", func(t *testing.T) {
		// The portal and the bus are separate processes: the code request
		// crosses to the mobile register and the SMS gateway the bus hosts.
		const victim, phone = "900101300811", "+77027654321"
		post := func(path string, body map[string]string) (int, string) {
			data, _ := json.Marshal(body)
			code, ans := loadgen.Post(ctx, client, s.PortalURL+path, "", "application/json", data)
			var p struct{ Code string }
			_ = json.Unmarshal(ans, &p)
			return code, p.Code
		}
		if code, got := post("/api/v1/accounts", map[string]string{"iin": victim, "password": "Squatter-2026"}); code != 403 || got != "identity-not-proven" {
			t.Errorf("without proof: %d %s", code, got)
		}
		if code, body := loadgen.RegisterBySignature(ctx, client, s.PortalURL, owner, victim, "Squatter-2026"); code != 403 || !strings.Contains(string(body), "identity-not-proven") {
			t.Errorf("with another IIN's signature: %d %s", code, body)
		}
		if code, got := post("/api/v1/accounts/codes", map[string]string{"iin": victim}); code != 202 {
			t.Fatalf("code request: %d %s", code, got)
		}
		rdb, err := s.Redis()
		if err != nil {
			t.Fatal(err)
		}
		defer rdb.Close()
		msgs, err := sms.Outbox(ctx, rdb, "", phone)
		if err != nil || len(msgs) == 0 {
			t.Fatalf("the phone's outbox: %v %v", msgs, err)
		}
		sent := regexp.MustCompile(`\b[0-9]{6}\b`).FindString(msgs[0].Text)
		guess := map[bool]string{true: "123456", false: "654321"}[sent != "123456"]
		if code, got := post("/api/v1/accounts", map[string]string{"iin": victim, "password": "Squatter-2026", "code": guess}); code != 403 || got != "one-time-code-invalid" {
			t.Errorf("a guessed code: %d %s", code, got)
		}
		if code, got := post("/api/v1/accounts", map[string]string{"iin": victim, "password": "Owner-of-it-2026", "code": sent}); code != 201 {
			t.Errorf("the owner with the code from his phone: %d %s", code, got)
		}
	})

	t.Run("password guessing", func(t *testing.T) {
		// A failure delays the next attempt of that IIN (1 s, doubling): of
		// six guesses at once one is checked, the others wait, and so does
		// the owner, without his attempt extending the delay.
		guess, _ := json.Marshal(map[string]string{"iin": corpusIIN, "password": "Guess-2026-x"})
		codes := map[int]int{}
		for i := 0; i < 6; i++ {
			code, _ := loadgen.Post(ctx, client, s.PortalURL+"/api/v1/sessions", "", "application/json", guess)
			codes[code]++
		}
		if codes[401] != 1 || codes[429] != 5 {
			t.Errorf("six quick guesses answered %v, want one 401 and five 429", codes)
		}
		if code, _ := loadgen.Post(ctx, client, s.PortalURL+"/api/v1/sessions", "", "application/json", login); code != 429 {
			t.Errorf("the right password inside the delay: %d, want 429", code)
		}
	})

	t.Run("SHEP senders", func(t *testing.T) {
		bus := &shep.HTTPClient{BaseURL: s.BusURL}
		portal := soap.SenderInfo{SenderID: "egov-portal", Password: "portal-secret"}
		spoof := soap.SenderInfo{SenderID: "egov-portal", Password: "labour-secret"} // another system's password
		if _, err := bus.SendMessage(ctx, shep.NewSendMessage(spoof, "job-seeker-registration", soap.TypeRequest, "", "<D/>")); faultCode(err) != soap.CodeUnknownService {
			t.Errorf("spoofed sender: %v", err)
		}
		// Polling the labour-market system's queue: with the portal's
		// password under the system's name it is refused; under its own
		// name the portal gets only what is addressed to it.
		if _, err := bus.GetMessages(ctx, shep.NewGetMessages(soap.SenderInfo{SenderID: "ais-rynok-truda", Password: "portal-secret"},
			"job-seeker-registration", 10, 0)); faultCode(err) != soap.CodeUnknownService {
			t.Errorf("polling another's queue with a wrong password: %v", err)
		}
		resp, err := bus.GetMessages(ctx, shep.NewGetMessages(portal, "job-seeker-registration", 10, 0))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range resp.Response.Messages {
			if m.MessageInfo.MessageType == soap.TypeRequest {
				t.Errorf("the portal was handed a request addressed to the labour-market system")
			}
		}
		// A replayed envelope: the same idempotency key is one message.
		signed, err := os.ReadFile(filepath.Join(s.opt.Root, "fixtures", "signing", "valid.xml"))
		if err != nil {
			t.Fatal(err)
		}
		key := soap.Property{Key: shep.PropIdempotencyKey, Value: "replay-" + reqs[1].ID}
		first, err := bus.SendMessage(ctx, shep.NewSendMessage(portal, "job-seeker-registration", soap.TypeRequest, "", string(signed), key))
		if err != nil {
			t.Fatal(err)
		}
		again, err := bus.SendMessage(ctx, shep.NewSendMessage(portal, "job-seeker-registration", soap.TypeRequest, "", string(signed), key))
		if err != nil || again.Response.MessageID != first.Response.MessageID {
			t.Errorf("replayed envelope became a second message: %v %v", again, err)
		}
	})
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func faultCode(err error) string {
	if f, ok := err.(*soap.Fault); ok {
		return f.Info.ErrorCode
	}
	return fmt.Sprint(err)
}
