package gateway

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"egov"
	"egov/signing"
)

// The citizen's pages: server-rendered HTML in the three languages, with a
// little JavaScript (gateway/web/static/portal.js) for what a page cannot
// do alone — signing through NCALayer, hashing attachments, watching a
// request's state. The pages call the same App methods as the API; the
// session travels in an HttpOnly cookie instead of a bearer token.

//go:embed web/templates/*.html
var pageTemplates embed.FS

//go:embed web/static
var pageStatic embed.FS

// PageOptions turn the citizen's pages on (HTTPOptions.Pages).
type PageOptions struct {
	// SignerURL is where the pages find NCALayer, or egovctl signer in
	// its place (default wss://127.0.0.1:13579, NCALayer's own address).
	SignerURL string
	// SecureCookies marks the cookies Secure: set it when the portal is
	// served over TLS (directly or behind a proxy that terminates it).
	SecureCookies bool
	// CabinetPageSize is how many cabinet messages a page lists (default 10).
	CabinetPageSize int
}

// The cookies of the pages.
const (
	sessionCookie  = "egov_session"
	languageCookie = "egov_lang"
	csrfCookie     = "egov_csrf"
	csrfField      = "_csrf"
	csrfHeader     = "X-CSRF-Token"
)

// pages renders the citizen's pages of one portal.
type pages struct {
	app  *App
	opt  PageOptions
	csp  string
	tmpl map[string]*template.Template
}

// pageNames are the templates with a page of their own; each is parsed
// with layout.html.
var pageNames = []string{"catalogue", "service", "login", "register", "request", "cabinet", "message", "error"}

func newPages(a *App, opt PageOptions) (*pages, error) {
	if opt.SignerURL == "" {
		opt.SignerURL = "wss://127.0.0.1:13579"
	}
	if opt.CabinetPageSize <= 0 {
		opt.CabinetPageSize = 10
	}
	signer, err := url.Parse(opt.SignerURL)
	if err != nil || (signer.Scheme != "wss" && signer.Scheme != "ws") || signer.Host == "" {
		return nil, errors.New("pages: the signer's URL must be ws:// or wss:// with a host")
	}
	p := &pages{app: a, opt: opt, tmpl: map[string]*template.Template{},
		// No inline script or style anywhere: what runs is portal.js and
		// the vendored client; it may talk to this origin and the signer.
		csp: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self' " +
			signer.Scheme + "://" + signer.Host + "; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"}
	funcs := template.FuncMap{
		"names": func(n Names, lang string) string { return n.In(lang) },
		"when":  formatWhen,
		"join":  func(s []string) string { return strings.Join(s, "; ") },
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(pageTemplates, "web/templates/layout.html")
	if err != nil {
		return nil, err
	}
	for _, name := range pageNames {
		t, err := template.Must(layout.Clone()).ParseFS(pageTemplates, "web/templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		p.tmpl[name] = t
	}
	return p, nil
}

func formatWhen(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(egov.Almaty).Format("02.01.2006 15:04")
}

// mount adds the pages' routes to e: all outside /api, none of them in the
// API's document.
func (p *pages) mount(e *echo.Echo, admit echo.MiddlewareFunc) {
	a := p.app
	csrf := middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup: "header:" + csrfHeader + ",form:" + csrfField, CookieName: csrfCookie, CookiePath: "/",
		CookieHTTPOnly: true, CookieSameSite: http.SameSiteStrictMode, CookieSecure: p.opt.SecureCookies, ContextKey: "csrf",
		ErrorHandler: func(err error, c echo.Context) error {
			return egov.Errorf(egov.CodeFormExpired, "CSRF: %v", err)
		},
	})
	g := e.Group("", p.headers, csrf, p.session)
	json := p.answersJSON
	login := p.requireLogin
	g.GET("/", p.handleCatalogue)
	g.GET("/services/:code", p.handleService)
	g.POST("/services/:code/document", p.handleDocument, json, login, middleware.BodyLimit("64K"))
	g.GET("/login", p.handleLoginPage)
	g.POST("/login", p.handleLogin, a.limitAttempts, middleware.BodyLimit("16K"))
	g.GET("/login/challenge", p.handleChallenge, json, a.limitAttempts)
	g.POST("/login/signature", p.handleSignatureLogin, json, a.limitAttempts, middleware.BodyLimit("512K"))
	g.POST("/logout", p.handleLogout)
	g.GET("/register", p.handleRegisterPage)
	g.POST("/register", p.handleRegister, a.limitAttempts, middleware.BodyLimit("512K"))
	g.POST("/register/code", p.handleRegisterCode, a.limitAttempts, middleware.BodyLimit("16K"))
	g.POST("/requests", a.handleSubmit, json, login, admit)
	g.GET("/requests/:id", p.handleRequestPage, login)
	g.GET("/requests/:id/status", p.handleRequestStatus, login)
	g.GET("/cabinet", p.handleCabinet, login)
	g.GET("/cabinet/:id", p.handleMessage, login)
	g.GET("/cabinet/:id/document", a.handleCabinetDocument, login)
	static, _ := fs.Sub(pageStatic, "web/static")
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", http.FileServerFS(static))), p.headers, cacheable(time.Hour))
}

// owns tells whether the pages answer for c's path: everything outside
// the API and the operators' probes.
func (p *pages) owns(c echo.Context) bool {
	path := c.Request().URL.Path
	return !strings.HasPrefix(path, apiPrefix+"/") && path != apiPrefix &&
		!strings.HasPrefix(path, "/livez") && !strings.HasPrefix(path, "/readyz") && !strings.HasPrefix(path, "/healthz")
}

// headers sets the pages' security policy over the API's: scripts and
// styles of this origin only, the signer as the one other connection.
func (p *pages) headers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", p.csp)
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		return next(c)
	}
}

// session reads the session cookie, if any, into the context as the API's
// bearer token would be; an unknown or expired one is dropped.
func (p *pages) session(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ck, err := c.Cookie(sessionCookie); err == nil && ck.Value != "" {
			s, err := p.app.SessionOf(c.Request().Context(), ck.Value)
			switch {
			case err == nil:
				c.Set(sessionContextKey, s)
				c.Set("token", ck.Value)
			case egov.ErrorCode(err) == egov.CodeAuthorizationRefused:
				p.setCookie(c, sessionCookie, "", -1)
			default:
				return err
			}
		}
		return next(c)
	}
}

// requireLogin sends a visitor without a session to the login page (a
// script's call gets 401); the page he wanted is where he comes back to.
func (p *pages) requireLogin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Get(sessionContextKey) != nil {
			return next(c)
		}
		if c.Get("pageJSON") != nil || c.Request().Method != http.MethodGet {
			return egov.Errorf(egov.CodeAuthorizationRefused, "no session cookie")
		}
		return c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request().URL.Path))
	}
}

// answersJSON marks the endpoints the pages' script calls: their refusals
// are JSON with the code and the message in the page's language.
func (p *pages) answersJSON(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Set("pageJSON", true)
		return next(c)
	}
}

func (p *pages) setCookie(c echo.Context, name, value string, maxAge int) {
	c.SetCookie(&http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: p.opt.SecureCookies, SameSite: http.SameSiteStrictMode})
}

// pageLanguage is the language of a page: ?lang= (remembered in a cookie
// for a year), else the cookie, else Accept-Language.
func (p *pages) pageLanguage(c echo.Context) string {
	lang := c.QueryParam("lang")
	if isPageLanguage(lang) {
		// Lax, not Strict: a link from elsewhere still opens the page in
		// the language chosen; the cookie says nothing about anyone.
		c.SetCookie(&http.Cookie{Name: languageCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600, HttpOnly: true,
			Secure: p.opt.SecureCookies, SameSite: http.SameSiteLaxMode})
	} else if ck, err := c.Cookie(languageCookie); err == nil && isPageLanguage(ck.Value) {
		lang = ck.Value
	} else {
		lang = negotiateLanguage(c.Request().Header.Get("Accept-Language"))
		addVary(c.Response().Header(), "Accept-Language")
	}
	c.Response().Header().Set("Content-Language", lang)
	addVary(c.Response().Header(), "Cookie")
	return lang
}

func isPageLanguage(s string) bool { return s == "ru" || s == "kk" || s == "en" }

// page is what every template gets.
type page struct {
	Lang      string
	Path      string
	CSRF      string
	SignerURL string
	// Citizen is the masked IIN of the session's citizen; "" for a visitor.
	Citizen string
	Title   string
	// Error is a refusal to show at the top of the page, with its code.
	Error     string
	ErrorCode egov.Code
	Data      any
}

// T is the text of key in the page's language.
func (pg *page) T(key string) string { return pageText(key, pg.Lang) }

// Languages are the switch's entries.
func (pg *page) Languages() []struct{ Code, Name string } {
	return []struct{ Code, Name string }{{"ru", "Русский"}, {"kk", "Қазақша"}, {"en", "English"}}
}

func (p *pages) newPage(c echo.Context, titleKey string, data any) *page {
	pg := &page{Lang: p.pageLanguage(c), Path: c.Request().URL.Path, SignerURL: p.opt.SignerURL, Data: data}
	if tok, ok := c.Get("csrf").(string); ok {
		pg.CSRF = tok
	}
	if s, ok := c.Get(sessionContextKey).(*Session); ok {
		pg.Citizen = signing.MaskIIN(s.IIN)
	}
	pg.Title = pg.T(titleKey)
	return pg
}

// render writes the page; a personal one (any page of a session) is never
// stored by a cache.
func (p *pages) render(c echo.Context, status int, name string, pg *page) error {
	var b bytes.Buffer
	if err := p.tmpl[name].ExecuteTemplate(&b, "layout", pg); err != nil {
		return err
	}
	return c.HTMLBlob(status, b.Bytes())
}

// renderError answers a refusal on a page's path: JSON for the script's
// calls, else the error page in the visitor's language, with the code.
func (p *pages) renderError(err error, c echo.Context) {
	code := egov.ErrorCode(err)
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound, http.StatusMethodNotAllowed:
			code = egov.CodeNotFound
		case http.StatusRequestEntityTooLarge:
			code = egov.CodeBodyTooLarge
		case http.StatusServiceUnavailable:
			code = egov.CodeUnavailable
		}
	}
	status := code.HTTPStatus()
	if code == egov.CodeInternal || code == egov.CodeUnavailable {
		p.app.log.Error("page failed", "path", c.Path(), "err", err)
	}
	if d := egov.RetryAfter(err); d > 0 {
		c.Response().Header().Set("Retry-After", strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10))
	}
	lang := p.pageLanguage(c)
	msg := code.Message().In(lang)
	if c.Get("pageJSON") != nil {
		_ = c.JSON(status, map[string]any{"code": code, "message": msg})
		return
	}
	pg := p.newPage(c, "error.title", nil)
	pg.Error, pg.ErrorCode = msg, code
	_ = p.render(c, status, "error", pg)
}
