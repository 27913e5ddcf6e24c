package accesslog

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"",
	DefaultFormat,
	"%START_TIME(%Y/%m/%dT%H:%M:%S%z %s.%3f %E6S %c)%",
	"%REQ(X-ENVOY-ORIGINAL-PATH?:PATH):10%",
	"%RESP(:STATUS)% %TRAILER(A?B)% %RESPONSE_FLAGS_LONG%",
	"%ENVIRONMENT(HOME):3% %HOSTNAME%",
	"100%% %FOO% %REQ(X):abc% %REQ(",
	"%req(x)% %START_TIME(%Q)% %",
	"\"\\\x01\u2028\xff",
}

func FuzzParseText(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, format string) {
		fm, err := ParseText(format)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "accesslog: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		for _, e := range []*Entry{filledEntry(), emptyEntry(), {}} {
			out := fm.Format(nil, e)
			if len(out) == 0 || out[len(out)-1] != '\n' {
				t.Fatalf("output %q does not end in a newline", out)
			}
			// Appending keeps what was there.
			out2 := fm.Format([]byte("prefix"), e)
			if !bytes.Equal(out2[6:], out) {
				t.Fatalf("Format with a prefix differs: %q vs %q", out2, out)
			}
		}
	})
}

func FuzzParseJSONValue(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "header value")
	}
	f.Add("%REQ(X)%", "\"\\\x00\x1f\u2028\xff\xc3")
	f.Add("%REQ(X):2%", "é")
	f.Fuzz(func(t *testing.T, format, header string) {
		fm, err := ParseJSON(map[string]string{"v": format, "k\"" + format: "%RESPONSE_CODE%"})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "accesslog: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		e := filledEntry()
		e.RequestHeaders.Set("X", header)
		e.ResponseHeaders.Set("X", header)
		e.Path = header
		for _, e := range []*Entry{e, emptyEntry()} {
			out := fm.Format(nil, e)
			if !json.Valid(out) {
				t.Fatalf("invalid JSON %q", out)
			}
			if bytes.Count(out, []byte("\n")) != 1 || out[len(out)-1] != '\n' {
				t.Fatalf("not one line: %q", out)
			}
			var m map[string]any
			if err := json.Unmarshal(out, &m); err != nil || len(m) != 2 {
				t.Fatalf("got %v, %v from %q", m, err, out)
			}
		}
	})
}

// TestFormatNoAllocs checks that rendering does not allocate.
func TestFormatNoAllocs(t *testing.T) {
	text := mustText(t, DefaultFormat+"%START_TIME(%s.%3f %c)% %RESPONSE_FLAGS_LONG% %DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT% %REQ(X-LOWER)%")
	js := benchJSON(t)
	e := filledEntry()
	e.RequestHeaders = e.RequestHeaders.Clone()
	e.RequestHeaders.Set("User-Agent", "quote \" and \x01 control")
	buf := make([]byte, 0, 4096)
	for name, f := range map[string]Formatter{"text": text, "json": js} {
		if n := testing.AllocsPerRun(100, func() { buf = f.Format(buf[:0], e) }); n != 0 {
			t.Errorf("%s: %v allocations per Format", name, n)
		}
	}
}

func benchJSON(t testing.TB) Formatter {
	f, err := ParseJSON(map[string]string{
		"start_time":                        "%START_TIME%",
		"method":                            "%REQ(:METHOD)%",
		"path":                              "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
		"protocol":                          "%PROTOCOL%",
		"response_code":                     "%RESPONSE_CODE%",
		"response_flags":                    "%RESPONSE_FLAGS%",
		"response_code_details":             "%RESPONSE_CODE_DETAILS%",
		"bytes_received":                    "%BYTES_RECEIVED%",
		"bytes_sent":                        "%BYTES_SENT%",
		"duration":                          "%DURATION%",
		"upstream_service_time":             "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
		"x_forwarded_for":                   "%REQ(X-FORWARDED-FOR)%",
		"user_agent":                        "%REQ(USER-AGENT)%",
		"request_id":                        "%REQ(X-REQUEST-ID)%",
		"authority":                         "%REQ(:AUTHORITY)%",
		"upstream_host":                     "%UPSTREAM_HOST%",
		"upstream_cluster":                  "%UPSTREAM_CLUSTER%",
		"upstream_local_address":            "%UPSTREAM_LOCAL_ADDRESS%",
		"upstream_transport_failure_reason": "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
		"downstream_local_address":          "%DOWNSTREAM_LOCAL_ADDRESS%",
		"downstream_remote_address":         "%DOWNSTREAM_REMOTE_ADDRESS%",
		"requested_server_name":             "%REQUESTED_SERVER_NAME%",
		"route_name":                        "%ROUTE_NAME%",
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func benchEntry() *Entry {
	e := filledEntry()
	e.RequestHeaders = http.Header{
		"X-Forwarded-For": {"10.0.35.28"},
		"User-Agent":      {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"},
		"X-Request-Id":    {"cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2"},
		"Accept":          {"*/*"},
		"Accept-Encoding": {"gzip, deflate, br"},
		"Content-Type":    {"application/json"},
	}
	e.ResponseFlags = ""
	return e
}

func BenchmarkFormatDefault(b *testing.B) {
	f := mustText(b, "")
	e := benchEntry()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = f.Format(buf[:0], e)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkFormatJSON(b *testing.B) {
	f := benchJSON(b)
	e := benchEntry()
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = f.Format(buf[:0], e)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkLog measures what the request path pays per request: taking an entry from the
// pool, filling it, and enqueueing it. The timer stops while the writer catches up, so no
// entry is dropped and the figure is the enqueue cost alone.
func BenchmarkLog(b *testing.B) {
	const chunk = 2048
	l, err := New(Options{Path: "stdout", Stdout: io.Discard, QueueSize: 2 * chunk})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	hdr := benchEntry().RequestHeaders
	b.ReportAllocs()
	for i := range b.N {
		if i%chunk == 0 {
			b.StopTimer()
			for len(l.ch) > 0 {
				select {
				case l.kick <- struct{}{}:
				default:
				}
				runtime.Gosched()
			}
			b.StartTimer()
		}
		e := AcquireEntry()
		e.Method, e.Path, e.Protocol = "GET", "/api", "HTTP/1.1"
		e.ResponseCode = 200
		e.RequestHeaders = hdr
		l.Log(e)
	}
	b.StopTimer()
	if d := l.Dropped(); d != 0 {
		b.Fatalf("dropped %d entries", d)
	}
}

// BenchmarkLogParallel logs from every P as fast as it can: the queue fills and most
// entries take the drop path, which is what overload costs the request path.
func BenchmarkLogParallel(b *testing.B) {
	l, err := New(Options{Path: "stdout", Stdout: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	hdr := benchEntry().RequestHeaders
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e := AcquireEntry()
			e.Method, e.Path, e.Protocol = "GET", "/api", "HTTP/1.1"
			e.ResponseCode = 200
			e.RequestHeaders = hdr
			l.Log(e)
		}
	})
	b.ReportMetric(float64(l.Dropped()), "dropped")
}
