package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/pylon-gateway/pylon/internal/store"
)

// Scanners and values for the column types both drivers must agree on. Each scanner
// implements sql.Scanner, which database/sql and pgx both honour.

// micros stores a time as integer microseconds.
func micros(t time.Time) int64 { return t.UnixMicro() }

func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// now is the store's clock, truncated to what a column keeps.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func toInt64(src any) (int64, bool) {
	switch v := src.(type) {
	case int64:
		return v, true
	case int32:
		return int64(v), true
	case int:
		return int64(v), true
	}
	return 0, false
}

type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	v, ok := toInt64(src)
	if !ok {
		return fmt.Errorf("time column: unexpected %T", src)
	}
	*c.t = fromMicros(v)
	return nil
}

type nullTimeCol struct{ t **time.Time }

func (c nullTimeCol) Scan(src any) error {
	if src == nil {
		*c.t = nil
		return nil
	}
	v, ok := toInt64(src)
	if !ok {
		return fmt.Errorf("time column: unexpected %T", src)
	}
	t := fromMicros(v)
	*c.t = &t
	return nil
}

// nullString stores "" as NULL (optional references).
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

type nullStringCol struct{ s *string }

func (c nullStringCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.s = ""
	case string:
		*c.s = v
	case []byte:
		*c.s = string(v)
	default:
		return fmt.Errorf("text column: unexpected %T", src)
	}
	return nil
}

// boolCol reads SQLite's 0/1 and PostgreSQL's boolean.
type boolCol struct{ b *bool }

func (c boolCol) Scan(src any) error {
	switch v := src.(type) {
	case bool:
		*c.b = v
	default:
		n, ok := toInt64(src)
		if !ok {
			return fmt.Errorf("bool column: unexpected %T", src)
		}
		*c.b = n != 0
	}
	return nil
}

// jsonCol decodes a JSON text column into v.
type jsonCol struct{ v any }

func (c jsonCol) Scan(src any) error {
	switch b := src.(type) {
	case string:
		return json.Unmarshal([]byte(b), c.v)
	case []byte:
		return json.Unmarshal(b, c.v)
	}
	return fmt.Errorf("json column: unexpected %T", src)
}

// rawJSONCol keeps a JSON column's text as it is.
type rawJSONCol struct{ p *json.RawMessage }

func (c rawJSONCol) Scan(src any) error {
	switch b := src.(type) {
	case string:
		*c.p = json.RawMessage(b)
	case []byte:
		*c.p = append(json.RawMessage(nil), b...)
	default:
		return fmt.Errorf("json column: unexpected %T", src)
	}
	return nil
}

type hashCol struct{ h *store.KeyHash }

func (c hashCol) Scan(src any) error {
	b, ok := src.([]byte)
	if !ok || len(b) != len(c.h) {
		return fmt.Errorf("hash column: unexpected %T of %d bytes", src, len(b))
	}
	copy(c.h[:], b)
	return nil
}

// jsonText encodes v (a Scopes: it cannot fail) as JSON text for a TEXT column.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("sqlstore: " + err.Error())
	}
	return string(b)
}
