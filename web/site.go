// Package web is the machinery of the product's web pages — the citizen's
// portal (gateway) and the State Corporation operator's workstation
// (counter): one layout, one style sheet and one script, the language
// switch, the session and anti-forgery cookies, the security headers and
// the refusal pages. Each site brings its own templates and words.
//
// The pages are rendered on the server with html/template; the script
// (static/pages.js) does what a page cannot do alone: sign through
// NCALayer with the vendored ncalayer-js-client, hash attachments with Web
// Crypto, keep a state current.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	textlang "golang.org/x/text/language"

	"egov"
)

//go:embed layout.html error.html
var layoutFiles embed.FS

//go:embed static
var staticFiles embed.FS

// The cookies and fields of the pages.
const (
	LanguageCookie = "egov_lang"
	CSRFCookie     = "egov_csrf"
	CSRFField      = "_csrf"
	CSRFHeader     = "X-CSRF-Token"
)

// DefaultSignerURL is NCALayer's own address on the citizen's (or the
// operator's) computer.
const DefaultSignerURL = "wss://127.0.0.1:13579"

// Options describe a site.
type Options struct {
	// Brand is the text key of the site's name in the header.
	Brand string
	// SignerURL is where the pages find NCALayer, or egovctl signer in its
	// place (default DefaultSignerURL).
	SignerURL string
	// SecureCookies marks the cookies Secure: set it when the site is
	// served over TLS (directly or behind a proxy that terminates it).
	SecureCookies bool
	// Texts are the site's own words, beside the machinery's (texts.go).
	Texts map[string]egov.Message
	// Nav lists the header's links for a page (User says whether someone
	// is logged in).
	Nav func(pg *Page) []Link
	// Funcs are template functions the site's templates use.
	Funcs template.FuncMap
	// CSRFCookie names the anti-forgery cookie (default CSRFCookie): two
	// sites on one host (ports do not separate cookies) need two names.
	CSRFCookie string
}

// Link is one entry of the header's menu; Text is a text key.
type Link struct{ Href, Text string }

// Site renders one site's pages.
type Site struct {
	opt  Options
	csp  string
	tmpl map[string]*template.Template
	// forms checks the token of a form or of the script's header;
	// headerOnly that of the header alone, for the routes that take
	// documents, whose bodies are not read before the session is checked.
	forms, headerOnly echo.MiddlewareFunc
}

// New parses the site's templates: each of names is a file name.html of
// pages defining "content", parsed with the layout; "error" is the
// machinery's own.
func New(opt Options, pages fs.FS, names ...string) (*Site, error) {
	if opt.SignerURL == "" {
		opt.SignerURL = DefaultSignerURL
	}
	signer, err := url.Parse(opt.SignerURL)
	if err != nil || (signer.Scheme != "wss" && signer.Scheme != "ws") || signer.Host == "" {
		return nil, errors.New("web: the signer's URL must be ws:// or wss:// with a host")
	}
	if opt.Nav == nil {
		opt.Nav = func(*Page) []Link { return nil }
	}
	if opt.CSRFCookie == "" {
		opt.CSRFCookie = CSRFCookie
	}
	s := &Site{opt: opt, tmpl: map[string]*template.Template{},
		// No inline script or style anywhere: what runs is pages.js and
		// the vendored client; it may talk to this origin and the signer.
		csp: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self' " +
			signer.Scheme + "://" + signer.Host + "; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"}
	funcs := template.FuncMap{
		"when": FormatTime,
		"join": func(s []string) string { return strings.Join(s, "; ") },
		"list": func(s ...string) []string { return s },
	}
	for k, v := range opt.Funcs {
		funcs[k] = v
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(layoutFiles, "layout.html")
	if err != nil {
		return nil, err
	}
	if s.tmpl["error"], err = template.Must(layout.Clone()).ParseFS(layoutFiles, "error.html"); err != nil {
		return nil, err
	}
	for _, name := range names {
		t, err := template.Must(layout.Clone()).ParseFS(pages, name+".html")
		if err != nil {
			return nil, err
		}
		s.tmpl[name] = t
	}
	// A template that asks for a text no table has in the three languages
	// is a site that does not start, rather than a key shown to a citizen.
	if !s.HasText(opt.Brand) {
		return nil, fmt.Errorf("web: the site's name %q lacks a language", opt.Brand)
	}
	for _, f := range [][2]any{{layoutFiles, "layout.html"}, {layoutFiles, "error.html"}} {
		if err := s.checkTexts(f[0].(fs.FS), f[1].(string)); err != nil {
			return nil, err
		}
	}
	for _, name := range names {
		if err := s.checkTexts(pages, name+".html"); err != nil {
			return nil, err
		}
	}
	s.forms, s.headerOnly = s.csrf("header:"+CSRFHeader+",form:"+CSRFField), s.csrf("header:"+CSRFHeader)
	return s, nil
}

// textKey is a text a template asks for by its literal key.
var textKey = regexp.MustCompile(`\.T "([a-zA-Z0-9.-]+)"`)

func (s *Site) checkTexts(files fs.FS, name string) error {
	data, err := fs.ReadFile(files, name)
	if err != nil {
		return err
	}
	for _, m := range textKey.FindAllSubmatch(data, -1) {
		if !s.HasText(string(m[1])) {
			return fmt.Errorf("web: %s asks for text %q, which lacks a language", name, m[1])
		}
	}
	return nil
}

// FormatTime is a moment as the pages show it: Astana time, day and minute.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(egov.Almaty).Format("02.01.2006 15:04")
}

// Headers sets the pages' security policy: scripts and styles of this
// origin only, the signer as the one other connection, no framing.
func (s *Site) Headers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		s.setHeaders(c)
		return next(c)
	}
}

func (s *Site) setHeaders(c echo.Context) {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", s.csp)
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// same-origin, not no-referrer: under no-referrer a browser sends
	// "Origin: null" with the site's own forms, and the Origin check
	// could not tell them from a sandboxed forgery.
	h.Set("Referrer-Policy", "same-origin")
}

// Route is what a site's guard knows of one of its routes.
type Route struct {
	// Limit bounds the body (default DefaultLimit), checked before
	// anything reads it. A route with a larger limit takes documents: its
	// anti-forgery check is Sec-Fetch-Site or the script's header, never a
	// form field, so that no body is read before the session (and the
	// admission of the route) is checked.
	Limit int64
	// JSON marks a route the pages' script calls: its refusals are JSON.
	JSON bool
}

// DefaultLimit is the body limit of a route the guard is not told of.
const DefaultLimit = 64 << 10

// Guard is the first middleware of every route of a site: it sets the
// security headers, marks the script's routes, bounds the body by the
// route (routes: by echo path; a body without a length is refused),
// removes what a multipart form spooled to disk when the request ends,
// and refuses forgeries (CSRF).
func (s *Site) Guard(routes map[string]Route) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		forms, headerOnly := s.forms(next), s.headerOnly(next)
		return func(c echo.Context) error {
			s.setHeaders(c)
			r := routes[c.Path()]
			if r.JSON {
				c.Set("pageJSON", true)
			}
			if r.Limit <= 0 {
				r.Limit = DefaultLimit
			}
			req := c.Request()
			switch req.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
			default:
				// Browsers send a length with every form and fetch; one
				// that is not known cannot be refused before it is read.
				if req.ContentLength < 0 {
					return egov.Errorf(egov.CodeRequestMalformed, "a body without Content-Length")
				}
			}
			if req.ContentLength > r.Limit {
				return egov.Errorf(egov.CodeBodyTooLarge, "more than %d bytes", r.Limit)
			}
			req.Body = http.MaxBytesReader(c.Response(), req.Body, r.Limit)
			defer func() {
				// net/http removes only what the request it made parsed;
				// a middleware's copy of it (a timeout's) is ours to clean.
				if f := c.Request().MultipartForm; f != nil {
					_ = f.RemoveAll()
				}
			}()
			if err := sameOrigin(c); err != nil {
				return err
			}
			check := forms
			if r.Limit > DefaultLimit {
				check = headerOnly
			}
			c.Set("csrfPassed", nil)
			err := check(c)
			if err != nil && c.Get("csrfPassed") == nil {
				// The anti-forgery check's own refusal (another site, a
				// missing or wrong token), not the handler's.
				return egov.Errorf(egov.CodeFormExpired, "CSRF: %v", err)
			}
			return err
		}
	}
}

// csrf refuses a state-changing request that comes from anywhere but this
// site itself. A browser that sends Sec-Fetch-Site must say same-origin
// (or none: the user's own navigation, which no other site can make); a
// sibling site is refused too, since it could have planted the token
// cookie. One that sends no Sec-Fetch-Site must send back the token of
// the anti-forgery cookie where lookup says (the form's _csrf, the
// header X-CSRF-Token), never in the URL (sameOrigin).
func (s *Site) csrf(lookup string) echo.MiddlewareFunc {
	check := middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup: lookup, CookieName: s.opt.CSRFCookie, CookiePath: "/",
		CookieHTTPOnly: true, CookieSameSite: http.SameSiteStrictMode, CookieSecure: s.opt.SecureCookies, ContextKey: "csrf",
		AllowSecFetchSiteFunc: func(c echo.Context) (bool, error) {
			return false, fmt.Errorf("Sec-Fetch-Site %s", c.Request().Header.Get(echo.HeaderSecFetchSite))
		},
	})
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return check(func(c echo.Context) error {
			c.Set("csrfPassed", true)
			return next(c)
		})
	}
}

// sameOrigin refuses a state-changing request whose Origin is not this
// site, or whose anti-forgery token is in the URL.
func sameOrigin(c echo.Context) error {
	r := c.Request()
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if r.URL.Query().Has(CSRFField) {
		return egov.Errorf(egov.CodeFormExpired, "the anti-forgery token in the URL")
	}
	if o := r.Header.Get(echo.HeaderOrigin); o != "" && !strings.EqualFold(o, c.Scheme()+"://"+r.Host) {
		return egov.Errorf(egov.CodeFormExpired, "Origin %q is not this site", o)
	}
	return nil
}

// FromScript tells a call of the pages' script (it sends
// X-Requested-With: fetch): a refusal, not a redirect, is its answer.
func FromScript(c echo.Context) bool {
	return AnswersJSONFor(c) || c.Request().Header.Get("X-Requested-With") == "fetch"
}

// Session reads the session cookie name, if any: what open finds for its
// token goes into the context under key, and the token under "token",
// as the API's bearer token would; a cookie open refuses as
// authorization-refused (expired, logged out) is dropped.
func (s *Site) Session(name, key string, open func(c echo.Context, token string) (any, error)) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if ck, err := c.Cookie(name); err == nil && ck.Value != "" {
				who, err := open(c, ck.Value)
				switch {
				case err == nil:
					c.Set(key, who)
					c.Set("token", ck.Value)
				case egov.ErrorCode(err) == egov.CodeAuthorizationRefused:
					s.SetCookie(c, name, "", -1)
				default:
					return err
				}
			}
			return next(c)
		}
	}
}

// SetCookie sets (maxAge > 0: for that long; 0: for the browser's
// session) or, with maxAge < 0, removes an HttpOnly, SameSite=Strict
// cookie of the whole site.
func (s *Site) SetCookie(c echo.Context, name, value string, maxAge int) {
	c.SetCookie(&http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: s.opt.SecureCookies, SameSite: http.SameSiteStrictMode})
}

// AnswersJSONFor tells whether c is such an endpoint.
func AnswersJSONFor(c echo.Context) bool { return c.Get("pageJSON") != nil }

// LocalPath keeps next only when it is a path of this site: never a
// redirect elsewhere.
func LocalPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsRune(next, '\\') {
		return ""
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f { // a browser drops a tab: "/\t/x" would be "//x"
			return ""
		}
	}
	if u, err := url.Parse(next); err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" {
		return ""
	}
	return next
}

// languages are the languages of the pages and the API, in the order of
// egov.Message.In's tags; the first is the default, so an Accept-Language
// that matches none of them (or none at all) reads Russian.
var languages = []struct {
	tag        textlang.Tag
	name, self string // the code, and the language's name for itself
}{
	{textlang.Russian, "ru", "Русский"},
	{textlang.Kazakh, "kk", "Қазақша"},
	{textlang.English, "en", "English"},
}

var matcher = func() textlang.Matcher {
	tags := make([]textlang.Tag, len(languages))
	for i, l := range languages {
		tags[i] = l.tag
	}
	return textlang.NewMatcher(tags)
}()

// Negotiate picks ru, kk or en for an Accept-Language value
// (RFC 9110 §12.5.4): q-values are honoured, "kz" (the country code that
// clients often send for Kazakh) reads as "kk", "*" (any language) as the
// default, and a malformed value or one that matches nothing is Russian.
func Negotiate(header string) string {
	if strings.TrimSpace(header) == "" {
		return languages[0].name
	}
	tags, _, err := textlang.ParseAcceptLanguage(normalizeRanges(header))
	if err != nil || len(tags) == 0 {
		return languages[0].name
	}
	_, i, conf := matcher.Match(tags...)
	if conf == textlang.No {
		return languages[0].name
	}
	return languages[i].name
}

// normalizeRanges rewrites, keeping subtags and weights, every range whose
// primary subtag is "kz" to "kk", and "*" to the default language: the
// matcher knows neither, and would otherwise skip "*;q=0.5" for a worse
// "en;q=0.1".
func normalizeRanges(header string) string {
	parts := strings.Split(header, ",")
	for i, p := range parts {
		t := strings.TrimLeft(p, " \t")
		switch {
		case len(t) >= 2 && strings.EqualFold(t[:2], "kz") && (len(t) == 2 || strings.ContainsRune("-_; \t", rune(t[2]))):
			parts[i] = p[:len(p)-len(t)] + "kk" + t[2:]
		case len(t) >= 1 && t[0] == '*' && (len(t) == 1 || strings.ContainsRune("; \t", rune(t[1]))):
			parts[i] = p[:len(p)-len(t)] + languages[0].name + t[1:]
		}
	}
	return strings.Join(parts, ",")
}

// IsLanguage tells whether code is one of the pages' languages.
func IsLanguage(code string) bool { return code == "ru" || code == "kk" || code == "en" }

// Language is the language of a page: ?lang= (remembered in a cookie for
// a year), else the cookie, else Accept-Language, else Russian.
func (s *Site) Language(c echo.Context) string {
	lang := c.QueryParam("lang")
	h := c.Response().Header()
	switch ck, err := c.Cookie(LanguageCookie); {
	case IsLanguage(lang):
		// Lax, not Strict: a link from elsewhere still opens the page in
		// the language chosen; the cookie says nothing about anyone.
		c.SetCookie(&http.Cookie{Name: LanguageCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600, HttpOnly: true,
			Secure: s.opt.SecureCookies, SameSite: http.SameSiteLaxMode})
	case err == nil && IsLanguage(ck.Value):
		lang = ck.Value
	default:
		lang = Negotiate(c.Request().Header.Get("Accept-Language"))
		AddVary(h, "Accept-Language")
	}
	h.Set("Content-Language", lang)
	AddVary(h, "Cookie")
	return lang
}

// AddVary adds field to the Vary header once (not at all under "*").
func AddVary(h http.Header, field string) {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), field) || strings.TrimSpace(f) == "*" {
				return
			}
		}
	}
	h.Add("Vary", field)
}

// cleanPath is the request's path as the language links repeat it: one
// leading slash, so that "//evil.example/x" links nowhere else.
func cleanPath(p string) string {
	return path.Clean("/" + strings.TrimLeft(p, "/"))
}

// Page is what every template gets.
type Page struct {
	Lang      string
	Path      string
	CSRF      string
	SignerURL string
	Brand     string
	// User names who is logged in (a masked IIN, an operator); "" for a
	// visitor.
	User  string
	Title string
	Nav   []Link
	// Error is a refusal to show at the top of the page, with its code.
	Error     string
	ErrorCode egov.Code
	Data      any
	site      *Site
	query     url.Values
}

// T is the text of key in the page's language.
func (pg *Page) T(key string) string { return pg.site.Text(key, pg.Lang) }

// LangHref is the switch's link to this page in lang: its path and query,
// the language replaced.
func (pg *Page) LangHref(lang string) string {
	q := url.Values{}
	for k, v := range pg.query {
		if k != "lang" && k != CSRFField {
			q[k] = v
		}
	}
	q.Set("lang", lang)
	return pg.Path + "?" + q.Encode()
}

// Languages are the switch's entries.
func (pg *Page) Languages() []struct{ Code, Name string } {
	out := make([]struct{ Code, Name string }, len(languages))
	for i, l := range languages {
		out[i].Code, out[i].Name = l.name, l.self
	}
	return out
}

// Refuse puts err on the page as its refusal, in its language.
func (pg *Page) Refuse(err error) {
	code := egov.ErrorCode(err)
	pg.Error, pg.ErrorCode = code.Message().In(pg.Lang), code
}

// NewPage starts a page for c: its language, anti-forgery token, title
// (a text key) and the header's menu for user.
func (s *Site) NewPage(c echo.Context, user, titleKey string, data any) *Page {
	pg := &Page{Lang: s.Language(c), Path: cleanPath(c.Request().URL.Path), SignerURL: s.opt.SignerURL, Brand: s.opt.Brand, User: user, Data: data, site: s}
	if c.Request().Method == http.MethodGet {
		pg.query = c.Request().URL.Query()
	}
	if tok, ok := c.Get("csrf").(string); ok {
		pg.CSRF = tok
	}
	pg.Title = pg.T(titleKey)
	pg.Nav = s.opt.Nav(pg)
	return pg
}

// Render writes the page name.
func (s *Site) Render(c echo.Context, status int, name string, pg *Page) error {
	return s.RenderBlock(c, status, name, "layout", pg)
}

// RenderBlock writes one template of page name: a part of the page that
// the script fetches again.
func (s *Site) RenderBlock(c echo.Context, status int, name, block string, pg *Page) error {
	t, ok := s.tmpl[name]
	if !ok {
		return errors.New("web: no page " + name)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, block, pg); err != nil {
		return err
	}
	return c.HTMLBlob(status, b.Bytes())
}

// Refusal is the code of err as the pages answer it: the framework's own
// errors (no route, too large, timeout) read as the codes they mean.
func Refusal(err error) egov.Code {
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
	if errors.Is(err, http.ErrHandlerTimeout) || errors.Is(err, context.DeadlineExceeded) {
		code = egov.CodeUnavailable
	}
	return code
}

// RenderError answers a refusal: JSON for the script's calls, else the
// error page in the visitor's language, with the code.
func (s *Site) RenderError(err error, c echo.Context, user string) {
	if c.Response().Committed {
		return
	}
	code := Refusal(err)
	if d := egov.RetryAfter(err); d > 0 {
		c.Response().Header().Set("Retry-After", strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10))
	}
	lang := s.Language(c)
	if AnswersJSONFor(c) {
		_ = c.JSON(code.HTTPStatus(), map[string]any{"code": code, "message": code.Message().In(lang)})
		return
	}
	s.setHeaders(c)
	pg := s.NewPage(c, user, "error.title", nil)
	pg.ErrorCode, pg.Error = code, code.Message().In(lang)
	_ = s.Render(c, code.HTTPStatus(), "error", pg)
}

// Static serves the style sheet, the script and the vendored client, for
// an hour in caches: they change only with a release.
func Static() echo.HandlerFunc {
	sub, _ := fs.Sub(staticFiles, "static")
	return func(c echo.Context) error {
		name := strings.TrimPrefix(c.Request().URL.Path, "/static/")
		// Files only: no listing of a folder, no path out of it.
		if info, err := fs.Stat(sub, name); err != nil || info.IsDir() || !fs.ValidPath(name) {
			return echo.ErrNotFound
		}
		h := c.Response().Header()
		h.Set("Cache-Control", "public, max-age=3600")
		h.Del("Pragma")
		http.ServeFileFS(c.Response(), c.Request(), sub, name)
		return nil
	}
}
