package h1

// AppendStatusLine appends an HTTP/1.1 status line ("HTTP/1.1 200 OK\r\n") for code, as this
// server writes it (an unknown code reads "status code N"). code must be in [100, 999].
func AppendStatusLine(dst []byte, code int) []byte { return appendStatusLine(dst, true, code) }

// AppendDate appends the Date field line this server adds to responses (cached per second).
func AppendDate(dst []byte) []byte { return appendDate(dst) }
