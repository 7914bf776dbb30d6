package web_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"egov"
	"egov/web"
)

func TestLocalPath(t *testing.T) {
	for next, want := range map[string]string{
		"/cabinet": "/cabinet", "/services/x?lang=kk": "/services/x?lang=kk",
		"": "", "cabinet": "", "//evil.example": "", "/\\evil.example": "", "https://evil.example/": "",
		"/x\r\nSet-Cookie: a=b": "", "javascript:alert(1)": "", "/\t/evil.example": "", "/x\x7f": "",
	} {
		if got := web.LocalPath(next); got != want {
			t.Errorf("LocalPath(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	for header, want := range map[string]string{
		"": "ru", "kk": "kk", "kz": "kk", "kz-KZ,ru;q=0.5": "kk", "en-GB,en;q=0.9": "en", "de": "ru",
		"*;q=0.5,en;q=0.1": "ru", "ru;q=0.1,kk;q=0.9": "kk", ";;;": "ru",
	} {
		if got := web.Negotiate(header); got != want {
			t.Errorf("Negotiate(%q) = %q, want %q", header, got, want)
		}
	}
}

// The anti-forgery check's own refusals read form-expired; the handler's
// errors pass as they are.
func TestCSRFRefusals(t *testing.T) {
	site, err := web.New(web.Options{Brand: "x", Texts: map[string]egov.Message{"x": {RU: "x", KK: "x", EN: "x"}, "nav.who": {RU: "x", KK: "x", EN: "x"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	var got error
	e.HTTPErrorHandler = func(err error, c echo.Context) { got = err; _ = c.NoContent(egov.ErrorCode(err).HTTPStatus()) }
	e.POST("/form", func(c echo.Context) error { return egov.Errorf(egov.CodeFormInvalid, "the handler's") }, site.Guard(nil))
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   egov.Code
	}{
		{"cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}, egov.CodeFormExpired},
		{"same-site, no token", map[string]string{"Sec-Fetch-Site": "same-site"}, egov.CodeFormExpired},
		{"no header, no token", nil, egov.CodeFormExpired},
		{"same-origin", map[string]string{"Sec-Fetch-Site": "same-origin"}, egov.CodeFormInvalid},
	} {
		got = nil
		req := httptest.NewRequest(http.MethodPost, "/form", strings.NewReader("a=b"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		e.ServeHTTP(httptest.NewRecorder(), req)
		if egov.ErrorCode(got) != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, got, tc.want)
		}
	}
}

// A site whose templates ask for a text without its three languages does
// not start.
func TestSiteRefusesAMissingText(t *testing.T) {
	pages := fstest.MapFS{"p.html": {Data: []byte(`{{define "content"}}{{.T "no.such"}}{{end}}`)}}
	texts := map[string]egov.Message{"x": {RU: "x", KK: "x", EN: "x"}, "nav.who": {RU: "x", KK: "x", EN: "x"}}
	if _, err := web.New(web.Options{Brand: "x", Texts: texts}, pages, "p"); err == nil || !strings.Contains(err.Error(), "no.such") {
		t.Errorf("a missing text: %v", err)
	}
	texts["no.such"] = egov.Message{RU: "x", EN: "x"}
	if _, err := web.New(web.Options{Brand: "x", Texts: texts}, pages, "p"); err == nil {
		t.Error("a text without Kazakh")
	}
	texts["no.such"] = egov.Message{RU: "x", KK: "x", EN: "x"}
	if _, err := web.New(web.Options{Brand: "x", Texts: texts}, pages, "p"); err != nil {
		t.Error(err)
	}
}

// FuzzLocalPath: whatever next is, what LocalPath keeps is a path of this
// site: one leading slash, no host, no backslash, no control character.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/cabinet", "//evil", "/\t/evil", "https://x/", "/a?b=c#d", "/\\x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := web.LocalPath(next)
		if got == "" {
			return
		}
		if got != next || !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\t\r\n") {
			t.Fatalf("LocalPath(%q) = %q", next, got)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("LocalPath(%q) keeps a control character", next)
			}
		}
	})
}

// What a multipart form spooled to disk is removed when the request ends,
// also when a middleware (a timeout's) works on a copy of the request.
func TestGuardRemovesSpooledFiles(t *testing.T) {
	spool := t.TempDir()
	t.Setenv("TMPDIR", spool)
	texts := map[string]egov.Message{"x": {RU: "x", KK: "x", EN: "x"}, "nav.who": {RU: "x", KK: "x", EN: "x"}}
	site, err := web.New(web.Options{Brand: "x", Texts: texts}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.Use(middleware.ContextTimeout(10 * time.Second))
	var size int64
	e.POST("/upload", func(c echo.Context) error {
		f, err := c.FormFile("scan")
		if err != nil {
			return err
		}
		size = f.Size
		left, _ := os.ReadDir(spool)
		if len(left) == 0 {
			t.Error("the form was not spooled: the test proves nothing")
		}
		return c.NoContent(http.StatusNoContent)
	}, site.Guard(map[string]web.Route{"/upload": {Limit: 40 << 20}}))
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, _ := w.CreateFormFile("scan", "scan.pdf")
	part.Write(bytes.Repeat([]byte("x"), 33<<20))
	w.Close()
	req := httptest.NewRequest(http.MethodPost, "/upload", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent || size != 33<<20 {
		t.Fatalf("%d, %d bytes", rec.Code, size)
	}
	if left, _ := os.ReadDir(spool); len(left) > 0 {
		t.Errorf("%d spooled files left", len(left))
	}
}
