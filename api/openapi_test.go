package api_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/liaison-hub/liaison/api"
)

// TestOpenAPIMatchesRoutes checks that every route the server registers is in
// the OpenAPI document and every operation of the document is a route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatalf("the OpenAPI document is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q, want 3.x", doc.OpenAPI)
	}
	param := regexp.MustCompile(`:([a-z_]+)`)
	var routes []string
	for _, r := range api.New(api.Config{}).Routes() {
		method, path, _ := strings.Cut(r, " ")
		// A trailing wildcard is a path of several segments: {path}.
		path = strings.Replace(path, "/*", "/{path}", 1)
		routes = append(routes, method+" "+param.ReplaceAllString(path, "{$1}"))
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(routes)
	slices.Sort(documented)
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in the OpenAPI document", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("the OpenAPI document has %s, which is no route", d)
		}
	}
}
