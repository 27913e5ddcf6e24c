// Package accesslog writes Envoy-format access logs off the request path.
//
// The proxy fills an [Entry] per request (preferably from [AcquireEntry]) and hands it to
// [Logger.Log], which only enqueues it. Each Logger has a writer goroutine that formats
// queued entries with a [Formatter] into a reused buffer and writes them in batches. When
// the queue is full, entries are dropped and counted rather than slowing requests down.
//
// # Formats
//
// [ParseText] compiles an Envoy format string; "" selects Envoy's default format
// ([DefaultFormat]):
//
//	[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n
//
// which renders, for example:
//
//	[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "10.0.2.1:80"
//
// [ParseJSON] compiles a map of JSON keys to format strings; each entry renders as one
// JSON object with sorted keys on its own line.
//
// Text outside command operators is copied as is; %% is a literal percent sign. A value
// that is missing or empty renders as "-" (in JSON, the string "-"). Header names are
// case-insensitive. Unknown operators, unterminated ones, a bare %, parameters where none
// are taken (or none where one is required) and bad length limits are parse errors that
// name the operator and its byte offset, e.g.
// "accesslog: unknown command operator %FOO% at offset 12".
//
// # Command operators
//
// Request and response:
//
//	%REQ(X?Y):N%           request header X, else header Y; optional :N keeps at most N bytes
//	%REQUEST_HEADER(X?Y):N%  same as REQ
//	%RESP(X?Y):N%          response header (same syntax)
//	%RESPONSE_HEADER(X?Y):N% same as RESP
//	%TRAILER(X?Y):N%       response trailer: always "-" (trailers are not recorded)
//	%RESPONSE_TRAILER(X?Y):N% same as TRAILER
//	%PROTOCOL%             HTTP/1.1, HTTP/2
//	%RESPONSE_CODE%        status code sent downstream, 0 if none
//	%RESPONSE_CODE_DETAILS% e.g. via_upstream, route_not_found
//	%RESPONSE_FLAGS%       Envoy flags such as NR, UH, UF, UT ("-" for none)
//	%RESPONSE_FLAGS_LONG%  the same flags by their long names (NoRouteFound, ...)
//	%BYTES_RECEIVED%       request body bytes
//	%BYTES_SENT%           response body bytes
//	%DURATION%             milliseconds from start to the last byte sent
//	%ROUTE_NAME%           name of the matched route
//	%STREAM_ID%            the request ID
//
// In REQ, the pseudo-headers :METHOD, :PATH (the original path with its query),
// :AUTHORITY and :SCHEME read the Entry; X-ENVOY-ORIGINAL-PATH is Entry.OriginalPath (set
// only when the router rewrote the path; a client-sent header of that name is ignored);
// X-REQUEST-ID is Entry.RequestID when set, else the header; HOST is the header, else
// Entry.Authority. In RESP, :STATUS is the response code and
// X-ENVOY-UPSTREAM-SERVICE-TIME is the header, else Entry.UpstreamServiceTime in
// milliseconds when an upstream answered. Other pseudo-headers render "-". A header with
// several values renders its first value.
//
// Time:
//
//	%START_TIME%           request start, UTC: 2016-04-15T20:17:00.310Z
//	%START_TIME(FORMAT)%   strftime format, always UTC
//
// START_TIME formats support %Y %y %C %m %d %e %j %H %I %p %M %S %a %A %b %h %B %u %w %U
// %W %G %V, the composites %F %T %R %r %D %c %x %X, %z (+0000), %:z and %Ez (+00:00),
// %Z (UTC), %s (seconds since the epoch), %f (nanoseconds, 9 digits), %1f to %9f (that
// many fraction digits, truncated), %E1S to %E9S (seconds with that many fraction digits),
// %E4Y, %n, %t and %%. Any other specifier is a parse error naming it.
//
// Connection and upstream:
//
//	%DOWNSTREAM_REMOTE_ADDRESS%                 client ip:port
//	%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%    client ip
//	%DOWNSTREAM_REMOTE_PORT%                    client port
//	%DOWNSTREAM_DIRECT_REMOTE_ADDRESS%          same as DOWNSTREAM_REMOTE_ADDRESS
//	%DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT%, %DOWNSTREAM_DIRECT_REMOTE_PORT%
//	%DOWNSTREAM_LOCAL_ADDRESS%                  listener ip:port the request arrived on
//	%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%, %DOWNSTREAM_LOCAL_PORT%
//	%REQUESTED_SERVER_NAME%                     TLS SNI
//	%UPSTREAM_HOST%                             ip:port of the chosen endpoint
//	%UPSTREAM_REMOTE_ADDRESS%                   same as UPSTREAM_HOST
//	%UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%, %UPSTREAM_REMOTE_PORT%
//	%UPSTREAM_CLUSTER%                          cluster of the chosen endpoint
//
// Process:
//
//	%HOSTNAME%             os.Hostname, read when the format is parsed
//	%ENVIRONMENT(X):N%     environment variable X, read when the format is parsed
//
// Accepted for compatibility with Envoy configurations, always "-" because Pylon does not
// record the data: %REQUEST_DURATION%, %REQUEST_TX_DURATION%, %RESPONSE_DURATION%,
// %RESPONSE_TX_DURATION%, %UPSTREAM_LOCAL_ADDRESS%, %UPSTREAM_TRANSPORT_FAILURE_REASON%,
// %CONNECTION_TERMINATION_DETAILS%, and TRAILER above.
//
// Only REQ, RESP, TRAILER (and their long names) and ENVIRONMENT take a :N length limit,
// as in Envoy.
//
// # JSON
//
// Values are JSON strings, escaped as encoding/json does (control characters, quotes,
// backslashes, U+2028 and U+2029; invalid UTF-8 becomes U+FFFD). A value that is exactly
// one of %RESPONSE_CODE%, %BYTES_RECEIVED%, %BYTES_SENT% or %DURATION% renders as a JSON
// number, as in Envoy's typed JSON. Any other missing value renders as the string "-"
// (Envoy's typed JSON would write null; "-" keeps every field's type stable).
//
// # Differences from Envoy
//
//   - A text format that does not end in a newline gets one appended (Envoy appends
//     nothing to custom formats).
//   - %% is a literal percent sign.
//   - %UPSTREAM_HOST% is ip:port, without a tcp:// prefix.
//   - A header present with an empty value renders "-" and, in REQ(X?Y), falls through to
//     Y, where Envoy would render an empty string.
//   - Length limits never cut a UTF-8 sequence in half (unless the limit is shorter than
//     the first character).
//   - Text output is not escaped, as in Envoy; Go's HTTP servers reject CR and LF in
//     header values, so header contents cannot forge log lines.
//
// # Sinks
//
// Loggers for the same file path share one file handle through a refcounted registry, as
// do Loggers writing to stdout or to stderr, so their lines never interleave. Files are
// opened with O_APPEND and created 0644. [Logger.Reopen] reopens the file after log
// rotation. On pipes (stdout under most container runtimes) writes are cut at line ends
// into pieces of at most PIPE_BUF bytes, so lines stay whole beside other writers.
//
// The writer goroutine wakes every 100ms, or as soon as a quarter of its queue is in use,
// rather than once per entry, so Log costs a channel send and no goroutine wake-up; a line
// reaches the sink at most about 100ms after Log. [Logger.Close] writes everything queued.
package accesslog
