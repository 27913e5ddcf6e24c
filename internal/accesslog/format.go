package accesslog

import (
	"fmt"
	"net/http"
	"net/textproto"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// DefaultFormat is Envoy's default access log format, used when ParseText gets "".
const DefaultFormat = `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ` +
	`%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ` +
	`%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ` +
	`"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"` + "\n"

// Formatter renders an Entry. Compile once at config load, render many times. A Formatter
// returned by ParseText or ParseJSON is immutable and safe for concurrent use.
type Formatter interface {
	// Format appends one rendered line, newline included, to dst and returns the result.
	Format(dst []byte, e *Entry) []byte
}

var defaultFormatter = sync.OnceValue(func() Formatter {
	f, err := ParseText(DefaultFormat)
	if err != nil {
		panic(err)
	}
	return f
})

// ParseText compiles an Envoy format string. "" selects DefaultFormat. A format that does
// not end in a newline gets one appended (Envoy adds none; a log line without one is
// rarely what anyone wants).
func ParseText(format string) (Formatter, error) {
	if format == "" {
		format = DefaultFormat
	}
	ops, err := parse(format, false)
	if err != nil {
		return nil, err
	}
	if n := len(ops); n > 0 && ops[n-1].kind == opLiteral && strings.HasSuffix(ops[n-1].lit, "\n") {
		return &textFormatter{ops: ops}, nil
	}
	ops = appendLiteral(ops, "\n")
	return &textFormatter{ops: ops}, nil
}

// ParseJSON compiles a JSON format: each key maps to an Envoy format string. Every entry
// renders as one JSON object with sorted keys on one line. Values are JSON strings, except
// that a value consisting of exactly one of %RESPONSE_CODE%, %BYTES_RECEIVED%,
// %BYTES_SENT% or %DURATION% renders as a JSON number. Missing values render as "-".
func ParseJSON(fields map[string]string) (Formatter, error) {
	if len(fields) == 0 {
		return nil, fmt.Errorf("accesslog: json format has no fields")
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	jf := &jsonFormatter{fields: make([]jsonField, 0, len(keys))}
	for i, k := range keys {
		ops, err := parse(fields[k], true)
		if err != nil {
			return nil, fmt.Errorf("accesslog: json field %q: %s", k, strings.TrimPrefix(err.Error(), "accesslog: "))
		}
		var prefix []byte
		if i == 0 {
			prefix = append(prefix, '{', '"')
		} else {
			prefix = append(prefix, ',', '"')
		}
		prefix = appendJSONEscaped(prefix, k)
		prefix = append(prefix, '"', ':')
		jf.fields = append(jf.fields, jsonField{
			prefix: string(prefix),
			ops:    ops,
			typed:  len(ops) == 1 && ops[0].kind.numeric(),
		})
	}
	return jf, nil
}

type textFormatter struct {
	ops []op
}

func (f *textFormatter) Format(dst []byte, e *Entry) []byte {
	for i := range f.ops {
		o := &f.ops[i]
		if o.kind == opLiteral {
			dst = append(dst, o.lit...)
			continue
		}
		start := len(dst)
		dst = o.appendValue(dst, e)
		dst = o.finish(dst, start)
	}
	return dst
}

type jsonFormatter struct {
	fields []jsonField
}

type jsonField struct {
	prefix string // `{"key":` for the first field, `,"key":` for the others
	ops    []op   // literals are stored JSON-escaped
	typed  bool   // one numeric operator: render it as a JSON number
}

func (f *jsonFormatter) Format(dst []byte, e *Entry) []byte {
	for i := range f.fields {
		fl := &f.fields[i]
		dst = append(dst, fl.prefix...)
		if fl.typed {
			dst = fl.ops[0].appendValue(dst, e)
			continue
		}
		dst = append(dst, '"')
		for j := range fl.ops {
			o := &fl.ops[j]
			if o.kind == opLiteral {
				dst = append(dst, o.lit...)
				continue
			}
			start := len(dst)
			dst = o.appendValue(dst, e)
			dst = o.finish(dst, start)
			if !o.jsonSafe {
				dst = jsonEscapeInPlace(dst, start)
			}
		}
		dst = append(dst, '"')
	}
	return append(dst, '}', '\n')
}

// opKind identifies a command operator (or a literal).
type opKind uint8

const (
	opLiteral opKind = iota
	opConst          // value fixed at parse time (HOSTNAME, ENVIRONMENT); "" renders "-"
	opMissing        // accepted for compatibility, no data: always "-"
	opStartTime
	opReq
	opResp
	opProtocol
	opResponseCode
	opResponseCodeDetails
	opResponseFlags
	opResponseFlagsLong
	opBytesReceived
	opBytesSent
	opDuration
	opUpstreamHost
	opUpstreamHostNoPort
	opUpstreamPort
	opUpstreamCluster
	opRouteName
	opRemoteAddr
	opRemoteAddrNoPort
	opRemotePort
	opLocalAddr
	opLocalAddrNoPort
	opLocalPort
	opRequestedServerName
	opStreamID
)

// numeric reports whether the operator renders as a JSON number when it is alone in a
// JSON value.
func (k opKind) numeric() bool {
	switch k {
	case opResponseCode, opBytesReceived, opBytesSent, opDuration:
		return true
	}
	return false
}

type paramRule uint8

const (
	paramNone paramRule = iota
	paramOptional
	paramRequired
)

type opSpec struct {
	kind      opKind
	param     paramRule
	lengthOK  bool // accepts a :N length limit
	hostname  bool // opConst from os.Hostname
	envLookup bool // opConst from os.LookupEnv(param)
}

var operators = map[string]opSpec{
	"START_TIME":                             {kind: opStartTime, param: paramOptional},
	"REQ":                                    {kind: opReq, param: paramRequired, lengthOK: true},
	"REQUEST_HEADER":                         {kind: opReq, param: paramRequired, lengthOK: true},
	"RESP":                                   {kind: opResp, param: paramRequired, lengthOK: true},
	"RESPONSE_HEADER":                        {kind: opResp, param: paramRequired, lengthOK: true},
	"TRAILER":                                {kind: opMissing, param: paramRequired, lengthOK: true},
	"RESPONSE_TRAILER":                       {kind: opMissing, param: paramRequired, lengthOK: true},
	"PROTOCOL":                               {kind: opProtocol},
	"RESPONSE_CODE":                          {kind: opResponseCode},
	"RESPONSE_CODE_DETAILS":                  {kind: opResponseCodeDetails},
	"RESPONSE_FLAGS":                         {kind: opResponseFlags},
	"RESPONSE_FLAGS_LONG":                    {kind: opResponseFlagsLong},
	"BYTES_RECEIVED":                         {kind: opBytesReceived},
	"BYTES_SENT":                             {kind: opBytesSent},
	"DURATION":                               {kind: opDuration},
	"REQUEST_DURATION":                       {kind: opMissing},
	"REQUEST_TX_DURATION":                    {kind: opMissing},
	"RESPONSE_DURATION":                      {kind: opMissing},
	"RESPONSE_TX_DURATION":                   {kind: opMissing},
	"CONNECTION_TERMINATION_DETAILS":         {kind: opMissing},
	"UPSTREAM_LOCAL_ADDRESS":                 {kind: opMissing},
	"UPSTREAM_TRANSPORT_FAILURE_REASON":      {kind: opMissing},
	"UPSTREAM_HOST":                          {kind: opUpstreamHost},
	"UPSTREAM_REMOTE_ADDRESS":                {kind: opUpstreamHost},
	"UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT":   {kind: opUpstreamHostNoPort},
	"UPSTREAM_REMOTE_PORT":                   {kind: opUpstreamPort},
	"UPSTREAM_CLUSTER":                       {kind: opUpstreamCluster},
	"ROUTE_NAME":                             {kind: opRouteName},
	"DOWNSTREAM_REMOTE_ADDRESS":              {kind: opRemoteAddr},
	"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT": {kind: opRemoteAddrNoPort},
	"DOWNSTREAM_REMOTE_PORT":                 {kind: opRemotePort},
	"DOWNSTREAM_DIRECT_REMOTE_ADDRESS":       {kind: opRemoteAddr},
	"DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT": {kind: opRemoteAddrNoPort},
	"DOWNSTREAM_DIRECT_REMOTE_PORT":                 {kind: opRemotePort},
	"DOWNSTREAM_LOCAL_ADDRESS":                      {kind: opLocalAddr},
	"DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT":         {kind: opLocalAddrNoPort},
	"DOWNSTREAM_LOCAL_PORT":                         {kind: opLocalPort},
	"REQUESTED_SERVER_NAME":                         {kind: opRequestedServerName},
	"STREAM_ID":                                     {kind: opStreamID},
	"HOSTNAME":                                      {kind: opConst, hostname: true},
	"ENVIRONMENT":                                   {kind: opConst, param: paramRequired, lengthOK: true, envLookup: true},
}

// op is one compiled piece of a format: a literal or a command operator.
type op struct {
	kind   opKind
	lit    string      // opLiteral text (JSON-escaped in JSON formats), opConst value
	hdrs   []headerRef // opReq, opResp: the header and its optional alternative
	maxLen int         // length limit from %OP(...):N%, -1 for none
	tf     *timeFormat // opStartTime with a custom format; nil renders defaultTimeLayout
	// jsonSafe marks operators whose output never needs JSON escaping (numbers, dashes,
	// times whose format has only safe literals).
	jsonSafe bool
}

// header lookups with a meaning beyond the header map.
type special uint8

const (
	spNone            special = iota
	spMethod                  // :method -> Entry.Method
	spPath                    // :path -> Entry.Path
	spAuthority               // :authority -> Entry.Authority
	spScheme                  // :scheme -> Entry.Scheme
	spOriginalPath            // x-envoy-original-path -> Entry.OriginalPath only
	spHost                    // host -> the header, else Entry.Authority (Go moves Host out of the map)
	spRequestID               // x-request-id -> Entry.RequestID, else the header
	spStatus                  // :status (response) -> Entry.ResponseCode
	spUpstreamSvcTime         // x-envoy-upstream-service-time -> the header, else Entry.UpstreamServiceTime
	spUnknownPseudo           // any other :pseudo-header: never present
)

type headerRef struct {
	canon string // canonical MIME key for the http.Header lookup
	sp    special
}

func newHeaderRef(name string, response bool) headerRef {
	h := headerRef{canon: textproto.CanonicalMIMEHeaderKey(name)}
	lower := strings.ToLower(name)
	if response {
		switch lower {
		case ":status":
			h.sp = spStatus
		case "x-envoy-upstream-service-time":
			h.sp = spUpstreamSvcTime
		default:
			if strings.HasPrefix(lower, ":") {
				h.sp = spUnknownPseudo
			}
		}
		return h
	}
	switch lower {
	case ":method":
		h.sp = spMethod
	case ":path":
		h.sp = spPath
	case ":authority":
		h.sp = spAuthority
	case ":scheme":
		h.sp = spScheme
	case "x-envoy-original-path":
		h.sp = spOriginalPath
	case "host":
		h.sp = spHost
	case "x-request-id":
		h.sp = spRequestID
	default:
		if strings.HasPrefix(lower, ":") {
			h.sp = spUnknownPseudo
		}
	}
	return h
}

// parse compiles a format string into ops. In JSON mode literals are stored escaped.
func parse(format string, jsonMode bool) ([]op, error) {
	var ops []op
	var lit []byte
	flush := func() {
		if len(lit) == 0 {
			return
		}
		s := string(lit)
		if jsonMode {
			s = string(appendJSONEscaped(nil, s))
		}
		ops = appendLiteral(ops, s)
		lit = lit[:0]
	}
	for i := 0; i < len(format); {
		if format[i] != '%' {
			j := strings.IndexByte(format[i:], '%')
			if j < 0 {
				j = len(format) - i
			}
			lit = append(lit, format[i:i+j]...)
			i += j
			continue
		}
		if i+1 < len(format) && format[i+1] == '%' {
			lit = append(lit, '%')
			i += 2
			continue
		}
		o, n, err := parseCommand(format, i)
		if err != nil {
			return nil, err
		}
		flush()
		ops = append(ops, o)
		i += n
	}
	flush()
	return ops, nil
}

func appendLiteral(ops []op, s string) []op {
	if n := len(ops); n > 0 && ops[n-1].kind == opLiteral {
		ops[n-1].lit += s
		return ops
	}
	return append(ops, op{kind: opLiteral, lit: s, maxLen: -1})
}

func isNameByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'
}

// parseCommand parses the command operator starting at format[start] == '%' and returns
// it with the number of bytes it spans.
func parseCommand(format string, start int) (op, int, error) {
	j := start + 1
	for j < len(format) && isNameByte(format[j]) {
		j++
	}
	name := format[start+1 : j]
	if name == "" {
		return op{}, 0, fmt.Errorf("accesslog: bare %% at offset %d (write %%%% for a literal %%)", start)
	}
	var param string
	hasParam := false
	paramAt := 0
	if j < len(format) && format[j] == '(' {
		k := strings.IndexByte(format[j+1:], ')')
		if k < 0 {
			return op{}, 0, unterminated(format[start:], start)
		}
		paramAt = j + 1
		param = format[j+1 : j+1+k]
		hasParam = true
		j += k + 2
	}
	hasLen := false
	lenText := ""
	if j < len(format) && format[j] == ':' {
		k := strings.IndexByte(format[j+1:], '%')
		if k < 0 {
			return op{}, 0, unterminated(format[start:], start)
		}
		lenText = format[j+1 : j+1+k]
		hasLen = true
		j += k + 1
	}
	if j >= len(format) || format[j] != '%' {
		return op{}, 0, unterminated(format[start:j], start)
	}
	token := format[start : j+1]
	spec, ok := operators[name]
	if !ok {
		if _, upper := operators[strings.ToUpper(name)]; upper {
			return op{}, 0, fmt.Errorf("accesslog: unknown command operator %s at offset %d (operators are upper case: %%%s%%)",
				token, start, strings.ToUpper(name))
		}
		return op{}, 0, fmt.Errorf("accesslog: unknown command operator %s at offset %d", token, start)
	}
	o := op{kind: spec.kind, maxLen: -1}
	if hasLen {
		if !spec.lengthOK {
			return op{}, 0, fmt.Errorf("accesslog: %%%s%% does not take a length limit, in %s at offset %d", name, token, start)
		}
		n, err := strconv.Atoi(lenText)
		if err != nil || n < 0 || lenText[0] == '+' {
			return op{}, 0, fmt.Errorf("accesslog: invalid length limit %q in %s at offset %d", lenText, token, start)
		}
		o.maxLen = n
	}
	switch spec.param {
	case paramNone:
		if hasParam {
			return op{}, 0, fmt.Errorf("accesslog: %%%s%% takes no parameter, in %s at offset %d", name, token, start)
		}
	case paramRequired:
		if param == "" {
			return op{}, 0, fmt.Errorf("accesslog: %%%s%% needs a parameter, as in %%%s(X)%%, at offset %d", name, name, start)
		}
	}
	switch {
	case spec.kind == opStartTime:
		if param != "" {
			tf, err := compileTime(param, paramAt)
			if err != nil {
				return op{}, 0, err
			}
			o.tf = tf
		}
	case spec.kind == opReq || spec.kind == opResp || name == "TRAILER" || name == "RESPONSE_TRAILER":
		names := strings.Split(param, "?")
		if len(names) > 2 {
			return op{}, 0, fmt.Errorf("accesslog: more than one alternative header in %s at offset %d", token, start)
		}
		for _, n := range names {
			if n == "" {
				return op{}, 0, fmt.Errorf("accesslog: empty header name in %s at offset %d", token, start)
			}
			o.hdrs = append(o.hdrs, newHeaderRef(n, spec.kind == opResp))
		}
		if spec.kind == opMissing {
			o.hdrs = nil
		}
	case spec.hostname:
		if h, err := os.Hostname(); err == nil {
			o.lit = h
		}
	case spec.envLookup:
		o.lit = os.Getenv(param)
	}
	switch o.kind {
	case opMissing, opResponseCode, opBytesReceived, opBytesSent, opDuration:
		o.jsonSafe = true
	case opStartTime:
		o.jsonSafe = o.tf == nil || o.tf.jsonSafe()
	}
	return o, j + 1 - start, nil
}

func unterminated(token string, offset int) error {
	const max = 40
	if len(token) > max {
		token = token[:max] + "..."
	}
	return fmt.Errorf("accesslog: unterminated command operator %s at offset %d", token, offset)
}

// finish applies the missing-value dash and the length limit to the value appended at
// dst[start:].
func (o *op) finish(dst []byte, start int) []byte {
	if len(dst) == start {
		return append(dst, '-')
	}
	if o.maxLen >= 0 && len(dst)-start > o.maxLen {
		dst = dst[:start+truncLen(dst[start:], o.maxLen)]
		if len(dst) == start {
			return append(dst, '-')
		}
	}
	return dst
}

// truncLen returns how many bytes of b to keep under a limit of max bytes, without
// cutting a UTF-8 sequence in half (unless that would leave nothing).
func truncLen(b []byte, max int) int {
	for i := max; i > 0; i-- {
		if utf8.RuneStart(b[i]) {
			return i
		}
	}
	return max
}

// appendValue appends the operator's raw value; appending nothing means "missing".
func (o *op) appendValue(dst []byte, e *Entry) []byte {
	switch o.kind {
	case opConst:
		return append(dst, o.lit...)
	case opMissing:
		return dst
	case opStartTime:
		if e.StartTime.IsZero() {
			return dst
		}
		if o.tf == nil {
			return appendDefaultTime(dst, e.StartTime)
		}
		return o.tf.appendTime(dst, e.StartTime)
	case opReq:
		for _, h := range o.hdrs {
			if d := h.appendRequest(dst, e); len(d) > len(dst) {
				return d
			}
		}
		return dst
	case opResp:
		for _, h := range o.hdrs {
			if d := h.appendResponse(dst, e); len(d) > len(dst) {
				return d
			}
		}
		return dst
	case opProtocol:
		return append(dst, e.Protocol...)
	case opResponseCode:
		return strconv.AppendInt(dst, int64(e.ResponseCode), 10)
	case opResponseCodeDetails:
		return append(dst, e.ResponseCodeDetails...)
	case opResponseFlags:
		return append(dst, e.ResponseFlags...)
	case opResponseFlagsLong:
		return appendLongFlags(dst, e.ResponseFlags)
	case opBytesReceived:
		return strconv.AppendInt(dst, e.BytesReceived, 10)
	case opBytesSent:
		return strconv.AppendInt(dst, e.BytesSent, 10)
	case opDuration:
		return strconv.AppendInt(dst, e.Duration.Milliseconds(), 10)
	case opUpstreamHost:
		return append(dst, e.UpstreamHost...)
	case opUpstreamHostNoPort:
		host, _ := splitAddr(e.UpstreamHost)
		return append(dst, host...)
	case opUpstreamPort:
		_, port := splitAddr(e.UpstreamHost)
		return append(dst, port...)
	case opUpstreamCluster:
		return append(dst, e.UpstreamCluster...)
	case opRouteName:
		return append(dst, e.RouteName...)
	case opRemoteAddr:
		return append(dst, e.DownstreamRemoteAddr...)
	case opRemoteAddrNoPort:
		host, _ := splitAddr(e.DownstreamRemoteAddr)
		return append(dst, host...)
	case opRemotePort:
		_, port := splitAddr(e.DownstreamRemoteAddr)
		return append(dst, port...)
	case opLocalAddr:
		return append(dst, e.DownstreamLocalAddr...)
	case opLocalAddrNoPort:
		host, _ := splitAddr(e.DownstreamLocalAddr)
		return append(dst, host...)
	case opLocalPort:
		_, port := splitAddr(e.DownstreamLocalAddr)
		return append(dst, port...)
	case opRequestedServerName:
		return append(dst, e.RequestedServerName...)
	case opStreamID:
		return append(dst, e.RequestID...)
	}
	return dst
}

func (h headerRef) appendRequest(dst []byte, e *Entry) []byte {
	switch h.sp {
	case spMethod:
		return append(dst, e.Method...)
	case spPath:
		return append(dst, e.Path...)
	case spAuthority:
		return append(dst, e.Authority...)
	case spScheme:
		return append(dst, e.Scheme...)
	case spOriginalPath:
		return append(dst, e.OriginalPath...)
	case spHost:
		if v := headerValue(e.RequestHeaders, h.canon); v != "" {
			return append(dst, v...)
		}
		return append(dst, e.Authority...)
	case spRequestID:
		if e.RequestID != "" {
			return append(dst, e.RequestID...)
		}
	case spUnknownPseudo:
		return dst
	}
	return append(dst, headerValue(e.RequestHeaders, h.canon)...)
}

func (h headerRef) appendResponse(dst []byte, e *Entry) []byte {
	switch h.sp {
	case spStatus:
		if e.ResponseCode == 0 {
			return dst
		}
		return strconv.AppendInt(dst, int64(e.ResponseCode), 10)
	case spUpstreamSvcTime:
		if v := headerValue(e.ResponseHeaders, h.canon); v != "" {
			return append(dst, v...)
		}
		if e.UpstreamServiceTime >= 0 && e.UpstreamHost != "" {
			return strconv.AppendInt(dst, e.UpstreamServiceTime.Milliseconds(), 10)
		}
		return dst
	case spUnknownPseudo:
		return dst
	}
	return append(dst, headerValue(e.ResponseHeaders, h.canon)...)
}

// headerValue returns the first value of the header, matching its name case-insensitively
// even when the map holds a non-canonical key.
func headerValue(h http.Header, canon string) string {
	if len(h) == 0 {
		return ""
	}
	if vs, ok := h[canon]; ok {
		if len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	for k, vs := range h {
		if len(vs) > 0 && len(k) == len(canon) && strings.EqualFold(k, canon) {
			return vs[0]
		}
	}
	return ""
}

// splitAddr splits "ip:port" or "[ipv6]:port" into host and port without allocating. An
// address without a port (a bare IPv6 address, a pipe name) is all host.
func splitAddr(a string) (host, port string) {
	if a == "" {
		return "", ""
	}
	if a[0] == '[' {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return a, ""
		}
		if end+1 < len(a) && a[end+1] == ':' {
			return a[1:end], a[end+2:]
		}
		return a[1:end], ""
	}
	i := strings.LastIndexByte(a, ':')
	if i < 0 || strings.IndexByte(a[:i], ':') >= 0 {
		return a, ""
	}
	return a[:i], a[i+1:]
}

// longFlags maps Envoy's short response flags to their long names (RESPONSE_FLAGS_LONG).
var longFlags = map[string]string{
	"DC":    "DownstreamConnectionTermination",
	"LH":    "FailedLocalHealthCheck",
	"UH":    "NoHealthyUpstream",
	"UT":    "UpstreamRequestTimeout",
	"LR":    "LocalReset",
	"UR":    "UpstreamRemoteReset",
	"UF":    "UpstreamConnectionFailure",
	"UC":    "UpstreamConnectionTermination",
	"UO":    "UpstreamOverflow",
	"URX":   "UpstreamRetryLimitExceeded",
	"NR":    "NoRouteFound",
	"DI":    "DelayInjected",
	"FI":    "FaultInjected",
	"RL":    "RateLimited",
	"UAEX":  "UnauthorizedExternalService",
	"RLSE":  "RateLimitServiceError",
	"SI":    "StreamIdleTimeout",
	"IH":    "InvalidEnvoyRequestHeaders",
	"DPE":   "DownstreamProtocolError",
	"UMSDR": "UpstreamMaxStreamDurationReached",
	"RFCF":  "ResponseFromCacheFilter",
	"NFCF":  "NoFilterConfigFound",
	"DT":    "DurationTimeout",
	"UPE":   "UpstreamProtocolError",
	"NC":    "NoClusterFound",
	"OM":    "OverloadManagerTerminated",
	"DF":    "DnsResolutionFailed",
	"DO":    "DropOverload",
}

// appendLongFlags renders comma-separated short flags by their long names; a flag without
// a long name is copied as is.
func appendLongFlags(dst []byte, flags string) []byte {
	wrote := false
	for flags != "" {
		f := flags
		rest := ""
		if j := strings.IndexByte(flags, ','); j >= 0 {
			f, rest = flags[:j], flags[j+1:]
		}
		flags = rest
		if f == "" {
			continue
		}
		if wrote {
			dst = append(dst, ',')
		}
		wrote = true
		if long, ok := longFlags[f]; ok {
			dst = append(dst, long...)
		} else {
			dst = append(dst, f...)
		}
	}
	return dst
}

// asciiEsc is the escaped length of each ASCII byte in a JSON string: 1 (as is),
// 2 (\" \\ \n \r \t \b \f) or 6 (\u00XX).
var asciiEsc = func() (t [utf8.RuneSelf]uint8) {
	for c := range t {
		switch {
		case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f':
			t[c] = 2
		case c < 0x20:
			t[c] = 6
		default:
			t[c] = 1
		}
	}
	return t
}()

var shortEsc = [utf8.RuneSelf]byte{'"': '"', '\\': '\\', '\n': 'n', '\r': 'r', '\t': 't', '\b': 'b', '\f': 'f'}

const hexDigits = "0123456789abcdef"

// appendJSONEscaped appends s escaped for the inside of a JSON string.
func appendJSONEscaped(dst []byte, s string) []byte {
	start := len(dst)
	dst = append(dst, s...)
	return jsonEscapeInPlace(dst, start)
}

// jsonEscapeInPlace escapes dst[start:] for the inside of a JSON string without
// allocating (beyond growing dst): control characters, quotes and backslashes are
// escaped, invalid UTF-8 becomes \ufffd and U+2028/U+2029 are escaped as encoding/json
// does. Values that need no escaping, the common case, cost one scan.
func jsonEscapeInPlace(dst []byte, start int) []byte {
	src := dst[start:]
	n := 0
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			n += int(asciiEsc[c])
			i++
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			n += 6
		} else {
			n += size
		}
		i += size
	}
	raw := len(src)
	extra := n - raw
	if extra == 0 {
		return dst
	}
	// Move the raw bytes to the tail, then escape them forward into place. The write
	// position never passes the read position, because every unit's escaped form is at
	// least as long as the unit and the gap starts at the total growth.
	dst = slices.Grow(dst, extra)
	dst = dst[:len(dst)+extra]
	copy(dst[start+extra:], dst[start:start+raw])
	w, r, end := start, start+extra, len(dst)
	for r < end {
		c := dst[r]
		if c < utf8.RuneSelf {
			switch asciiEsc[c] {
			case 1:
				dst[w] = c
				w++
			case 2:
				dst[w], dst[w+1] = '\\', shortEsc[c]
				w += 2
			default:
				w += copy(dst[w:], `\u00`)
				dst[w], dst[w+1] = hexDigits[c>>4], hexDigits[c&0xF]
				w += 2
			}
			r++
			continue
		}
		rr, size := utf8.DecodeRune(dst[r:end])
		switch {
		case rr == utf8.RuneError && size == 1:
			w += copy(dst[w:], `\ufffd`)
		case rr == '\u2028':
			w += copy(dst[w:], `\u2028`)
		case rr == '\u2029':
			w += copy(dst[w:], `\u2029`)
		default:
			w += copy(dst[w:], dst[r:r+size])
		}
		r += size
	}
	return dst
}
