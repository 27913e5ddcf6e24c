package mgmt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/pylon-gateway/pylon/internal/store"
)

// apiError is an error a handler answers with a status of its own choosing; every
// other error is a store error and is classified in writeError.
type apiError struct {
	status int
	code   string
	field  string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, code, field, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, field: field, msg: fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) error {
	return errorf(http.StatusForbidden, "forbidden", "", format, args...)
}

// errorBody is every error's JSON: {"error": {"code", "message", "field"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field is the JSON name of the field at fault ("scopes.models[2]"), or a query
	// parameter ("limit"); empty when no one field is.
	Field string `json:"field,omitempty"`
}

// writeError maps an error to its status and body. It is the one place where store
// errors become HTTP: ErrInvalid 400 naming the field, ErrNotFound 404, ErrStale 412,
// ErrConflict 409, anything else 500 with a message that leaks nothing.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var (
		ae *apiError
		fe *store.FieldError
		d  errorDetail
		st int
	)
	switch {
	case errors.As(err, &ae):
		st, d = ae.status, errorDetail{Code: ae.code, Message: ae.msg, Field: ae.field}
	case errors.As(err, &fe):
		st, d = http.StatusBadRequest, errorDetail{Code: "invalid", Message: fe.Field + ": " + fe.Msg, Field: fe.Field}
	case errors.Is(err, store.ErrNotFound):
		st, d = http.StatusNotFound, errorDetail{Code: "not_found", Message: clean(err)}
	case errors.Is(err, store.ErrStale):
		st, d = http.StatusPreconditionFailed, errorDetail{Code: "precondition_failed", Message: clean(err) + "; read it again and retry with its ETag"}
	case errors.Is(err, store.ErrConflict):
		st, d = http.StatusConflict, errorDetail{Code: "conflict", Message: clean(err)}
	case errors.Is(err, store.ErrInvalid):
		st, d = http.StatusBadRequest, errorDetail{Code: "invalid", Message: clean(err)}
	case errors.Is(err, context.Canceled):
		return // the client went away
	default:
		log.Error("management api", "method", r.Method, "path", r.URL.Path, "error", err.Error())
		st, d = http.StatusInternalServerError, errorDetail{Code: "internal", Message: "internal error; the server log has the details"}
	}
	if st == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pylon"`)
	}
	writeJSON(w, st, errorBody{d})
}

// clean drops the "store: " prefix and the sentinel's name at the end of store errors:
// the client knows who answered, and the status and code say the class.
func clean(err error) string {
	msg := strings.TrimPrefix(err.Error(), "store: ")
	for _, sentinel := range []error{store.ErrStale, store.ErrConflict, store.ErrInvalid} {
		if m, ok := strings.CutSuffix(msg, ": "+sentinel.Error()); ok {
			return m
		}
	}
	return msg
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // messages quote <token>; this is no HTML page
	enc.SetIndent("", "  ")
	b := []byte(`{"error":{"code":"internal","message":"encoding the response failed"}}` + "\n")
	if err := enc.Encode(v); err == nil {
		b = buf.Bytes()
	} else {
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeObject writes one object with its ETag.
func writeObject(w http.ResponseWriter, status int, v any, version int64) {
	w.Header().Set("ETag", etag(version))
	writeJSON(w, status, v)
}

// listResponse is a page of a list: {"data": [...], "next_cursor": "..."}; next_cursor
// is absent on the last page.
type listResponse[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func writePage[T any](w http.ResponseWriter, p store.Page[T]) {
	if p.Items == nil {
		p.Items = []T{}
	}
	writeJSON(w, http.StatusOK, listResponse[T]{Data: p.Items, NextCursor: p.Next})
}

// listOptions reads ?limit= and ?cursor=; the store checks the range and the cursor.
func listOptions(r *http.Request) (store.ListOptions, error) {
	q := r.URL.Query()
	var opt store.ListOptions
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return opt, store.Invalid("limit", "want an integer from 1 to %d, got %q", store.MaxLimit, trunc(v))
		}
		if n == 0 {
			return opt, store.Invalid("limit", "want an integer from 1 to %d, got 0", store.MaxLimit)
		}
		opt.Limit = n
	}
	opt.Cursor = q.Get("cursor")
	_, _, err := opt.PageLimit()
	return opt, err
}

// ETags are the object's version in quotes: "3". The body of an object is a function of
// its version, so the tag is strong; If-Match also accepts the weak form W/"3".
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch returns the version a write may assume, checking If-Match against cur:
// cur when a listed tag names it or the header is "*"; 412 when no tag does; 428 when
// the header is missing and required (PUT, PATCH, DELETE), cur when it is optional
// (the POST actions, whose state machines already refuse a repeated transition).
func ifMatch(w http.ResponseWriter, r *http.Request, cur int64, required bool) (int64, error) {
	h := r.Header.Values("If-Match")
	if len(h) == 0 {
		if required {
			return 0, errorf(http.StatusPreconditionRequired, "precondition_required", "",
				"If-Match is required: send the ETag of the object as read (GET it first), or * to overwrite whatever is there")
		}
		return cur, nil
	}
	for _, line := range h {
		for _, tag := range strings.Split(line, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" {
				return cur, nil
			}
			tag = strings.TrimPrefix(tag, "W/")
			if v, err := strconv.ParseInt(strings.Trim(tag, `"`), 10, 64); err == nil && len(tag) > 2 && tag[0] == '"' && v == cur {
				return cur, nil
			}
		}
	}
	w.Header().Set("ETag", etag(cur))
	return 0, errorf(http.StatusPreconditionFailed, "precondition_failed", "",
		"the object changed since it was read (its ETag is now %s); read it again and retry", etag(cur))
}

// notModified reports whether a GET's If-None-Match names the current version.
func notModified(r *http.Request, cur int64) bool {
	for _, line := range r.Header.Values("If-None-Match") {
		for _, tag := range strings.Split(line, ",") {
			tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
			if tag == "*" || tag == etag(cur) {
				return true
			}
		}
	}
	return false
}

// readBody reads a request body of at most max bytes: 413 beyond, 415 when it is
// declared as something other than JSON, 400 when it is empty and required.
func readBody(w http.ResponseWriter, r *http.Request, max int64, required bool) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
			return nil, errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "",
				"want Content-Type application/json, got %q (with curl: --json, or -H 'Content-Type: application/json')", trunc(ct))
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, errorf(http.StatusRequestEntityTooLarge, "payload_too_large", "",
				"the request body is larger than %d bytes", max)
		}
		return nil, errorf(http.StatusBadRequest, "invalid", "", "reading the request body: %v", err)
	}
	if required && len(bytes.TrimSpace(b)) == 0 {
		return nil, errorf(http.StatusBadRequest, "invalid", "", "a JSON object is required as the request body")
	}
	return b, nil
}

// decodeStrict decodes one JSON object into v, which must be a pointer to a struct.
// Unlike encoding/json it refuses fields that are not exactly a field of v (not even in
// another case), and names the field of every error with its path ("scopes.models[1]").
func decodeStrict(b []byte, v any) error {
	var generic any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return syntaxError(b, err)
	}
	if dec.More() || trailing(dec) {
		return errorf(http.StatusBadRequest, "invalid", "", "unexpected data after the JSON object")
	}
	if _, ok := generic.(map[string]any); !ok {
		return errorf(http.StatusBadRequest, "invalid", "", "the request body must be a JSON object, got %s", jsonKindOf(generic))
	}
	if err := checkShape("", generic, reflect.TypeOf(v).Elem()); err != nil {
		return err
	}
	dec = json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				field = "body"
			}
			return store.Invalid(field, "want %s, got %s", goKind(te.Type), te.Value)
		}
		return errorf(http.StatusBadRequest, "invalid", "", "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

func trailing(dec *json.Decoder) bool {
	_, err := dec.Token()
	return err != io.EOF
}

func syntaxError(b []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := 1, 1
		for _, c := range b[:min(int(se.Offset), len(b))] {
			if c == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		return errorf(http.StatusBadRequest, "invalid", "", "malformed JSON at line %d, column %d: %s", line, col, strings.TrimPrefix(se.Error(), "json: "))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errorf(http.StatusBadRequest, "invalid", "", "malformed JSON: the body ends in the middle of a value")
	}
	return errorf(http.StatusBadRequest, "invalid", "", "malformed JSON: %v", err)
}

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage(nil))
)

// checkShape walks a decoded JSON value against the Go type it will be decoded into,
// and reports the first key that is not exactly a JSON field name of the type and the
// first time that is not RFC 3339, with its path. Type mismatches of other values are
// left to encoding/json, whose errors carry the path too.
func checkShape(path string, v any, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil || t == rawType {
		return nil
	}
	switch {
	case t == timeType:
		s, ok := v.(string)
		if !ok {
			return store.Invalid(orBody(path), "want a time like 2030-01-02T15:04:05Z, got %s", jsonKindOf(v))
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return store.Invalid(orBody(path), "want a time like 2030-01-02T15:04:05Z, got %q", trunc(s))
		}
	case t.Kind() == reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		fields := jsonFields(t)
		for k, val := range m {
			f, ok := fields[k]
			if !ok {
				return store.Invalid(join(path, k), "unknown field")
			}
			if err := checkShape(join(path, k), val, f.Type); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Slice:
		a, ok := v.([]any)
		if !ok {
			return nil
		}
		for i, e := range a {
			if err := checkShape(fmt.Sprintf("%s[%d]", path, i), e, t.Elem()); err != nil {
				return err
			}
		}
	}
	return nil
}

func orBody(path string) string {
	if path == "" {
		return "body"
	}
	return path
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// jsonFields maps the JSON names of a struct's fields, embedded structs flattened, to
// the fields.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, v := range jsonFields(f.Type) {
				if _, ok := out[k]; !ok {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f
	}
	return out
}

func jsonKindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "a value"
}

func goKind(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return goKind(t.Elem())
	}
	return "a value"
}

func trunc(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:40] + "..."
}

// mergePatch applies a JSON merge patch (RFC 7396) to cur's JSON form and decodes the
// result strictly into dst: fields absent from the patch keep their value, null resets
// one, and an unknown field or a wrong type is refused as in a PUT. The merge works on
// raw JSON, so that a value the patch does not touch (a prompt API's input schema) keeps
// its exact text.
func mergePatch(cur any, patch []byte, dst any) error {
	var p any
	dec := json.NewDecoder(bytes.NewReader(patch))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return syntaxError(patch, err)
	}
	if dec.More() || trailing(dec) {
		return errorf(http.StatusBadRequest, "invalid", "", "unexpected data after the JSON object")
	}
	if _, ok := p.(map[string]any); !ok {
		return errorf(http.StatusBadRequest, "invalid", "", "a merge patch must be a JSON object, got %s", jsonKindOf(p))
	}
	// Unknown keys and bad times are reported against the patch itself.
	if err := checkShape("", p, reflect.TypeOf(dst).Elem()); err != nil {
		return err
	}
	cb, err := json.Marshal(cur)
	if err != nil {
		return err
	}
	merged, err := mergeRaw(cb, patch)
	if err != nil {
		return err
	}
	return decodeStrict(merged, dst)
}

func mergeRaw(target, patch json.RawMessage) (json.RawMessage, error) {
	var pm map[string]json.RawMessage
	if err := json.Unmarshal(patch, &pm); err != nil || pm == nil {
		return patch, nil // not an object: it replaces the target
	}
	var tm map[string]json.RawMessage
	if err := json.Unmarshal(target, &tm); err != nil || tm == nil {
		tm = map[string]json.RawMessage{}
	}
	for k, v := range pm {
		if string(bytes.TrimSpace(v)) == "null" {
			delete(tm, k)
			continue
		}
		m, err := mergeRaw(tm[k], v)
		if err != nil {
			return nil, err
		}
		tm[k] = m
	}
	return json.Marshal(tm)
}
