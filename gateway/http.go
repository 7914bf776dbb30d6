package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"egov"
	"egov/internal/ops"
)

// HealthCheck is one named dependency /readyz (and its alias /healthz)
// asks about, besides Redis.
type HealthCheck = ops.Check

// HTTPOptions tune the HTTP front.
type HTTPOptions struct {
	// IPExtractor decides the client address for rate limits; the default
	// takes the connection's address, so forged X-Forwarded-For headers do
	// not help. Behind a proxy use echo.ExtractIPFromXFFHeader with its range.
	IPExtractor echo.IPExtractor
	// Health lists the checks of /readyz besides Redis (the bus,
	// revocation data).
	Health []HealthCheck
	// RequestTimeout bounds a handler (default 30 s).
	RequestTimeout time.Duration
	// Metrics is the registry the HTTP metrics, the relay's, the
	// consumer's (App.Collectors) and the process's are registered in, for
	// a metrics listener of its own (MetricsHandler or ops.Handler); the
	// API does not serve them.
	Metrics *prometheus.Registry
	// MaxSubmissions bounds the submissions processed at once (default
	// 256); one more waits up to SubmissionQueueWait (default 2 s) and is
	// then answered 503, so that overload costs a retry, not memory and
	// everyone's latency.
	MaxSubmissions      int
	SubmissionQueueWait time.Duration
	// MaxSubmissionBytes bounds the bytes of the submissions being
	// received at once (default 256 MiB), counted as they arrive, not as
	// declared: a client that declares 50 MiB and sends nothing holds
	// nothing. Without it 256 huge uploads at once could take 12 GiB.
	MaxSubmissionBytes int64
	// CitizenShare bounds one citizen's part of it (default a quarter),
	// and CitizenSubmissions his submissions at once (default 32), so
	// that one client cannot hold everyone's budget.
	CitizenShare       int64
	CitizenSubmissions int
	// Pages, when set, adds the citizen's web pages (pages.go) beside the
	// API, outside /api; nil serves the API alone.
	Pages *PageOptions
}

// Handler returns the portal's HTTP API, versioned under /api/v1.
func (a *App) Handler(opt HTTPOptions) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = opt.IPExtractor
	if e.IPExtractor == nil {
		e.IPExtractor = echo.ExtractIPDirect()
	}
	if opt.RequestTimeout <= 0 {
		opt.RequestTimeout = 30 * time.Second
	}
	var pg *pages
	if opt.Pages != nil {
		var err error
		if pg, err = newPages(a, *opt.Pages); err != nil {
			panic(err) // the embedded templates and a bad signer URL: a programming or start-up error
		}
	}
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if pg != nil && pg.owns(c) {
			pg.renderError(err, c)
			return
		}
		a.errorHandler(err, c)
	}
	reg := opt.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	metrics := newHTTPMetrics(reg)
	ops.Register(reg, a.Collectors()...)

	e.Use(middleware.RequestID())
	e.Use(middleware.Recover())
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{
		XSSProtection: "0", ContentTypeNosniff: "nosniff", XFrameOptions: "DENY",
		HSTSMaxAge: 31536000, ContentSecurityPolicy: "default-src 'none'", ReferrerPolicy: "no-referrer",
	}))
	e.Use(a.accessLog(metrics))
	e.Use(noStore)
	e.Use(middleware.ContextTimeout(opt.RequestTimeout))

	small := middleware.BodyLimit("64K")
	// Every route is checked against the published document (contract.go).
	k := mustContract()
	api := contractGroup{add: e.Group(apiPrefix).Add, prefix: apiPrefix, k: k}
	catalogue := cacheable(5 * time.Minute)
	// The endpoints anyone may call count an attempt of the client's
	// address and network first, before anything is read or checked.
	attempt := a.limitAttempts
	api.POST("/accounts", a.handleRegister, attempt, middleware.BodyLimit("512K"))
	api.POST("/accounts/codes", a.handleRequestCode, attempt, small)
	api.POST("/sessions", a.handleLogin, attempt, small)
	api.DELETE("/sessions", a.handleLogout, a.requireSession)
	api.GET("/sessions/current", a.handleCurrentSession, a.requireSession)
	api.GET("/auth/challenge", a.handleChallenge, attempt)
	api.POST("/sessions/signature", a.handleSignatureLogin, attempt, middleware.BodyLimit("512K"))
	api.GET("/services", a.handleServices, catalogue)
	api.GET("/services/:code", a.handleService, catalogue)
	api.GET("/services/:code/skeleton", a.handleSkeleton)
	admit := newAdmission(opt).middleware
	api.POST("/requests", a.handleSubmit, a.requireSession, admit)
	api.GET("/requests", a.handleRequests, a.requireSession)
	api.GET("/requests/:id", a.handleRequest, a.requireSession)
	api.GET("/cabinet/messages", a.handleCabinet, a.requireSession)
	api.GET("/cabinet/messages/:id", a.handleCabinetMessage, a.requireSession)
	api.GET("/cabinet/messages/:id/document", a.handleCabinetDocument, a.requireSession)
	api.POST("/cabinet/messages/:id/read", a.handleMarkRead, a.requireSession)
	api.GET("/notifications", a.handleNotifications, a.requireSession)
	api.PUT("/notifications", a.handleSetNotifications, a.requireSession, small)
	api.GET("/openapi.yaml", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/yaml", openAPIDocument)
	}, catalogue)
	root := contractGroup{add: e.Add, k: k}
	ready := echo.WrapHandler(ops.PublicReadyHandler(a.ReadyChecks(opt.Health...)))
	root.GET(ops.PathLive, echo.WrapHandler(http.HandlerFunc(ops.ServeLive)))
	root.GET(ops.PathReady, ready)
	root.GET(ops.PathHealth, ready) // the old name of /readyz
	if pg != nil {
		pg.mount(e, admit)
	}
	return e
}

// ReadyChecks are the checks of the portal's readiness: Redis, then extra.
func (a *App) ReadyChecks(extra ...HealthCheck) []HealthCheck {
	return append([]HealthCheck{ops.RedisCheck(a.rdb)}, extra...)
}

// MetricsHandler serves the metrics of reg (the HTTPOptions.Metrics of a
// portal handler, with the process's own) for a listener of their own:
// they are for the operators, not on the public API.
func MetricsHandler(reg prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// Problem is an application/problem+json body (RFC 9457) with the
// refusal's stable code.
type Problem struct {
	Type      string        `json:"type"`
	Title     string        `json:"title"`
	Status    int           `json:"status"`
	Code      egov.Code     `json:"code"`
	Messages  *egov.Message `json:"messages,omitempty"`
	Instance  string        `json:"instance,omitempty"`
	RequestID string        `json:"requestId,omitempty"`
	// Links point at related resources (the first request of a replay).
	Links map[string]string `json:"links,omitempty"`
}

func (a *App) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code := egov.ErrorCode(err)
	var he *echo.HTTPError
	var replay *ErrReplayed
	links := map[string]string(nil)
	switch {
	case errors.As(err, &replay):
		code = egov.CodeRequestReplayed
		links = map[string]string{"first": "/api/v1/requests/" + replay.RequestID}
	case errors.As(err, &he):
		switch he.Code {
		case http.StatusNotFound, http.StatusMethodNotAllowed:
			// The router's 404 or 405: a known path asked with another
			// method is 405 with Allow, whatever echo's tree search found.
			code = egov.CodeNotFound
			r := c.Request()
			if allow := allowedMethods(c.Echo().Routes(), r.URL.Path); len(allow) > 0 && !slices.Contains(allow, r.Method) {
				c.Response().Header().Set(echo.HeaderAllow, strings.Join(allow, ", "))
				code = egov.CodeMethodNotAllowed
			} else if len(allow) > 0 && r.Method == http.MethodOptions {
				c.Response().Header().Set(echo.HeaderAllow, strings.Join(allow, ", "))
				_ = c.NoContent(http.StatusNoContent)
				return
			}
		case http.StatusRequestEntityTooLarge:
			code = egov.CodeBodyTooLarge
		case http.StatusServiceUnavailable:
			code = egov.CodeUnavailable
		default:
			code = egov.CodeInternal
		}
	case errors.Is(err, context.DeadlineExceeded):
		code = egov.CodeUnavailable
	case code == egov.CodeInternal && isRedisDown(err):
		code = egov.CodeUnavailable
	}
	rid := c.Response().Header().Get(echo.HeaderXRequestID)
	if code == egov.CodeInternal || code == egov.CodeUnavailable {
		a.log.Error("request failed", "request_id", rid, "path", c.Path(), "err", err)
	} else {
		a.log.Info("request refused", "request_id", rid, "path", c.Path(), "code", code, "detail", err.Error())
	}
	msg := code.Message()
	p := Problem{Type: "urn:egov-gateway:problem:" + string(code), Title: msg.In(language(c)),
		Status: code.HTTPStatus(), Code: code, Messages: &msg, Instance: c.Request().URL.Path, RequestID: rid, Links: links}
	if code == egov.CodeRequestReplayed {
		p.Status = http.StatusConflict
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "application/problem+json")
	// A refusal is never stored, not even one of the cacheable catalogue:
	// it may be a passing rate limit or outage, or about someone's session.
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	switch p.Status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		// The refusal's own wait wins; else what a middleware already said
		// (admission's 1 s), else the default of the status.
		if egov.RetryAfter(err) > 0 || h.Get("Retry-After") == "" {
			h.Set("Retry-After", retryAfterSeconds(err, p.Status))
		}
	case http.StatusUnauthorized:
		h.Set(echo.HeaderWWWAuthenticate, bearerChallenge(c.Request()))
	}
	c.Response().WriteHeader(p.Status)
	_ = json.NewEncoder(c.Response()).Encode(p)
}

// isRedisDown tells a dead connection from other internal errors, so new
// work is answered 503 (try later) rather than 500.
func isRedisDown(err error) bool {
	s := err.Error()
	for _, passing := range []string{"connection refused", "i/o timeout", "connection reset", "EOF", "pool timeout", "broken pipe",
		// a cluster between a master's death and its replica's promotion,
		// or just after it (a slot map not yet reloaded)
		// (a transaction whose queued commands met one of these is
		// discarded: EXECABORT)
		"CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "LOADING", "READONLY", "MOVED ", "ASK ", "EXECABORT"} {
		if strings.Contains(s, passing) {
			return true
		}
	}
	return false
}

const sessionContextKey = "session"

func (a *App) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		token, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
		if !ok {
			return egov.Errorf(egov.CodeAuthorizationRefused, "no bearer token")
		}
		s, err := a.SessionOf(c.Request().Context(), strings.TrimSpace(token))
		if err != nil {
			return err
		}
		c.Set(sessionContextKey, s)
		c.Set("token", strings.TrimSpace(token))
		return next(c)
	}
}

func sessionOf(c echo.Context) *Session { return c.Get(sessionContextKey).(*Session) }

func bindJSON(c echo.Context, v any) error {
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if refusal, ok := readRefusal(err); ok {
			return refusal
		}
		// Not JSON, or a field the endpoint does not know: the request
		// cannot be read, which is 400, not a form filled wrongly (422).
		return egov.Errorf(egov.CodeRequestMalformed, "JSON body: %v", err)
	}
	// One object: {"sms":true}{"sms":false} is not read as its first half.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return egov.Errorf(egov.CodeRequestMalformed, "JSON body: one JSON object only")
	}
	return nil
}

// handleRegister opens an account for an IIN its holder proves: with
// signedChallenge (the AuthChallenge document of GET /auth/challenge,
// signed) or with code (sent by POST /accounts/codes).
func (a *App) handleRegister(c echo.Context) error {
	var in struct {
		IIN             string `json:"iin"`
		BIN             string `json:"bin"`
		Password        string `json:"password"`
		Phone           string `json:"phone"`
		Code            string `json:"code"`
		SignedChallenge string `json:"signedChallenge"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	r := Registration{IIN: in.IIN, BIN: in.BIN, Password: in.Password, Phone: in.Phone, Code: in.Code}
	if in.SignedChallenge != "" {
		r.SignedChallenge = []byte(in.SignedChallenge)
	}
	if err := a.Register(c.Request().Context(), r); err != nil {
		return err
	}
	proof := ProofSignature
	if r.Code != "" {
		proof = ProofSMSCode
	}
	return c.JSON(http.StatusCreated, map[string]string{"iin": in.IIN, "proof": proof})
}

// handleRequestCode sends a one-time registration code to the phone the
// mobile citizens' register holds for the IIN; the answer names it masked.
func (a *App) handleRequestCode(c echo.Context) error {
	var in struct {
		IIN string `json:"iin"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	sent, err := a.RequestCode(c.Request().Context(), in.IIN)
	if err != nil {
		return withRetryAfter(c, err)
	}
	return c.JSON(http.StatusAccepted, map[string]any{"sentTo": sent.SentTo, "expiresIn": int(sent.ExpiresIn / time.Second)})
}

// handleCurrentSession shows the session and the account it is bound to.
func (a *App) handleCurrentSession(c echo.Context) error {
	s := sessionOf(c)
	acct, err := a.AccountOf(c.Request().Context(), s)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"iin": s.IIN, "bin": s.BIN, "method": s.Method, "account": acct})
}

type sessionAnswer struct {
	Token     string `json:"token"`
	ExpiresIn int    `json:"expiresIn"` // seconds of idle time
	IIN       string `json:"iin"`
	Method    string `json:"method"`
	// Account is the id of the account the session is bound to, if any.
	Account string `json:"account,omitempty"`
}

func (a *App) handleLogin(c echo.Context) error {
	var in struct {
		IIN      string `json:"iin"`
		Password string `json:"password"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	token, s, err := a.Login(c.Request().Context(), in.IIN, in.Password)
	if err != nil {
		return withRetryAfter(c, err)
	}
	return c.JSON(http.StatusCreated, sessionAnswer{Token: token, ExpiresIn: int(sessionLifetime / time.Second), IIN: s.IIN, Method: s.Method, Account: s.Account})
}

func (a *App) handleLogout(c echo.Context) error {
	if err := a.Logout(c.Request().Context(), c.Get("token").(string)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *App) handleChallenge(c echo.Context) error {
	nonce, err := a.Challenge(c.Request().Context())
	if err != nil {
		return withRetryAfter(c, err)
	}
	return c.JSON(http.StatusOK, map[string]any{"nonce": nonce, "expiresIn": int(challengeTTL / time.Second), "document": challengeDocument(nonce)})
}

func (a *App) handleSignatureLogin(c echo.Context) error {
	doc, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return egov.Errorf(egov.CodeBodyTooLarge, "signed challenge")
	}
	token, s, err := a.LoginBySignature(c.Request().Context(), doc)
	if err != nil {
		return withRetryAfter(c, err)
	}
	return c.JSON(http.StatusCreated, sessionAnswer{Token: token, ExpiresIn: int(sessionLifetime / time.Second), IIN: s.IIN, Method: s.Method, Account: s.Account})
}

// limitAttempts counts an attempt of the client's address and network
// against their limits (allowAttempt) and refuses beyond them.
func (a *App) limitAttempts(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := a.allowAttempt(c.Request().Context(), c.RealIP()); err != nil {
			return withRetryAfter(c, err)
		}
		return next(c)
	}
}

// withRetryAfter writes Retry-After (whole seconds, rounded up) for an
// error that asks the caller to wait (egov.RetryAfter), and returns it for
// the error handler to answer.
func withRetryAfter(c echo.Context, err error) error {
	if d := egov.RetryAfter(err); d > 0 {
		c.Response().Header().Set("Retry-After", strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10))
	}
	return err
}

// serviceView is a catalogue entry in one language.
type serviceView struct {
	Code     string   `json:"code"`
	Label    string   `json:"label"`
	Follows  string   `json:"follows,omitempty"`
	Name     string   `json:"name"`
	Names    Names    `json:"names"`
	Provider string   `json:"provider"`
	Channels []string `json:"channels"`
	Portal   bool     `json:"portal"`
	Results  struct {
		Positive string `json:"positive"`
		Refusal  string `json:"refusal,omitempty"`
	} `json:"results"`
	Form    *PortalForm           `json:"portalForm,omitempty"`
	Regions map[string]regionView `json:"regions,omitempty"`
}

// regionView is a region's regulation of a service, in one language.
type regionView struct {
	Seed     string                 `json:"seed"`
	Lines    string                 `json:"lines"`
	Provider string                 `json:"provider"`
	Channels map[string]channelView `json:"channels"`
}

type channelView struct {
	Steps []stepView `json:"steps,omitempty"`
	// WorkingMinutes is the term in working time (the declared term, or
	// the steps' sum); DeclaredWorkingDays the regulation's own, if any.
	WorkingMinutes                 int      `json:"workingMinutes"`
	DeclaredWorkingDays            int      `json:"declaredWorkingDays,omitempty"`
	DistrictOfficeExtraWorkingDays int      `json:"districtOfficeExtraWorkingDays,omitempty"`
	AcceptanceDayNotCounted        bool     `json:"acceptanceDayNotCounted,omitempty"`
	TermNote                       string   `json:"termNote,omitempty"`
	Where                          string   `json:"where,omitempty"`
	Bring                          []string `json:"bring,omitempty"`
	Lines                          string   `json:"lines"`
}

type stepView struct {
	Role           string `json:"role"`
	Action         string `json:"action"`
	WorkingMinutes int    `json:"workingMinutes"`
}

func view(s *Service, lang string, details bool) serviceView {
	v := serviceView{Code: s.Code, Label: s.Label, Follows: s.Follows, Name: s.Names.In(lang), Names: s.Names, Provider: s.Provider.In(lang),
		Channels: s.Channels(), Portal: s.OnPortal()}
	v.Results.Positive, v.Results.Refusal = s.Results.Positive.In(lang), s.Results.Refusal.In(lang)
	if !details {
		return v
	}
	v.Form = s.Portal
	v.Regions = map[string]regionView{}
	for region, r := range s.Regions {
		rv := regionView{Seed: r.Seed, Lines: r.Lines, Provider: v.Provider, Channels: map[string]channelView{}}
		if r.Provider != nil {
			rv.Provider = r.Provider.In(lang)
		}
		for name, ch := range r.Channels {
			cv := channelView{WorkingMinutes: int(ch.Term() / time.Minute), DeclaredWorkingDays: ch.TermWorkingDays,
				DistrictOfficeExtraWorkingDays: ch.DistrictOfficeExtraWorkingDays, AcceptanceDayNotCounted: ch.AcceptanceDayNotCounted,
				Lines: ch.Lines}
			for _, st := range ch.Steps {
				cv.Steps = append(cv.Steps, stepView{Role: st.Role.In(lang), Action: st.Action.In(lang), WorkingMinutes: int(st.Duration() / time.Minute)})
			}
			if ch.Where != nil {
				cv.Where = ch.Where.In(lang)
			}
			if ch.TermNote != nil {
				cv.TermNote = ch.TermNote.In(lang)
			}
			for _, b := range ch.Bring {
				cv.Bring = append(cv.Bring, b.In(lang))
			}
			rv.Channels[name] = cv
		}
		v.Regions[region] = rv
	}
	return v
}

func (a *App) handleServices(c echo.Context) error {
	lang := language(c)
	out := make([]serviceView, 0, len(a.cfg.Catalogue.Services))
	for _, s := range a.cfg.Catalogue.Services {
		if c.QueryParam("portal") == "true" && !s.OnPortal() {
			continue
		}
		out = append(out, view(s, lang, false))
	}
	return c.JSON(http.StatusOK, map[string]any{"services": out})
}

func (a *App) handleService(c echo.Context) error {
	s, err := a.cfg.Catalogue.Lookup(c.Param("code"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view(s, language(c), true))
}

func (a *App) handleSkeleton(c echo.Context) error {
	region := c.QueryParam("region")
	s, _, err := a.cfg.Catalogue.PortalChannel(c.Param("code"), region)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/xml; charset=utf-8", []byte(s.Skeleton(region, uuid.NewString(), a.now())))
}

// handleSubmit reads a submission (ReadSubmission) within the body limit
// and accepts it for the session's citizen.
func (a *App) handleSubmit(c echo.Context) error {
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, a.cfg.MaxBody)
	sub, err := ReadSubmission(r.Header.Get(echo.HeaderContentType), r.Body, a.cfg.MaxXML, a.cfg.MaxAttachment)
	if err != nil {
		return err
	}
	sub.Session = sessionOf(c)
	req, err := a.Submit(r.Context(), sub)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{
		"id": req.ID, "state": req.State, "acceptedAt": req.AcceptedAt, "dueAt": req.DueAt,
		"links": map[string]string{"self": "/api/v1/requests/" + req.ID, "cabinet": "/api/v1/cabinet/messages"},
	})
}

// ReadSubmission reads a multipart submission: the part named "request"
// (or the first part of multipart/related) is the signed XML, at most
// maxXML bytes; every other part an attachment with its file name, at most
// maxAttachment bytes and 20 of them. Every refusal carries a code.
func ReadSubmission(contentType string, body io.Reader, maxXML, maxAttachment int64) (Submission, error) {
	var sub Submission
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || (mediaType != "multipart/form-data" && mediaType != "multipart/related") || params["boundary"] == "" {
		return sub, egov.Errorf(egov.CodeMediaUnsupported, "use multipart/form-data or multipart/related")
	}
	mr := multipart.NewReader(body, params["boundary"])
	for i := 0; ; i++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return sub, bodyError(err)
		}
		isRequest := part.FormName() == "request" || (mediaType == "multipart/related" && i == 0)
		if isRequest {
			if sub.Document != nil {
				return sub, egov.Errorf(egov.CodeFormInvalid, "more than one request part")
			}
			ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
			if ct != "" && ct != "application/xml" && ct != "text/xml" {
				return sub, egov.Errorf(egov.CodeMediaUnsupported, "request part must be application/xml")
			}
			if sub.Document, err = readLimited(part, maxXML, egov.CodeXMLTooLarge); err != nil {
				return sub, err
			}
			continue
		}
		if len(sub.Attachments) >= 20 {
			return sub, egov.Errorf(egov.CodeAttachmentUndeclared, "more than 20 attachments")
		}
		data, err := readLimited(part, maxAttachment, egov.CodeAttachmentRejected)
		if err != nil {
			return sub, err
		}
		name := part.FileName()
		if name == "" {
			name = part.FormName()
		}
		sub.Attachments = append(sub.Attachments, Attachment{FileName: name, MIMEType: part.Header.Get("Content-Type"), Data: data})
	}
	if sub.Document == nil {
		return sub, egov.Errorf(egov.CodeFormInvalid, "no request part")
	}
	return sub, nil
}

func readLimited(r io.Reader, limit int64, code egov.Code) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, bodyError(err)
	}
	if int64(len(data)) > limit {
		return nil, egov.Errorf(code, "part larger than %d bytes", limit)
	}
	return data, nil
}

func bodyError(err error) error {
	if refusal, ok := readRefusal(err); ok {
		return refusal
	}
	return egov.Errorf(egov.CodeFormInvalid, "multipart body: %v", err)
}

func (a *App) handleRequests(c echo.Context) error {
	list, err := a.Requests(c.Request().Context(), sessionOf(c).IIN, atoi(c.QueryParam("limit")))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"requests": list})
}

func (a *App) handleRequest(c echo.Context) error {
	r, err := a.RequestOf(c.Request().Context(), sessionOf(c).IIN, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// cabinetView is a cabinet message in the requested language.
type cabinetView struct {
	CabinetMessage
	TitleText string `json:"titleText"`
	BodyText  string `json:"bodyText"`
}

func localized(m CabinetMessage, lang string) cabinetView {
	return cabinetView{CabinetMessage: m,
		TitleText: egov.Message{RU: m.Title.RU, KK: m.Title.KK, EN: m.Title.EN}.In(lang),
		BodyText:  egov.Message{RU: m.Text.RU, KK: m.Text.KK, EN: m.Text.EN}.In(lang)}
}

func (a *App) handleCabinet(c echo.Context) error {
	limit, _ := strconv.Atoi(c.QueryParam("limit"))
	page, err := a.Cabinet(c.Request().Context(), sessionOf(c).IIN, c.QueryParam("cursor"), limit, c.QueryParam("unread") == "true")
	if err != nil {
		return err
	}
	lang := language(c)
	out := make([]cabinetView, len(page.Messages))
	for i, m := range page.Messages {
		out[i] = localized(m, lang)
	}
	return c.JSON(http.StatusOK, map[string]any{"messages": out, "unread": page.Unread, "next": page.Next})
}

func (a *App) handleCabinetMessage(c echo.Context) error {
	m, _, err := a.CabinetMessageOf(c.Request().Context(), sessionOf(c).IIN, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, localized(*m, language(c)))
}

func (a *App) handleCabinetDocument(c echo.Context) error {
	m, doc, err := a.CabinetMessageOf(c.Request().Context(), sessionOf(c).IIN, c.Param("id"))
	if err != nil {
		return err
	}
	if !m.HasDocument || doc == "" {
		return egov.Errorf(egov.CodeNotFound, "message has no document")
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="result-`+m.RequestID+`.xml"`)
	return c.Blob(http.StatusOK, "application/xml; charset=utf-8", []byte(doc))
}

func (a *App) handleMarkRead(c echo.Context) error {
	if err := a.MarkRead(c.Request().Context(), sessionOf(c).IIN, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *App) handleNotifications(c echo.Context) error {
	n, err := a.NotificationsOf(c.Request().Context(), sessionOf(c).IIN)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, n)
}

// handleSetNotifications takes {"sms": true|false}, nothing else.
func (a *App) handleSetNotifications(c echo.Context) error {
	var n Notifications
	if err := bindJSON(c, &n); err != nil {
		return err
	}
	if err := a.SetNotifications(c.Request().Context(), sessionOf(c).IIN, n); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, n)
}

// httpMetrics counts requests by route and status.
type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "egov_portal_http_requests_total",
			Help: "Portal HTTP requests by method, route and status."}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "egov_portal_http_request_duration_seconds",
			Help: "Portal HTTP request latency by route.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"route"}),
	}
	ops.Register(reg, m.requests, m.latency, prometheus.NewGoCollector(),
		prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// accessLog logs every request at INFO (method, route pattern, status,
// duration, bytes, request id, client address; the IINs in a path are
// masked where a request matched no route) and feeds the metrics.
// The probes are counted, not logged.
func (a *App) accessLog(m *httpMetrics) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			took := time.Since(start)
			r := c.Request()
			status := c.Response().Status
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			method := knownMethod(r.Method)
			m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
			m.latency.WithLabelValues(route).Observe(took.Seconds())
			switch route {
			case ops.PathLive, ops.PathReady, ops.PathHealth:
				return nil
			}
			attrs := []slog.Attr{slog.String("method", method), slog.String("route", route), slog.Int("status", status),
				slog.Duration("duration", took), slog.Int64("bytes", c.Response().Size),
				slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)), slog.String("client", c.RealIP())}
			if route == "unmatched" {
				attrs = append(attrs, slog.String("path", ops.MaskIINs(r.URL.Path)))
			}
			a.log.LogAttrs(r.Context(), slog.LevelInfo, "http", attrs...)
			return nil
		}
	}
}

// knownMethod is the method of a request as a metric label and in the
// access log: a standard one, or "other", since a client may send any token
// and each would otherwise be a series of its own for good.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}
