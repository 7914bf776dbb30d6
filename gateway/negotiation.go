package gateway

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	textlang "golang.org/x/text/language"
)

// portalLanguages are the languages the portal speaks, in the order of
// egov.Message.In's tags; the first is the default, so an Accept-Language
// that matches none of them (or none at all) reads Russian.
var portalLanguages = []struct {
	tag  textlang.Tag
	name string
}{
	{textlang.Russian, "ru"},
	{textlang.Kazakh, "kk"},
	{textlang.English, "en"},
}

var languageMatcher = func() textlang.Matcher {
	tags := make([]textlang.Tag, len(portalLanguages))
	for i, l := range portalLanguages {
		tags[i] = l.tag
	}
	return textlang.NewMatcher(tags)
}()

// negotiateLanguage picks ru, kk or en for an Accept-Language value
// (RFC 9110 §12.5.4): q-values are honoured, "kz" (the country code that
// clients often send for Kazakh) reads as "kk", "*" (any language) as the
// default, and a malformed value or one that matches nothing is Russian.
func negotiateLanguage(header string) string {
	if strings.TrimSpace(header) == "" {
		return portalLanguages[0].name
	}
	tags, _, err := textlang.ParseAcceptLanguage(normalizeRanges(header))
	if err != nil || len(tags) == 0 {
		return portalLanguages[0].name
	}
	_, i, conf := languageMatcher.Match(tags...)
	if conf == textlang.No {
		return portalLanguages[0].name
	}
	return portalLanguages[i].name
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
			parts[i] = p[:len(p)-len(t)] + portalLanguages[0].name + t[1:]
		}
	}
	return strings.Join(parts, ",")
}

// language negotiates the answer's language for c and marks the answer as
// depending on it: Content-Language names the language chosen and Vary
// tells caches that another Accept-Language may get another text. Every
// handler that puts language-dependent text into an answer asks here.
func language(c echo.Context) string {
	lang := negotiateLanguage(c.Request().Header.Get("Accept-Language"))
	h := c.Response().Header()
	h.Set("Content-Language", lang)
	addVary(h, "Accept-Language")
	return lang
}

// addVary adds field to the Vary header once.
func addVary(h http.Header, field string) {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), field) || strings.TrimSpace(f) == "*" {
				return
			}
		}
	}
	h.Add("Vary", field)
}
