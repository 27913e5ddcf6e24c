package h1

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"
)

// statusText holds "200 OK\r\n" for every code 100-999 (net/http's wording for codes without
// a text: "599 status code 599").
var statusText [1000]string

func init() {
	for code := 100; code < len(statusText); code++ {
		s := strconv.Itoa(code)
		if text := http.StatusText(code); text != "" {
			statusText[code] = s + " " + text + "\r\n"
		} else {
			statusText[code] = s + " status code " + s + "\r\n"
		}
	}
}

func appendStatusLine(dst []byte, is11 bool, code int) []byte {
	if is11 {
		dst = append(dst, "HTTP/1.1 "...)
	} else {
		dst = append(dst, "HTTP/1.0 "...)
	}
	return append(dst, statusText[code]...)
}

// The Date field is formatted once per second and shared.
type dateLine struct {
	sec  int64
	line []byte // "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n"
}

var curDate atomic.Pointer[dateLine]

func appendDate(dst []byte) []byte {
	now := time.Now()
	sec := now.Unix()
	d := curDate.Load()
	if d == nil || d.sec != sec {
		b := make([]byte, 0, len("Date: \r\n")+len(http.TimeFormat))
		b = append(b, "Date: "...)
		b = now.UTC().AppendFormat(b, http.TimeFormat)
		b = append(b, "\r\n"...)
		d = &dateLine{sec: sec, line: b}
		curDate.Store(d)
	}
	return append(dst, d.line...)
}

// appendField appends "k: v\r\n" with v trimmed and CR/LF turned into spaces (net/http's
// response header sanitizing: a value cannot inject fields).
func appendField(dst []byte, k, v string) []byte {
	v = textproto.TrimString(v)
	dst = append(dst, k...)
	dst = append(dst, ": "...)
	if strings.ContainsAny(v, "\r\n") {
		for i := 0; i < len(v); i++ {
			b := v[i]
			if b == '\r' || b == '\n' {
				b = ' '
			}
			dst = append(dst, b)
		}
	} else {
		dst = append(dst, v...)
	}
	return append(dst, "\r\n"...)
}

func (c *conn) appendField(k, v string) {
	c.makeRoom(len(k) + len(v) + 4)
	c.out = appendField(c.out, k, v)
}

func bodyAllowedForStatus(status int) bool {
	switch {
	case status >= 100 && status <= 199:
		return false
	case status == http.StatusNoContent:
		return false
	case status == http.StatusNotModified:
		return false
	}
	return true
}

// foreachHeaderElement calls fn for each non-empty element of a comma-separated field value.
func foreachHeaderElement(v string, fn func(string)) {
	for f := range strings.SplitSeq(v, ",") {
		if f = textproto.TrimString(f); f != "" {
			fn(f)
		}
	}
}

// stringBytes views s as a byte slice; the write path only reads it.
func stringBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
