package gateway_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/labstack/echo/v4"

	"egov/gateway"
)

var (
	specOnce   sync.Once
	specRouter routers.Router
	specErr    error
)

// conformance wraps the API so that every answer of every test is checked
// against the OpenAPI document the gateway publishes.
func conformance(t testing.TB, next http.Handler) http.Handler {
	specOnce.Do(func() {
		// XML bodies (skeletons, signed documents) are checked as strings.
		openapi3filter.RegisterBodyDecoder("application/xml", func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			data, err := io.ReadAll(body)
			return string(data), err
		})
		data, err := os.ReadFile("data/openapi.yaml")
		if err != nil {
			specErr = err
			return
		}
		doc, err := openapi3.NewLoader().LoadFromData(data)
		if err != nil {
			specErr = err
			return
		}
		if specErr = doc.Validate(context.Background()); specErr != nil {
			return
		}
		doc.Servers = nil // paths are matched after /api/v1 is cut off
		specRouter, specErr = gorillamux.NewRouter(doc)
	})
	if specErr != nil {
		t.Fatalf("openapi document: %v", specErr)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())

		path, ok := strings.CutPrefix(r.URL.Path, "/api/v1")
		if !ok || path == "/openapi.yaml" {
			return
		}
		probe := r.Clone(context.Background())
		probe.URL.Path = path
		probe.Body = http.NoBody
		route, params, err := specRouter.FindRoute(probe)
		if err != nil {
			if errors.Is(err, routers.ErrMethodNotAllowed) && rec.Code == http.StatusMethodNotAllowed {
				return // a method the document does not list for a path it does
			}
			if rec.Code != http.StatusNotFound {
				t.Errorf("openapi: %s %s answered %d but is not in the document: %v", r.Method, path, rec.Code, err)
			}
			return
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
			Status: rec.Code, Header: rec.Header(),
			Options: &openapi3filter.Options{IncludeResponseStatus: true},
		}
		in.SetBodyBytes(rec.Body.Bytes())
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("openapi: %s %s → %d does not match the document: %v\n%s", r.Method, path, rec.Code, err, trim(rec.Body.Bytes()))
		}
	})
}

func trim(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// TestEveryRouteIsDocumented: the route table and the document name the
// same operations, both ways. Paths the document places on a listener of
// their own (a path-level server with an absolute URL, /metrics) need not
// be routed by the portal's handler.
func TestEveryRouteIsDocumented(t *testing.T) {
	e := newEnv(t)
	h, ok := e.app.Handler(gateway.HTTPOptions{}).(*echo.Echo)
	if !ok {
		t.Fatal("the portal handler is not an echo server")
	}
	data, err := os.ReadFile("data/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatal(err)
	}
	routed := map[string]bool{}
	for _, r := range h.Routes() {
		if r.Method == echo.RouteNotFound {
			continue
		}
		path, underAPI := strings.CutPrefix(r.Path, "/api/v1")
		segs := strings.Split(path, "/")
		for i, s := range segs {
			if name, ok := strings.CutPrefix(s, ":"); ok {
				segs[i] = "{" + name + "}"
			}
		}
		path = strings.Join(segs, "/")
		routed[r.Method+" "+path] = true
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("route %s %s is not in the document", r.Method, r.Path)
			continue
		}
		if !underAPI && len(item.Servers) == 0 {
			t.Errorf("route %s %s is outside /api/v1 but its path has no servers entry saying so", r.Method, r.Path)
		}
	}
	for path, item := range doc.Paths.Map() {
		elsewhere := false
		for _, s := range item.Servers {
			elsewhere = elsewhere || strings.Contains(s.URL, "://")
		}
		for method := range item.Operations() {
			if !routed[method+" "+path] && !elsewhere {
				t.Errorf("the document has %s %s but the portal does not route it", method, path)
			}
		}
	}
}
