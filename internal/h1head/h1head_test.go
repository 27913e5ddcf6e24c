package h1head

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// stdRequest parses in with net/http, as the fast path's reference.
func stdRequest(in []byte) (*http.Request, []byte, error) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(in)))
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(req.Body)
	return req, b, err
}

// checkRequest parses in (head then body) with both parsers and fails on any difference
// when the fast path accepts it. It reports whether the fast path accepted it.
func checkRequest(t *testing.T, in []byte) bool {
	t.Helper()
	n := HeadLen(in)
	if n < 0 {
		return false
	}
	got, ok := ParseRequest(in[:n])
	if !ok {
		return false
	}
	want, wantBody, wantErr := stdRequest(in)
	if want == nil {
		t.Fatalf("fast path accepted %q, net/http: %v", in, wantErr)
	}
	var gotBody []byte
	var gotErr error
	if got.ContentLength > 0 {
		gotBody, gotErr = io.ReadAll(NewBody(bytes.NewReader(in[n:]), got.ContentLength))
	}
	if !errors.Is(gotErr, wantErr) && (gotErr == nil || wantErr == nil || gotErr.Error() != wantErr.Error()) {
		t.Fatalf("%q: body error %v, net/http %v", in, gotErr, wantErr)
	}
	if !bytes.Equal(gotBody, wantBody) {
		t.Fatalf("%q: body %q, net/http %q", in, gotBody, wantBody)
	}
	type view struct {
		Method, Proto, Host, RequestURI string
		ProtoMajor, ProtoMinor          int
		Header, Trailer                 http.Header
		ContentLength                   int64
		TransferEncoding                []string
		Close                           bool
		URL                             any
	}
	g := view{got.Method, got.Proto, got.Host, got.RequestURI, got.ProtoMajor, got.ProtoMinor, got.Header, got.Trailer, got.ContentLength, got.TransferEncoding, got.Close, *got.URL}
	w := view{want.Method, want.Proto, want.Host, want.RequestURI, want.ProtoMajor, want.ProtoMinor, want.Header, want.Trailer, want.ContentLength, want.TransferEncoding, want.Close, *want.URL}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%q:\n fast    %+v\n net/http %+v", in, g, w)
	}
	return true
}

func stdResponse(in []byte, req *http.Request) (*http.Response, []byte, error) {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(in)), req)
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func checkResponse(t *testing.T, in []byte, req *http.Request) bool {
	t.Helper()
	n := HeadLen(in)
	if n < 0 {
		return false
	}
	got, ok := ParseResponse(in[:n], req)
	if !ok {
		return false
	}
	want, wantBody, wantErr := stdResponse(in, req)
	if want == nil {
		t.Fatalf("fast path accepted %q, net/http: %v", in, wantErr)
	}
	var gotBody []byte
	var gotErr error
	if got.ContentLength > 0 {
		gotBody, gotErr = io.ReadAll(NewBody(bytes.NewReader(in[n:]), got.ContentLength))
	}
	if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
		t.Fatalf("%q: body error %v, net/http %v", in, gotErr, wantErr)
	}
	if !bytes.Equal(gotBody, wantBody) {
		t.Fatalf("%q: body %q, net/http %q", in, gotBody, wantBody)
	}
	type view struct {
		Status, Proto          string
		StatusCode             int
		ProtoMajor, ProtoMinor int
		Header, Trailer        http.Header
		ContentLength          int64
		TransferEncoding       []string
		Close, Uncompressed    bool
		Request                *http.Request
	}
	g := view{got.Status, got.Proto, got.StatusCode, got.ProtoMajor, got.ProtoMinor, got.Header, got.Trailer, got.ContentLength, got.TransferEncoding, got.Close, got.Uncompressed, got.Request}
	w := view{want.Status, want.Proto, want.StatusCode, want.ProtoMajor, want.ProtoMinor, want.Header, want.Trailer, want.ContentLength, want.TransferEncoding, want.Close, want.Uncompressed, want.Request}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%q:\n fast     %+v\n net/http %+v", in, g, w)
	}
	return true
}

var requestCases = []struct {
	in   string
	fast bool // the fast path takes it
}{
	{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
	{"GET /v1/models?x=1&y=%20 HTTP/1.1\r\nHost: a.example:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n", true},
	{"POST /v1/chat/completions HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\ncontent-length: 5\r\nx-stainless-lang: go\r\nauthorization: Bearer k\r\n\r\nhello", true},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nshort", true}, // truncated body
	{"GET / HTTP/1.0\r\n\r\n", true},
	{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
	{"GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive\r\n\r\n", true},
	{"GET /a? HTTP/1.1\r\nHost: a\r\n\r\n", true},
	{"GET /a?? HTTP/1.1\r\nHost: a\r\n\r\n", true},
	{"GET / HTTP/1.1\r\nHost: a\r\nX-Multi: 1\r\nx-multi: 2\r\nX-Empty:\r\nX-Pad: \t v \t\r\n\r\n", true},
	{"GET / HTTP/1.1\r\nHost: a\r\nX-Utf8: caf\xc3\xa9\r\n\r\n", true},
	{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n", true},
	{"OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n", true},
	{"GET / HTTP/1.1\r\n\r\n", true},
	// Left to net/http.
	{"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
	{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", false},
	{"GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n", false},
	{"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", false},
	{"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", false},
	{"GET /a%20b HTTP/1.1\r\nHost: a\r\n\r\n", false},
	{"GET /a(b) HTTP/1.1\r\nHost: a\r\n\r\n", false},
	{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false},
	{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", false},
	{"GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n", false},
	{"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", false},
	{"GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", false},
	{"GET / HTTP/1.1\r\nHost : a\r\n\r\n", false},
	{"GET / HTTP/2.0\r\nHost: a\r\n\r\n", false},
	{"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", false},
	{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", false},
	{"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", false},
	{"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", false},
}

func TestParseRequestMatchesNetHTTP(t *testing.T) {
	for _, tc := range requestCases {
		if got := checkRequest(t, []byte(tc.in)); got != tc.fast {
			t.Errorf("%q: fast path took it: %v, want %v", tc.in, got, tc.fast)
		}
	}
}

var responseCases = []struct {
	in   string
	fast bool
}{
	{"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", true},
	{"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", true},
	{"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc", true},
	{"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", true},
	{"HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\nx", true},
	{"HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx", true},
	{"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 10\r\n\r\ncut", true},
	{"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n", true},
	// Left to net/http.
	{"HTTP/1.1 200 OK\r\n\r\nclose-delimited", false},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false},
	{"HTTP/1.1 204 No Content\r\n\r\n", false},
	{"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", false},
	{"HTTP/1.1 100 Continue\r\n\r\n", false},
	{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", false},
	{"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", false},
	{"HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n", false},
	{"HTTP/2 200\r\nContent-Length: 0\r\n\r\n", false},
	{"HTTP/1.1 200 OK\r\nTrailer: X\r\nContent-Length: 0\r\n\r\n", false},
}

func TestParseResponseMatchesNetHTTP(t *testing.T) {
	get := &http.Request{Method: "GET"}
	for _, tc := range responseCases {
		if got := checkResponse(t, []byte(tc.in), get); got != tc.fast {
			t.Errorf("%q: fast path took it: %v, want %v", tc.in, got, tc.fast)
		}
	}
	// HEAD responses have no body whatever they declare: left to net/http.
	if _, ok := ParseResponse([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), &http.Request{Method: "HEAD"}); ok {
		t.Error("fast path took a response to HEAD")
	}
}

func TestCanonicalKeyAllocations(t *testing.T) {
	for _, k := range []string{"Content-Type", "content-type", "x-stainless-lang", "X-Custom-Thing"} {
		want := http.CanonicalHeaderKey(k)
		got, ok := canonicalKey(k)
		if !ok || got != want {
			t.Fatalf("canonicalKey(%q) = %q, %v; want %q", k, got, ok, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { canonicalKey("content-type") }); n != 0 {
		t.Errorf("canonicalKey of a common lower-case name allocates %v times", n)
	}
}

func TestBody(t *testing.T) {
	b := NewBody(strings.NewReader("hello world"), 5)
	buf := make([]byte, 16)
	n, err := b.Read(buf)
	if n != 5 || err != io.EOF {
		t.Fatalf("Read = %d, %v; want 5, EOF with the last bytes", n, err)
	}
	if n, err := b.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read after the end = %d, %v", n, err)
	}
	b = NewBody(strings.NewReader("abc"), 5)
	if _, err := io.ReadAll(b); err != io.ErrUnexpectedEOF {
		t.Fatalf("short body: %v, want io.ErrUnexpectedEOF", err)
	}
}

func FuzzRequest(f *testing.F) {
	for _, tc := range requestCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkRequest(t, in)
	})
}

func FuzzResponse(f *testing.F) {
	for _, tc := range responseCases {
		f.Add([]byte(tc.in), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, head bool) {
		m := "GET"
		if head {
			m = "HEAD"
		}
		checkResponse(t, in, &http.Request{Method: m})
	})
}

var benchRequest = []byte("POST /v1/chat/completions HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: OpenAI/Go 3.0.0\r\n" +
	"Content-Length: 120\r\nAccept: application/json\r\nAuthorization: Bearer sk-xxxxxxxxxxxxxxxx\r\n" +
	"content-type: application/json\r\nx-stainless-lang: go\r\nx-stainless-os: Linux\r\nx-stainless-arch: x64\r\n" +
	"x-stainless-retry-count: 0\r\nx-stainless-runtime: go\r\nx-stainless-package-version: 3.0.0\r\n\r\n")

func BenchmarkParseRequest(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ParseRequest(benchRequest); !ok {
			b.Fatal("not taken")
		}
	}
}

func BenchmarkReadRequestNetHTTP(b *testing.B) {
	b.ReportAllocs()
	r := bytes.NewReader(benchRequest)
	br := bufio.NewReader(r)
	for b.Loop() {
		r.Reset(benchRequest)
		br.Reset(r)
		if _, err := http.ReadRequest(br); err != nil {
			b.Fatal(err)
		}
	}
}

var benchResponse = []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Wed, 25 Nov 2026 10:00:00 GMT\r\n" +
	"Content-Length: 64\r\nx-request-id: 0f3e1a2b\r\nopenai-processing-ms: 120\r\n\r\n")

func BenchmarkParseResponse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ParseResponse(benchResponse, nil); !ok {
			b.Fatal("not taken")
		}
	}
}

func BenchmarkReadResponseNetHTTP(b *testing.B) {
	b.ReportAllocs()
	r := bytes.NewReader(benchResponse)
	br := bufio.NewReader(r)
	for b.Loop() {
		r.Reset(benchResponse)
		br.Reset(r)
		if _, err := http.ReadResponse(br, nil); err != nil {
			b.Fatal(err)
		}
	}
}
