package gateway_test

import (
	"encoding/json"
	stdhtml "html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"egov"
	"egov/gateway"
	"egov/sms"
)

// pagesClient is a browser without a script: a cookie jar, no redirects
// followed, so that each answer can be looked at.
type pagesClient struct {
	t    *testing.T
	base string
	http *http.Client
}

func newPages(t *testing.T, e *env, opt gateway.PageOptions) *pagesClient {
	t.Helper()
	srv := httptest.NewServer(e.app.Handler(gateway.HTTPOptions{Pages: &opt}))
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return &pagesClient{t: t, base: srv.URL, http: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (p *pagesClient) do(method, path string, form url.Values, header map[string]string) (*http.Response, string) {
	p.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, p.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// token is the anti-forgery token a page's forms carry.
func (p *pagesClient) token(path string) string {
	p.t.Helper()
	_, html := p.do("GET", path, nil, nil)
	m := csrfInput.FindStringSubmatch(html)
	if m == nil {
		p.t.Fatalf("%s has no anti-forgery token", path)
	}
	return m[1]
}

func (p *pagesClient) login(iin, password string) *http.Response {
	p.t.Helper()
	resp, _ := p.do("POST", "/login", url.Values{"_csrf": {p.token("/login")}, "iin": {iin}, "password": {password}}, nil)
	return resp
}

func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// The session of the pages is a cookie no script reads, sent to this site
// only, Secure when the portal is on TLS; the token is never in a URL.
func TestPageSessionCookie(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	for _, secure := range []bool{false, true} {
		p := newPages(t, e, gateway.PageOptions{SecureCookies: secure})
		resp := p.login(citizenIIN, passwordOK)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/cabinet" {
			t.Fatalf("login: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		c := cookieNamed(resp, "egov_session")
		if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure != secure || c.Path != "/" {
			t.Fatalf("secure %v: session cookie %+v", secure, c)
		}
		if strings.Contains(resp.Header.Get("Location"), c.Value) {
			t.Error("the session token is in the redirect")
		}
		if secure {
			continue // the jar does not send a Secure cookie over http
		}
		resp, html := p.do("GET", "/cabinet", nil, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("cabinet: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
		if strings.Contains(html, c.Value) {
			t.Error("the cabinet page carries the session token")
		}
		// Logging out ends the session on the server, not only the cookie.
		if resp, _ := p.do("POST", "/logout", url.Values{"_csrf": {p.token("/cabinet")}}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		if code, _ := e.call("GET", "/api/v1/sessions/current", c.Value, nil, nil); code != http.StatusUnauthorized {
			t.Errorf("the session still answers after logout: %d", code)
		}
		if resp, _ := p.do("GET", "/cabinet", nil, nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fcabinet" {
			t.Errorf("the cabinet after logout: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

// A state-changing form is refused (form-expired) without its token, with
// another's, and from another site; the same form with it goes through.
func TestPageFormsNeedTheirToken(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	p := newPages(t, e, gateway.PageOptions{})
	tok := p.token("/login")
	form := func(token string) url.Values {
		return url.Values{"_csrf": {token}, "iin": {citizenIIN}, "password": {passwordOK}}
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		header map[string]string
	}{
		{"no token", url.Values{"iin": {citizenIIN}, "password": {passwordOK}}, nil},
		{"another token", form(strings.Repeat("x", len(tok))), nil},
		{"from another site", form(tok), map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}},
		// A sibling site could have planted the token cookie: refused even
		// with a token that matches it.
		{"from a sibling site", form(tok), map[string]string{"Sec-Fetch-Site": "same-site"}},
		{"an Origin of another site", form(tok), map[string]string{"Origin": "http://127.0.0.1:1"}},
		{"an Origin of null", form(tok), map[string]string{"Origin": "null"}},
	} {
		resp, html := p.do("POST", "/login", tc.form, tc.header)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(html, string(egov.CodeFormExpired)) ||
			!strings.Contains(html, egov.CodeFormExpired.Message().RU) {
			t.Errorf("%s: %d\n%.300s", tc.name, resp.StatusCode, html)
		}
		if cookieNamed(resp, "egov_session") != nil {
			t.Errorf("%s: a session was opened", tc.name)
		}
	}
	if resp, _ := p.do("POST", "/login?_csrf="+tok, url.Values{"iin": {citizenIIN}, "password": {passwordOK}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("the token in the URL: %d", resp.StatusCode)
	}
	// The script's routes say it in JSON.
	resp, body := p.do("POST", "/login/signature", nil, map[string]string{"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"})
	if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !strings.Contains(body, `"form-expired"`) {
		t.Errorf("a forged call of the script: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, body = p.do("POST", "/login/signature", nil, map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": "text/plain"})
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain to the script's JSON route: %d %s", resp.StatusCode, body)
	}
	u := p.base + "/login"
	if resp, _ := p.do("POST", "/login", form(tok), map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": strings.TrimSuffix(u, "/login")}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the form of this site with its Origin: %d", resp.StatusCode)
	}
	if resp, _ := p.do("POST", "/login", form(tok), map[string]string{"Sec-Fetch-Site": "same-origin"}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the form of this site: %d", resp.StatusCode)
	}
	if resp, _ := p.do("POST", "/login", form(tok), nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("with the token and no Sec-Fetch-Site: %d", resp.StatusCode)
	}
}

// Every page forbids inline scripts and styles, framing and other origins
// but the signer's; nothing of a page is stored by a cache.
func TestPageSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	p := newPages(t, e, gateway.PageOptions{SignerURL: "wss://127.0.0.1:13579"})
	for _, path := range []string{"/", "/login", "/register", "/services/job-seeker-registration", "/services/unemployed-certificate", "/nope"} {
		resp, html := p.do("GET", path, nil, nil)
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self' wss://127.0.0.1:13579", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Referrer-Policy") != "same-origin" {
			t.Errorf("%s: Cache-Control %q, X-Frame-Options %q", path, resp.Header.Get("Cache-Control"), resp.Header.Get("X-Frame-Options"))
		}
		if regexp.MustCompile(`<script>|<script [^>]*>[^<]|\son[a-z]+="|style="`).MatchString(html) {
			t.Errorf("%s: an inline script, handler or style", path)
		}
	}
	resp, _ := p.do("GET", "/static/pages.js", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Cache-Control"), "public") {
		t.Errorf("the script: %d, %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	// The API keeps its own answers beside the pages: a method it does
	// not serve is 405 with Allow, not a page's refusal.
	req, _ := http.NewRequest("POST", p.base+"/api/v1/services", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := p.http.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" ||
		resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("POST /api/v1/services beside the pages: %v %v, Allow %q", resp.StatusCode, err, resp.Header.Get("Allow"))
	}
	// The API keeps its own answers beside the pages.
	var prob problem
	if code, _ := e.callVia(p.http, "GET", "/api/v1/nope", "", nil, &prob); code != http.StatusNotFound {
		t.Errorf("an API path: %d", code)
	}
	resp, html := p.do("GET", "/api/v1/nope", nil, nil)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") || strings.Contains(html, "<html") {
		t.Errorf("an unknown API path answers %q", resp.Header.Get("Content-Type"))
	}
	// Folders are not listed; a path that begins "//" links nowhere else.
	for _, path := range []string{"/static/", "/static/vendor/", "/static/nope.js", "/static/../pages.go"} {
		if resp, html := p.do("GET", path, nil, nil); resp.StatusCode != http.StatusNotFound || !strings.Contains(html, "not-found") {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	if _, html := p.do("GET", "//evil.example/x", nil, nil); strings.Contains(html, `href="//`) {
		t.Errorf("a page at //evil.example/x links elsewhere")
	}
	// The script's poll of a page that needs a session is refused, not
	// sent to the login page.
	if resp, _ := p.do("GET", "/requests/"+strings.Repeat("0", 8)+"-0000-4000-8000-"+strings.Repeat("0", 12)+"/status", nil, map[string]string{"X-Requested-With": "fetch"}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the poll without a session: %d", resp.StatusCode)
	}
	resp, html = p.do("GET", "/nope", nil, nil)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(html, `<html lang="ru">`) || !strings.Contains(html, "not-found") {
		t.Errorf("an unknown page: %d %.200s", resp.StatusCode, html)
	}
}

// The language chosen is remembered; without a choice the browser's
// Accept-Language decides, "kz" read as Kazakh.
func TestPageLanguageIsRemembered(t *testing.T) {
	e := newEnv(t)
	p := newPages(t, e, gateway.PageOptions{})
	lang := regexp.MustCompile(`<html lang="([a-z]+)">`)
	of := func(header map[string]string) string {
		t.Helper()
		resp, html := p.do("GET", "/", nil, header)
		m := lang.FindStringSubmatch(html)
		if m == nil || resp.Header.Get("Content-Language") != m[1] {
			t.Fatalf("the page's language: %v, Content-Language %q", m, resp.Header.Get("Content-Language"))
		}
		return m[1]
	}
	if got := of(map[string]string{"Accept-Language": "kz-KZ,kz;q=0.9"}); got != "kk" {
		t.Errorf("Accept-Language kz: %s", got)
	}
	if got := of(map[string]string{"Accept-Language": "en"}); got != "en" {
		t.Errorf("Accept-Language en: %s", got)
	}
	if _, html := p.do("GET", "/?lang=kk", nil, nil); !strings.Contains(html, "Мемлекеттік") && !strings.Contains(html, "мемлекеттік") {
		t.Errorf("?lang=kk is not Kazakh: %.300s", html)
	}
	if got := of(map[string]string{"Accept-Language": "en"}); got != "kk" {
		t.Errorf("after choosing Kazakh, the next page is %s", got)
	}
	if got := of(map[string]string{"Accept-Language": "ru"}); got != "kk" {
		t.Errorf("after choosing Kazakh, with Accept-Language ru: %s", got)
	}
}

// After a login the page goes back where the visitor was going, on this
// site only.
func TestPageLoginGoesBackOnThisSiteOnly(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	p := newPages(t, e, gateway.PageOptions{})
	for next, want := range map[string]string{
		"/services/job-seeker-registration": "/services/job-seeker-registration",
		"//evil.example/x":                  "/cabinet",
		"https://evil.example/":             "/cabinet",
		"/\\evil.example":                   "/cabinet",
	} {
		form := url.Values{"_csrf": {p.token("/login")}, "iin": {citizenIIN}, "password": {passwordOK}, "next": {next}}
		resp, _ := p.do("POST", "/login", form, nil)
		if got := resp.Header.Get("Location"); got != want {
			t.Errorf("next %q: to %q, want %q", next, got, want)
		}
	}
	// A wrong password is shown on the login page, with its code, in the
	// page's language; the IIN typed is kept.
	form := url.Values{"_csrf": {p.token("/login?lang=en")}, "iin": {citizenIIN}, "password": {"Wrong-2026-parol"}}
	resp, html := p.do("POST", "/login", form, nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(html, egov.CodeAuthorizationRefused.Message().EN) ||
		!strings.Contains(html, `value="`+citizenIIN+`"`) {
		t.Errorf("a wrong password: %d\n%.400s", resp.StatusCode, html)
	}
}

// The form's document: the browser sends the fields and the files'
// names, sizes and hashes; the portal answers the XML to sign, or a
// message per field in the page's language.
func TestPageBuildsTheDocumentToSign(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	p := newPages(t, e, gateway.PageOptions{})
	p.login(citizenIIN, passwordOK)
	tok := p.token("/services/job-seeker-registration?lang=kk")
	post := func(form url.Values) (int, map[string]any) {
		t.Helper()
		resp, body := p.do("POST", "/services/job-seeker-registration/document", form, map[string]string{"X-CSRF-Token": tok})
		var out map[string]any
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatalf("%d: %s", resp.StatusCode, body)
		}
		return resp.StatusCode, out
	}
	code, out := post(url.Values{"region": {"almaty-city"}, "field.education": {"doctorate"}, "phone": {"8701"},
		"file.identity-document.name": {"id.pdf"}, "file.identity-document.type": {"text/html"}, "file.identity-document.size": {"10"},
		"file.identity-document.sha256": {strings.Repeat("a", 64)}})
	fields, _ := out["fields"].(map[string]any)
	if code != http.StatusUnprocessableEntity || out["code"] != string(egov.CodeFormInvalid) {
		t.Fatalf("a form filled wrongly: %d %v", code, out)
	}
	for name, want := range map[string]string{"surname": "Бұл өрісті толтырыңыз", "givenName": "Бұл өрісті толтырыңыз",
		"field.education": "Тізімнен мәнді таңдаңыз", "phone": "+7XXXXXXXXXX", "file.identity-document": "PDF, JPEG",
		"file.identity-document.expires": "Бұл өрісті толтырыңыз"} {
		if got, _ := fields[name].(string); !strings.Contains(got, want) {
			t.Errorf("field %s: %q, want %q", name, got, want)
		}
	}
	if code, out := post(url.Values{"region": {"mars"}}); code != http.StatusUnprocessableEntity && code != http.StatusNotFound {
		t.Errorf("an unknown region: %d %v", code, out)
	}
	sum := strings.Repeat("0123456789abcdef", 4)
	code, out = post(url.Values{"region": {"almaty-city"}, "surname": {"ЖАҚСЫЛЫҚОВ"}, "givenName": {"АЙДОС"}, "field.education": {"higher"},
		"file.identity-document.name": {"id.pdf"}, "file.identity-document.type": {"application/pdf"}, "file.identity-document.size": {"2048"},
		"file.identity-document.sha256": {sum}, "file.identity-document.expires": {"2030-01-01"}})
	doc, _ := out["document"].(string)
	if code != http.StatusOK || !strings.Contains(doc, "<IIN>"+citizenIIN+"</IIN>") || !strings.Contains(doc, sum) ||
		!strings.Contains(doc, `size="2048"`) || strings.Contains(doc, "Signature") {
		t.Fatalf("the document to sign: %d %v", code, out)
	}
	// Without the session, no document; without the token, none either.
	other := newPages(t, e, gateway.PageOptions{})
	if resp, body := other.do("POST", "/services/job-seeker-registration/document", url.Values{"region": {"almaty-city"}},
		map[string]string{"Sec-Fetch-Site": "same-origin"}); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "authorization-refused") {
		t.Errorf("without a session: %d %s", resp.StatusCode, body)
	}
	if resp, _ := p.do("POST", "/services/job-seeker-registration/document", url.Values{"region": {"almaty-city"}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("without the token: %d", resp.StatusCode)
	}
}

// Registration on the page: the code sent to the mobile register's phone
// (the page says where, masked), or the challenge signed with the
// citizen's key; then the login page says the account is there.
func TestPageRegistration(t *testing.T) {
	e := newEnv(t)
	p := newPages(t, e, gateway.PageOptions{})
	resp, page := p.do("POST", "/register/code", url.Values{"_csrf": {p.token("/register")}, "iin": {citizenIIN}}, nil)
	html := stdhtml.UnescapeString(page)
	if resp.StatusCode != http.StatusOK || !strings.Contains(html, sms.Phone(citizenPhone).Masked()) || strings.Contains(html, citizenPhone) {
		t.Fatalf("the code: %d\n%s", resp.StatusCode, html)
	}
	if !strings.Contains(html, `value="sms-code" checked`) || !strings.Contains(html, `value="`+citizenIIN+`"`) {
		t.Errorf("the page after sending the code keeps neither the proof chosen nor the IIN")
	}
	form := url.Values{"_csrf": {p.token("/register")}, "iin": {citizenIIN}, "password": {passwordOK}, "password2": {passwordOK},
		"proof": {"sms-code"}, "code": {"000000"}}
	if resp, html := p.do("POST", "/register", form, nil); resp.StatusCode == http.StatusSeeOther || !strings.Contains(html, string(egov.CodeOneTimeCodeInvalid)) {
		t.Errorf("a wrong code: %d", resp.StatusCode)
	}
	form.Set("code", e.lastCode(citizenPhone))
	form.Set("password2", "Another-2026-parol")
	if resp, html := p.do("POST", "/register", form, nil); resp.StatusCode == http.StatusSeeOther || !strings.Contains(html, string(egov.CodePasswordWeak)) {
		t.Errorf("two different passwords: %d", resp.StatusCode)
	}
	form.Set("password2", passwordOK)
	resp, _ = p.do("POST", "/register", form, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?registered=1" {
		t.Fatalf("registration by code: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := p.login(citizenIIN, passwordOK); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("login after registering: %d", resp.StatusCode)
	}
	// By signature: the challenge of /login/challenge, signed.
	var ch struct{ Document string }
	resp, body := p.do("GET", "/login/challenge", nil, nil)
	if err := json.Unmarshal([]byte(body), &ch); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("challenge: %d %s", resp.StatusCode, body)
	}
	signed, err := signer(t, keyOf[citizen2IIN]).Sign([]byte(ch.Document))
	if err != nil {
		t.Fatal(err)
	}
	form = url.Values{"_csrf": {p.token("/register")}, "iin": {citizen2IIN}, "password": {passwordOK}, "password2": {passwordOK},
		"proof": {"signature"}, "signedChallenge": {string(signed)}}
	if resp, _ := p.do("POST", "/register", form, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("registration by signature: %d", resp.StatusCode)
	}
	// The same signed challenge opens no second account, nor a session.
	body2, _ := json.Marshal(map[string]string{"signed": string(signed)})
	req, _ := http.NewRequest("POST", p.base+"/login/signature", strings.NewReader(string(body2)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if resp, err := p.http.Do(req); err != nil || resp.StatusCode == http.StatusOK {
		t.Errorf("a challenge used twice logs in: %v %v", resp.StatusCode, err)
	}
}

// A page's route reads no more than its limit, whatever it is sent, and
// what a multipart form spooled to disk is gone when the request ends.
func TestPageBodiesAreBounded(t *testing.T) {
	e := newEnv(t)
	e.register(citizenIIN)
	p := newPages(t, e, gateway.PageOptions{})
	p.login(citizenIIN, passwordOK)
	spool := t.TempDir()
	t.Setenv("TMPDIR", spool)
	multipartOf := func(size int) (string, []byte) {
		var b strings.Builder
		b.WriteString("--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n")
		b.WriteString(strings.Repeat("x", size))
		b.WriteString("\r\n--B--\r\n")
		return "multipart/form-data; boundary=B", []byte(b.String())
	}
	post := func(path string, size int, chunked bool) *http.Response {
		t.Helper()
		ct, body := multipartOf(size)
		var rd io.Reader = strings.NewReader(string(body))
		if chunked {
			rd = io.MultiReader(rd) // no length known: sent chunked
		}
		req, _ := http.NewRequest("POST", p.base+path, rd)
		req.Header.Set("Content-Type", ct)
		resp, err := p.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := post("/logout", 1<<20, false); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("1 MiB declared to /logout: %d", resp.StatusCode)
	}
	if resp := post("/logout", 1<<20, true); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("1 MiB chunked to /logout: %d, want 400 (no length, no reading)", resp.StatusCode)
	}
	// Within the submission's limit, without the script's header: refused
	// before a byte of it is read, nothing spooled.
	if resp := post("/requests", 40<<20, false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a submission without its token: %d", resp.StatusCode)
	}
	left, _ := os.ReadDir(spool)
	if len(left) > 0 {
		t.Errorf("%d spooled files left, e.g. %s", len(left), left[0].Name())
	}
}
