package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"egov"
	"egov/document"
	"egov/registers/mobile"
	"egov/signing"
)

var oneTimeCode = regexp.MustCompile(`\b[0-9]{6}\b`)

// demo walks a citizen through the whole journey against a running stack.
func demo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	gatewayURL := fs.String("gateway", "http://127.0.0.1:8080", "portal API base URL")
	dataDir := fs.String("data", "data", "the data directory of egovctl up (demo keys, trust)")
	iin := fs.String("iin", demoCitizens[0].iin, "demo citizen")
	region := fs.String("region", "east-kazakhstan", "region of the request")
	service := fs.String("service", "job-seeker-registration", "the portal service: job-seeker-registration (S1), employment-referral (S4: a referral to employment), job-seeker-deregistration (leaving the register) or tsa-membership-certificate (S7, Karaganda)")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait for the result")
	proof := fs.String("proof", "signature", "how the citizen proves his IIN at registration: signature (the registration challenge signed with his key) or sms (a one-time code sent to the phone the mobile citizens' register holds)")
	smsURL := fs.String("sms", "http://127.0.0.1:8083", "the SMS gateway's outbox view of egovctl up (with --proof sms: the citizen's phone)")
	fromStack(fs, "gateway", "portal", "sms", "sms")
	check(fs, httpURL, "gateway", "sms")
	check(fs, validIIN, "iin")
	check(fs, oneOf("job-seeker-registration", "employment-referral", "job-seeker-deregistration", "tsa-membership-certificate"), "service")
	check(fs, oneOf("signature", "sms"), "proof")
	check(fs, positiveDuration, "timeout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	d := &demoRun{base: strings.TrimSuffix(*gatewayURL, "/") + "/api/v1", out: stdout, client: &http.Client{Timeout: 30 * time.Second}}
	password := demoAccountPassword(*iin)

	account := map[string]string{"iin": *iin, "password": password}
	switch *proof {
	case "signature":
		d.step("prove the IIN: sign the registration challenge with the citizen's authentication key (%s-auth.p12)", *iin)
		code, body, err := d.call(ctx, "GET", "/auth/challenge", "", "", nil)
		if err != nil || code != http.StatusOK {
			return d.failHTTP(code, body, err)
		}
		var ch struct{ Document string }
		_ = json.Unmarshal(body, &ch)
		key, err := signing.LoadSigner(filepath.Join(*dataDir, "citizens", *iin+"-auth.p12"), demoPassword)
		if err != nil {
			return d.fail(err)
		}
		signed, err := key.Sign([]byte(ch.Document))
		if err != nil {
			return d.fail(err)
		}
		account["signedChallenge"] = string(signed)
		d.ok("challenge signed by %s", key.Certificate.Subject.CommonName)
	case "sms":
		d.step("prove the IIN: ask for a one-time code by SMS")
		code, body, err := d.call(ctx, "POST", "/accounts/codes", "", "application/json", mustJSON(map[string]string{"iin": *iin}))
		if err != nil || code != http.StatusAccepted {
			return d.failHTTP(code, body, err)
		}
		var sent struct{ SentTo string }
		_ = json.Unmarshal(body, &sent)
		d.ok("the portal sent a code to %s, the phone the mobile citizens' register holds", sent.SentTo)
		d.step("read the code on the phone (the SMS gateway's outbox)")
		phone, ok := mobile.Default().Phone(*iin)
		if !ok {
			return d.fail(fmt.Errorf("the demo does not know the phone of %s", signing.MaskIIN(*iin)))
		}
		msgs, err := fetchOutbox(ctx, *smsURL, phone)
		if err != nil {
			return d.fail(err)
		}
		otp := ""
		if len(msgs) > 0 {
			otp = oneTimeCode.FindString(msgs[0].Text)
		}
		if otp == "" {
			return d.fail(fmt.Errorf("no code in the outbox of %s", phone.Masked()))
		}
		account["code"] = otp
		d.ok("the newest SMS holds a six-digit code")
	default:
		return fmt.Errorf("%w: --proof signature or sms", errUsage)
	}
	d.step("register the account of %s", signing.MaskIIN(*iin))
	code, body, err := d.call(ctx, "POST", "/accounts", "", "application/json", mustJSON(account))
	switch {
	case err != nil:
		return d.fail(err)
	case code == http.StatusConflict:
		d.ok("the account exists already")
	case code != http.StatusCreated:
		return d.failHTTP(code, body)
	default:
		d.ok("registered, identity proven by %s; password %s", *proof, password)
	}

	d.step("log in with IIN and password")
	code, body, err = d.call(ctx, "POST", "/sessions", "", "application/json", mustJSON(map[string]string{"iin": *iin, "password": password}))
	if err != nil || code != http.StatusCreated {
		return d.failHTTP(code, body, err)
	}
	var sess struct{ Token string }
	_ = json.Unmarshal(body, &sess)
	d.ok("session opened")

	d.step("fetch the form of %q", *service)
	code, body, err = d.call(ctx, "GET", "/services/"+*service+"/skeleton?region="+*region, "", "", nil)
	if err != nil || code != http.StatusOK {
		return d.failHTTP(code, body, err)
	}
	d.ok("request skeleton received (%d bytes)", len(body))

	d.step("fill in the form")
	scan := []byte("%PDF-1.7 demo identity card of " + *iin)
	request := demoRequest(*service, *region, *iin, scan, time.Now())
	filled := request.Document()
	for name, value := range request.Form {
		fmt.Fprintf(d.out, "      %s: %s\n", name, value)
	}
	if len(request.Attachments) > 0 {
		d.ok("identity card attached: id-card.pdf (%d bytes)", len(scan))
	} else {
		d.ok("nothing to attach: the provider asks the registers")
	}

	d.step("sign with the citizen's key (%s-sign.p12)", *iin)
	signer, err := signing.LoadSigner(filepath.Join(*dataDir, "citizens", *iin+"-sign.p12"), demoPassword)
	if err != nil {
		return d.fail(err)
	}
	signed, err := signer.Sign(filled)
	if err != nil {
		return d.fail(err)
	}
	d.ok("signed by %s, certificate %s", signer.Certificate.Subject.CommonName, signing.IdentityOf(signer.Certificate).Serial)

	d.step("submit the request")
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="request"; filename="request.xml"`)
	h.Set("Content-Type", "application/xml")
	w, _ := mw.CreatePart(h)
	_, _ = w.Write(signed)
	if len(request.Attachments) > 0 {
		h = textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="id-card.pdf"`)
		h.Set("Content-Type", "application/pdf")
		w, _ = mw.CreatePart(h)
		_, _ = w.Write(scan)
	}
	_ = mw.Close()
	code, body, err = d.call(ctx, "POST", "/requests", sess.Token, mw.FormDataContentType(), mp.Bytes())
	if err != nil || code != http.StatusAccepted {
		return d.failHTTP(code, body, err)
	}
	var acc struct {
		ID    string
		DueAt time.Time
	}
	_ = json.Unmarshal(body, &acc)
	d.ok("accepted: request %s, result due by %s (Astana time)", acc.ID, acc.DueAt.In(egov.Almaty).Format("02.01.2006 15:04"))

	d.step("watch the status")
	var req struct {
		State, Outcome, LastError string
	}
	last := ""
	deadline := time.Now().Add(*timeout)
	for req.State != "completed" && req.State != "refused" {
		if time.Now().After(deadline) {
			return d.fail(fmt.Errorf("no result after %s (state %s %s)", *timeout, req.State, req.LastError))
		}
		code, body, err = d.call(ctx, "GET", "/requests/"+acc.ID, sess.Token, "", nil)
		if err != nil || code != http.StatusOK {
			return d.failHTTP(code, body, err)
		}
		_ = json.Unmarshal(body, &req)
		if req.State != last {
			fmt.Fprintf(d.out, "      … %s\n", req.State)
			last = req.State
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.ok("finished: %s (%s)", req.State, req.Outcome)

	d.step("read the result from the personal cabinet")
	code, body, err = d.call(ctx, "GET", "/cabinet/messages?limit=50", sess.Token, "", nil)
	if err != nil || code != http.StatusOK {
		return d.failHTTP(code, body, err)
	}
	var page struct {
		Messages []struct {
			ID, Kind, RequestID, TitleText, BodyText string
			Data                                     map[string]string
		}
	}
	_ = json.Unmarshal(body, &page)
	msgID := ""
	for _, m := range page.Messages {
		if m.RequestID == acc.ID {
			fmt.Fprintf(d.out, "      [%s] %s\n", m.Kind, m.TitleText)
		}
		if m.RequestID == acc.ID && (m.Kind == "result" || m.Kind == "refusal") {
			msgID = m.ID
			if n := m.Data["number"]; n != "" {
				fmt.Fprintf(d.out, "      number %s of %s\n", n, m.Data["date"])
			}
			if k := m.Data["kind"]; k != "" {
				fmt.Fprintf(d.out, "      %s\n", k)
			}
			if g := m.Data["ground"]; g != "" {
				fmt.Fprintf(d.out, "      ground %s: %s\n", g, m.BodyText)
			}
		}
	}
	if msgID == "" {
		return d.fail(fmt.Errorf("no result message in the cabinet"))
	}
	code, body, err = d.call(ctx, "GET", "/cabinet/messages/"+msgID+"/document", sess.Token, "", nil)
	if err != nil || code != http.StatusOK {
		return d.failHTTP(code, body, err)
	}
	d.ok("signed result document downloaded (%d bytes)", len(body))

	d.step("verify the result's signature")
	trust, err := signing.LoadTrustDir(filepath.Join(*dataDir, "pki", "trust"))
	if err != nil {
		return d.fail(err)
	}
	crl := &signing.CRLSet{Sources: []string{filepath.Join(*dataDir, "pki", "crl.pem")}, Trust: trust}
	if err := crl.Refresh(ctx); err != nil {
		return d.fail(err)
	}
	res, err := (&signing.Verifier{Trust: trust, Revocation: &signing.Revocation{CRL: crl}}).Verify(ctx, body)
	if err != nil {
		return d.fail(err)
	}
	if !res.Signer.HasKeyUser(signing.KeyUserOrganization) {
		return d.fail(fmt.Errorf("result not signed with an organisation certificate"))
	}
	d.ok("signed by %s for BIN %s (%s)", res.Signer.CommonName, res.Signer.BIN, res.Signer.Organization)
	fmt.Fprintf(d.out, "\nThe whole journey worked.\n")
	return nil
}

type demoRun struct {
	base   string
	out    io.Writer
	client *http.Client
	n      int
}

func (d *demoRun) step(format string, args ...any) {
	d.n++
	fmt.Fprintf(d.out, "%2d. %s\n", d.n, fmt.Sprintf(format, args...))
}

func (d *demoRun) ok(format string, args ...any) {
	fmt.Fprintf(d.out, "    ✓ %s\n", fmt.Sprintf(format, args...))
}

func (d *demoRun) fail(err error) error {
	fmt.Fprintf(d.out, "    ✗ %v\n", err)
	return asRefusal(fmt.Errorf("demo failed at step %d: %w", d.n, err))
}

func (d *demoRun) failHTTP(code int, body []byte, errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return d.fail(err)
		}
	}
	return d.fail(fmt.Errorf("HTTP %d: %s", code, bytes.TrimSpace(body)))
}

func (d *demoRun) call(ctx context.Context, method, path, token, ct string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept-Language", "ru")
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 10<<20))
	return resp.StatusCode, data, err
}

func mustJSON(v any) []byte {
	data, _ := json.Marshal(v)
	return data
}

// demoRequest is the request the citizen fills in: the skeleton's fields
// with a citizen's values, written by the request document's own writer so
// that the demo sends what the portal reads.
func demoRequest(service, region, iin string, scan []byte, now time.Time) *document.Request {
	r := &document.Request{RequestID: uuid.NewString(), ServiceCode: service, Region: region, IssuedAt: now.In(egov.Almaty),
		Applicant: document.Applicant{IIN: iin, Surname: "ДЕМО", GivenName: "ДЕМО", Phone: "+77010000000"}}
	switch service {
	case "tsa-membership-certificate":
		return r // no form, no documents: the register answers (003:717-718)
	case "job-seeker-deregistration":
		r.Form = map[string]string{"reason": "found-work"}
		return r // the registration it ends is the provider's record
	case "employment-referral":
		r.Form = map[string]string{"measure": "employment"}
	default:
		r.Form = map[string]string{"education": "higher"}
	}
	sum := sha256.Sum256(scan)
	expires := now.In(egov.Almaty).AddDate(5, 0, 0)
	r.Attachments = []document.AttachmentHeader{{Kind: "identity-document", FileName: "id-card.pdf", MIMEType: "application/pdf",
		Size: int64(len(scan)), SHA256: hex.EncodeToString(sum[:]), Expires: &expires}}
	return r
}
