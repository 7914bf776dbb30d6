package gateway

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"egov"
	"egov/document"
	"egov/signing"
	"egov/web"
)

// catalogueEntry is a service as the catalogue page lists it.
type catalogueEntry struct {
	Code, Label, Name, Provider string
	Portal                      bool
	Channels                    []string // localised names of the other channels
}

func (p *pages) handleCatalogue(c echo.Context) error {
	pg := p.newPage(c, "catalogue.title", nil)
	var online, offline []catalogueEntry
	for _, s := range p.app.cfg.Catalogue.Services {
		e := catalogueEntry{Code: s.Code, Label: s.Label, Name: s.Names.In(pg.Lang), Provider: s.Provider.In(pg.Lang), Portal: s.OnPortal()}
		for _, ch := range s.Channels() {
			if ch != ChannelPortal {
				e.Channels = append(e.Channels, pg.T("channel."+ch))
			}
		}
		if e.Portal {
			online = append(online, e)
		} else {
			offline = append(offline, e)
		}
	}
	pg.Data = map[string]any{"Online": online, "Offline": offline}
	return p.site.Render(c, http.StatusOK, "catalogue", pg)
}

// formFieldView is a field of a service's form on its page.
type formFieldView struct {
	Name, Label string
	Required    bool
	Choices     []struct{ Value, Label string }
	MaxLength   int
}

// documentView is a document a service's form asks for.
type documentView struct {
	Kind, Label    string
	Required       bool
	Accept         string // the input's accept list
	MaxMiB         int64
	ExpiryRequired bool
}

// channelPlace is a channel of a region as the service page tells it.
type channelPlace struct {
	Name, Where, Term, Note string
	Bring                   []string
}

type regionPlaces struct {
	Code, Name string
	Channels   []channelPlace
}

func (p *pages) handleService(c echo.Context) error {
	s, err := p.app.cfg.Catalogue.Lookup(c.Param("code"))
	if err != nil {
		return err
	}
	pg := p.newPage(c, "service.title", nil)
	pg.Title = s.Names.In(pg.Lang)
	v := view(s, pg.Lang, true)
	data := map[string]any{"Service": v, "Code": s.Code, "Label": s.Label}
	var portalRegions []struct{ Code, Name string }
	var places []regionPlaces
	for _, code := range sortedKeys(v.Regions) {
		r := v.Regions[code]
		rp := regionPlaces{Code: code, Name: pg.T("region." + code)}
		for _, ch := range channelOrder {
			cv, ok := r.Channels[ch]
			if !ok {
				continue
			}
			if ch == ChannelPortal {
				portalRegions = append(portalRegions, struct{ Code, Name string }{code, rp.Name})
			}
			rp.Channels = append(rp.Channels, channelPlace{Name: pg.T("channel." + ch), Where: cv.Where, Bring: cv.Bring,
				Term: termText(cv.WorkingMinutes, pg), Note: cv.TermNote})
		}
		places = append(places, rp)
	}
	data["Regions"], data["Places"] = portalRegions, places
	if s.Portal != nil {
		var fields []formFieldView
		for _, f := range s.Portal.Form {
			fv := formFieldView{Name: f.Name, Label: f.Label.In(pg.Lang), Required: f.Required, MaxLength: f.MaxLength}
			for _, val := range f.Values {
				fv.Choices = append(fv.Choices, struct{ Value, Label string }{val, f.ValueLabels[val].In(pg.Lang)})
			}
			fields = append(fields, fv)
		}
		var docs []documentView
		for _, d := range s.Portal.Documents {
			docs = append(docs, documentView{Kind: d.Kind, Label: d.Label.In(pg.Lang), Required: d.Required,
				Accept: strings.Join(d.MIMETypes, ","), MaxMiB: d.MaxSize >> 20, ExpiryRequired: d.ExpiryRequired})
		}
		data["Fields"], data["Documents"] = fields, docs
	}
	pg.Data = data
	return p.site.Render(c, http.StatusOK, "service", pg)
}

// termText says a term in working days, or hours when it is shorter.
func termText(minutes int, pg *web.Page) string {
	day := int(WorkingDay / time.Minute)
	switch {
	case minutes <= 0:
		return ""
	case minutes%day == 0:
		return fmt.Sprintf(pg.T("term.days"), minutes/day)
	default:
		return fmt.Sprintf(pg.T("term.hours"), (minutes+59)/60)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fieldRefusal is a refusal of the form with a message per input, in the
// page's language, for the script to put beside each.
type fieldRefusal struct {
	Code    egov.Code         `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields"`
}

var (
	sha256Hex   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	phoneNumber = regexp.MustCompile(`^\+7[0-9]{10}$`)
)

// handleDocument builds the request document of a filled form: the
// script sends the form's values and, for each file chosen, its name,
// type, size and SHA-256 as the browser computed them; the answer is the
// XML to sign, checked by the same reader and rules as a submission, or a
// message per input that is wrong.
func (p *pages) handleDocument(c echo.Context) error {
	s, _, err := p.app.cfg.Catalogue.PortalChannel(c.Param("code"), c.FormValue("region"))
	if err != nil {
		return err
	}
	lang := p.site.Language(c)
	t := func(key string) string { return p.site.Text(key, lang) }
	bad := map[string]string{}
	now := p.app.now()
	r := &document.Request{RequestID: uuid.NewString(), ServiceCode: s.Code, Region: c.FormValue("region"), IssuedAt: now.In(egov.Almaty),
		Applicant: document.Applicant{IIN: sessionOf(c).IIN, Surname: strings.TrimSpace(c.FormValue("surname")),
			GivenName: strings.TrimSpace(c.FormValue("givenName")), Patronymic: strings.TrimSpace(c.FormValue("patronymic")),
			Phone: strings.TrimSpace(c.FormValue("phone"))}}
	for _, name := range []string{"surname", "givenName"} {
		if strings.TrimSpace(c.FormValue(name)) == "" {
			bad[name] = t("form.required")
		}
	}
	for _, name := range []string{"surname", "givenName", "patronymic"} {
		if len([]rune(strings.TrimSpace(c.FormValue(name)))) > 100 {
			bad[name] = fmt.Sprintf(t("form.tooLong"), 100)
		}
	}
	if ph := r.Applicant.Phone; ph != "" && !phoneNumber.MatchString(ph) {
		bad["phone"] = t("form.phone")
	}
	for _, f := range s.Portal.Form {
		v := strings.TrimSpace(c.FormValue("field." + f.Name))
		switch {
		case v == "" && f.Required:
			bad["field."+f.Name] = t("form.required")
		case v == "":
		case f.Type == "enum" && !slices.Contains(f.Values, v):
			bad["field."+f.Name] = t("form.choose")
		case f.MaxLength > 0 && len([]rune(v)) > f.MaxLength:
			bad["field."+f.Name] = fmt.Sprintf(t("form.tooLong"), f.MaxLength)
		default:
			if r.Form == nil {
				r.Form = map[string]string{}
			}
			r.Form[f.Name] = v
		}
	}
	today := now.In(egov.Almaty).Format(time.DateOnly)
	names := map[string]bool{}
	for _, d := range s.Portal.Documents {
		in := "file." + d.Kind
		name := c.FormValue(in + ".name")
		if name != "" && names[name] {
			// The submission pairs each file with its header by name.
			bad[in] = t("form.fileNameTwice")
			continue
		}
		names[name] = true
		if name == "" {
			if d.Required {
				bad[in] = t("form.fileRequired")
			}
			continue
		}
		size, _ := strconv.ParseInt(c.FormValue(in+".size"), 10, 64)
		h := document.AttachmentHeader{Kind: d.Kind, FileName: name, MIMEType: c.FormValue(in + ".type"), Size: size,
			SHA256: c.FormValue(in + ".sha256")}
		switch {
		case !slices.Contains(d.MIMETypes, h.MIMEType):
			bad[in] = t("form.fileType")
		case size <= 0 || size > d.MaxSize:
			bad[in] = fmt.Sprintf(t("form.fileSize"), d.MaxSize>>20)
		case !sha256Hex.MatchString(h.SHA256):
			bad[in] = t("form.fileHash")
		case len([]rune(name)) > 100:
			bad[in] = fmt.Sprintf(t("form.tooLong"), 100)
		}
		if exp := c.FormValue(in + ".expires"); exp != "" {
			at, err := time.ParseInLocation(time.DateOnly, exp, egov.Almaty)
			switch {
			case err != nil:
				bad[in+".expires"] = t("form.date")
			case exp < today:
				bad[in+".expires"] = t("form.expired")
			default:
				h.Expires = &at
			}
		} else if d.ExpiryRequired {
			bad[in+".expires"] = t("form.required")
		}
		r.Attachments = append(r.Attachments, h)
	}
	if len(bad) > 0 {
		return c.JSON(http.StatusUnprocessableEntity, fieldRefusal{Code: egov.CodeFormInvalid, Message: egov.CodeFormInvalid.Message().In(lang), Fields: bad})
	}
	// What the portal will read of it, read here the same way: a document
	// the page offers to sign is one the submission accepts.
	doc := r.Document()
	parsed := etree.NewDocument()
	if err := parsed.ReadFromBytes(doc); err != nil {
		return egov.Errorf(egov.CodeFormInvalid, "document: %v", err)
	}
	read, err := document.ReadRequest(parsed.Root())
	if err != nil {
		return err
	}
	if err := s.Portal.CheckForm(read); err != nil {
		return err
	}
	if err := s.Portal.CheckDocuments(read, now); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"requestId": r.RequestID, "document": string(doc)})
}

// loginPage is the login page's data.
type loginPage struct {
	IIN, Next  string
	Registered bool
}

func (p *pages) handleLoginPage(c echo.Context) error {
	pg := p.newPage(c, "login.title", loginPage{Next: web.LocalPath(c.QueryParam("next")), Registered: c.QueryParam("registered") == "1"})
	return p.site.Render(c, http.StatusOK, "login", pg)
}

func (p *pages) handleLogin(c echo.Context) error {
	iin, next := strings.TrimSpace(c.FormValue("iin")), web.LocalPath(c.FormValue("next"))
	token, _, err := p.app.Login(c.Request().Context(), iin, c.FormValue("password"))
	if err != nil {
		code := egov.ErrorCode(err)
		if code == egov.CodeInternal || code == egov.CodeUnavailable {
			return err
		}
		withRetryAfter(c, err)
		pg := p.newPage(c, "login.title", loginPage{IIN: iin, Next: next})
		pg.Refuse(err)
		return p.site.Render(c, code.HTTPStatus(), "login", pg)
	}
	p.replaceSession(c, token)
	if next == "" {
		next = "/cabinet"
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// challengeDocument is the AuthChallenge document a citizen signs to log
// in or to prove his IIN at registration.
func challengeDocument(nonce string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<AuthChallenge xmlns="` + ChallengeNamespace + `"><Nonce>` + nonce + `</Nonce></AuthChallenge>` + "\n"
}

func (p *pages) handleChallenge(c echo.Context) error {
	nonce, err := p.app.Challenge(c.Request().Context())
	if err != nil {
		return withRetryAfter(c, err)
	}
	return c.JSON(http.StatusOK, map[string]string{"document": challengeDocument(nonce)})
}

func (p *pages) handleSignatureLogin(c echo.Context) error {
	if ct := c.Request().Header.Get(echo.HeaderContentType); !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
		return egov.Errorf(egov.CodeMediaUnsupported, "send application/json")
	}
	var in struct {
		Signed string `json:"signed"`
		Next   string `json:"next"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	token, _, err := p.app.LoginBySignature(c.Request().Context(), []byte(in.Signed))
	if err != nil {
		return withRetryAfter(c, err)
	}
	p.replaceSession(c, token)
	next := web.LocalPath(in.Next)
	if next == "" {
		next = "/cabinet"
	}
	return c.JSON(http.StatusOK, map[string]string{"next": next})
}

// replaceSession sets the new session's cookie and ends the one the
// browser had, if any: one browser, one session.
func (p *pages) replaceSession(c echo.Context, token string) {
	if old, ok := c.Get("token").(string); ok && old != token {
		if err := p.app.Logout(c.Request().Context(), old); err != nil {
			p.app.log.Warn("page: the previous session could not be ended", "err", err)
		}
	}
	p.site.SetCookie(c, sessionCookie, token, 0)
}

func (p *pages) handleLogout(c echo.Context) error {
	if token, ok := c.Get("token").(string); ok {
		if err := p.app.Logout(c.Request().Context(), token); err != nil {
			return err
		}
	}
	p.site.SetCookie(c, sessionCookie, "", -1)
	return c.Redirect(http.StatusSeeOther, "/")
}

// registerPage is the registration page's data.
type registerPage struct {
	IIN, Phone, Proof string
	// SentTo is the masked phone a code went to.
	SentTo string
}

func (p *pages) handleRegisterPage(c echo.Context) error {
	return p.site.Render(c, http.StatusOK, "register", p.newPage(c, "register.title", registerPage{Proof: ProofSignature}))
}

func (p *pages) registerRefused(c echo.Context, data registerPage, err error) error {
	code := egov.ErrorCode(err)
	if code == egov.CodeInternal || code == egov.CodeUnavailable {
		return err
	}
	withRetryAfter(c, err)
	pg := p.newPage(c, "register.title", data)
	pg.Path = "/register"
	pg.Refuse(err)
	return p.site.Render(c, code.HTTPStatus(), "register", pg)
}

func (p *pages) handleRegister(c echo.Context) error {
	data := registerPage{IIN: strings.TrimSpace(c.FormValue("iin")), Phone: strings.TrimSpace(c.FormValue("phone")), Proof: c.FormValue("proof")}
	r := Registration{IIN: data.IIN, Password: c.FormValue("password"), Phone: data.Phone}
	if c.FormValue("password") != c.FormValue("password2") {
		return p.registerRefused(c, data, egov.Errorf(egov.CodePasswordWeak, "the two passwords differ"))
	}
	switch data.Proof {
	case ProofSMSCode:
		r.Code = strings.TrimSpace(c.FormValue("code"))
	default:
		data.Proof = ProofSignature
		r.SignedChallenge = []byte(c.FormValue("signedChallenge"))
	}
	if err := p.app.Register(c.Request().Context(), r); err != nil {
		return p.registerRefused(c, data, err)
	}
	return c.Redirect(http.StatusSeeOther, "/login?registered=1")
}

func (p *pages) handleRegisterCode(c echo.Context) error {
	data := registerPage{IIN: strings.TrimSpace(c.FormValue("iin")), Phone: strings.TrimSpace(c.FormValue("phone")), Proof: ProofSMSCode}
	sent, err := p.app.RequestCode(c.Request().Context(), data.IIN)
	if err != nil {
		return p.registerRefused(c, data, err)
	}
	data.SentTo = sent.SentTo
	pg := p.newPage(c, "register.title", data)
	pg.Path = "/register" // the language switch opens the form, not this POST
	return p.site.Render(c, http.StatusOK, "register", pg)
}

// requestPage is a request's page and its status part.
type requestPage struct {
	Request     *Request
	ServiceName string
	StateText   string
	Final       bool
	History     []struct{ Text, At string }
	// ResultID is the cabinet message of the result, once there is one.
	ResultID string
}

func (p *pages) requestPage(c echo.Context, lang string) (*requestPage, error) {
	ctx, iin := c.Request().Context(), sessionOf(c).IIN
	r, err := p.app.RequestOf(ctx, iin, c.Param("id"))
	if err != nil {
		return nil, err
	}
	rp := &requestPage{Request: r, StateText: p.site.Text("state."+string(r.State), lang), Final: r.State.Terminal()}
	if s, err := p.app.cfg.Catalogue.Lookup(r.Service); err == nil {
		rp.ServiceName = s.Names.In(lang)
	}
	for _, h := range r.History {
		text := p.site.Text("state."+h.State, lang)
		rp.History = append(rp.History, struct{ Text, At string }{text, web.FormatTime(h.At)})
	}
	if rp.Final {
		// The result is among the messages filed after the request was
		// accepted: newest first, so the search stops at older ones.
		cursor := ""
	search:
		for pages := 0; pages < 10; pages++ {
			page, err := p.app.Cabinet(ctx, iin, cursor, 100, false)
			if err != nil {
				return nil, err
			}
			for _, m := range page.Messages {
				if m.RequestID == r.ID && (m.Kind == "result" || m.Kind == "refusal") {
					rp.ResultID = m.ID
					break search
				}
				if m.At.Before(r.AcceptedAt) {
					break search
				}
			}
			if cursor = page.Next; cursor == "" {
				break
			}
		}
	}
	return rp, nil
}

func (p *pages) handleRequestPage(c echo.Context) error {
	pg := p.newPage(c, "request.title", nil)
	rp, err := p.requestPage(c, pg.Lang)
	if err != nil {
		return err
	}
	pg.Data = rp
	return p.site.Render(c, http.StatusOK, "request", pg)
}

// handleRequestStatus is the status part of a request's page, for the
// script that keeps it current.
func (p *pages) handleRequestStatus(c echo.Context) error {
	pg := p.newPage(c, "request.title", nil)
	rp, err := p.requestPage(c, pg.Lang)
	if err != nil {
		return err
	}
	pg.Data = rp
	return p.site.RenderBlock(c, http.StatusOK, "request", "status", pg)
}

// cabinetEntry is a message as the cabinet lists it.
type cabinetEntry struct {
	ID, Kind, Title, At, RequestID string
	Read                           bool
}

func (p *pages) handleCabinet(c echo.Context) error {
	pg := p.newPage(c, "cabinet.title", nil)
	unreadOnly := c.QueryParam("unread") == "1"
	page, err := p.app.Cabinet(c.Request().Context(), sessionOf(c).IIN, c.QueryParam("cursor"), p.opt.CabinetPageSize, unreadOnly)
	if err != nil {
		return err
	}
	entries := make([]cabinetEntry, len(page.Messages))
	for i, m := range page.Messages {
		entries[i] = cabinetEntry{ID: m.ID, Kind: pg.T("kind." + m.Kind), Title: m.Title.In(pg.Lang), At: web.FormatTime(m.At), RequestID: m.RequestID, Read: m.Read}
	}
	next := ""
	if page.Next != "" {
		q := "?cursor=" + page.Next
		if unreadOnly {
			q += "&unread=1"
		}
		next = "/cabinet" + q
	}
	pg.Data = map[string]any{"Messages": entries, "Unread": page.Unread, "Next": next, "UnreadOnly": unreadOnly, "First": c.QueryParam("cursor") == ""}
	return p.site.Render(c, http.StatusOK, "cabinet", pg)
}

// signatureView is what the result's page says of its signature, checked
// again when the page is shown.
type signatureView struct {
	Valid        bool
	Refusal      string
	Code         egov.Code
	Organization string
	Person       string
	BIN          string
	Serial       string
	SignedBy     string // the signer's role
}

func (p *pages) handleMessage(c echo.Context) error {
	ctx, iin := c.Request().Context(), sessionOf(c).IIN
	m, doc, err := p.app.CabinetMessageOf(ctx, iin, c.Param("id"))
	if err != nil {
		return err
	}
	if !m.Read {
		if err := p.app.MarkRead(ctx, iin, m.ID); err != nil {
			return err
		}
	}
	pg := p.newPage(c, "message.title", nil)
	pg.Title = m.Title.In(pg.Lang)
	data := map[string]any{"Message": m, "Kind": pg.T("kind." + m.Kind), "Text": m.Text.In(pg.Lang), "At": web.FormatTime(m.At)}
	var details []struct{ Label, Value string }
	for _, k := range sortedKeys(m.Data) {
		// A value the pages know words for (an outcome, a channel) is said
		// in them; a moment in Astana time.
		v := p.site.TextOr("value."+k+"."+m.Data[k], pg.Lang, m.Data[k])
		if at, err := time.Parse(time.RFC3339Nano, m.Data[k]); err == nil {
			v = web.FormatTime(at)
		}
		details = append(details, struct{ Label, Value string }{p.site.TextOr("data."+k, pg.Lang, k), v})
	}
	data["Details"] = details
	if m.HasDocument && doc != "" {
		sig := signatureView{}
		res, err := p.app.cfg.ResultVerifier.Verify(ctx, []byte(doc))
		if err != nil {
			code := egov.ErrorCode(err)
			if code == egov.CodeInternal || code == egov.CodeUnavailable {
				return err
			}
			sig.Code, sig.Refusal = code, code.Message().In(pg.Lang)
		} else {
			id := res.Signer
			sig.Valid, sig.Organization, sig.Person, sig.BIN, sig.Serial = true, id.Organization, personName(id), id.BIN, id.Serial
			for _, u := range id.KeyUsers {
				if u != signing.KeyUserOrganization {
					sig.SignedBy = p.site.TextOr("keyuser."+string(u), pg.Lang, string(u))
				}
			}
		}
		data["Signature"] = sig
	}
	pg.Data = data
	return p.site.Render(c, http.StatusOK, "message", pg)
}

// personName is the signer as a person: surname and given name (the
// certificate's CN holds both).
func personName(id signing.Identity) string {
	if id.CommonName != "" {
		return id.CommonName
	}
	return strings.TrimSpace(id.Surname + " " + id.GivenName)
}
