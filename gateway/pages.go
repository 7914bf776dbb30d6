package gateway

import (
	"embed"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"egov"
	"egov/signing"
	"egov/web"
)

// The citizen's pages: server-rendered HTML in the three languages, with a
// little JavaScript (web/static/pages.js) for what a page cannot
// do alone — signing through NCALayer, hashing attachments, watching a
// request's state. The pages call the same App methods as the API; the
// session travels in an HttpOnly cookie instead of a bearer token.

//go:embed pages/*.html
var pageTemplates embed.FS

// PageOptions turn the citizen's pages on (HTTPOptions.Pages).
type PageOptions struct {
	// SignerURL is where the pages find NCALayer, or egovctl signer in
	// its place (default web.DefaultSignerURL, NCALayer's own address).
	SignerURL string
	// SecureCookies marks the cookies Secure: set it when the portal is
	// served over TLS (directly or behind a proxy that terminates it).
	SecureCookies bool
	// CabinetPageSize is how many cabinet messages a page lists (default 10).
	CabinetPageSize int
}

// sessionCookie holds the citizen's session token, as the API's bearer
// token would: HttpOnly, SameSite=Strict, never in a URL.
const sessionCookie = "egov_session"

// pages renders the citizen's pages of one portal.
type pages struct {
	app  *App
	opt  PageOptions
	site *web.Site
}

// pageNames are the templates of the portal's pages (pages/*.html).
var pageNames = []string{"catalogue", "service", "login", "register", "request", "cabinet", "message"}

func newPages(a *App, opt PageOptions) (*pages, error) {
	if opt.CabinetPageSize <= 0 {
		opt.CabinetPageSize = 10
	}
	files, _ := fs.Sub(pageTemplates, "pages")
	site, err := web.New(web.Options{Brand: "portal.name", SignerURL: opt.SignerURL, SecureCookies: opt.SecureCookies,
		Texts: pageTexts, Nav: portalNav}, files, pageNames...)
	if err != nil {
		return nil, err
	}
	return &pages{app: a, opt: opt, site: site}, nil
}

// portalNav is the header's menu: the catalogue, and the cabinet for a
// citizen logged in, or the ways in for a visitor.
func portalNav(pg *web.Page) []web.Link {
	if pg.User != "" {
		return []web.Link{{Href: "/", Text: "nav.services"}, {Href: "/cabinet", Text: "nav.cabinet"}}
	}
	return []web.Link{{Href: "/", Text: "nav.services"}, {Href: "/login", Text: "nav.login"}, {Href: "/register", Text: "nav.register"}}
}

// mount adds the pages' routes to e: all outside /api, none of them in the
// API's document.
func (p *pages) mount(e *echo.Echo, admit echo.MiddlewareFunc) {
	a := p.app
	// What each route may receive, and which the script calls.
	routes := map[string]web.Route{
		"/services/:code/document": {JSON: true},
		"/login":                   {Limit: 16 << 10},
		"/login/challenge":         {JSON: true},
		"/login/signature":         {JSON: true}, // a signed challenge: a few KiB
		"/register":                {},
		"/register/code":           {Limit: 16 << 10},
		"/requests":                {JSON: true, Limit: a.cfg.MaxBody},
	}
	// Each route gets the guard and the session itself: a group's
	// middleware would also catch the API's unknown paths and methods.
	first := []echo.MiddlewareFunc{p.site.Guard(routes), p.session()}
	g := func(method, path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
		e.Add(method, path, h, append(first[:len(first):len(first)], mw...)...)
	}
	login := p.requireLogin
	g(http.MethodGet, "/", p.handleCatalogue)
	g(http.MethodGet, "/services/:code", p.handleService)
	g(http.MethodPost, "/services/:code/document", p.handleDocument, login)
	g(http.MethodGet, "/login", p.handleLoginPage)
	g(http.MethodPost, "/login", p.handleLogin, a.limitAttempts)
	g(http.MethodGet, "/login/challenge", p.handleChallenge, a.limitAttempts)
	g(http.MethodPost, "/login/signature", p.handleSignatureLogin, a.limitAttempts)
	g(http.MethodPost, "/logout", p.handleLogout)
	g(http.MethodGet, "/register", p.handleRegisterPage)
	g(http.MethodPost, "/register", p.handleRegister, a.limitAttempts)
	g(http.MethodPost, "/register/code", p.handleRegisterCode, a.limitAttempts)
	g(http.MethodPost, "/requests", a.handleSubmit, login, admit)
	g(http.MethodGet, "/requests/:id", p.handleRequestPage, login)
	g(http.MethodGet, "/requests/:id/status", p.handleRequestStatus, login)
	g(http.MethodGet, "/cabinet", p.handleCabinet, login)
	g(http.MethodGet, "/cabinet/:id", p.handleMessage, login)
	g(http.MethodGet, "/cabinet/:id/document", a.handleCabinetDocument, login)
	e.GET("/static/*", web.Static(), p.site.Headers)
}

// owns tells whether the pages answer for c's path: everything outside
// the API and the operators' probes.
func (p *pages) owns(c echo.Context) bool {
	path := c.Request().URL.Path
	return !strings.HasPrefix(path, apiPrefix+"/") && path != apiPrefix &&
		!strings.HasPrefix(path, "/livez") && !strings.HasPrefix(path, "/readyz") && !strings.HasPrefix(path, "/healthz")
}

// session reads the session cookie into the context, as the API's bearer
// token would be; the script's poll of a state does not extend it.
func (p *pages) session() echo.MiddlewareFunc {
	return p.site.Session(sessionCookie, sessionContextKey, func(c echo.Context, token string) (any, error) {
		if c.Path() == "/requests/:id/status" {
			return p.app.peekSession(c.Request().Context(), token)
		}
		return p.app.SessionOf(c.Request().Context(), token)
	})
}

// requireLogin sends a visitor without a session to the login page (a
// script's call, or a form sent, gets 401); the page he wanted is where
// he comes back to.
func (p *pages) requireLogin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Get(sessionContextKey) != nil {
			return next(c)
		}
		if web.FromScript(c) || c.Request().Method != http.MethodGet {
			return egov.Errorf(egov.CodeAuthorizationRefused, "no session cookie")
		}
		return c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request().URL.Path))
	}
}

// user is who the header names: the session citizen's masked IIN.
func user(c echo.Context) string {
	if s, ok := c.Get(sessionContextKey).(*Session); ok {
		return signing.MaskIIN(s.IIN)
	}
	return ""
}

func (p *pages) newPage(c echo.Context, titleKey string, data any) *web.Page {
	return p.site.NewPage(c, user(c), titleKey, data)
}

// renderError answers a refusal on a page's path (web.Site.RenderError);
// an internal one is logged first.
func (p *pages) renderError(err error, c echo.Context) {
	if web.Refusal(err) == egov.CodeInternal && isRedisDown(err) {
		err = egov.Errorf(egov.CodeUnavailable, "%v", err) // as the API answers it: try later
	}
	if code := web.Refusal(err); code == egov.CodeInternal || code == egov.CodeUnavailable {
		p.app.log.Error("page failed", "path", c.Path(), "err", err)
	}
	p.site.RenderError(err, c, user(c))
}
