package corpus

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"egov/shep/soap"
)

// maxRecordedBody bounds what is kept of one message.
const maxRecordedBody = 64 << 20

// Recorder writes the messages that pass its middleware into a corpus
// directory. One Recorder may serve the portal and the bus at once.
type Recorder struct {
	dir    string
	masker *Masker // nil: bodies are kept as they are

	mu      sync.Mutex
	entries []Entry
}

// NewRecorder records into dir (created if needed); with mask, IINs, names
// and phone numbers are replaced consistently before anything is written.
func NewRecorder(dir string, mask bool) (*Recorder, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	r := &Recorder{dir: dir}
	if mask {
		r.masker = NewMasker()
	}
	return r, nil
}

// Middleware records every request to next, of the given kind, with its
// answer. Bodies are read fully before next sees them.
func (r *Recorder) Middleware(kind string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(io.LimitReader(req.Body, maxRecordedBody))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		rec := &capture{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, req)
		if kind == KindPortal && !strings.HasPrefix(req.URL.Path, "/api/") {
			return // health and metrics are not traffic
		}
		r.add(kind, req, body, rec)
	})
}

// capture keeps the status and the body of an answer.
type capture struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *capture) WriteHeader(code int) { c.status = code; c.ResponseWriter.WriteHeader(code) }
func (c *capture) Write(p []byte) (int, error) {
	if c.body.Len() < 1<<20 {
		c.body.Write(p)
	}
	return c.ResponseWriter.Write(p)
}

func (r *Recorder) add(kind string, req *http.Request, body []byte, rec *capture) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq := len(r.entries) + 1
	e := Entry{Seq: seq, Kind: kind, Method: req.Method, Path: req.URL.RequestURI(),
		ContentType: req.Header.Get("Content-Type"), Language: req.Header.Get("Accept-Language")}
	e.Name = fmt.Sprintf("%04d-%s-%s%s", seq, kind, strings.ToLower(req.Method), slug(req.URL.Path))
	if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
		e.Session = sessionRef(tok)
	}
	e.Expect = expectation(kind, rec.status, rec.body.Bytes())
	if kind == KindPortal && rec.status == http.StatusCreated && strings.HasPrefix(req.URL.Path, "/api/v1/sessions") {
		var s struct{ Token string }
		if json.Unmarshal(rec.body.Bytes(), &s) == nil && s.Token != "" {
			e.Opens = sessionRef(s.Token)
		}
	}
	if len(body) > 0 {
		if r.masker != nil {
			body = r.masker.Mask(body)
			e.Path = string(r.masker.Mask([]byte(e.Path)))
		}
		e.File = e.Name + extension(e.ContentType)
		if err := os.WriteFile(filepath.Join(r.dir, e.File), body, 0o644); err != nil {
			e.Note = "body not written: " + err.Error()
			e.File = ""
		}
	}
	r.entries = append(r.entries, e)
	c := &Corpus{Dir: r.dir, Entries: r.entries}
	_ = c.Save()
}

// expectation reads the code out of an answer.
func expectation(kind string, status int, body []byte) Expect {
	ex := Expect{Status: status}
	switch kind {
	case KindPortal:
		var p struct{ Code string }
		if status >= 400 && json.Unmarshal(body, &p) == nil {
			ex.Code = p.Code
		}
	case KindSHEP:
		v, err := soap.Decode(body)
		switch {
		case err != nil:
			ex.Code = "undecodable"
		case soap.OperationName(v) == "Fault":
			ex.Code = v.(*soap.Fault).Info.ErrorCode
		default:
			ex.Code = soap.OperationName(v)
		}
	}
	return ex
}

func sessionRef(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:6])
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

func slug(path string) string {
	s := nonWord.ReplaceAllString(strings.ToLower(path), "-")
	s = strings.Trim(strings.TrimPrefix(s, "-api-v1"), "-")
	if len(s) > 40 {
		s = s[:40]
	}
	if s == "" {
		return ""
	}
	return "-" + s
}

func extension(ct string) string {
	switch {
	case strings.Contains(ct, "json"):
		return ".json"
	case strings.Contains(ct, "multipart"):
		return ".multipart"
	case strings.Contains(ct, "xml"):
		return ".xml"
	}
	return ".bin"
}
