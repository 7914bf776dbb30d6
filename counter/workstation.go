package counter

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"egov"
	"egov/document"
	"egov/gateway"
	"egov/internal/redisscript"
	"egov/internal/retry"
	"egov/registers/enis"
	"egov/shep"
	"egov/shep/soap"
	"egov/signing"
)

// SenderID is the State Corporation's workstation's name on the bus.
const SenderID = "gk-counter"

// Config wires the workstation.
type Config struct {
	// Desk is whose workstation it is (default: the State Corporation's
	// counter).
	Desk Desk
	// KeyPrefix is put before every Redis key; the workstation's own keys
	// begin with its desk's namespace ("gk:").
	KeyPrefix string
	Bus       shep.Client
	Sender    soap.SenderInfo
	Operators *Operators
	Catalogue *gateway.Catalogue
	Calendar  *gateway.Calendar
	// Verifier checks the operators' signatures on what they file and the
	// providers' signatures on their results.
	Verifier *signing.Verifier
	// BIN is the desk's organisation's (the State Corporation's, the
	// employment centre's): an operator's signature counts only from an
	// organisation certificate of it with the right to sign.
	BIN string
	// ProviderBINs are, per system on the bus, the BIN its results must be
	// signed for.
	ProviderBINs map[string]string
	// Portal is the portal's system on the bus ("egov-portal"), told of
	// every filing and its result for the citizen's cabinet; "": none, as
	// for a desk whose filings are not in the cabinet (Desk.Cabinet).
	Portal string
	// PollWait is how long one poll of the queue may wait (default 10 s);
	// RelayEvery how often filings the bus did not take yet are sent
	// again (default 2 s).
	PollWait, RelayEvery time.Duration
	// StuckAfter is how long a filing on the bus may wait for its result
	// before the bus is asked whether it still delivers it (default one
	// minute; a filing the bus stopped delivering is marked stuck, with
	// the reason, until an operator redelivers it).
	StuckAfter time.Duration
	Now        func() time.Time
	Log        *slog.Logger
}

// Workstation is АРМ ИИС ГК, or an employment centre's desk: the
// operators' sessions, the intake, the filings sent through the bus and
// the results that come back to the desk for hand-out.
type Workstation struct {
	cfg       Config
	rdb       redis.UniversalClient
	registers *Registers
	// sendBackoff paces the sending again of a filing the bus refused
	// (machine time: it paces retries, it is no term).
	sendBackoff *retry.Backoff
	// intakes bounds the intakes decoded and checked at once: each may
	// carry 36 MB of scans.
	intakes chan struct{}
}

// Limits of what an operator enters.
const (
	sessionLifetime = 8 * time.Hour // a working day at the counter
	draftLifetime   = 30 * time.Minute
	maxDocuments    = 5
	maxDocument     = 5 << 20
	loginFailures   = 5 // a login's failed attempts in loginWindow before it waits
	loginWindow     = 15 * time.Minute
	maxIntakes      = 8 // intakes at once; one more waits intakeWait, then 503
	maxOpenDrafts   = 3 // an operator's drafts waiting for his signature
	intakeWait      = 2 * time.Second
)

// New returns the workstation; Run sends what was filed and collects the
// results until its context ends.
func New(rdb redis.UniversalClient, cfg Config) (*Workstation, error) {
	if cfg.Bus == nil || cfg.Operators == nil || cfg.Catalogue == nil || cfg.Calendar == nil || cfg.Verifier == nil || cfg.BIN == "" {
		return nil, errors.New("counter: a bus, operators, the catalogue, the calendar, a verifier and the desk's BIN are required")
	}
	if cfg.Desk.System == "" {
		cfg.Desk = StateCorporation
	}
	if !cfg.Desk.Cabinet {
		cfg.Portal = ""
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.PollWait <= 0 {
		cfg.PollWait = 10 * time.Second
	}
	if cfg.RelayEvery <= 0 {
		cfg.RelayEvery = 2 * time.Second
	}
	if cfg.StuckAfter <= 0 {
		cfg.StuckAfter = time.Minute
	}
	return &Workstation{cfg: cfg, rdb: rdb, registers: &Registers{Bus: cfg.Bus, Sender: cfg.Sender, Now: cfg.Now},
		sendBackoff: retry.New(cfg.RelayEvery, 5*time.Minute), intakes: make(chan struct{}, maxIntakes)}, nil
}

func (w *Workstation) key(parts ...string) string {
	return w.cfg.KeyPrefix + w.cfg.Desk.Namespace + ":" + strings.Join(parts, ":")
}

// An office's keys share its hash tag: a filing, its files and the
// office's queues are changed together.
func (w *Workstation) officeKey(office string, parts ...string) string {
	return w.key(append([]string{"{" + office + "}"}, parts...)...)
}

// Login opens a session for an operator (P1). A login that failed
// loginFailures times in loginWindow is refused until the window passes,
// whatever the password.
func (w *Workstation) Login(ctx context.Context, login, secret string) (string, *Operator, error) {
	attempts := w.key("login-attempts", login)
	if !loginPattern.MatchString(login) {
		return "", nil, egov.Errorf(egov.CodeAuthorizationRefused, "login or password wrong")
	}
	// Counted before the password is checked, at once: attempts sent in
	// parallel are counted as they come, not after their hashes.
	n, err := countAttemptScript.Run(ctx, w.rdb, []string{attempts}, loginWindow.Milliseconds()).Int()
	if err != nil {
		return "", nil, err
	}
	if n > loginFailures {
		return "", nil, egov.Errorf(egov.CodeRateLimited, "too many failed logins of %s: wait %v", login, loginWindow)
	}
	op := w.cfg.Operators.authenticate(login, secret)
	if op == nil {
		return "", nil, egov.Errorf(egov.CodeAuthorizationRefused, "login or password wrong")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	if err := w.rdb.Set(ctx, w.sessionKey(token), op.Login, sessionLifetime).Err(); err != nil {
		return "", nil, err
	}
	w.rdb.Del(ctx, attempts) // a login that worked clears the count
	w.cfg.Log.Info(w.cfg.Desk.Name+": operator logged in", "login", op.Login, "office", op.Office.Code)
	return token, op, nil
}

// countAttemptScript counts one login attempt in the window that the
// first one opened. KEYS: the login's count. ARGV: window (ms). Returns
// the attempts in the window, this one included.
var countAttemptScript = redisscript.New(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`)

// sessionKey keeps only the token's hash: a copy of Redis opens no session.
func (w *Workstation) sessionKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return w.key("session", hex.EncodeToString(sum[:]))
}

// Session returns the operator of a session token.
func (w *Workstation) Session(ctx context.Context, token string) (*Operator, error) {
	login, err := w.rdb.Get(ctx, w.sessionKey(token)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, egov.Errorf(egov.CodeAuthorizationRefused, "no such session")
	}
	if err != nil {
		return nil, err
	}
	op := w.cfg.Operators.Get(login)
	if op == nil {
		return nil, egov.Errorf(egov.CodeAuthorizationRefused, "the session's operator is no longer known")
	}
	return op, nil
}

// Logout ends a session.
func (w *Workstation) Logout(ctx context.Context, token string) error {
	return w.rdb.Del(ctx, w.sessionKey(token)).Err()
}

// IntakeForm is what the operator enters (P2): the service, the applicant's
// IIN (his names come from the persons register), the representative who
// came for him, the service's form and the scanned documents.
type IntakeForm struct {
	Service        string            `json:"service"`
	Applicant      string            `json:"applicant"`
	Phone          string            `json:"phone,omitempty"`
	Representative *Representative   `json:"representative,omitempty"`
	Form           map[string]string `json:"form,omitempty"`
	Documents      []Scan            `json:"documents,omitempty"`
}

// Scan is one document of the package, scanned at the counter.
type Scan struct {
	Kind     string `json:"kind"`
	FileName string `json:"fileName"`
	Content  []byte `json:"content"`           // base64 in JSON
	Expires  string `json:"expires,omitempty"` // YYYY-MM-DD, when the document has an expiry
}

// Draft is a request document the registers' check let through, waiting
// for the operator's signature.
type Draft struct {
	ID       string    `json:"id"`
	Flow     string    `json:"flow"`
	Document string    `json:"document"` // the unsigned XML to sign
	Expires  time.Time `json:"expires"`
	// Applicant is the persons register's name of the applicant.
	Applicant string `json:"applicantName"`
}

// draftRecord is a Draft as kept until it is signed.
type draftRecord struct {
	Operator   string   `json:"operator"`
	Document   string   `json:"document"`
	Service    string   `json:"service"`
	Region     string   `json:"region"`
	Flow       string   `json:"flow"`
	Recipient  string   `json:"recipient"`
	BusService string   `json:"busService"`
	Applicant  string   `json:"applicant"`
	Name       string   `json:"name"`
	Files      []string `json:"files"` // SHA-256 of each scan
	Rep        string   `json:"representative,omitempty"`
	// NoticeByPhone: the applicant's SMS is the decision (the channel's).
	NoticeByPhone bool `json:"noticeByPhone,omitempty"`
}

// PackageIncomplete is the refusal to accept an incomplete package
// (001:242-245): nothing is filed, and the applicant gets a receipt that
// says what is missing.
type PackageIncomplete struct {
	Receipt RefusalReceipt
	Err     error
}

func (p *PackageIncomplete) Error() string { return "package incomplete: " + p.Err.Error() }
func (p *PackageIncomplete) Unwrap() error { return p.Err }

// RefusalReceipt is the receipt of the refusal to accept the documents.
type RefusalReceipt struct {
	Kind      string        `json:"kind"` // "refusal-to-accept"
	Service   gateway.Names `json:"service"`
	Applicant string        `json:"applicant"`         // masked IIN
	Missing   []string      `json:"missing"`           // document kinds
	Expired   []string      `json:"expired,omitempty"` // document kinds
	Office    string        `json:"office"`
	Operator  string        `json:"operator"`
	At        time.Time     `json:"at"`
}

// Intake checks what the operator entered against the catalogue and the
// registers (P3, C1, P4) and returns the request document for him to sign.
func (w *Workstation) Intake(ctx context.Context, op *Operator, in IntakeForm) (*Draft, error) {
	svc, ch, err := w.cfg.Desk.channel(w.cfg.Catalogue, in.Service, op.Office.Region)
	if err != nil {
		return nil, err
	}
	if len(in.Documents) > maxDocuments {
		return nil, egov.Errorf(egov.CodeFormInvalid, "at most %d documents", maxDocuments)
	}
	if err := checkParties(op, in); err != nil {
		return nil, err
	}
	flow, ok := flows[ch.Flow]
	if !ok {
		return nil, fmt.Errorf("counter: the catalogue names an unknown flow %q", ch.Flow)
	}
	if flow.InPerson && in.Representative != nil {
		return nil, egov.Errorf(egov.CodeFormInvalid, "in flow %s the applicant applies in person: no representative is entered", flow.Name)
	}
	checked, err := w.registers.Check(ctx, flow, Intake{Service: in.Service, Applicant: in.Applicant, Representative: in.Representative})
	if err != nil {
		return nil, err
	}
	now := w.cfg.Now()
	p := checked.Applicant
	req := &document.Request{RequestID: uuid.NewString(), ServiceCode: svc.Code, Region: op.Office.Region, IssuedAt: now.In(egov.Almaty),
		Applicant: document.Applicant{IIN: p.IIN, Surname: p.Surname, GivenName: p.Name, Patronymic: p.Patronymic, Phone: in.Phone},
		Form:      in.Form,
		Filing:    &document.Filing{Channel: w.cfg.Desk.Filed, Office: op.Office.Code, OperatorIIN: op.IIN}}
	if rep := in.Representative; rep != nil {
		if req.Filing.Representative, err = representative(rep, checked.Power, now); err != nil {
			return nil, err
		}
	}
	files := map[string][]byte{}
	for _, s := range in.Documents {
		h, err := scanHeader(s)
		if err != nil {
			return nil, err
		}
		req.Attachments = append(req.Attachments, h)
		files[h.SHA256] = s.Content
	}
	if form := svc.DeskForm(); form != nil {
		if err := form.CheckForm(req); err != nil {
			return nil, err
		}
		// An incomplete package, or one with an expired document, is not
		// accepted (001:242-245): the applicant gets the receipt of that.
		missing, expired := missingKinds(form, req), expiredKinds(req, now)
		// The persons register's record of the identity card wins over
		// the date typed at the counter.
		if exp := p.IdentityDocument.Expires; exp != "" && exp < now.In(egov.Almaty).Format(time.DateOnly) && !slices.Contains(expired, "identity-document") &&
			slices.ContainsFunc(req.Attachments, func(a document.AttachmentHeader) bool { return a.Kind == "identity-document" }) {
			expired = append(expired, "identity-document")
		}
		if len(missing) > 0 || len(expired) > 0 {
			return nil, &PackageIncomplete{Err: egov.Errorf(egov.CodeAttachmentMissing, "missing %v, expired %v", missing, expired),
				Receipt: RefusalReceipt{Kind: "refusal-to-accept", Service: svc.Names, Applicant: signing.MaskIIN(p.IIN),
					Missing: missing, Expired: expired, Office: op.Office.Code, Operator: op.Name, At: now}}
		}
		if err := form.CheckDocuments(req, now); err != nil {
			return nil, err
		}
	}
	doc := req.Document()
	// The writer's output must read back: what the operator signs is what
	// the provider will read.
	if _, err := readUnsigned(doc); err != nil {
		return nil, err
	}
	rec := draftRecord{Operator: op.Login, Document: string(doc), Service: svc.Code, Region: op.Office.Region, Flow: flow.Name,
		Recipient: ch.Recipient, BusService: ch.BusServiceOf(svc.Code), Applicant: p.IIN, Name: p.Surname + " " + p.Name, NoticeByPhone: ch.NoticeByPhone}
	if r := req.Filing.Representative; r != nil {
		rec.Rep = r.IIN
	}
	// A counter serves one applicant at a time: a few drafts may wait for
	// the operator's signature, not an unbounded store of scans.
	open := w.openDraftsKey(op)
	if n, err := w.rdb.Incr(ctx, open).Result(); err != nil {
		return nil, err
	} else if n > maxOpenDrafts {
		w.rdb.Decr(ctx, open)
		return nil, egov.Errorf(egov.CodeRateLimited, "%d drafts wait for your signature already: sign them or let them expire (%v)", maxOpenDrafts, draftLifetime)
	}
	w.rdb.PExpire(ctx, open, draftLifetime)
	_, err = w.rdb.TxPipelined(ctx, func(tx redis.Pipeliner) error {
		for sum, data := range files {
			rec.Files = append(rec.Files, sum)
			tx.Set(ctx, w.officeKey(op.Office.Code, "draft", req.RequestID, "file", sum), data, draftLifetime)
		}
		js, _ := json.Marshal(rec)
		tx.Set(ctx, w.officeKey(op.Office.Code, "draft", req.RequestID), js, draftLifetime)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Draft{ID: req.RequestID, Flow: flow.Name, Document: string(doc), Expires: now.Add(draftLifetime), Applicant: rec.Name}, nil
}

// representative is the filing's representative: the names the operator
// read from his identity document, and the power as ЕНИС holds it (G-A) or
// as the operator read it from the paper (G-B).
func representative(r *Representative, power *enis.Answer, now time.Time) (*document.Representative, error) {
	out := &document.Representative{IIN: r.IIN, Surname: strings.TrimSpace(r.Surname), GivenName: strings.TrimSpace(r.GivenName),
		Patronymic: strings.TrimSpace(r.Patronymic), PowerOfAttorney: document.PowerOfAttorney{Number: r.PowerOfAttorney, Notary: strings.TrimSpace(r.Notary)}}
	until := r.Until
	if power != nil {
		out.PowerOfAttorney.Notary, until = power.Notary, power.Until
	}
	t, err := time.ParseInLocation(time.DateOnly, until, egov.Almaty)
	if err != nil || out.PowerOfAttorney.Notary == "" || out.PowerOfAttorney.Number == "" {
		return nil, egov.Errorf(egov.CodeFormInvalid, "the representative's power of attorney needs its number, notary and last day")
	}
	if t.Format(time.DateOnly) < now.In(egov.Almaty).Format(time.DateOnly) {
		return nil, egov.Errorf(egov.CodeFormInvalid, "the representative's power of attorney expired on %s", until)
	}
	out.PowerOfAttorney.Until = t
	return out, nil
}

// checkParties refuses what no operator may enter: a power's number ЕНИС
// could not read, names and file names that are not clean text, and a
// filing of the operator for himself or as his own client's representative.
func checkParties(op *Operator, in IntakeForm) error {
	if in.Applicant == op.IIN {
		return egov.Errorf(egov.CodeFormInvalid, "an operator does not file for himself")
	}
	if r := in.Representative; r != nil {
		if r.IIN == op.IIN {
			return egov.Errorf(egov.CodeFormInvalid, "an operator is not his own client's representative")
		}
		if !enis.ValidNumber(r.PowerOfAttorney) {
			return egov.Errorf(egov.CodeFormInvalid, "a power of attorney's number is 1 to 40 of A-Z, 0-9 and -")
		}
		for _, v := range []string{r.Surname, r.GivenName, r.Patronymic, r.Notary} {
			if !cleanText(v, 200) {
				return egov.Errorf(egov.CodeFormInvalid, "the representative's names and the notary are text of at most 200 characters, without control or direction characters")
			}
		}
	}
	for _, s := range in.Documents {
		if !cleanText(s.FileName, 128) || s.FileName == "" || strings.ContainsAny(s.FileName, `/\`) || strings.Trim(s.FileName, ".") == "" {
			return egov.Errorf(egov.CodeFormInvalid, "a file name is 1 to 128 characters, no path, control or direction characters")
		}
	}
	return nil
}

// cleanText tells text fit for a legal document: valid UTF-8 that did not
// need replacing, no control characters, no bidirectional overrides, at
// most max characters.
func cleanText(s string, max int) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return false
	}
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return false
		}
	}
	return true
}

// scanHeader describes a scan for the request document: its type is what
// its bytes are, not what anyone says.
func scanHeader(s Scan) (document.AttachmentHeader, error) {
	if len(s.Content) == 0 || len(s.Content) > maxDocument {
		return document.AttachmentHeader{}, egov.Errorf(egov.CodeAttachmentRejected, "%s: empty or larger than %d bytes", s.FileName, maxDocument)
	}
	sum := sha256.Sum256(s.Content)
	mimeType, _, _ := strings.Cut(http.DetectContentType(s.Content), ";")
	h := document.AttachmentHeader{Kind: s.Kind, FileName: s.FileName, MIMEType: mimeType, Size: int64(len(s.Content)), SHA256: hex.EncodeToString(sum[:])}
	if s.Expires != "" {
		t, err := time.ParseInLocation(time.DateOnly, s.Expires, egov.Almaty)
		if err != nil {
			return h, egov.Errorf(egov.CodeFormInvalid, "%s: expires must be YYYY-MM-DD", s.FileName)
		}
		h.Expires = &t
	}
	return h, nil
}

func missingKinds(form *gateway.PortalForm, req *document.Request) []string {
	var out []string
	for _, rule := range form.Documents {
		found := false
		for _, a := range req.Attachments {
			found = found || a.Kind == rule.Kind
		}
		if rule.Required && !found {
			out = append(out, rule.Kind)
		}
	}
	return out
}

// expiredKinds are the kinds of the scanned documents whose expiry is
// before the day of now.
func expiredKinds(req *document.Request, now time.Time) []string {
	today := now.In(egov.Almaty).Format(time.DateOnly)
	var out []string
	for _, a := range req.Attachments {
		if a.Expires != nil && a.Expires.Format(time.DateOnly) < today {
			out = append(out, a.Kind)
		}
	}
	return out
}

func readUnsigned(doc []byte) (*document.Request, error) {
	parsed, err := signing.ParseScreened(doc, signing.Limits{})
	if err != nil {
		return nil, err
	}
	return document.ReadRequest(parsed.Root())
}

// The states of a filing, in the only order they move in.
const (
	StateAccepted   = "accepted"    // signed and kept; the bus has not taken it yet
	StateSent       = "sent"        // on the bus, to the provider's system
	StateInProgress = "in-progress" // the provider registered it (P6)
	StateReady      = "ready"       // the result is at the counter (P8)
	StateHandedOut  = "handed-out"  // given to the applicant or his representative
)

var stateRank = map[string]int{StateAccepted: 0, StateSent: 1, StateInProgress: 2, StateReady: 3, StateHandedOut: 4}

// Receipt is the расписка the applicant gets when the documents are
// accepted: what was filed, by whom, and when the result is due.
type Receipt struct {
	Kind           string        `json:"kind"` // "acceptance"
	Number         string        `json:"number"`
	RequestID      string        `json:"requestId"`
	Service        gateway.Names `json:"service"`
	Applicant      string        `json:"applicant"` // masked IIN
	ApplicantName  string        `json:"applicantName"`
	Representative string        `json:"representative,omitempty"` // masked IIN
	Documents      []string      `json:"documents"`                // file names
	Office         string        `json:"office"`
	Operator       string        `json:"operator"`
	AcceptedAt     time.Time     `json:"acceptedAt"`
	DueAt          time.Time     `json:"dueAt"`
}

// Submit takes the operator's signed request document (P5): it must be
// the draft exactly, signed by this operator with the right to sign for
// the State Corporation. The filing is kept at once and sent through the
// bus; if the bus does not take it now, Run sends it again. A second
// submission of the same draft returns the first receipt.
func (w *Workstation) Submit(ctx context.Context, op *Operator, id string, signed []byte) (*Receipt, error) {
	if !validID(id) {
		return nil, egov.Errorf(egov.CodeNotFound, "no such draft")
	}
	office := op.Office.Code
	// Whatever else: the operator's own signature, with the right to sign.
	res, err := w.cfg.Verifier.Verify(ctx, signed)
	if err != nil {
		return nil, err
	}
	if err := res.RequireAuthority(w.cfg.BIN, nil); err != nil {
		return nil, err
	}
	if err := res.RequireIIN(op.IIN); err != nil {
		return nil, err
	}
	req, err := document.ReadRequest(res.Element)
	if err != nil {
		return nil, err
	}
	if req.RequestID != id {
		return nil, egov.Errorf(egov.CodeFormInvalid, "the signed document is not the draft %s", id)
	}
	// One submission of a draft at a time; another one sent meanwhile
	// waits for it and gets its receipt.
	lock := w.officeKey(office, "submitting", id)
	for tries := 0; ; tries++ {
		if rc, err := w.receiptOf(ctx, op, id); rc != nil || err != nil {
			return rc, err
		}
		ok, err := w.rdb.SetNX(ctx, lock, op.Login, 10*time.Second).Result()
		if err != nil {
			return nil, err
		}
		if ok {
			defer w.rdb.Del(context.WithoutCancel(ctx), lock)
			break
		}
		if tries >= 50 || !retry.Sleep(ctx, 100*time.Millisecond) {
			return nil, egov.Errorf(egov.CodeUnavailable, "draft %s is being submitted: try again", id)
		}
	}
	if rc, err := w.receiptOf(ctx, op, id); rc != nil || err != nil {
		return rc, err
	}
	raw, err := w.rdb.Get(ctx, w.officeKey(office, "draft", id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, egov.Errorf(egov.CodeNotFound, "no draft %s (it lives %v)", id, draftLifetime)
	}
	if err != nil {
		return nil, err
	}
	var d draftRecord
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	if d.Operator != op.Login {
		return nil, egov.Errorf(egov.CodeNotFound, "no draft %s of this operator", id)
	}
	if string(req.Document()) != d.Document {
		return nil, egov.Errorf(egov.CodeFormInvalid, "the signed document is not the draft %s", id)
	}
	svc, ch, err := w.cfg.Desk.channel(w.cfg.Catalogue, d.Service, d.Region)
	if err != nil {
		return nil, err
	}
	now := w.cfg.Now().Truncate(time.Second) // a receipt's times are to the second
	due, err := ch.Due(w.cfg.Calendar, now, op.Office.District)
	if err != nil {
		return nil, err
	}
	seq, err := w.rdb.Incr(ctx, w.officeKey(office, "receipts", strconv.Itoa(now.In(egov.Almaty).Year()))).Result()
	if err != nil {
		return nil, err
	}
	rc := Receipt{Kind: "acceptance", Number: fmt.Sprintf("%s-%d-%06d", office, now.In(egov.Almaty).Year(), seq), RequestID: id,
		Service: svc.Names, Applicant: signing.MaskIIN(d.Applicant), ApplicantName: d.Name, Office: office, Operator: op.Name,
		AcceptedAt: now, DueAt: due, Documents: []string{}}
	if d.Rep != "" {
		rc.Representative = signing.MaskIIN(d.Rep)
	}
	for _, a := range req.Attachments {
		rc.Documents = append(rc.Documents, a.FileName)
	}
	f := Filing{ID: id, State: StateAccepted, Service: d.Service, Region: d.Region, Flow: d.Flow, Recipient: d.Recipient, BusService: d.BusService,
		Applicant: d.Applicant, Representative: d.Rep, Operator: op.Login, Office: office, Receipt: rc, Files: d.Files, NoticeByPhone: d.NoticeByPhone,
		History: []Step{{State: StateAccepted, At: now, By: op.Login}}}
	created, err := w.create(ctx, &f, string(signed))
	if err != nil {
		return nil, err
	}
	if !created {
		// Another submission of the draft won the race: its receipt.
		g, err := w.load(ctx, office, id)
		if err != nil {
			return nil, err
		}
		return &g.Receipt, nil
	}
	w.rdb.Decr(ctx, w.openDraftsKey(op))
	w.cfg.Log.Info(w.cfg.Desk.Name+": request filed", "request", id, "service", d.Service, "office", office, "operator", op.Login)
	if err := w.send(ctx, office, id); err != nil {
		w.cfg.Log.Warn(w.cfg.Desk.Name+": the bus did not take the filing yet; it is sent again", "request", id, "err", err)
	}
	return &rc, nil
}

// receiptOf is the receipt of a draft the operator submitted already, or
// nil.
func (w *Workstation) receiptOf(ctx context.Context, op *Operator, id string) (*Receipt, error) {
	f, err := w.load(ctx, op.Office.Code, id)
	switch {
	case egov.ErrorCode(err) == egov.CodeNotFound:
		return nil, nil
	case err != nil:
		return nil, err
	case f.Operator != op.Login:
		return nil, egov.Errorf(egov.CodeNotFound, "no draft %s of this operator", id)
	}
	return &f.Receipt, nil
}

// validID tells a draft's or filing's id: a UUID as the workstation makes
// them, lowercase with hyphens, and nothing else.
func validID(id string) bool {
	u, err := uuid.Parse(id)
	return err == nil && u.String() == id
}

// openDraftsKey counts the operator's drafts not submitted, for
// maxOpenDrafts.
func (w *Workstation) openDraftsKey(op *Operator) string {
	return w.officeKey(op.Office.Code, "open-drafts", op.Login)
}

// Filing is one request filed at a counter, as the workstation keeps it.
type Filing struct {
	ID             string   `json:"id"`
	State          string   `json:"state"`
	Service        string   `json:"service"`
	Region         string   `json:"region"`
	Flow           string   `json:"flow"`
	Recipient      string   `json:"recipient"`
	BusService     string   `json:"busService"`
	Applicant      string   `json:"applicant"`
	Representative string   `json:"representative,omitempty"`
	Operator       string   `json:"operator"`
	Office         string   `json:"office"`
	Receipt        Receipt  `json:"receipt"`
	Files          []string `json:"files,omitempty"` // SHA-256 of the scans
	Correlation    string   `json:"correlationId,omitempty"`
	BusMessageID   string   `json:"busMessageId,omitempty"`
	// The provider's result, once it came.
	Outcome string `json:"outcome,omitempty"`
	Ground  string `json:"ground,omitempty"`
	// GroundText is the ground in the provider's words, from its signed
	// result.
	GroundText   *egov.Message `json:"groundText,omitempty"`
	ResultNumber string        `json:"resultNumber,omitempty"`
	ResultDate   string        `json:"resultDate,omitempty"` // YYYY-MM-DD, the provider's
	Signer       string        `json:"resultSigner,omitempty"`
	HandOut      *HandOut      `json:"handOut,omitempty"`
	// Notice is the SMS telling the applicant the result is at the counter,
	// or, where NoticeByPhone, the decision.
	Notice        *Notice `json:"notice,omitempty"`
	NoticeByPhone bool    `json:"noticeByPhone,omitempty"`
	History       []Step  `json:"history"`
	LastError     string  `json:"lastError,omitempty"`
}

// Step is one move of a filing's state.
type Step struct {
	State string    `json:"state"`
	At    time.Time `json:"at"`
	By    string    `json:"by"` // an operator's login or a system on the bus
}

// HandOut records who handed the result to whom, and when (P8).
type HandOut struct {
	To  string    `json:"to"`  // "applicant" or "representative"
	IIN string    `json:"iin"` // masked
	By  string    `json:"by"`  // the operator's login
	At  time.Time `json:"at"`
}

// A filing is a hash: "filing" its JSON, "rank" its state's place,
// "document" the signed request, "result" the signed result.
func (w *Workstation) filingKey(office, id string) string { return w.officeKey(office, "filing", id) }

// createScript keeps a new filing once, with its scans (kept until the bus
// has them), and puts it in its office's outbox and, when the portal is to
// be told, its portal outbox.
// KEYS: filing, outbox, draft, portal outbox, the scans. ARGV: filing
// JSON, signed document, id, "1" to tell the portal.
// Returns 1 when created, 0 when it existed, -1 when a scan is gone (the
// draft outlived them): nothing is kept.
var createScript = redisscript.New(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 5, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then return -1 end
end
for i = 5, #KEYS do redis.call('PERSIST', KEYS[i]) end
redis.call('HSET', KEYS[1], 'filing', ARGV[1], 'rank', '0', 'document', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
if ARGV[4] == '1' then redis.call('SADD', KEYS[4], ARGV[3]) end
redis.call('DEL', KEYS[3])
return 1
`)

func (w *Workstation) create(ctx context.Context, f *Filing, signed string) (bool, error) {
	js, _ := json.Marshal(f)
	keys := []string{w.filingKey(f.Office, f.ID), w.officeKey(f.Office, "outbox"), w.officeKey(f.Office, "draft", f.ID), w.officeKey(f.Office, "portal-outbox")}
	tell := "0"
	if w.cfg.Portal != "" {
		tell = "1"
	}
	for _, sum := range f.Files {
		keys = append(keys, w.officeKey(f.Office, "draft", f.ID, "file", sum))
	}
	n, err := createScript.Run(ctx, w.rdb, keys, js, signed, f.ID, tell).Int()
	if err != nil {
		return false, err
	}
	if n < 0 {
		return false, egov.Errorf(egov.CodeRequestStale, "the scans of draft %s are gone (a draft lives %v): enter the intake again", f.ID, draftLifetime)
	}
	return n == 1, nil
}

// advanceScript moves a filing's state forward, never back: a state it
// already reached or passed is left alone (an answer handed out again).
// KEYS: filing, the office's ready queue, its portal outbox. ARGV: new
// rank, the rank it must be at ("" for any lower), filing JSON, score for
// the ready queue, id, "1" when the portal is told (a hand-out goes into
// the portal outbox with the move), then field/value pairs to set.
// Returns 1 moved, 0 already there or past, -1 no such filing, -2 not at
// the rank required.
var advanceScript = redisscript.New(`
local cur = tonumber(redis.call('HGET', KEYS[1], 'rank') or '-1')
if cur < 0 then return -1 end
local want = tonumber(ARGV[1])
if cur >= want then return 0 end
if ARGV[2] ~= '' and cur ~= tonumber(ARGV[2]) then return -2 end
redis.call('HSET', KEYS[1], 'rank', ARGV[1], 'filing', ARGV[3], unpack(ARGV, 7))
if want == 3 then redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5]) end
if want == 4 then
  redis.call('ZREM', KEYS[2], ARGV[5])
  if ARGV[6] == '1' then redis.call('SADD', KEYS[3], ARGV[5]) end
end
return 1
`)

// leaveOutboxScript takes a filing out of the portal outbox once the portal
// has all it will hear of it at its rank: the result, and the hand-out
// once handed out. Run after the sends, it reads the filing as it is then:
// a hand-out recorded meanwhile keeps it in.
// KEYS: filing, portal outbox. ARGV: id. Returns 1 when taken out.
var leaveOutboxScript = redisscript.New(`
local v = redis.call('HMGET', KEYS[1], 'rank', 'portalResult', 'portalHandOut')
local rank = tonumber(v[1] or '-1')
if rank >= 3 and v[2] and (rank < 4 or v[3]) then return redis.call('SREM', KEYS[2], ARGV[1]) end
return 0
`)

// advance moves f (as loaded) to state with the step and extra fields.
func (w *Workstation) advance(ctx context.Context, f *Filing, state, by string, at time.Time, requireRank string, fields ...any) (int, error) {
	f.State = state
	f.History = append(f.History, Step{State: state, At: at, By: by})
	f.LastError = "" // a move clears the reason it had not moved
	js, _ := json.Marshal(f)
	tell := "0"
	if w.cfg.Portal != "" {
		tell = "1"
	}
	args := append([]any{stateRank[state], requireRank, js, at.UnixMilli(), f.ID, tell, "lastError", ""}, fields...)
	return advanceScript.Run(ctx, w.rdb, []string{w.filingKey(f.Office, f.ID), w.officeKey(f.Office, "ready"), w.officeKey(f.Office, "portal-outbox")}, args...).Int()
}

func (w *Workstation) load(ctx context.Context, office, id string) (*Filing, error) {
	v, err := w.rdb.HMGet(ctx, w.filingKey(office, id), "filing", "lastError", "notice").Result()
	if err != nil {
		return nil, err
	}
	js, _ := v[0].(string)
	if js == "" {
		return nil, egov.Errorf(egov.CodeNotFound, "no filing %s at office %s", id, office)
	}
	var f Filing
	if err := json.Unmarshal([]byte(js), &f); err != nil {
		return nil, err
	}
	// Kept apart: whoever notes them does not rewrite the filing.
	f.LastError, _ = v[1].(string)
	f.Notice = nil
	if raw, _ := v[2].(string); raw != "" {
		f.Notice = &Notice{}
		_ = json.Unmarshal([]byte(raw), f.Notice)
	}
	return &f, nil
}

// correlationKey maps a request's message on the bus to its filing.
func (w *Workstation) correlationKey(corr string) string { return w.key("correlation", corr) }

// send hands a kept filing to the bus: its scans to the attachment store,
// the signed document as a REQUEST to the provider's system, under an
// idempotency key, so that sending again never makes a second message.
func (w *Workstation) send(ctx context.Context, office, id string) error {
	f, err := w.load(ctx, office, id)
	if err != nil {
		return err
	}
	if stateRank[f.State] > 0 {
		return w.rdb.SRem(ctx, w.officeKey(office, "outbox"), id).Err()
	}
	signed, err := w.rdb.HGet(ctx, w.filingKey(office, id), "document").Result()
	if err != nil {
		return err
	}
	props := []soap.Property{{Key: shep.PropIdempotencyKey, Value: w.cfg.Desk.Namespace + "-" + office + "-" + id}}
	for _, sum := range f.Files {
		data, err := w.rdb.Get(ctx, w.officeKey(office, "draft", id, "file", sum)).Bytes()
		if err != nil {
			return fmt.Errorf("scan %s: %w", sum, err)
		}
		ref, err := w.cfg.Bus.PutAttachment(ctx, w.cfg.Sender, data)
		if err != nil {
			return err
		}
		props = append(props, soap.Property{Key: shep.PropAttachment, Value: ref})
	}
	resp, err := w.cfg.Bus.SendMessage(ctx, shep.NewSendMessage(w.cfg.Sender, f.BusService, soap.TypeRequest, "", signed, props...))
	if err != nil {
		return err
	}
	corr := resp.Response.CorrelationID
	if err := w.rdb.Set(ctx, w.correlationKey(corr), office+"/"+id, 0).Err(); err != nil {
		return err
	}
	f.Correlation, f.BusMessageID = corr, resp.Response.MessageID
	now := w.cfg.Now()
	if _, err := w.advance(ctx, f, StateSent, w.cfg.Sender.SenderID, now, ""); err != nil {
		return err
	}
	// Watched until its result comes (checkStuck).
	w.rdb.ZAdd(ctx, w.officeKey(office, "open"), redis.Z{Score: float64(now.UnixMilli()), Member: id})
	keys := []string{}
	for _, sum := range f.Files {
		keys = append(keys, w.officeKey(office, "draft", id, "file", sum))
	}
	if len(keys) > 0 {
		w.rdb.Del(ctx, keys...)
	}
	if err := w.rdb.SRem(ctx, w.officeKey(office, "outbox"), id).Err(); err != nil {
		return err
	}
	// The filing is on its way; the portal's outbox tells the portal
	// again if this fails.
	if err := w.tellPortal(ctx, office, id); err != nil {
		w.cfg.Log.Warn(w.cfg.Desk.Name+": the portal is told of the filing later", "request", id, "err", err)
	}
	return nil
}

// tellPortal tells the portal, for the citizen's cabinet, of a filing that
// is on the bus, of its result once it is at the counter and of its
// hand-out; what the bus
// did not take stays in the office's portal outbox and is sent again. Each
// is sent under an idempotency key: told twice, the portal gets it once.
func (w *Workstation) tellPortal(ctx context.Context, office, id string) error {
	if w.cfg.Portal == "" {
		return nil
	}
	outbox := w.officeKey(office, "portal-outbox")
	key := w.filingKey(office, id)
	v, err := w.rdb.HMGet(ctx, key, "rank", "portalFiled", "portalResult", "document", "result", "portalHandOut").Result()
	if err != nil {
		return err
	}
	str := func(x any) string { s, _ := x.(string); return s }
	rank, _ := strconv.Atoi(str(v[0]))
	if rank < stateRank[StateSent] {
		return nil // the portal hears of it once the provider's system can
	}
	if str(v[1]) == "" {
		f, err := w.load(ctx, office, id)
		if err != nil {
			return err
		}
		props := []soap.Property{{Key: shep.PropIdempotencyKey, Value: w.cfg.Desk.Namespace + "-portal-filing-" + office + "-" + id},
			{Key: document.PropAcceptedAt, Value: f.Receipt.AcceptedAt.Format(time.RFC3339Nano)},
			{Key: document.PropDueAt, Value: f.Receipt.DueAt.Format(time.RFC3339Nano)}}
		if _, err := w.cfg.Bus.SendMessage(ctx, shep.NewSendMessage(w.cfg.Sender, document.CounterFilingService(w.cfg.Portal), soap.TypeRequest, "", str(v[3]), props...)); err != nil {
			return fmt.Errorf("telling the portal of the filing: %w", err)
		}
		w.rdb.HSet(ctx, key, "portalFiled", "1")
	}
	resultTold, handOutTold := str(v[2]) != "", str(v[5]) != ""
	if rank >= stateRank[StateReady] && !resultTold {
		props := []soap.Property{{Key: shep.PropIdempotencyKey, Value: w.cfg.Desk.Namespace + "-portal-result-" + office + "-" + id}}
		if _, err := w.cfg.Bus.SendMessage(ctx, shep.NewSendMessage(w.cfg.Sender, document.CounterResultService(w.cfg.Portal), soap.TypeRequest, "", str(v[4]), props...)); err != nil {
			return fmt.Errorf("handing the result on to the portal: %w", err)
		}
		w.rdb.HSet(ctx, key, "portalResult", "1")
		resultTold = true
	}
	handedOut := rank >= stateRank[StateHandedOut]
	if handedOut && !handOutTold {
		f, err := w.load(ctx, office, id)
		if err != nil {
			return err
		}
		if f.HandOut == nil {
			return fmt.Errorf("filing %s is handed out with no record of it", id)
		}
		h := document.HandOut{RequestID: id, Applicant: f.Applicant, To: f.HandOut.To, Office: office, At: f.HandOut.At.UTC()}
		props := []soap.Property{{Key: shep.PropIdempotencyKey, Value: w.cfg.Desk.Namespace + "-portal-handout-" + office + "-" + id}}
		if _, err := w.cfg.Bus.SendMessage(ctx, shep.NewSendMessage(w.cfg.Sender, document.CounterHandOutService(w.cfg.Portal), soap.TypeRequest, "", string(h.Document()), props...)); err != nil {
			return fmt.Errorf("telling the portal of the hand-out: %w", err)
		}
		w.rdb.HSet(ctx, key, "portalHandOut", "1")
		handOutTold = true
	}
	// Told of the result, the filing leaves the outbox until it is handed
	// out (the hand-out puts it back).
	if resultTold && (!handedOut || handOutTold) {
		return leaveOutboxScript.Run(ctx, w.rdb, []string{key, outbox}, id).Err()
	}
	return nil
}

// Run sends the filings the bus did not take yet and files the providers'
// answers, until ctx ends.
func (w *Workstation) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		lastCheck := time.Now()
		for retry.Sleep(ctx, w.cfg.RelayEvery) {
			w.relay(ctx)
			if time.Since(lastCheck) >= w.cfg.StuckAfter {
				lastCheck = time.Now()
				if _, err := w.checkStuck(ctx); err != nil && ctx.Err() == nil {
					w.cfg.Log.Warn(w.cfg.Desk.Name+": looking for stuck filings failed; looked again later", "err", err)
				}
			}
		}
	}()
	w.consume(ctx)
	<-done
}

func (w *Workstation) offices() []string {
	seen := map[string]bool{}
	var out []string
	for _, op := range w.cfg.Operators.All() {
		if !seen[op.Office.Code] {
			seen[op.Office.Code] = true
			out = append(out, op.Office.Code)
		}
	}
	return out
}

// relay sends again what is in the offices' outboxes.
func (w *Workstation) relay(ctx context.Context) {
	for _, office := range w.offices() {
		w.notifyPending(ctx, office)
		if ids, err := w.rdb.SMembers(ctx, w.officeKey(office, "portal-outbox")).Result(); err == nil {
			for _, id := range ids {
				if err := w.tellPortal(ctx, office, id); err != nil && ctx.Err() == nil {
					w.cfg.Log.Warn(w.cfg.Desk.Name+": telling the portal failed; it is told again", "request", id, "err", err)
				}
			}
		}
		ids, err := w.rdb.SMembers(ctx, w.officeKey(office, "outbox")).Result()
		if err != nil {
			continue
		}
		for _, id := range ids {
			key := w.filingKey(office, id)
			if next, _ := w.rdb.HGet(ctx, key, "nextSendAt").Int64(); time.Now().UnixMilli() < next {
				continue // backing off: a bus that refuses is not asked every tick
			}
			if err := w.send(ctx, office, id); err != nil && ctx.Err() == nil {
				attempts, _ := w.rdb.HIncrBy(ctx, key, "sendAttempts", 1).Result()
				w.rdb.HSet(ctx, key, "nextSendAt", time.Now().Add(w.sendBackoff.Delay(int(attempts))).UnixMilli())
				w.noteError(ctx, office, id, err)
			}
		}
	}
}

// StuckPrefix starts the lastError of a filing the bus stopped delivering.
const StuckPrefix = "stuck: "

// checkStuck asks the bus about the filings that have waited StuckAfter
// for their result. One the bus stopped delivering (the provider's system
// rejected it, or it expired) will never be answered by itself: it is
// marked with the reason, where the operator sees it (GET /filings/{id}),
// until the bus's operators redeliver it (egovctl shep dead-letters). It
// returns how many it marked.
func (w *Workstation) checkStuck(ctx context.Context) (int, error) {
	marked := 0
	now := w.cfg.Now()
	for _, office := range w.offices() {
		open := w.officeKey(office, "open")
		ids, err := w.rdb.ZRangeByScore(ctx, open, &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(now.Add(-w.cfg.StuckAfter).UnixMilli(), 10), Count: 200}).Result()
		if err != nil {
			return marked, err
		}
		for _, id := range ids {
			f, err := w.load(ctx, office, id)
			if err != nil || stateRank[f.State] >= stateRank[StateReady] {
				w.rdb.ZRem(ctx, open, id) // answered, or gone
				continue
			}
			st, err := w.cfg.Bus.GetMessageStatus(ctx, shep.NewGetMessageStatus(w.cfg.Sender, f.BusMessageID))
			if err != nil {
				return marked, err // the bus is down: looked at again next time
			}
			w.rdb.ZAdd(ctx, open, redis.Z{Score: float64(now.UnixMilli()), Member: id})
			stopped, reason := shep.DeliveryStopped(st)
			if !stopped {
				if strings.HasPrefix(f.LastError, StuckPrefix) {
					w.rdb.HDel(ctx, w.filingKey(office, id), "lastError") // redelivered
				}
				continue
			}
			note := StuckPrefix + "the bus stopped delivering the filing to " + f.Recipient + ": " + reason + "; the bus's operators redeliver it once the cause is fixed"
			if f.LastError == note {
				continue
			}
			w.rdb.HSet(ctx, w.filingKey(office, id), "lastError", note)
			marked++
			w.cfg.Log.Warn(w.cfg.Desk.Name+": filing stuck: the bus stopped delivering it", "request", id, "office", office, "reason", reason)
		}
	}
	return marked, nil
}

// noteError shows on the filing why it has not moved on (its next move
// clears it).
func (w *Workstation) noteError(ctx context.Context, office, id string, err error) {
	w.rdb.HSet(ctx, w.filingKey(office, id), "lastError", err.Error())
	w.cfg.Log.Warn(w.cfg.Desk.Name+": sending the filing failed; it is sent again", "request", id, "err", err)
}

// pollService names a service for getMessages (the bus authorises the
// poll by it; the queue holds the answers of all).
func (w *Workstation) pollService() string {
	for _, svc := range w.cfg.Catalogue.Services {
		for _, r := range svc.Regions {
			for _, name := range w.cfg.Desk.Channels {
				if ch := r.Channels[name]; ch != nil && ch.Recipient != "" {
					return ch.BusServiceOf(svc.Code)
				}
			}
		}
	}
	return ""
}

// consume polls the workstation's queue for the providers' answers and
// confirms each once it is filed; one that can never be filed (it belongs
// to no filing, or its signature does not hold) is rejected to the dead
// letters.
func (w *Workstation) consume(ctx context.Context) {
	backoff := retry.New(time.Second, 30*time.Second)
	service := w.pollService()
	for ctx.Err() == nil {
		resp, err := w.cfg.Bus.GetMessages(ctx, shep.NewGetMessages(w.cfg.Sender, service, 20, w.cfg.PollWait))
		if err != nil {
			if ctx.Err() == nil {
				d := backoff.Next()
				w.cfg.Log.Warn(w.cfg.Desk.Name+": polling the bus failed", "retry_in", d, "err", err)
				retry.Sleep(ctx, d)
			}
			continue
		}
		backoff.Reset()
		for _, m := range resp.Response.Messages {
			err := w.HandleAnswer(ctx, m)
			if ctx.Err() != nil {
				return
			}
			note := shep.NewDeliveryNotification(w.cfg.Sender, m.MessageInfo, err == nil, fmt.Sprint(err))
			if err != nil && egov.Permanent(err) {
				w.cfg.Log.Warn(w.cfg.Desk.Name+": answer rejected", "message", m.MessageInfo.MessageID, "err", err)
				note = shep.NewRejection(w.cfg.Sender, m.MessageInfo, string(egov.ErrorCode(err)), err.Error())
			} else if err != nil {
				w.cfg.Log.Warn(w.cfg.Desk.Name+": answer not filed yet; it comes back", "message", m.MessageInfo.MessageID, "err", err)
			}
			if _, err := w.cfg.Bus.SendDeliveryNotification(ctx, note); err != nil {
				w.cfg.Log.Warn(w.cfg.Desk.Name+": delivery notification failed", "message", m.MessageInfo.MessageID, "err", err)
			}
		}
	}
}

func unmatched(format string, args ...any) error {
	return egov.Errorf(egov.CodeAnswerUnmatched, format, args...)
}

// HandleAnswer files one answer of a provider's system to a filing: the
// notice that it registered the request (P6), or its signed result (P7),
// which then waits at the counter for hand-out. An answer is believed only
// as far as it is verified: from the system the filing went to, about
// this request of this applicant, the result signed for that system's BIN.
func (w *Workstation) HandleAnswer(ctx context.Context, m soap.AsyncMessage) error {
	info := m.MessageInfo
	where, err := w.rdb.Get(ctx, w.correlationKey(info.CorrelationID)).Result()
	if errors.Is(err, redis.Nil) {
		// The correlation is written right after the bus takes the filing;
		// a fast provider may answer before that. The answer comes back.
		return fmt.Errorf("no filing for correlation %s (yet)", info.CorrelationID)
	}
	if err != nil {
		return err
	}
	office, id, _ := strings.Cut(where, "/")
	f, err := w.load(ctx, office, id)
	if err != nil {
		return err
	}
	if f.Recipient != info.Sender.SenderID || f.BusService != info.ServiceID {
		return unmatched("answer from %s for %s does not fit filing %s", info.Sender.SenderID, info.ServiceID, id)
	}
	f.Correlation = info.CorrelationID // an answer may come before the sender wrote it down
	now := w.cfg.Now()
	switch info.MessageType {
	case soap.TypeNotification:
		doc, err := signing.ParseScreened([]byte(m.MessageData.Data), signing.Limits{MaxBytes: 4 << 10, MaxDepth: 4, MaxElements: 8})
		if err != nil {
			return unmatched("notice: %v", err)
		}
		n, err := document.ReadNotice(doc.Root())
		if err != nil {
			return err
		}
		if n.RequestID != id || n.Applicant != f.Applicant {
			return unmatched("notice names another request or applicant than filing %s", id)
		}
		_, err = w.advance(ctx, f, StateInProgress, info.Sender.SenderID, now, "")
		return err
	case soap.TypeResponse:
		bin, ok := w.cfg.ProviderBINs[info.Sender.SenderID]
		if !ok {
			return unmatched("no provider %s known to the counter", info.Sender.SenderID)
		}
		res, result, err := document.VerifyResult(ctx, w.cfg.Verifier, []byte(m.MessageData.Data), bin, nil)
		if err != nil {
			return err
		}
		if result.RequestID != id || result.Applicant != f.Applicant {
			return unmatched("result names another request or applicant than filing %s", id)
		}
		f.Outcome, f.ResultNumber, f.ResultDate, f.Signer = string(result.Outcome), result.Number, result.Date, res.Signer.CommonName
		if result.Ground != nil {
			f.Ground, f.GroundText = result.Ground.Code, &result.Ground.Text
		}
		if _, err = w.advance(ctx, f, StateReady, info.Sender.SenderID, now, "", "result", m.MessageData.Data); err != nil {
			return err
		}
		w.cfg.Log.Info(w.cfg.Desk.Name+": result ready for hand-out", "request", id, "office", office, "outcome", f.Outcome)
		if err := w.tellPortal(ctx, office, id); err != nil {
			w.cfg.Log.Warn(w.cfg.Desk.Name+": the portal is told of the result later", "request", id, "err", err)
		}
		// The applicant is told by SMS; what fails is sent again (relay).
		if err := w.rdb.SAdd(ctx, w.officeKey(office, "sms-outbox"), id).Err(); err != nil {
			return err
		}
		if settled, err := w.notify(ctx, office, id); settled {
			w.rdb.SRem(ctx, w.officeKey(office, "sms-outbox"), id)
		} else if err != nil {
			w.cfg.Log.Warn(w.cfg.Desk.Name+": the applicant's notice is sent again later", "request", id, "err", err)
		}
		return nil
	}
	return nil // an UPDATE changes nothing at the counter
}

// Ready lists the results waiting at the operator's office for hand-out,
// oldest first.
func (w *Workstation) Ready(ctx context.Context, op *Operator) ([]*Filing, error) {
	ids, err := w.rdb.ZRange(ctx, w.officeKey(op.Office.Code, "ready"), 0, 199).Result()
	if err != nil {
		return nil, err
	}
	out := []*Filing{}
	for _, id := range ids {
		if f, err := w.load(ctx, op.Office.Code, id); err == nil {
			out = append(out, f)
		}
	}
	return out, nil
}

// Filing returns one filing of the operator's office.
func (w *Workstation) Filing(ctx context.Context, op *Operator, id string) (*Filing, error) {
	return w.load(ctx, op.Office.Code, id)
}

// Result returns the provider's signed result of a filing of the
// operator's office.
func (w *Workstation) Result(ctx context.Context, op *Operator, id string) (string, error) {
	doc, err := w.rdb.HGet(ctx, w.filingKey(op.Office.Code, id), "result").Result()
	if errors.Is(err, redis.Nil) {
		return "", egov.Errorf(egov.CodeNotFound, "no result of %s at office %s (yet)", id, op.Office.Code)
	}
	return doc, err
}

// HandOutTo records that the operator gave the result of a filing to the
// person of iin: the applicant, or the representative who filed it. Only
// a result that is ready can be handed out, and only once.
func (w *Workstation) HandOutTo(ctx context.Context, op *Operator, id, iin string) (*Filing, error) {
	f, err := w.load(ctx, op.Office.Code, id)
	if err != nil {
		return nil, err
	}
	to := ""
	switch iin {
	case f.Applicant:
		to = "applicant"
	case f.Representative:
		if iin != "" {
			to = "representative"
		}
	}
	if to == "" {
		return nil, egov.Errorf(egov.CodeHandOutRefused, "%s is neither the applicant nor the representative of %s", signing.MaskIIN(iin), id)
	}
	now := w.cfg.Now()
	f.HandOut = &HandOut{To: to, IIN: signing.MaskIIN(iin), By: op.Login, At: now}
	switch n, err := w.advance(ctx, f, StateHandedOut, op.Login, now, strconv.Itoa(stateRank[StateReady])); {
	case err != nil:
		return nil, err
	case n == 0:
		return nil, egov.Errorf(egov.CodeHandOutRefused, "the result of %s was handed out already", id)
	case n == -2:
		return nil, egov.Errorf(egov.CodeHandOutRefused, "the result of %s is not at the counter yet", id)
	}
	w.cfg.Log.Info(w.cfg.Desk.Name+": result handed out", "request", id, "office", op.Office.Code, "to", to, "operator", op.Login)
	// The cabinet shows the hand-out too: the move put the filing in the
	// portal outbox, which tells the portal again if this fails.
	if w.cfg.Portal != "" {
		if err := w.tellPortal(ctx, op.Office.Code, id); err != nil {
			w.cfg.Log.Warn(w.cfg.Desk.Name+": the portal is told of the hand-out later", "request", id, "err", err)
		}
	}
	return f, nil
}
