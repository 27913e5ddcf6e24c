package h1head

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"
)

// checkScan holds ScanResponse to both references on in (a head, then anything):
//   - whatever ParseResponse accepts, ScanResponse accepts with the same status and framing;
//   - whatever ScanResponse accepts, http.ReadResponse accepts with the same status, framing
//     and connection handling;
//   - whatever http.ReadResponse accepts and ScanResponse rejects is one of the documented
//     stricter cases (lenient).
//
// It reports whether ScanResponse accepted in.
func checkScan(t *testing.T, in []byte, headReq bool) bool {
	t.Helper()
	n := HeadLen(in)
	if n < 0 {
		return false
	}
	head := in[:n]
	got, ok := ScanResponse(head, headReq)
	req := &http.Request{Method: "GET"}
	if headReq {
		req.Method = "HEAD"
	}
	if fast, fok := ParseResponse(head, req); fok {
		want := ResponseInfo{StatusCode: fast.StatusCode, ProtoMinor: fast.ProtoMinor, ContentLength: fast.ContentLength, Close: fast.Close}
		if !ok || got != want {
			t.Fatalf("%q: ScanResponse %+v %v, ParseResponse %+v", in, got, ok, want)
		}
	}
	want, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(in)), req)
	if !ok {
		if err == nil && !lenient(head) {
			t.Fatalf("%q: rejected, net/http accepts it (status %d)", in, want.StatusCode)
		}
		return false
	}
	if err != nil {
		t.Fatalf("%q: accepted %+v, net/http: %v", in, got, err)
	}
	w := ResponseInfo{StatusCode: want.StatusCode, ProtoMinor: want.ProtoMinor, Close: want.Close}
	switch {
	case want.Body == http.NoBody:
	case len(want.TransferEncoding) > 0:
		w.ContentLength, w.Chunked = -1, true
	default:
		w.ContentLength = want.ContentLength
	}
	if got != w {
		t.Fatalf("%q:\n scan     %+v\n net/http %+v", in, got, w)
	}
	return true
}

// lenient reports whether head has one of the forms net/http accepts and ScanResponse
// rejects on purpose (see its documentation).
func lenient(head []byte) bool {
	for i, c := range head {
		if c == '\n' && (i == 0 || head[i-1] != '\r') || c == '\r' && (i+1 == len(head) || head[i+1] != '\n') {
			return true // bare LF or CR
		}
	}
	lines := bytes.Split(head[:len(head)-4], []byte("\r\n"))
	status := lines[0]
	if len(status) < 12 || !bytes.HasPrefix(status, []byte("HTTP/1.1 ")) && !bytes.HasPrefix(status, []byte("HTTP/1.0 ")) {
		return true
	}
	code := bytes.TrimLeft(status[9:], " ")
	if len(code) < 3 || code[0] < '1' || code[0] > '9' || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9' {
		return true // "+12", "099"...
	}
	var te, cl bool
	for _, l := range lines[1:] {
		if len(l) > 0 && (l[0] == ' ' || l[0] == '\t') {
			return true // obsolete line folding
		}
		name, _, _ := bytes.Cut(l, []byte(":"))
		if bytes.IndexByte(name, ' ') >= 0 {
			return true
		}
		te = te || bytes.EqualFold(name, []byte("Transfer-Encoding"))
		cl = cl || bytes.EqualFold(name, []byte("Content-Length"))
	}
	return te && (cl || status[7] == '0')
}

var scanCases = []struct {
	in      string
	headReq bool
	want    ResponseInfo
	ok      bool
}{
	{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", false, ResponseInfo{200, 1, 2, false, false}, true},
	{"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false, ResponseInfo{200, 1, 0, false, false}, true},
	{"HTTP/1.1 200\r\nContent-Length: 5\r\nContent-Length:  5 \r\n\r\n", false, ResponseInfo{200, 1, 5, false, false}, true},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, ResponseInfo{200, 1, -1, true, false}, true},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nTrailer: X-Sum\r\n\r\n", false, ResponseInfo{200, 1, -1, true, false}, true},
	{"HTTP/1.1 200 OK\r\n\r\n", false, ResponseInfo{200, 1, -1, false, true}, true},
	{"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false, ResponseInfo{200, 0, 1, false, true}, true},
	{"HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: Keep-Alive\r\n\r\n", false, ResponseInfo{200, 0, 1, false, false}, true},
	{"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", false, ResponseInfo{200, 0, -1, false, true}, true},
	{"HTTP/1.1 200 OK\r\nConnection: x, Close\r\nContent-Length: 1\r\n\r\n", false, ResponseInfo{200, 1, 1, false, true}, true},
	{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, ResponseInfo{200, 1, 0, false, false}, true},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, ResponseInfo{200, 1, 0, false, false}, true},
	{"HTTP/1.1 204 No Content\r\n\r\n", false, ResponseInfo{204, 1, 0, false, false}, true},
	{"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", false, ResponseInfo{304, 1, 0, false, false}, true},
	{"HTTP/1.1 100 Continue\r\n\r\n", false, ResponseInfo{100, 1, 0, false, false}, true},
	{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n", false, ResponseInfo{101, 1, 0, false, false}, true},
	{"HTTP/1.1   503  Busy\r\nContent-Length: 0\r\n\r\n", false, ResponseInfo{503, 1, 0, false, false}, true},
	{"HTTP/1.1 999 Weird\r\nContent-Length: 0\r\n\r\n", false, ResponseInfo{999, 1, 0, false, false}, true},
	{"HTTP/1.1 200 OK\r\nX-Utf8: caf\xc3\xa9\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n", false, ResponseInfo{200, 1, 0, false, false}, true},
	{"HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n", false, ResponseInfo{200, 1, 1<<63 - 1, false, false}, true},
	// Rejected, as net/http does.
	{"garbage\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 2x0 OK\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 2000 OK\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 01\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 204 OK\r\nContent-Length: x\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", true, ResponseInfo{}, false},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 204 OK\r\nTransfer-Encoding: identity\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 200 OK\r\n X: a\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 200 OK\r\n: v\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 200 OK\r\nX\x80: v\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/9.x 200 OK\r\n\r\n", false, ResponseInfo{}, false},
	{"\r\n\r\n", false, ResponseInfo{}, false},
	// Rejected though net/http accepts them (see ScanResponse).
	{"HTTP/1.1 200 OK\nContent-Length: 0\n\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 200 O\rK\r\nContent-Length: 0\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 200 \x01\x7f\r\nContent-Length: 0\r\n\r\n", false, ResponseInfo{200, 1, 0, false, false}, true},
	{"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 +12 OK\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/1.1 099 OK\r\n\r\n", false, ResponseInfo{}, false},
	{"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", false, ResponseInfo{}, false},
}

func TestScanResponse(t *testing.T) {
	for _, tc := range scanCases {
		got, ok := ScanResponse([]byte(tc.in), tc.headReq)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("%q (HEAD %v): %+v %v, want %+v %v", tc.in, tc.headReq, got, ok, tc.want, tc.ok)
		}
		if accepted := checkScan(t, []byte(tc.in), tc.headReq); accepted != ok {
			t.Errorf("%q: checkScan disagrees", tc.in)
		}
	}
	for _, tc := range responseCases {
		checkScan(t, []byte(tc.in), false)
	}
}

func TestScanResponseAllocations(t *testing.T) {
	head := benchResponse
	if n := testing.AllocsPerRun(100, func() {
		if _, ok := ScanResponse(head, false); !ok {
			t.Fatal("rejected")
		}
	}); n != 0 {
		t.Errorf("ScanResponse allocates %v times", n)
	}
}

func TestValidFields(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"", true},
		{"X-Sum: 1\r\n", true},
		{"X-Sum: 1\r\nx-other:\t v \r\n", true},
		{"X-Sum: 1", false},
		{"X-Sum: 1\n", false},
		{"X-Sum: 1\r\n folded\r\n", false},
		{"X Sum: 1\r\n", false},
		{"X-Sum: a\rb\r\n", false},
		{"\r\n", false},
	} {
		if got := ValidFields([]byte(tc.in)); got != tc.ok {
			t.Errorf("ValidFields(%q) = %v, want %v", tc.in, got, tc.ok)
		}
	}
}

func TestContainsToken(t *testing.T) {
	for _, tc := range []struct {
		v, token string
		want     bool
	}{
		{"close", "close", true},
		{"Close", "close", true},
		{" keep-alive ,\tCLOSE ", "close", true},
		{"keep-alive", "close", false},
		{"closed", "close", false},
		{"", "close", false},
		{",,", "close", false},
		{"upgrade, keep-alive", "keep-alive", true},
	} {
		if got := ContainsToken([]byte(tc.v), tc.token); got != tc.want {
			t.Errorf("ContainsToken(%q, %q) = %v", tc.v, tc.token, got)
		}
	}
}

// FuzzScanResponse is the differential test of ScanResponse against ParseResponse and
// http.ReadResponse (checkScan).
func FuzzScanResponse(f *testing.F) {
	for _, tc := range scanCases {
		f.Add([]byte(tc.in), tc.headReq)
	}
	for _, tc := range responseCases {
		f.Add([]byte(tc.in), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, headReq bool) {
		checkScan(t, in, headReq)
	})
}

func BenchmarkScanResponse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ScanResponse(benchResponse, false); !ok {
			b.Fatal("rejected")
		}
	}
}
