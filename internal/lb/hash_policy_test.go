package lb

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func TestHashPolicy(t *testing.T) {
	h := xxhash.Sum64String
	req := func(headers ...string) *http.Request {
		r := httptest.NewRequest("GET", "http://api.example.com/v1/chat?x=1", nil)
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Add(headers[i], headers[i+1])
		}
		return r
	}
	for _, tc := range []struct {
		name     string
		sources  []HashSource
		req      *http.Request
		remoteIP string
		want     uint64
		ok       bool
	}{
		{"header", []HashSource{{Header: "x-user"}}, req("X-User", "alice"), "", h("alice"), true},
		{"header name any case", []HashSource{{Header: "X-USER"}}, req("x-user", "alice"), "", h("alice"), true},
		{"header values joined", []HashSource{{Header: "X-User"}}, req("X-User", "a", "X-User", "b"), "", h("a,b"), true},
		{"header empty value counts", []HashSource{{Header: "X-User"}}, req("X-User", ""), "", h(""), true},
		{"header missing", []HashSource{{Header: "X-User"}}, req(), "", 0, false},
		{"host header", []HashSource{{Header: "Host"}}, req(), "", h("api.example.com"), true},
		{":authority", []HashSource{{Header: ":authority"}}, req(), "", h("api.example.com"), true},
		{":path absolute form", []HashSource{{Header: ":path"}}, req(), "", h("/v1/chat?x=1"), true},
		{":path origin form", []HashSource{{Header: ":path"}}, httptest.NewRequest("GET", "/a%2Fb?q", nil), "", h("/a%2Fb?q"), true},
		{":path client request", []HashSource{{Header: ":path"}}, clientReq("http://h/x y"), "", h("/x%20y"), true},
		{":method", []HashSource{{Header: ":method"}}, req(), "", h("GET"), true},
		{"cookie", []HashSource{{Cookie: "session"}}, req("Cookie", "a=1; session=xyz; b=2"), "", h("xyz"), true},
		{"cookie quoted", []HashSource{{Cookie: "session"}}, req("Cookie", `session="xyz"`), "", h("xyz"), true},
		{"cookie blanks", []HashSource{{Cookie: "session"}}, req("Cookie", "a=1;\t session = xyz ;b=2"), "", h("xyz"), true},
		{"cookie second header", []HashSource{{Cookie: "session"}}, req("Cookie", "a=1", "Cookie", "session=xyz"), "", h("xyz"), true},
		{"cookie first wins", []HashSource{{Cookie: "s"}}, req("Cookie", "s=1; s=2"), "", h("1"), true},
		{"cookie malformed neighbours", []HashSource{{Cookie: "s"}}, req("Cookie", "junk; ==; s=ok; x"), "", h("ok"), true},
		{"cookie name exact", []HashSource{{Cookie: "session"}}, req("Cookie", "Session=xyz; sessionx=1"), "", 0, false},
		{"cookie empty is absent", []HashSource{{Cookie: "s"}}, req("Cookie", "s="), "", 0, false},
		{"cookie missing", []HashSource{{Cookie: "s"}}, req(), "", 0, false},
		{"source ip", []HashSource{{SourceIP: true}}, req(), "192.0.2.7", h("192.0.2.7"), true},
		{"source ip unknown", []HashSource{{SourceIP: true}}, req(), "", 0, false},
		{"source ip nil request", []HashSource{{Header: "X-User"}, {SourceIP: true}}, nil, "2001:db8::1", h("2001:db8::1"), true},
		{"first wins", []HashSource{{Header: "X-User"}, {Cookie: "s"}, {SourceIP: true}},
			req("X-User", "alice", "Cookie", "s=1"), "192.0.2.7", h("alice"), true},
		{"falls through header", []HashSource{{Header: "X-User"}, {Cookie: "s"}, {SourceIP: true}},
			req("Cookie", "s=1"), "192.0.2.7", h("1"), true},
		{"falls through to ip", []HashSource{{Header: "X-User"}, {Cookie: "s"}, {SourceIP: true}},
			req(), "192.0.2.7", h("192.0.2.7"), true},
		{"nothing yields", []HashSource{{Header: "X-User"}, {Cookie: "s"}}, req(), "192.0.2.7", 0, false},
		{"empty source never yields", []HashSource{{}, {SourceIP: true}}, req(), "192.0.2.7", h("192.0.2.7"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := NewHashPolicy(tc.sources).Hash(tc.req, tc.remoteIP)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Hash = %x, %v; want %x, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func clientReq(url string) *http.Request {
	r, err := http.NewRequest("GET", url, nil)
	if err != nil {
		panic(err)
	}
	return r
}

func TestHashPolicyNil(t *testing.T) {
	var p *HashPolicy
	if _, ok := p.Hash(httptest.NewRequest("GET", "/", nil), "192.0.2.1"); ok {
		t.Error("nil policy yielded a hash")
	}
	if NewHashPolicy(nil) != nil {
		t.Error("NewHashPolicy(nil) should be nil")
	}
}

func TestHashPolicyNoAllocs(t *testing.T) {
	p := NewHashPolicy([]HashSource{{Header: "X-Missing"}, {Header: "X-User"}, {Cookie: "s"}, {SourceIP: true}})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Add("X-User", "a")
	r.Header.Add("X-User", "b")
	r.Header.Set("Cookie", "a=1; s=2")
	cookieOnly := NewHashPolicy([]HashSource{{Cookie: "s"}})
	if n := testing.AllocsPerRun(100, func() {
		p.Hash(r, "192.0.2.1")
		cookieOnly.Hash(r, "")
	}); n != 0 {
		t.Errorf("Hash allocates %.1f times per call", n)
	}
}
