package gateway

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"

	"egov"
)

// contract is the OpenAPI document the portal publishes
// (data/openapi.yaml), read once: requests are checked against it before a
// handler sees them, so the document cannot promise what the server does
// not hold to.
type contract struct {
	doc *openapi3.T
}

var loadContract = sync.OnceValues(func() (*contract, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPIDocument)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return &contract{doc: doc}, nil
})

// mustContract returns the embedded document; it is part of the binary,
// so a document that does not load is a build defect, found by any test.
func mustContract() *contract {
	k, err := loadContract()
	if err != nil {
		panic(err)
	}
	return k
}

// docPath turns an echo route ("/api/v1/services/:code") into the
// document's path ("/services/{code}"): API routes are written relative to
// the server /api/v1, the others (/healthz) from the root.
func docPath(route string) string {
	p, ok := strings.CutPrefix(route, apiPrefix)
	if !ok {
		p = route
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if name, ok := strings.CutPrefix(s, ":"); ok {
			segs[i] = "{" + name + "}"
		}
	}
	return strings.Join(segs, "/")
}

const apiPrefix = "/api/v1"

// route finds the operation of method on an echo route.
func (k *contract) route(method, echoPath string) (*routers.Route, error) {
	p := docPath(echoPath)
	item := k.doc.Paths.Value(p)
	if item == nil {
		return nil, fmt.Errorf("openapi.yaml has no path %s (route %s)", p, echoPath)
	}
	op := item.GetOperation(method)
	if op == nil {
		return nil, fmt.Errorf("openapi.yaml has no %s %s", method, p)
	}
	return &routers.Route{Spec: k.doc, Path: p, PathItem: item, Method: method, Operation: op}, nil
}

// validator checks a request of one route against its operation:
// parameters always; the Content-Type against the media types the
// operation accepts; the body itself only when it is JSON. Other bodies
// (signed XML, multipart submissions) are left to their handlers, which
// read them as a stream within their own limits, rather than buffered
// here. It must run after the route's body limit, since it reads the body.
// A route missing from the document panics: the route table and the
// document are written together, and every test builds the handler.
func (k *contract) validator(method, echoPath string) echo.MiddlewareFunc {
	route, err := k.route(method, echoPath)
	if err != nil {
		panic(err)
	}
	var body *openapi3.RequestBody
	if route.Operation.RequestBody != nil {
		body = route.Operation.RequestBody.Value
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			checkBody := false
			if body != nil {
				var err error
				if checkBody, err = acceptedMedia(r, body); err != nil {
					return err
				}
			}
			params := make(map[string]string, len(c.ParamNames()))
			for i, name := range c.ParamNames() {
				params[name] = c.ParamValues()[i]
			}
			in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
				Options: &openapi3filter.Options{
					ExcludeRequestBody: !checkBody,
					// Handlers apply their own defaults; the document's are
					// documentation, and rewriting the request would hide
					// what the client sent.
					SkipSettingDefaults: true,
					// Sessions are checked by requireSession, with the
					// portal's own refusal; here a token is never judged.
					AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
					SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
				}}
			if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
				return contractRefusal(err)
			}
			return next(c)
		}
	}
}

// acceptedMedia refuses a body whose Content-Type the operation does not
// accept (415), and a required body that is missing (400); it tells
// whether the body is JSON, to be checked against its schema.
func acceptedMedia(r *http.Request, body *openapi3.RequestBody) (isJSON bool, err error) {
	ct := r.Header.Get(echo.HeaderContentType)
	hasBody := r.ContentLength > 0 || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody)
	if ct == "" && !hasBody {
		if body.Required {
			return false, egov.Errorf(egov.CodeRequestMalformed, "request body required")
		}
		return false, nil
	}
	mediaType, _, perr := mime.ParseMediaType(ct)
	if perr != nil || body.Content.Get(mediaType) == nil {
		accepted := make([]string, 0, len(body.Content))
		for m := range body.Content {
			accepted = append(accepted, m)
		}
		slices.Sort(accepted)
		return false, egov.Errorf(egov.CodeMediaUnsupported, "Content-Type %q; use %s", ct, strings.Join(accepted, " or "))
	}
	return mediaType == "application/json" || strings.HasSuffix(mediaType, "+json"), nil
}

// contractRefusal turns a validator's error into the portal's refusal: a
// body over its limit stays body-too-large and a body sent too slowly
// request-timeout; everything else is request-malformed. The detail names
// the parameter or the body's field and the rule, never the value: bodies
// carry IINs and passwords, and details go to the log.
func contractRefusal(err error) error {
	if refusal, ok := readRefusal(err); ok {
		return refusal
	}
	where := "request"
	var re *openapi3filter.RequestError
	if errors.As(err, &re) {
		switch {
		case re.Parameter != nil:
			where = fmt.Sprintf("parameter %s in %s", re.Parameter.Name, re.Parameter.In)
		case re.RequestBody != nil:
			where = "body"
		}
	}
	var se *openapi3.SchemaError
	var pe *openapi3filter.ParseError
	switch {
	case errors.As(err, &se):
		field := strings.Join(se.JSONPointer(), "/")
		if field != "" {
			where += " field /" + field
		}
		return egov.Errorf(egov.CodeRequestMalformed, "%s: %s", where, se.Reason)
	case errors.Is(err, openapi3filter.ErrInvalidRequired):
		return egov.Errorf(egov.CodeRequestMalformed, "%s: required", where)
	case errors.Is(err, openapi3filter.ErrInvalidEmptyValue):
		return egov.Errorf(egov.CodeRequestMalformed, "%s: empty", where)
	case errors.As(err, &pe):
		return egov.Errorf(egov.CodeRequestMalformed, "%s: cannot be parsed as its type", where)
	}
	return egov.Errorf(egov.CodeRequestMalformed, "%s: not valid JSON or not as documented", where)
}

// contractGroup registers routes as echo.Group does, each behind the
// validator of its operation, so that no route of the API escapes the
// contract. It has only the methods the API uses: a route with another
// one does not compile until it is added here, and to the document.
type contractGroup struct {
	add    func(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	prefix string
	k      *contract
}

func (g contractGroup) route(method, path string, h echo.HandlerFunc, m []echo.MiddlewareFunc) *echo.Route {
	// The validator goes last: it reads JSON bodies, so the route's body
	// limit must already be in place.
	return g.add(method, path, h, append(m[:len(m):len(m)], g.k.validator(method, g.prefix+path))...)
}

// GET registers a GET route checked against the document.
func (g contractGroup) GET(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return g.route(http.MethodGet, path, h, m)
}

// POST registers a POST route checked against the document.
func (g contractGroup) POST(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return g.route(http.MethodPost, path, h, m)
}

// PUT registers a PUT route checked against the document.
func (g contractGroup) PUT(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return g.route(http.MethodPut, path, h, m)
}

// DELETE registers a DELETE route checked against the document.
func (g contractGroup) DELETE(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return g.route(http.MethodDelete, path, h, m)
}

// allowedMethods lists the methods the routes serve for path, sorted, with
// OPTIONS (which echo answers itself): the Allow header of a 405. It
// matches the routes itself rather than trusting the router's 405, which
// echo gives only when its tree search ends on the right node (not, for
// example, when a catch-all of a group's middleware catches the path).
func allowedMethods(routes []*echo.Route, path string) []string {
	var out []string
	for _, rt := range routes {
		if rt.Method == echo.RouteNotFound || !matchRoute(rt.Path, path) || slices.Contains(out, rt.Method) {
			continue
		}
		out = append(out, rt.Method)
	}
	if len(out) == 0 {
		return nil
	}
	if !slices.Contains(out, http.MethodOptions) {
		out = append(out, http.MethodOptions)
	}
	slices.Sort(out)
	return out
}

// matchRoute reports whether path fits an echo route pattern: ":name"
// takes one non-empty segment, a final "*" the rest.
func matchRoute(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	for i, p := range ps {
		if p == "*" && i == len(ps)-1 {
			return true
		}
		if i >= len(xs) {
			return false
		}
		switch {
		case strings.HasPrefix(p, ":"):
			if xs[i] == "" {
				return false
			}
		case p != xs[i]:
			return false
		}
	}
	return len(ps) == len(xs)
}

// noStore keeps answers out of every cache, the default for all of the
// API: sessions carry tokens, accounts, requests and the cabinet personal
// data, challenges and skeletons are for one use.
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache") // for HTTP/1.0 caches that do not know Cache-Control
		return next(c)
	}
}

// cacheable lets shared caches keep an answer for maxAge: the catalogue
// and the document, the same for everyone and changed only by a release
// (Vary: Accept-Language keeps the three languages apart). Refusals are
// never cached: the error handler sets no-store again.
func cacheable(maxAge time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(maxAge/time.Second)))
			h.Del("Pragma")
			return next(c)
		}
	}
}

// retryAfterSeconds is the Retry-After of a 429 or 503: the refusal's own
// wait when it names one, rounded up to whole seconds, else the default.
func retryAfterSeconds(err error, status int) string {
	if d := egov.RetryAfter(err); d > 0 {
		return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
	}
	if status == http.StatusTooManyRequests {
		return "60" // attempts are counted per minute
	}
	return "5" // storage or a dependency is down: ask again shortly
}

// bearerChallenge is the WWW-Authenticate of a 401 (RFC 6750 §3): a
// request that showed a bearer token learns that it was refused.
func bearerChallenge(r *http.Request) string {
	const realm = `Bearer realm="egov-gateway"`
	if token, ok := strings.CutPrefix(r.Header.Get(echo.HeaderAuthorization), "Bearer "); ok && strings.TrimSpace(token) != "" {
		return realm + `, error="invalid_token"`
	}
	return realm
}
