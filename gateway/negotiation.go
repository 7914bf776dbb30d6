package gateway

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"egov/web"
)

// language negotiates the answer's language for c and marks the answer as
// depending on it: Content-Language names the language chosen and Vary
// tells caches that another Accept-Language may get another text. Every
// handler that puts language-dependent text into an answer asks here.
func language(c echo.Context) string {
	lang := web.Negotiate(c.Request().Header.Get("Accept-Language"))
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
