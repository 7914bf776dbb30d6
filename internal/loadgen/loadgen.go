// Package loadgen drives a running portal the way many citizens would:
// synthetic citizens with keys from the stack's test authority, signed
// submissions prepared up front, and the reading of every cabinet at the
// end. The load test and the reliability soak share it.
package loadgen

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
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"egov/document"
	"egov/signing"
	"egov/signing/pki"
)

// Citizen is a synthetic citizen: an IIN, a signing key issued by the
// stack's test authority, and a session token of the portal.
type Citizen struct {
	IIN   string
	Token string
	Key   *signing.Signer
}

// Request is one signed submission ready to send: the multipart body of
// POST /api/v1/requests for the citizen at index Citizen.
type Request struct {
	Citizen     int
	ID          string
	Body        []byte
	ContentType string
}

// Submit sends r for its citizen and returns the status and body.
func Submit(ctx context.Context, client *http.Client, base string, people []*Citizen, r Request) (int, []byte) {
	return Post(ctx, client, base+"/api/v1/requests", people[r.Citizen].Token, r.ContentType, r.Body)
}

// Post sends body and returns the status and the answer; a failed
// connection reads as status 0 with the code connection-failed.
func Post(ctx context.Context, client *http.Client, url, token, ct string, body []byte) (int, []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil
	}
	req.Header.Set("Content-Type", ct)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, []byte(`{"code":"connection-failed"}`)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// Get fetches url and returns the status and the answer; a failed
// connection reads as status 0 with the code connection-failed.
func Get(ctx context.Context, client *http.Client, url string) (int, []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, []byte(`{"code":"connection-failed"}`)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// RegisterBySignature opens the account of key's holder at the portal at
// base the way a citizen with a digital signature does: it fetches a
// registration challenge, signs it with key and posts it with iin and
// secret. It returns the status and the answer of POST /api/v1/accounts
// (201 opened, 409 it existed).
func RegisterBySignature(ctx context.Context, client *http.Client, base string, key *signing.Signer, iin, secret string) (int, []byte) {
	code, body := Get(ctx, client, base+"/api/v1/auth/challenge")
	if code != http.StatusOK {
		return code, body
	}
	var ch struct{ Document string }
	if err := json.Unmarshal(body, &ch); err != nil || ch.Document == "" {
		return 0, []byte(`{"code":"challenge-unreadable"}`)
	}
	signed, err := key.Sign([]byte(ch.Document))
	if err != nil {
		return 0, []byte(`{"code":"signing-failed"}`)
	}
	acct, _ := json.Marshal(map[string]string{"iin": iin, "password": secret, "signedChallenge": string(signed)})
	return Post(ctx, client, base+"/api/v1/accounts", "", "application/json", acct)
}

// PrepareCitizens issues a certificate for each synthetic citizen from the
// stack's test authority, registers the account by signing the
// registration challenge with it (or finds the account) and logs in.
func PrepareCitizens(ctx context.Context, client *http.Client, base string, authority *pki.Authority, n int) ([]*Citizen, error) {
	iins := SyntheticIINs(n)
	people := make([]*Citizen, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, iin := range iins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			now := time.Now().UTC()
			iss, err := authority.Issue(pki.IssueOptions{IIN: iin, Name: "НАГРУЗКА ТЕСТ", NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 1, 0)})
			if err != nil {
				errs <- err
				return
			}
			people[i] = &Citizen{IIN: iin, Key: &signing.Signer{Key: iss.Key, Certificate: iss.Certificate}}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	const password = "Load-test-2026"
	for _, c := range people {
		if code, body := RegisterBySignature(ctx, client, base, c.Key, c.IIN, password); code != http.StatusCreated && code != http.StatusConflict {
			return nil, fmt.Errorf("registering a synthetic citizen: HTTP %d %s (raise up's --attempts-per-minute)", code, body)
		}
		login, _ := json.Marshal(map[string]string{"iin": c.IIN, "password": password})
		code, body := Post(ctx, client, base+"/api/v1/sessions", "", "application/json", login)
		if code != http.StatusCreated {
			return nil, fmt.Errorf("logging in a synthetic citizen: HTTP %d %s", code, body)
		}
		var s struct{ Token string }
		_ = json.Unmarshal(body, &s)
		c.Token = s.Token
	}
	return people, nil
}

// SyntheticIINs makes n valid IINs of adults born 1970–1999 that no demo
// citizen uses.
func SyntheticIINs(n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		year, day := 70+i%30, 1+i%28
		base := fmt.Sprintf("%02d%02d%02d3%04d", year, 1+(i/30)%12, day, 5000+i%5000)
		for k := 0; k < 10; k++ {
			if _, err := signing.ParseIIN(base + strconv.Itoa(k)); err == nil {
				out = append(out, base+strconv.Itoa(k))
				break
			}
		}
	}
	return out
}

var scan = bytes.Repeat([]byte("%PDF-1.7 load test identity card "), 30)

// Presign prepares total signed submissions round-robin over the citizens,
// signing on every core.
func Presign(people []*Citizen, total int, region string) []Request {
	p := StartPresign(people, total, region)
	p.wg.Wait()
	return p.out
}

// Presigned are submissions being signed in the background, in order of
// their index; Get waits for one.
type Presigned struct {
	out   []Request
	ready []chan struct{}
	wg    sync.WaitGroup
}

// StartPresign starts signing total submissions round-robin over the
// citizens on every core and returns at once: a sender that starts
// before the last is signed waits only for the one it needs (the soak
// starts sending while it signs).
func StartPresign(people []*Citizen, total int, region string) *Presigned {
	p := &Presigned{out: make([]Request, total), ready: make([]chan struct{}, total)}
	for i := range p.ready {
		p.ready[i] = make(chan struct{})
	}
	sum := sha256.Sum256(scan)
	scanHash := hex.EncodeToString(sum[:])
	expires := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC) // a calendar day: only its date is written
	var next atomic.Int64
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				ci := i % len(people)
				c := people[ci]
				req := &document.Request{RequestID: uuid.NewString(), ServiceCode: "job-seeker-registration", Region: region,
					IssuedAt:  time.Now(),
					Applicant: document.Applicant{IIN: c.IIN, Surname: "НАГРУЗКА", GivenName: "ТЕСТ"},
					Form:      map[string]string{"education": "higher"},
					Attachments: []document.AttachmentHeader{{Kind: "identity-document", FileName: "id.pdf", MIMEType: "application/pdf",
						Size: int64(len(scan)), SHA256: scanHash, Expires: &expires}}}
				if signed, err := c.Key.Sign(req.Document()); err == nil {
					ct, body := Multipart(signed, File{Name: "id.pdf", Data: scan})
					p.out[i] = Request{Citizen: ci, ID: req.RequestID, Body: body, ContentType: ct}
				}
				close(p.ready[i])
			}
		}()
	}
	return p
}

// Len is how many submissions are being signed.
func (p *Presigned) Len() int { return len(p.out) }

// Get returns submission i once it is signed (a zero Request if its
// signing failed).
func (p *Presigned) Get(i int) Request {
	<-p.ready[i]
	return p.out[i]
}

// File is an attachment of a submission.
type File struct {
	Name string
	Data []byte
}

// Multipart builds the body of POST /api/v1/requests: the signed document
// as the part named "request", then the files; it returns the content type
// with its boundary and the body.
func Multipart(doc []byte, files ...File) (string, []byte) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="request"`)
	h.Set("Content-Type", "application/xml")
	w, _ := mw.CreatePart(h)
	_, _ = w.Write(doc)
	for _, f := range files {
		fw, _ := mw.CreateFormFile("file", f.Name)
		_, _ = fw.Write(f.Data)
	}
	_ = mw.Close()
	return mw.FormDataContentType(), body.Bytes()
}
