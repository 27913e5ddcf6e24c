package accesslog

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var testStart = time.Date(2016, 4, 15, 20, 17, 0, 310123456, time.UTC)

// filledEntry has every field set.
func filledEntry() *Entry {
	return &Entry{
		StartTime:    testStart,
		Duration:     226*time.Millisecond + 900*time.Microsecond,
		Method:       "POST",
		Path:         "/api/v1/locations?limit=5",
		OriginalPath: "/v1/locations?limit=5",
		Authority:    "locations",
		Protocol:     "HTTP/2",
		Scheme:       "https",
		RequestHeaders: http.Header{
			"X-Forwarded-For": {"10.0.35.28"},
			"User-Agent":      {"nsq2http"},
			"X-Request-Id":    {"client-id"},
			"x-lower":         {"lower-value"}, // not canonical: still found
			"Multi":           {"first", "second"},
			"Empty":           {""},
		},
		ResponseHeaders: http.Header{
			"X-Envoy-Upstream-Service-Time": {"100"},
			"Content-Type":                  {"application/json"},
		},
		ResponseCode:         204,
		ResponseFlags:        "UT,URX",
		ResponseCodeDetails:  "via_upstream",
		BytesReceived:        154,
		BytesSent:            42,
		UpstreamHost:         "10.0.2.1:80",
		UpstreamCluster:      "locations_cluster",
		UpstreamServiceTime:  99 * time.Millisecond,
		RouteName:            "loc_route",
		DownstreamRemoteAddr: "10.0.35.28:51234",
		DownstreamLocalAddr:  "[2001:db8::1]:443",
		RequestID:            "cc21d9b0",
		RequestedServerName:  "api.example.com",
	}
}

func emptyEntry() *Entry { return &Entry{UpstreamServiceTime: -1} }

func render(t *testing.T, format string, e *Entry) string {
	t.Helper()
	f, err := ParseText(format)
	if err != nil {
		t.Fatalf("ParseText(%q): %v", format, err)
	}
	return string(f.Format(nil, e))
}

func TestOperators(t *testing.T) {
	t.Setenv("ACCESSLOG_TEST_ENV", "environment-value")
	host, err := os.Hostname()
	if err != nil {
		host = "-"
	}
	tests := []struct {
		format, filled, empty string
	}{
		{"%START_TIME%", "2016-04-15T20:17:00.310Z", "-"},
		{"%START_TIME()%", "2016-04-15T20:17:00.310Z", "-"},
		{"%START_TIME(%Y/%m/%dT%H:%M:%S%z %s)%", "2016/04/15T20:17:00+0000 1460751420", "-"},
		{"%START_TIME(%s.%3f)%", "1460751420.310", "-"},
		{"%START_TIME(%s.%6f)%", "1460751420.310123", "-"},
		{"%START_TIME(%s.%9f)%", "1460751420.310123456", "-"},
		{"%START_TIME(%f|%1f)%", "310123456|3", "-"},
		{"%START_TIME(%Y-%m-%dT%H:%M:%E3SZ)%", "2016-04-15T20:17:00.310Z", "-"},
		{"%START_TIME(%a %A %b %B %e %j %I %p %y %C %u %w %U %W %G %V)%", "Fri Friday Apr April 15 106 08 PM 16 20 5 5 15 15 2016 15", "-"},
		{"%START_TIME(%F %T %R %D %Z %Ez %:z %E4Y %h 100%%)%", "2016-04-15 20:17:00 20:17 04/15/16 UTC +00:00 +00:00 2016 Apr 100%", "-"},
		{"%REQ(:METHOD)%", "POST", "-"},
		{"%REQ(:PATH)%", "/api/v1/locations?limit=5", "-"},
		{"%REQ(:AUTHORITY)%", "locations", "-"},
		{"%REQ(:SCHEME)%", "https", "-"},
		{"%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", "/v1/locations?limit=5", "-"},
		{"%REQ(:FOO)%", "-", "-"},
		{"%REQ(HOST)%", "locations", "-"},
		{"%REQ(x-forwarded-for)%", "10.0.35.28", "-"},
		{"%REQ(X-LOWER)%", "lower-value", "-"},
		{"%REQ(MULTI)%", "first", "-"},
		{"%REQ(EMPTY)%", "-", "-"},
		{"%REQ(EMPTY?USER-AGENT)%", "nsq2http", "-"},
		{"%REQ(MISSING?ALSO-MISSING)%", "-", "-"},
		{"%REQ(USER-AGENT):3%", "nsq", "-"},
		{"%REQ(USER-AGENT):100%", "nsq2http", "-"},
		{"%REQ(X-REQUEST-ID)%", "cc21d9b0", "-"},
		{"%REQUEST_HEADER(USER-AGENT)%", "nsq2http", "-"},
		{"%RESP(CONTENT-TYPE)%", "application/json", "-"},
		{"%RESPONSE_HEADER(content-type):4%", "appl", "-"},
		{"%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%", "100", "-"},
		{"%RESP(:STATUS)%", "204", "-"},
		{"%TRAILER(GRPC-STATUS)%", "-", "-"},
		{"%RESPONSE_TRAILER(GRPC-STATUS?GRPC-MESSAGE):5%", "-", "-"},
		{"%PROTOCOL%", "HTTP/2", "-"},
		{"%RESPONSE_CODE%", "204", "0"},
		{"%RESPONSE_CODE_DETAILS%", "via_upstream", "-"},
		{"%RESPONSE_FLAGS%", "UT,URX", "-"},
		{"%RESPONSE_FLAGS_LONG%", "UpstreamRequestTimeout,UpstreamRetryLimitExceeded", "-"},
		{"%BYTES_RECEIVED%", "154", "0"},
		{"%BYTES_SENT%", "42", "0"},
		{"%DURATION%", "226", "0"},
		{"%REQUEST_DURATION%", "-", "-"},
		{"%REQUEST_TX_DURATION%", "-", "-"},
		{"%RESPONSE_DURATION%", "-", "-"},
		{"%RESPONSE_TX_DURATION%", "-", "-"},
		{"%CONNECTION_TERMINATION_DETAILS%", "-", "-"},
		{"%UPSTREAM_LOCAL_ADDRESS%", "-", "-"},
		{"%UPSTREAM_TRANSPORT_FAILURE_REASON%", "-", "-"},
		{"%UPSTREAM_HOST%", "10.0.2.1:80", "-"},
		{"%UPSTREAM_REMOTE_ADDRESS%", "10.0.2.1:80", "-"},
		{"%UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%", "10.0.2.1", "-"},
		{"%UPSTREAM_REMOTE_PORT%", "80", "-"},
		{"%UPSTREAM_CLUSTER%", "locations_cluster", "-"},
		{"%ROUTE_NAME%", "loc_route", "-"},
		{"%DOWNSTREAM_REMOTE_ADDRESS%", "10.0.35.28:51234", "-"},
		{"%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%", "10.0.35.28", "-"},
		{"%DOWNSTREAM_REMOTE_PORT%", "51234", "-"},
		{"%DOWNSTREAM_DIRECT_REMOTE_ADDRESS%", "10.0.35.28:51234", "-"},
		{"%DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT%", "10.0.35.28", "-"},
		{"%DOWNSTREAM_DIRECT_REMOTE_PORT%", "51234", "-"},
		{"%DOWNSTREAM_LOCAL_ADDRESS%", "[2001:db8::1]:443", "-"},
		{"%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%", "2001:db8::1", "-"},
		{"%DOWNSTREAM_LOCAL_PORT%", "443", "-"},
		{"%REQUESTED_SERVER_NAME%", "api.example.com", "-"},
		{"%STREAM_ID%", "cc21d9b0", "-"},
		{"%HOSTNAME%", host, host},
		{"%ENVIRONMENT(ACCESSLOG_TEST_ENV)%", "environment-value", "environment-value"},
		{"%ENVIRONMENT(ACCESSLOG_TEST_ENV):3%", "env", "env"},
		{"%ENVIRONMENT(ACCESSLOG_TEST_UNSET_VARIABLE)%", "-", "-"},
		{"100%% %PROTOCOL%%%", "100% HTTP/2%", "100% -%"},
		{"%PROTOCOL%:5", "HTTP/2:5", "-:5"},
		{"no operators", "no operators", "no operators"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			if got := render(t, tt.format, filledEntry()); got != tt.filled+"\n" {
				t.Errorf("filled entry: got %q, want %q", got, tt.filled+"\n")
			}
			if got := render(t, tt.format, emptyEntry()); got != tt.empty+"\n" {
				t.Errorf("empty entry: got %q, want %q", got, tt.empty+"\n")
			}
			if got := render(t, tt.format, &Entry{}); tt.format != "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%" && got != tt.empty+"\n" {
				t.Errorf("zero entry: got %q, want %q", got, tt.empty+"\n")
			}
		})
	}
}

func TestDefaultFormat(t *testing.T) {
	e := &Entry{
		StartTime:     time.Date(2016, 4, 15, 20, 17, 0, 310_000_000, time.UTC),
		Duration:      226 * time.Millisecond,
		Method:        "POST",
		Path:          "/api/v1/locations",
		Authority:     "locations",
		Protocol:      "HTTP/2",
		ResponseCode:  204,
		BytesReceived: 154,
		BytesSent:     0,
		RequestHeaders: http.Header{
			"X-Forwarded-For": {"10.0.35.28"},
			"User-Agent":      {"nsq2http"},
			"X-Request-Id":    {"cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2"},
		},
		ResponseHeaders:     http.Header{"X-Envoy-Upstream-Service-Time": {"100"}},
		UpstreamHost:        "10.0.2.1:80",
		UpstreamServiceTime: -1,
	}
	const want = `[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "10.0.2.1:80"` + "\n"
	for _, format := range []string{"", DefaultFormat} {
		if got := render(t, format, e); got != want {
			t.Errorf("ParseText(%q):\n got %q\nwant %q", format, got, want)
		}
	}
	// A rewritten path logs the original one.
	e.OriginalPath = "/locations"
	if got := render(t, "", e); !strings.Contains(got, `"POST /locations HTTP/2"`) {
		t.Errorf("rewritten path: got %q", got)
	}
	// Without the header, the service time comes from the Entry; with no upstream, it is "-".
	e.ResponseHeaders = nil
	e.UpstreamServiceTime = 87 * time.Millisecond
	if got := render(t, "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%", e); got != "87\n" {
		t.Errorf("service time from the entry: got %q", got)
	}
	e.UpstreamHost = ""
	if got := render(t, "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%", e); got != "-\n" {
		t.Errorf("service time without an upstream: got %q", got)
	}
	// Nothing at all.
	const empty = `[-] "- - -" 0 - 0 0 0 - "-" "-" "-" "-" "-"` + "\n"
	if got := render(t, "", emptyEntry()); got != empty {
		t.Errorf("empty entry:\n got %q\nwant %q", got, empty)
	}
}

func TestTextNewline(t *testing.T) {
	for format, want := range map[string]string{
		"%PROTOCOL%":       "HTTP/2\n",
		"%PROTOCOL%\n":     "HTTP/2\n",
		"%PROTOCOL%\n\n":   "HTTP/2\n\n",
		"%PROTOCOL% x\n":   "HTTP/2 x\n",
		"%PROTOCOL%%%\n":   "HTTP/2%\n",
		"line\n%PROTOCOL%": "line\nHTTP/2\n",
	} {
		if got := render(t, format, filledEntry()); got != want {
			t.Errorf("%q: got %q, want %q", format, got, want)
		}
	}
}

func TestTruncateUTF8(t *testing.T) {
	e := emptyEntry()
	e.RequestHeaders = http.Header{"X": {"héllo"}, "Y": {"é"}}
	for format, want := range map[string]string{
		"%REQ(X):1%": "h",
		"%REQ(X):2%": "h", // does not cut é in half
		"%REQ(X):3%": "hé",
		"%REQ(X):0%": "-",
		"%REQ(Y):1%": "\xc3", // a limit shorter than the first character cuts bytes
	} {
		if got := render(t, format, e); got != want+"\n" {
			t.Errorf("%s: got %q, want %q", format, got, want+"\n")
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		format, want string
	}{
		{"hello world %FOO%", "accesslog: unknown command operator %FOO% at offset 12"},
		{"%FOO(bar):3%", "accesslog: unknown command operator %FOO(bar):3% at offset 0"},
		{"%req(x)%", "unknown command operator %req(x)% at offset 0 (operators are upper case: %REQ%)"},
		{"%PROTOCOL", "accesslog: unterminated command operator %PROTOCOL at offset 0"},
		{"a %PROTOCOL b", "accesslog: unterminated command operator %PROTOCOL at offset 2"},
		{"%REQ(X)", "unterminated command operator %REQ(X) at offset 0"},
		{"%REQ(X", "unterminated command operator %REQ(X at offset 0"},
		{"%REQ(X):12", "unterminated command operator %REQ(X):12 at offset 0"},
		{"%REQ(X):abc%", `accesslog: invalid length limit "abc" in %REQ(X):abc% at offset 0`},
		{"%REQ(X):%", `invalid length limit "" in %REQ(X):% at offset 0`},
		{"%REQ(X):-1%", `invalid length limit "-1"`},
		{"%REQ(X):+1%", `invalid length limit "+1"`},
		{"%REQ(X):99999999999999999999%", `invalid length limit "99999999999999999999"`},
		{"%DURATION:5%", "accesslog: %DURATION% does not take a length limit, in %DURATION:5% at offset 0"},
		{"%PROTOCOL(X)%", "accesslog: %PROTOCOL% takes no parameter, in %PROTOCOL(X)% at offset 0"},
		{"%PROTOCOL()%", "takes no parameter"},
		{"%REQ%", "accesslog: %REQ% needs a parameter, as in %REQ(X)%, at offset 0"},
		{"%RESP()%", "%RESP% needs a parameter"},
		{"%ENVIRONMENT%", "%ENVIRONMENT% needs a parameter"},
		{"%REQ(A?B?C)%", "accesslog: more than one alternative header in %REQ(A?B?C)% at offset 0"},
		{"%REQ(A?)%", "accesslog: empty header name in %REQ(A?)% at offset 0"},
		{"%TRAILER(?B)%", "empty header name"},
		{"100% sure", "accesslog: bare % at offset 3 (write %% for a literal %)"},
		{"%", "accesslog: bare % at offset 0"},
		{"%(X)%", "accesslog: bare % at offset 0"},
		{"%START_TIME(%Q)%", "accesslog: unknown START_TIME specifier %Q at offset 12"},
		{"%START_TIME(%Y %0f)%", "unknown START_TIME specifier %0 at offset 15"},
		{"%START_TIME(%E*S)%", "unknown START_TIME specifier %E* at offset 12"},
		{"%START_TIME(%E)%", "unknown START_TIME specifier %E at offset 12"},
		{"%START_TIME(%:)%", "unknown START_TIME specifier %: at offset 12"},
		{"%START_TIME(x%)%", "accesslog: START_TIME format ends in a bare % at offset 13"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			f, err := ParseText(tt.format)
			if err == nil {
				t.Fatalf("ParseText(%q) = %v, want an error", tt.format, f)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseText(%q) error %q, want it to contain %q", tt.format, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "accesslog: ") {
				t.Errorf("error %q lacks the accesslog: prefix", err)
			}
			if _, err := ParseJSON(map[string]string{"k": tt.format}); err == nil ||
				!strings.HasPrefix(err.Error(), `accesslog: json field "k": `) {
				t.Errorf("ParseJSON: error %v, want it to name the field", err)
			}
		})
	}
	if _, err := ParseJSON(nil); err == nil {
		t.Error("ParseJSON(nil) succeeded")
	}
}

func TestJSON(t *testing.T) {
	e := filledEntry()
	e.RequestHeaders.Set("X-Ctl", "a\"b\\c\x01\td\u2028e\xffz\x7f<>&")
	f, err := ParseJSON(map[string]string{
		"status":        "%RESPONSE_CODE%",
		"bytes_sent":    "%BYTES_SENT%",
		"bytes_recv":    "%BYTES_RECEIVED%",
		"duration":      "%DURATION%",
		"ua":            "%REQ(USER-AGENT)%",
		"code_text":     "code=%RESPONSE_CODE%",
		"missing":       "%REQ(X-NOPE)%",
		"missing_dur":   "%REQUEST_DURATION%",
		"ctl":           "%REQ(X-CTL)%",
		"ctl_short":     "%REQ(X-CTL):3%",
		"quote\"key\n":  "lit \"q\" \\ \t %PROTOCOL% 100%%",
		"start":         "%START_TIME%",
		"empty_literal": "",
		"unicode":       "héllo ✓",
		"t_quote":       `%START_TIME(%Y"\%m)%`,
	})
	if err != nil {
		t.Fatal(err)
	}
	out := f.Format(nil, e)
	if len(out) == 0 || out[len(out)-1] != '\n' || strings.Count(string(out), "\n") != 1 {
		t.Fatalf("want one line ending in a newline, got %q", out)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("invalid JSON %q: %v", out, err)
	}
	want := map[string]any{
		"status":        float64(204),
		"bytes_sent":    float64(42),
		"bytes_recv":    float64(154),
		"duration":      float64(226),
		"ua":            "nsq2http",
		"code_text":     "code=204",
		"missing":       "-",
		"missing_dur":   "-",
		"ctl":           "a\"b\\c\x01\td\u2028e\uFFFDz\x7f<>&",
		"ctl_short":     "a\"b",
		"quote\"key\n":  "lit \"q\" \\ \t HTTP/2 100%",
		"start":         "2016-04-15T20:17:00.310Z",
		"empty_literal": "",
		"unicode":       "héllo ✓",
		"t_quote":       `2016"\04`,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%q: got %#v, want %#v", k, got[k], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d keys, want %d: %s", len(got), len(want), out)
	}
	// Keys come out sorted.
	keys := []string{`"bytes_recv"`, `"bytes_sent"`, `"code_text"`, `"ctl"`, `"ctl_short"`, `"duration"`,
		`"empty_literal"`, `"missing"`, `"missing_dur"`, `"quote\"key\n"`, `"start"`, `"status"`, `"t_quote"`, `"ua"`, `"unicode"`}
	last := -1
	for _, k := range keys {
		i := strings.Index(string(out), k+":")
		if i <= last {
			t.Fatalf("key %s out of order in %s", k, out)
		}
		last = i
	}
	// An empty entry still renders valid JSON with typed zeros and dashes.
	out = f.Format(nil, emptyEntry())
	got = nil
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("invalid JSON %q: %v", out, err)
	}
	if got["status"] != float64(0) || got["duration"] != float64(0) || got["ua"] != "-" || got["start"] != "-" {
		t.Errorf("empty entry: %s", out)
	}
}

// TestJSONEscape compares the escaper with encoding/json on awkward strings.
func TestJSONEscape(t *testing.T) {
	for _, s := range []string{
		"", "plain", `"`, `\`, "\x00\x1f\x7f", "\b\f\n\r\t", "\u2028\u2029", "é✓😀",
		"\xff", "\xc3", "a\xc3(b", "\xed\xa0\x80", "\xf0\x9f\x98", strings.Repeat("\"\x01", 100),
	} {
		b := append([]byte{'"'}, appendJSONEscaped(nil, s)...)
		b = append(b, '"')
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("%q: invalid JSON %q: %v", s, b, err)
			continue
		}
		if want := perByteValid(s); got != want {
			t.Errorf("%q: round trip %q, want %q", s, got, want)
		}
	}
}

// perByteValid replaces each invalid UTF-8 byte with U+FFFD.
func perByteValid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r)
		i += size
	}
	return b.String()
}

func TestSplitAddr(t *testing.T) {
	for in, want := range map[string][2]string{
		"":                {"", ""},
		"1.2.3.4:80":      {"1.2.3.4", "80"},
		"[::1]:8080":      {"::1", "8080"},
		"[::1]":           {"::1", ""},
		"::1":             {"::1", ""},
		"1.2.3.4":         {"1.2.3.4", ""},
		"/run/pylon.sock": {"/run/pylon.sock", ""},
		"[bad":            {"[bad", ""},
	} {
		h, p := splitAddr(in)
		if h != want[0] || p != want[1] {
			t.Errorf("splitAddr(%q) = %q, %q; want %q, %q", in, h, p, want[0], want[1])
		}
	}
}

func TestStrftimeEdgeDates(t *testing.T) {
	f, err := ParseText("%START_TIME(%Y %y %C %j %U %W %G-%V %u %w %I%p %e)%")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		t    time.Time
		want string
	}{
		// Values checked against C strftime (Python's time.strftime).
		{time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), "2021 21 20 001 00 00 2020-53 5 5 12AM  1"},
		{time.Date(2018, 12, 31, 12, 0, 0, 0, time.UTC), "2018 18 20 365 52 53 2019-01 1 1 12PM 31"},
		{time.Date(2000, 2, 29, 23, 0, 0, 0, time.UTC), "2000 00 20 060 09 09 2000-09 2 2 11PM 29"},
		{time.Date(1999, 1, 3, 1, 0, 0, 0, time.FixedZone("X", 3600)), "1999 99 19 003 01 00 1998-53 7 0 12AM  3"},
	}
	for _, tt := range tests {
		e := emptyEntry()
		e.StartTime = tt.t
		if got := string(f.Format(nil, e)); got != tt.want+"\n" {
			t.Errorf("%v: got %q, want %q", tt.t, got, tt.want+"\n")
		}
	}
}

func TestEntryPool(t *testing.T) {
	e := AcquireEntry()
	if e.UpstreamServiceTime != -1 {
		t.Errorf("AcquireEntry: UpstreamServiceTime = %v, want -1", e.UpstreamServiceTime)
	}
	e.Method = "GET"
	e.RequestHeaders = http.Header{"A": {"b"}}
	c := e.Clone()
	if c == e || c.Method != "GET" || c.RequestHeaders.Get("A") != "b" {
		t.Errorf("Clone = %+v", c)
	}
	releaseEntry(e)
	if e.Method != "" || e.RequestHeaders != nil || e.UpstreamServiceTime != -1 {
		t.Errorf("released entry not reset: %+v", e)
	}
}

func TestDefaultTimeMatchesLayout(t *testing.T) {
	for _, tm := range []time.Time{
		testStart,
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 9, 5, 7, 1000000, time.FixedZone("X", -7*3600)),
		time.Unix(1700000000, 123456789),
	} {
		want := tm.UTC().Format(defaultTimeLayout)
		if got := string(appendDefaultTime(nil, tm)); got != want {
			t.Errorf("%v: got %q, want %q", tm, got, want)
		}
	}
}
