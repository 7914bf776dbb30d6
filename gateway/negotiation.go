package gateway

import (
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
	web.AddVary(h, "Accept-Language")
	return lang
}
