package counter

import (
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"egov"
	"egov/web"
)

// APIPrefix is where the workstation's API lives.
const APIPrefix = "/counter/v1"

//go:embed openapi.yaml
var openAPIDocument []byte

// Problem is a refusal as RFC 9457 problem details, the code and its
// messages in Russian, Kazakh and English; Register and Reason say which
// register had no data (data-unobtainable), Receipt is the refusal to
// accept an incomplete package.
type Problem struct {
	Type     string          `json:"type"`
	Title    string          `json:"title"`
	Status   int             `json:"status"`
	Code     egov.Code       `json:"code"`
	Detail   string          `json:"detail,omitempty"`
	Messages egov.Message    `json:"messages"`
	Register Register        `json:"register,omitempty"`
	Reason   string          `json:"reason,omitempty"`
	Receipt  *RefusalReceipt `json:"receipt,omitempty"`
}

// Handler returns the workstation's HTTP API under APIPrefix.
func (w *Workstation) Handler() http.Handler { return w.HandlerWith(nil) }

// HandlerWith is Handler with the operators' pages beside the API, at the
// root, when pages is set.
func (w *Workstation) HandlerWith(pages *PageOptions) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	var pg *operatorPages
	if pages != nil {
		var err error
		if pg, err = newOperatorPages(w, *pages); err != nil {
			panic(err) // the embedded templates, or a signer URL the program did not check
		}
	}
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if pg != nil && !strings.HasPrefix(c.Request().URL.Path, APIPrefix+"/") {
			pg.renderError(err, c)
			return
		}
		w.errorHandler(err, c)
	}
	e.Use(middleware.Recover())
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{ContentTypeNosniff: "nosniff", XFrameOptions: "DENY",
		ContentSecurityPolicy: "default-src 'none'", ReferrerPolicy: "no-referrer"}))
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set("Cache-Control", "no-store") // every answer is about someone
			return next(c)
		}
	})
	e.Use(middleware.ContextTimeout(30 * time.Second))
	small := middleware.BodyLimit("64K")
	g := e.Group(APIPrefix)
	// The ids in paths are the workstation's UUIDs, nothing else.
	ids := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !validID(c.Param("id")) {
				return egov.Errorf(egov.CodeNotFound, "no such filing or draft")
			}
			return next(c)
		}
	}
	g.GET("/openapi.yaml", func(c echo.Context) error { return c.Blob(http.StatusOK, "application/yaml", openAPIDocument) })
	g.POST("/sessions", w.handleLogin, small)
	g.DELETE("/sessions", w.handleLogout, w.requireSession)
	g.POST("/intakes", w.handleIntake, w.requireSession, middleware.BodyLimit("36M"))
	g.POST("/intakes/:id/submission", w.handleSubmit, ids, w.requireSession, middleware.BodyLimit("1M"))
	g.GET("/ready", w.handleReady, w.requireSession)
	g.GET("/filings/:id", w.handleFiling, ids, w.requireSession)
	g.GET("/filings/:id/result", w.handleResult, ids, w.requireSession)
	g.POST("/filings/:id/hand-out", w.handleHandOut, ids, w.requireSession, small)
	if pg != nil {
		pg.mount(e, ids)
	}
	return e
}

func (w *Workstation) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		scheme, token, _ := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
		if !strings.EqualFold(scheme, "Bearer") || token == "" { // the scheme is case-insensitive (RFC 9110 §11.1)
			return egov.Errorf(egov.CodeAuthorizationRefused, "no session")
		}
		op, err := w.Session(c.Request().Context(), token)
		if err != nil {
			return err
		}
		c.Set("operator", op)
		c.Set("token", token)
		return next(c)
	}
}

func operatorOf(c echo.Context) *Operator { return c.Get("operator").(*Operator) }

// bindJSON reads one JSON object of the request, nothing unknown in it.
func bindJSON(c echo.Context, v any) error {
	if ct := c.Request().Header.Get(echo.HeaderContentType); !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
		return egov.Errorf(egov.CodeMediaUnsupported, "send application/json")
	}
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return egov.Errorf(egov.CodeBodyTooLarge, "%v", err)
		}
		return egov.Errorf(egov.CodeRequestMalformed, "the body is not the JSON object expected: %v", err)
	}
	if dec.More() {
		return egov.Errorf(egov.CodeRequestMalformed, "one JSON object only")
	}
	return nil
}

type operatorView struct {
	Login  string `json:"login"`
	Name   string `json:"name"`
	Office Office `json:"office"`
}

func (w *Workstation) handleLogin(c echo.Context) error {
	var in struct {
		Login    string `json:"login"`
		Password string `json:"password"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	token, op, err := w.Login(c.Request().Context(), in.Login, in.Password)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"token": token, "expiresIn": int(sessionLifetime / time.Second),
		"operator": operatorView{Login: op.Login, Name: op.Name, Office: op.Office}})
}

func (w *Workstation) handleLogout(c echo.Context) error {
	if err := w.Logout(c.Request().Context(), c.Get("token").(string)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// enterIntake takes one of the places of the intakes checked at once, or
// refuses after intakeWait; release gives it back.
func (w *Workstation) enterIntake() (release func(), err error) {
	select {
	case w.intakes <- struct{}{}:
		return func() { <-w.intakes }, nil
	case <-time.After(intakeWait):
		return nil, egov.Errorf(egov.CodeUnavailable, "%d intakes at once already: try again", maxIntakes)
	}
}

func (w *Workstation) handleIntake(c echo.Context) error {
	release, err := w.enterIntake()
	if err != nil {
		return err
	}
	defer release()
	var in IntakeForm
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	d, err := w.Intake(c.Request().Context(), operatorOf(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, d)
}

func (w *Workstation) handleSubmit(c echo.Context) error {
	if ct := c.Request().Header.Get(echo.HeaderContentType); !strings.HasPrefix(ct, "application/xml") && !strings.HasPrefix(ct, "text/xml") {
		return egov.Errorf(egov.CodeMediaUnsupported, "send the signed request document as application/xml")
	}
	signed, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return egov.Errorf(egov.CodeBodyTooLarge, "%v", err)
		}
		return err
	}
	rc, err := w.Submit(c.Request().Context(), operatorOf(c), c.Param("id"), signed)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, rc)
}

func (w *Workstation) handleReady(c echo.Context) error {
	list, err := w.Ready(c.Request().Context(), operatorOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"filings": list})
}

func (w *Workstation) handleFiling(c echo.Context) error {
	f, err := w.Filing(c.Request().Context(), operatorOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, f)
}

func (w *Workstation) handleResult(c echo.Context) error {
	doc, err := w.Result(c.Request().Context(), operatorOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/xml", []byte(doc))
}

func (w *Workstation) handleHandOut(c echo.Context) error {
	var in struct {
		IIN string `json:"iin"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	f, err := w.HandOutTo(c.Request().Context(), operatorOf(c), c.Param("id"), in.IIN)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, f)
}

// errorHandler answers every refusal as a Problem; internal errors are
// logged, and their detail is not sent.
func (w *Workstation) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code := web.Refusal(err)
	var he *echo.HTTPError
	framework := errors.As(err, &he)
	msg := code.Message()
	p := Problem{Type: "urn:egov-gateway:problem:" + string(code), Title: msg.EN, Status: code.HTTPStatus(), Code: code, Messages: msg}
	switch {
	case code == egov.CodeInternal || code == egov.CodeUnavailable:
		w.cfg.Log.Error("counter: request failed", "path", c.Path(), "err", err)
	case !framework: // the framework's own words say nothing the code does not
		p.Detail = err.Error()
	}
	h := c.Response().Header()
	switch p.Status {
	case http.StatusUnauthorized:
		h.Set(echo.HeaderWWWAuthenticate, `Bearer realm="egov-gateway counter"`)
	case http.StatusTooManyRequests:
		h.Set("Retry-After", "900") // a login's window, or a draft's life at worst
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", "2")
	}
	var u *Unobtainable
	if errors.As(err, &u) {
		p.Register, p.Reason = u.Register, u.Reason
	}
	var inc *PackageIncomplete
	if errors.As(err, &inc) {
		p.Receipt = &inc.Receipt
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(p.Status)
	_ = json.NewEncoder(c.Response()).Encode(p)
}
