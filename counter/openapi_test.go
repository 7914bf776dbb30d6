package counter_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"egov/counter"
)

// The published document is valid OpenAPI and describes exactly the
// routes the workstation serves, with their methods.
func TestOpenAPIDocumentDescribesEveryRoute(t *testing.T) {
	s := newCounterStack(t)
	resp, err := http.Get(s.api.URL + counter.APIPrefix + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	doc, err := openapi3.NewLoader().LoadFromIoReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(openapi3.NewLoader().Context); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, r := range s.handler.(*echo.Echo).Routes() {
		path, ok := strings.CutPrefix(r.Path, counter.APIPrefix)
		if !ok || r.Method == echo.RouteNotFound {
			continue
		}
		// echo's :id is OpenAPI's {id}
		parts := strings.Split(path, "/")
		for i, p := range parts {
			if name, ok := strings.CutPrefix(p, ":"); ok {
				parts[i] = "{" + name + "}"
			}
		}
		served[r.Method+" "+strings.Join(parts, "/")] = true
	}
	for k := range served {
		if !documented[k] {
			t.Errorf("%s is served but not in openapi.yaml", k)
		}
	}
	for k := range documented {
		if !served[k] {
			t.Errorf("%s is in openapi.yaml but not served", k)
		}
	}
}
