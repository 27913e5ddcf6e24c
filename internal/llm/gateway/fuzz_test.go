package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzClassify: any path and method maps to exactly one endpoint without panicking, and the
// prompt API parts are the path's own segments.
func FuzzClassify(f *testing.F) {
	for _, p := range []string{"/v1/chat/completions", "/v1/messages/count_tokens", "/v1/models/gpt-4o", "/apis/acme/sum/v1",
		"/v1/sessions/s1/messages", "/x/apis//v1", "/sessions", ""} {
		f.Add("GET", p)
		f.Add("POST", p)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		ep, id := classify(method, path)
		if ep == epModel && (method != http.MethodGet || id == "" && !strings.HasSuffix(path, "/models/")) {
			t.Fatalf("%s %s: model %q", method, path, id)
		}
		if tenant, name, version, ok := promptPath(path); ok {
			if ep != epPromptAPI || strings.Contains(tenant+name+version, "/") || tenant == "" || name == "" || version == "" {
				t.Fatalf("%s: prompt path %q %q %q, endpoint %v", path, tenant, name, version, ep)
			}
		}
	})
}
