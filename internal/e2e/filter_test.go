package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/pylon-gateway/pylon/internal/app"
	"github.com/pylon-gateway/pylon/internal/filter"
	"github.com/pylon-gateway/pylon/internal/stream"
	"github.com/pylon-gateway/pylon/internal/testutil"
)

// tagFilter is a test filter: on the request it appends its tag to x-trail (decode order),
// on the response it appends it to x-trail-back (encode order), and it can answer by itself.
type tagFilter struct {
	Tag     string `yaml:"tag"`
	Respond int    `yaml:"respond"`
}

func (f tagFilter) ServeHTTP(w http.ResponseWriter, r *http.Request, next http.Handler) {
	r.Header.Add("X-Trail", f.Tag)
	if info := stream.From(r.Context()); info != nil && info.Route != nil {
		r.Header.Set("X-Route-Seen-By-Filter", info.Route.Name)
	}
	if f.Respond != 0 {
		w.WriteHeader(f.Respond)
		return
	}
	next.ServeHTTP(&trailWriter{ResponseWriter: w, tag: f.Tag}, r)
}

type trailWriter struct {
	http.ResponseWriter
	tag   string
	wrote bool
}

func (w *trailWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.Header().Add("X-Trail-Back", w.tag)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *trailWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(200)
	}
	return w.ResponseWriter.Write(b)
}

type tagFactory struct{}

func (tagFactory) New(cfg yaml.Node) (filter.Filter, error) {
	var f tagFilter
	if err := filter.DecodeStrict(cfg, &f); err != nil {
		return nil, err
	}
	if f.Tag == "" {
		return nil, fmt.Errorf("tag is required")
	}
	return f, nil
}

func (tagFactory) PerRoute(base filter.Filter, cfg yaml.Node) (filter.Filter, error) {
	f := base.(tagFilter)
	if err := filter.DecodeStrict(cfg, &f); err != nil {
		return nil, err
	}
	return f, nil
}

func init() { filter.Register("test_tag", tagFactory{}) }

func TestFilterChainOrderAndPerRouteConfig(t *testing.T) {
	up := testutil.StartUpstream(t, "svc", nil)
	gw := testutil.StartGateway(t, fmt.Sprintf(`
listeners:
  - name: public
    address: 127.0.0.1:0
    filters:
      - test_tag: {tag: a}
      - test_tag2: {tag: b}
    virtual_hosts:
      - domains: ["*"]
        routes:
          - name: plain
            match: {prefix: /plain}
            cluster: svc
          - name: off
            match: {prefix: /off}
            cluster: svc
            filters: {test_tag2: {disabled: true}}
          - name: retag
            match: {prefix: /retag}
            cluster: svc
            filters: {test_tag: {tag: z}}
          - name: deny
            match: {prefix: /deny}
            cluster: svc
            filters: {test_tag2: {respond: 403}}
clusters:
  - name: svc
    endpoints: [%s]
`, up.Addr()))
	cases := []struct {
		path, trail, back string
		status            int
		reached           bool
	}{
		{"/plain", "a,b", "b,a", 200, true},
		{"/off", "a", "a", 200, true},
		{"/retag", "z,b", "b,z", 200, true},
		{"/deny", "", "a", 403, false},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			before := up.Count()
			resp, _ := get(t, gw.URL("public")+tc.path)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if got := strings.Join(resp.Header.Values("X-Trail-Back"), ","); got != tc.back {
				t.Errorf("encode order %q, want %q", got, tc.back)
			}
			if reached := up.Count() > before; reached != tc.reached {
				t.Fatalf("upstream reached = %v", reached)
			}
			if tc.reached {
				seen := up.Last()
				if got := strings.Join(seen.Header.Values("X-Trail"), ","); got != tc.trail {
					t.Errorf("decode order %q, want %q", got, tc.trail)
				}
				if seen.Header.Get("X-Route-Seen-By-Filter") == "" {
					t.Error("the filter did not see the matched route")
				}
			}
		})
	}
}

func init() { filter.Register("test_tag2", tagFactory{}) }

func TestFilterConfigErrors(t *testing.T) {
	path := writeConfig(t, `
listeners:
  - name: public
    address: 127.0.0.1:0
    filters:
      - test_tag: {tag: a}
      - nosuch: {}
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            direct_response: {status: 200}
`)
	_, err := startErr(path)
	if err == nil || !strings.Contains(err.Error(), `listeners[0].filters[1] (line 7): unknown filter "nosuch"`) {
		t.Fatalf("err = %v", err)
	}
}

func startErr(path string) (*app.Gateway, error) {
	return app.Start(context.Background(), app.Options{ConfigPath: path})
}
