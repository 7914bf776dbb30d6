package counter

import (
	"embed"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"egov"
	"egov/web"
)

// The operators' pages: the workstation in a browser, on the machinery of
// the citizen's portal (package web). An operator logs in, enters the
// applicant and the documents, signs the request document the registers'
// check let through with his own key through NCALayer, gives the
// applicant his receipt, watches the filing and hands the result out.

//go:embed pages/*.html
var pageTemplates embed.FS

// PageOptions turn the operators' pages on (HandlerWith).
type PageOptions struct {
	// SignerURL is where the pages find NCALayer on the operator's
	// computer (default web.DefaultSignerURL).
	SignerURL string
	// SecureCookies marks the cookies Secure (the desk served over TLS).
	SecureCookies bool
}

// operatorCookie holds the operator's session token.
const operatorCookie = "egov_operator_session"

type operatorPages struct {
	w    *Workstation
	site *web.Site
}

var operatorPageNames = []string{"login", "home", "intake", "draft", "filing", "ready"}

func newOperatorPages(w *Workstation, opt PageOptions) (*operatorPages, error) {
	files, _ := fs.Sub(pageTemplates, "pages")
	site, err := web.New(web.Options{Brand: "brand." + w.cfg.Desk.System, SignerURL: opt.SignerURL, SecureCookies: opt.SecureCookies,
		Texts: operatorTexts, Nav: operatorNav, CSRFCookie: "egov_operator_csrf"}, files, operatorPageNames...)
	if err != nil {
		return nil, err
	}
	return &operatorPages{w: w, site: site}, nil
}

func operatorNav(pg *web.Page) []web.Link {
	if pg.User == "" {
		return []web.Link{{Href: "/login", Text: "op.nav.login"}}
	}
	return []web.Link{{Href: "/", Text: "op.nav.services"}, {Href: "/ready", Text: "op.nav.ready"}}
}

func (p *operatorPages) mount(e *echo.Echo, ids echo.MiddlewareFunc) {
	routes := map[string]web.Route{
		"/login":                 {Limit: 16 << 10},
		"/intake/:code":          {Limit: 36 << 20},
		"/drafts/:id/submission": {JSON: true, Limit: 1 << 20},
		"/filings/:id/hand-out":  {Limit: 16 << 10},
	}
	// Each route gets the guard and the session itself: a group's
	// middleware would also catch the API's unknown paths and methods.
	first := []echo.MiddlewareFunc{p.site.Guard(routes), p.session()}
	g := func(method, path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
		e.Add(method, path, h, append(first[:len(first):len(first)], mw...)...)
	}
	login := p.requireOperator
	g(http.MethodGet, "/", p.handleHome, login)
	g(http.MethodGet, "/login", p.handleLoginPage)
	g(http.MethodPost, "/login", p.handleLogin)
	g(http.MethodPost, "/logout", p.handleLogout)
	g(http.MethodGet, "/intake/:code", p.handleIntakePage, login)
	g(http.MethodPost, "/intake/:code", p.handleIntake, login)
	g(http.MethodPost, "/drafts/:id/submission", p.handleSubmit, ids, login)
	g(http.MethodGet, "/ready", p.handleReady, login)
	g(http.MethodGet, "/filings/:id", p.handleFiling, ids, login)
	g(http.MethodGet, "/filings/:id/status", p.handleFilingStatus, ids, login)
	g(http.MethodGet, "/filings/:id/result", p.handleResult, ids, login)
	g(http.MethodPost, "/filings/:id/hand-out", p.handleHandOut, ids, login)
	e.GET("/static/*", web.Static(), p.site.Headers)
}

// session reads the operator's session cookie, as the API's bearer token.
func (p *operatorPages) session() echo.MiddlewareFunc {
	return p.site.Session(operatorCookie, "operator", func(c echo.Context, token string) (any, error) {
		return p.w.Session(c.Request().Context(), token)
	})
}

func (p *operatorPages) requireOperator(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Get("operator") != nil {
			return next(c)
		}
		if web.FromScript(c) || c.Request().Method != http.MethodGet {
			return egov.Errorf(egov.CodeAuthorizationRefused, "no session cookie")
		}
		return c.Redirect(http.StatusSeeOther, "/login")
	}
}

// operatorName is who the header names.
func operatorName(c echo.Context) string {
	if op, ok := c.Get("operator").(*Operator); ok {
		return op.Name + " (" + op.Office.Code + ")"
	}
	return ""
}

func (p *operatorPages) newPage(c echo.Context, titleKey string, data any) *web.Page {
	return p.site.NewPage(c, operatorName(c), titleKey, data)
}

func (p *operatorPages) renderError(err error, c echo.Context) {
	if code := web.Refusal(err); code == egov.CodeInternal || code == egov.CodeUnavailable {
		p.w.cfg.Log.Error(p.w.cfg.Desk.Name+": page failed", "path", c.Path(), "err", err)
	}
	p.site.RenderError(err, c, operatorName(c))
}

func (p *operatorPages) handleLoginPage(c echo.Context) error {
	return p.site.Render(c, http.StatusOK, "login", p.newPage(c, "op.login.title", map[string]string{}))
}

func (p *operatorPages) handleLogin(c echo.Context) error {
	login := strings.TrimSpace(c.FormValue("login"))
	token, _, err := p.w.Login(c.Request().Context(), login, c.FormValue("password"))
	if err != nil {
		if code := egov.ErrorCode(err); code == egov.CodeInternal || code == egov.CodeUnavailable {
			return err
		}
		pg := p.newPage(c, "op.login.title", map[string]string{"Login": login})
		pg.Refuse(err)
		return p.site.Render(c, egov.ErrorCode(err).HTTPStatus(), "login", pg)
	}
	p.site.SetCookie(c, operatorCookie, token, 0)
	return c.Redirect(http.StatusSeeOther, "/")
}

func (p *operatorPages) handleLogout(c echo.Context) error {
	if token, ok := c.Get("token").(string); ok {
		if err := p.w.Logout(c.Request().Context(), token); err != nil {
			return err
		}
	}
	p.site.SetCookie(c, operatorCookie, "", -1)
	return c.Redirect(http.StatusSeeOther, "/login")
}

// deskService is a service the operator's desk files in his region.
type deskService struct{ Code, Label, Name, Flow string }

func (p *operatorPages) handleHome(c echo.Context) error {
	op := operatorOf(c)
	pg := p.newPage(c, "op.home.title", nil)
	var list []deskService
	for _, s := range p.w.cfg.Catalogue.Services {
		if _, ch, err := p.w.cfg.Desk.channel(p.w.cfg.Catalogue, s.Code, op.Office.Region); err == nil {
			list = append(list, deskService{Code: s.Code, Label: s.Label, Name: s.Names.In(pg.Lang), Flow: ch.Flow})
		}
	}
	pg.Data = map[string]any{"Services": list, "Office": op.Office, "Region": pg.T("op.region." + op.Office.Region)}
	return p.site.Render(c, http.StatusOK, "home", pg)
}

// intakePage is the intake form of a service, and what was entered when
// it is shown again with a refusal.
type intakePage struct {
	Code, Name, Flow string
	InPerson         bool
	Fields           []intakeField
	Documents        []intakeDocument
	Values           map[string]string
	// Receipt is the refusal to accept an incomplete package, to print.
	Receipt *RefusalReceipt
	Missing []string
	// Register names the register that had no data, and why.
	Register, Reason string
}

type intakeField struct {
	Name, Label string
	Required    bool
	Choices     []struct{ Value, Label string }
	MaxLength   int
}

type intakeDocument struct {
	Kind, Label    string
	Required       bool
	ExpiryRequired bool
	Accept         string
}

func (p *operatorPages) intakePage(c echo.Context, pg *web.Page, values map[string]string) (*intakePage, error) {
	op := operatorOf(c)
	svc, ch, err := p.w.cfg.Desk.channel(p.w.cfg.Catalogue, c.Param("code"), op.Office.Region)
	if err != nil {
		return nil, err
	}
	form := svc.DeskForm()
	ip := &intakePage{Code: svc.Code, Name: svc.Names.In(pg.Lang), Flow: ch.Flow, InPerson: flows[ch.Flow].InPerson, Values: values}
	for _, f := range form.Form {
		fv := intakeField{Name: f.Name, Label: f.Label.In(pg.Lang), Required: f.Required, MaxLength: f.MaxLength}
		for _, v := range f.Values {
			fv.Choices = append(fv.Choices, struct{ Value, Label string }{v, f.ValueLabels[v].In(pg.Lang)})
		}
		ip.Fields = append(ip.Fields, fv)
	}
	for _, d := range form.Documents {
		ip.Documents = append(ip.Documents, intakeDocument{Kind: d.Kind, Label: d.Label.In(pg.Lang), Required: d.Required,
			ExpiryRequired: d.ExpiryRequired, Accept: strings.Join(d.MIMETypes, ",")})
	}
	return ip, nil
}

func (p *operatorPages) handleIntakePage(c echo.Context) error {
	pg := p.newPage(c, "op.intake.title", nil)
	ip, err := p.intakePage(c, pg, map[string]string{})
	if err != nil {
		return err
	}
	pg.Title, pg.Data = ip.Name, ip
	return p.site.Render(c, http.StatusOK, "intake", pg)
}

// handleIntake reads the intake form (the scans as files of it), asks the
// registers (Intake) and shows the draft to sign, or the form again with
// the refusal.
func (p *operatorPages) handleIntake(c echo.Context) error {
	release, err := p.w.enterIntake()
	if err != nil {
		return err
	}
	defer release()
	op := operatorOf(c)
	form, err := c.MultipartForm()
	if err != nil {
		return egov.Errorf(egov.CodeFormInvalid, "the intake form: %v", err)
	}
	values := map[string]string{}
	for k, v := range form.Value {
		if k != web.CSRFField && len(v) > 0 {
			values[k] = strings.TrimSpace(v[0])
		}
	}
	pg := p.newPage(c, "op.intake.title", nil)
	ip, err := p.intakePage(c, pg, values)
	if err != nil {
		return err
	}
	pg.Title, pg.Data = ip.Name, ip
	in := IntakeForm{Service: ip.Code, Applicant: values["applicant"], Phone: values["phone"]}
	for _, f := range ip.Fields {
		if v := values["field."+f.Name]; v != "" {
			if in.Form == nil {
				in.Form = map[string]string{}
			}
			in.Form[f.Name] = v
		}
	}
	if values["representative.iin"] != "" {
		in.Representative = &Representative{IIN: values["representative.iin"], Surname: values["representative.surname"],
			GivenName: values["representative.givenName"], Patronymic: values["representative.patronymic"],
			PowerOfAttorney: values["representative.powerOfAttorney"], Notary: values["representative.notary"], Until: values["representative.until"]}
	}
	for _, d := range ip.Documents {
		files := form.File["file."+d.Kind]
		if len(files) == 0 {
			continue
		}
		if len(files) > 1 || files[0].Size > maxDocument {
			return p.intakeRefused(c, pg, ip, egov.Errorf(egov.CodeAttachmentRejected, "%s: one file of at most %d bytes", d.Kind, maxDocument))
		}
		f, err := files[0].Open()
		if err != nil {
			return err
		}
		content, err := io.ReadAll(io.LimitReader(f, maxDocument+1))
		f.Close()
		if err != nil {
			return err
		}
		in.Documents = append(in.Documents, Scan{Kind: d.Kind, FileName: files[0].Filename, Content: content, Expires: values["file."+d.Kind+".expires"]})
	}
	draft, err := p.w.Intake(c.Request().Context(), op, in)
	if err != nil {
		return p.intakeRefused(c, pg, ip, err)
	}
	pg = p.newPage(c, "op.draft.title", map[string]any{"Draft": draft, "Service": ip.Name, "Flow": ip.Flow})
	return p.site.Render(c, http.StatusOK, "draft", pg)
}

// intakeRefused shows the form again with the refusal: an incomplete
// package with its receipt, a register without data with its name.
func (p *operatorPages) intakeRefused(c echo.Context, pg *web.Page, ip *intakePage, err error) error {
	code := egov.ErrorCode(err)
	if code == egov.CodeInternal || code == egov.CodeUnavailable {
		return err
	}
	pg.Refuse(err)
	var inc *PackageIncomplete
	if errors.As(err, &inc) {
		ip.Receipt = &inc.Receipt
		for _, k := range slices.Concat(inc.Receipt.Missing, inc.Receipt.Expired) {
			ip.Missing = append(ip.Missing, p.documentLabel(ip, k))
		}
	}
	var u *Unobtainable
	if errors.As(err, &u) {
		ip.Register, ip.Reason = string(u.Register), u.Reason
	}
	return p.site.Render(c, code.HTTPStatus(), "intake", pg)
}

func (p *operatorPages) documentLabel(ip *intakePage, kind string) string {
	for _, d := range ip.Documents {
		if d.Kind == kind {
			return d.Label
		}
	}
	return kind
}

// handleSubmit takes the draft signed through NCALayer and answers where
// the filing's page is.
func (p *operatorPages) handleSubmit(c echo.Context) error {
	var in struct {
		Signed string `json:"signed"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	rc, err := p.w.Submit(c.Request().Context(), operatorOf(c), c.Param("id"), []byte(in.Signed))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]string{"location": "/filings/" + rc.RequestID})
}

// handleResult is the signed result to download, as a file.
func (p *operatorPages) handleResult(c echo.Context) error {
	c.Response().Header().Set("Content-Disposition", `attachment; filename="result-`+c.Param("id")+`.xml"`)
	return p.w.handleResult(c)
}

func (p *operatorPages) handleReady(c echo.Context) error {
	list, err := p.w.Ready(c.Request().Context(), operatorOf(c))
	if err != nil {
		return err
	}
	pg := p.newPage(c, "op.ready.title", nil)
	pg.Data = map[string]any{"Filings": p.filingViews(list, pg)}
	return p.site.Render(c, http.StatusOK, "ready", pg)
}

// filingView is a filing as its page shows it.
type filingView struct {
	*Filing
	ServiceName, StateText, OutcomeText, Ground string
	Final, Ready                                bool
	History                                     []struct{ At, Text, By string }
}

func (p *operatorPages) filingViews(list []*Filing, pg *web.Page) []filingView {
	out := make([]filingView, len(list))
	for i, f := range list {
		out[i] = p.filingView(f, pg)
	}
	return out
}

func (p *operatorPages) filingView(f *Filing, pg *web.Page) filingView {
	v := filingView{Filing: f, StateText: pg.T("op.state." + f.State), Ready: f.State == StateReady,
		Final: f.State == StateReady || f.State == StateHandedOut}
	v.ServiceName = f.Receipt.Service.In(pg.Lang)
	if f.Outcome != "" {
		v.OutcomeText = p.site.TextOr("op.outcome."+f.Outcome, pg.Lang, f.Outcome)
	}
	if f.GroundText != nil {
		v.Ground = f.GroundText.In(pg.Lang)
	}
	for _, h := range f.History {
		v.History = append(v.History, struct{ At, Text, By string }{web.FormatTime(h.At), pg.T("op.state." + h.State), h.By})
	}
	return v
}

func (p *operatorPages) filingPage(c echo.Context) (*web.Page, error) {
	f, err := p.w.Filing(c.Request().Context(), operatorOf(c), c.Param("id"))
	if err != nil {
		return nil, err
	}
	pg := p.newPage(c, "op.filing.title", nil)
	pg.Data = p.filingView(f, pg)
	return pg, nil
}

func (p *operatorPages) handleFiling(c echo.Context) error {
	pg, err := p.filingPage(c)
	if err != nil {
		return err
	}
	return p.site.Render(c, http.StatusOK, "filing", pg)
}

func (p *operatorPages) handleFilingStatus(c echo.Context) error {
	pg, err := p.filingPage(c)
	if err != nil {
		return err
	}
	return p.site.RenderBlock(c, http.StatusOK, "filing", "status", pg)
}

// handleHandOut gives the result to the applicant or his representative,
// whose IIN the operator reads from the identity document shown.
func (p *operatorPages) handleHandOut(c echo.Context) error {
	_, err := p.w.HandOutTo(c.Request().Context(), operatorOf(c), c.Param("id"), strings.TrimSpace(c.FormValue("iin")))
	if err != nil {
		if code := egov.ErrorCode(err); code == egov.CodeInternal || code == egov.CodeUnavailable {
			return err
		}
		pg, lerr := p.filingPage(c)
		if lerr != nil {
			return lerr
		}
		pg.Path = "/filings/" + c.Param("id")
		pg.Refuse(err)
		return p.site.Render(c, egov.ErrorCode(err).HTTPStatus(), "filing", pg)
	}
	return c.Redirect(http.StatusSeeOther, "/filings/"+c.Param("id"))
}
