package proxy

import (
	"bufio"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/google/uuid"
	"golang.org/x/net/http/httpguts"
)

func TestScanRequest(t *testing.T) {
	tests := []struct {
		name, head string
		drop       bool // dropForwarded
		ok         bool
		fields     string // forwarded fields
		want       fastRequest
	}{
		{name: "plain", head: "GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n", ok: true,
			want: fastRequest{method: "GET", target: "/a?b=c", host: "x"}},
		{name: "fields kept verbatim", head: "HEAD / HTTP/1.1\r\nhost: x:80\r\nx-a:  1 \r\nAccept: */*\r\nx-a: 2\r\n\r\n", ok: true,
			fields: "x-a:  1 \r\nAccept: */*\r\nx-a: 2\r\n", want: fastRequest{method: "HEAD", target: "/", host: "x:80"}},
		{name: "connection dropped", head: "GET / HTTP/1.1\r\nConnection: Keep-Alive\r\nHost: x\r\n\r\n", ok: true,
			want: fastRequest{method: "GET", target: "/", host: "x"}},
		{name: "connection close", head: "OPTIONS /o HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n", ok: true,
			want: fastRequest{method: "OPTIONS", target: "/o", host: "x", close: true}},
		{name: "forwarded kept", head: "DELETE /d HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\nX-Request-Id: abc\r\n\r\n", ok: true,
			fields: "X-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\nX-Request-Id: abc\r\n",
			want:   fastRequest{method: "DELETE", target: "/d", host: "x", xff: "1.2.3.4", hasXFF: true, hasXFP: true, reqID: "abc"}},
		{name: "forwarded dropped", drop: true, head: "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\n\r\n", ok: true,
			want: fastRequest{method: "GET", target: "/", host: "x", xff: "1.2.3.4", hasXFF: true, hasXFP: true}},
		{name: "empty request id replaced", head: "GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id:\r\n\r\n", ok: true,
			want: fastRequest{method: "GET", target: "/", host: "x"}},
		{name: "escapes", head: "GET /a%2Fb/%41;x=1@:!$&'()*+,=~ HTTP/1.1\r\nHost: x\r\n\r\n", ok: true,
			want: fastRequest{method: "GET", target: "/a%2Fb/%41;x=1@:!$&'()*+,=~", host: "x"}},
		{name: "query chars", head: "GET /?a=\"{}\"|^ HTTP/1.1\r\nHost: x\r\n\r\n", ok: true,
			want: fastRequest{method: "GET", target: "/?a=\"{}\"|^", host: "x"}},

		{name: "post", head: "POST / HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "http/1.0", head: "GET / HTTP/1.0\r\nHost: x\r\n\r\n"},
		{name: "no host", head: "GET / HTTP/1.1\r\n\r\n"},
		{name: "empty host", head: "GET / HTTP/1.1\r\nHost:\r\n\r\n"},
		{name: "two hosts", head: "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"},
		{name: "bad host", head: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"},
		{name: "absolute form", head: "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "asterisk", head: "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "bad escape", head: "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "short escape", head: "GET /%4 HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "re-escaped char", head: "GET /a\"b HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "fragment", head: "GET /a?b#c HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "non-ascii target", head: "GET /\xc3\xa4 HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "content-length", head: "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"},
		{name: "transfer-encoding", head: "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{name: "expect", head: "GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n"},
		{name: "upgrade", head: "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"},
		{name: "connection token", head: "GET / HTTP/1.1\r\nHost: x\r\nConnection: x-a\r\n\r\n"},
		{name: "two connections", head: "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nConnection: close\r\n\r\n"},
		{name: "te", head: "GET / HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n"},
		{name: "keep-alive field", head: "GET / HTTP/1.1\r\nHost: x\r\nKeep-Alive: 5\r\n\r\n"},
		{name: "proxy-connection", head: "GET / HTTP/1.1\r\nHost: x\r\nProxy-Connection: close\r\n\r\n"},
		{name: "x-envoy", head: "GET / HTTP/1.1\r\nHost: x\r\nX-Envoy-Retry-On: 5xx\r\n\r\n"},
		{name: "two xff", head: "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: a\r\nX-Forwarded-For: b\r\n\r\n"},
		{name: "two request ids", head: "GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\r\nX-Request-Id: b\r\n\r\n"},
		{name: "obs-fold", head: "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n"},
		{name: "space before colon", head: "GET / HTTP/1.1\r\nHost: x\r\nX-A : 1\r\n\r\n"},
		{name: "bad name", head: "GET / HTTP/1.1\r\nHost: x\r\nX(A): 1\r\n\r\n"},
		{name: "control in value", head: "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\x01\r\n\r\n"},
		{name: "obs-text in value", head: "GET / HTTP/1.1\r\nHost: x\r\nX-A: \xe9\r\n\r\n"},
		{name: "bare lf", head: "GET / HTTP/1.1\nHost: x\n\n"},
		{name: "trailing bytes", head: "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET"},
		{name: "double space", head: "GET  / HTTP/1.1\r\nHost: x\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fr fastRequest
			fields, ok := scanRequest([]byte(tt.head), &fr, nil, tt.drop)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if string(fields) != tt.fields {
				t.Errorf("fields %q, want %q", fields, tt.fields)
			}
			if fr != tt.want {
				t.Errorf("got %+v, want %+v", fr, tt.want)
			}
		})
	}
}

// FuzzScanRequest holds the fast path's reading of a head to the standard one: whatever it
// takes, net/http's parser takes too, with the same method, target and host, and the fields
// it forwards are the request's fields but those it rewrites or drops.
func FuzzScanRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /a%20b?c=d HTTP/1.1\r\nhost: a.b:8080\r\nX-Request-Id: 1\r\nConnection: close\r\n\r\n",
		"DELETE /x HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2\r\nx-forwarded-proto: http\r\n\r\n",
		"OPTIONS /?q HTTP/1.1\r\nHost: [::1]:80\r\nAccept:\t*/*\t\r\nX-Request-Id:\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, head string, drop bool) {
		var fr fastRequest
		fields, ok := scanRequest([]byte(head), &fr, nil, drop)
		if !ok {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
		if err != nil {
			t.Fatalf("fast path took %q, net/http refuses it: %v", head, err)
		}
		if req.Method != fr.method || req.RequestURI != fr.target || req.Host != fr.host {
			t.Fatalf("%q: fast %q %q %q, net/http %q %q %q", head, fr.method, fr.target, fr.host, req.Method, req.RequestURI, req.Host)
		}
		if req.ContentLength != 0 || len(req.TransferEncoding) > 0 || req.Close != fr.close {
			t.Fatalf("%q: body or close differ: cl %d te %v close %v/%v", head, req.ContentLength, req.TransferEncoding, req.Close, fr.close)
		}
		// The standard path sends the target as its URL writes it back.
		sent := req.URL.EscapedPath()
		if req.URL.ForceQuery || req.URL.RawQuery != "" {
			sent += "?" + req.URL.RawQuery
		}
		if sent != fr.target {
			t.Fatalf("%q: the standard path would send %q, the fast path %q", head, sent, fr.target)
		}
		if !httpguts.ValidHostHeader(req.Host) {
			t.Fatalf("%q: invalid host %q taken", head, req.Host)
		}
		// The forwarded fields are the request's, less Connection and the rewritten ones.
		want := http.Header{}
		for k, vv := range req.Header {
			switch k {
			case "Connection":
				continue
			case "X-Forwarded-For", "X-Forwarded-Proto":
				if drop {
					continue
				}
			case "X-Request-Id":
				if vv[0] == "" {
					continue
				}
			}
			want[k] = vv
		}
		got, err := textproto.NewReader(bufio.NewReader(strings.NewReader(string(fields) + "\r\n"))).ReadMIMEHeader()
		if err != nil {
			t.Fatalf("%q: forwarded fields %q do not parse: %v", head, fields, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: forwarded %v, want %v", head, got, want)
		}
		for k, vv := range want {
			if strings.Join(got[k], "\x00") != strings.Join(vv, "\x00") {
				t.Fatalf("%q: field %s forwarded as %q, want %q", head, k, got[k], vv)
			}
		}
	})
}

func TestAppendRequestID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := string(appendRequestID(nil))
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || u.String() != id {
			t.Fatalf("%q: not a canonical version 4 UUID (%v)", id, err)
		}
		if seen[id] {
			t.Fatalf("%q drawn twice", id)
		}
		seen[id] = true
	}
}
