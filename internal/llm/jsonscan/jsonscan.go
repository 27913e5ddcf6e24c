// Package jsonscan validates JSON in one pass and hands out the members of the top-level
// object as they are written, without decoding them. The hot paths of the LLM gateway use
// it where they relay JSON as it came and need only a few of its fields: a check that the
// bytes are JSON and a look at some keys cost one scan instead of a validation, a parse and
// a decode.
package jsonscan

import "encoding/binary"

// MaxDepth bounds the nesting of the values Members accepts, as encoding/json does; deeper
// JSON is reported as not valid, so that callers take their general path.
const MaxDepth = 10000

// Members reports whether data is one valid JSON value, surrounded by optional whitespace,
// nested at most MaxDepth deep. When the value is an object, fn is called for each of its
// members in order, with the key as written between its quotes (escapes kept) and the value
// as written. fn may be nil; it is called on a prefix of data before the whole is validated,
// so callers must discard what it gathered when Members reports false.
func Members(data []byte, fn func(key, value []byte)) bool {
	i := skipSpace(data, 0)
	if i < len(data) && data[i] == '{' {
		i = members(data, i+1, fn)
	} else {
		i = value(data, i, 0)
	}
	return i >= 0 && skipSpace(data, i) == len(data)
}

// Valid reports whether data is one valid JSON value (see Members).
func Valid(data []byte) bool { return Members(data, nil) }

// members scans the members of the top-level object from just after its '{', calling fn.
func members(d []byte, i int, fn func(key, value []byte)) int {
	i = skipSpace(d, i)
	if i < len(d) && d[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(d) || d[i] != '"' {
			return -1
		}
		ks := i + 1
		i = str(d, ks)
		if i < 0 {
			return -1
		}
		key := d[ks : i-1]
		i = skipSpace(d, i)
		if i >= len(d) || d[i] != ':' {
			return -1
		}
		vs := skipSpace(d, i+1)
		i = value(d, vs, 1)
		if i < 0 {
			return -1
		}
		if fn != nil {
			fn(key, d[vs:i])
		}
		i = skipSpace(d, i)
		if i >= len(d) {
			return -1
		}
		switch d[i] {
		case ',':
			i = skipSpace(d, i+1)
		case '}':
			return i + 1
		default:
			return -1
		}
	}
}

func skipSpace(d []byte, i int) int {
	for i < len(d) {
		switch d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// value validates the value starting at d[i] and returns the index just after it, -1 when
// it is not valid. depth counts the arrays and objects around it.
func value(d []byte, i, depth int) int {
	if i >= len(d) {
		return -1
	}
	switch c := d[i]; c {
	case '"':
		return str(d, i+1)
	case '{':
		if depth >= MaxDepth {
			return -1
		}
		return object(d, i+1, depth+1)
	case '[':
		if depth >= MaxDepth {
			return -1
		}
		return array(d, i+1, depth+1)
	case 't':
		return literal(d, i, "true")
	case 'f':
		return literal(d, i, "false")
	case 'n':
		return literal(d, i, "null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return number(d, i)
		}
	}
	return -1
}

func object(d []byte, i, depth int) int {
	i = skipSpace(d, i)
	if i < len(d) && d[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(d) || d[i] != '"' {
			return -1
		}
		if i = str(d, i+1); i < 0 {
			return -1
		}
		i = skipSpace(d, i)
		if i >= len(d) || d[i] != ':' {
			return -1
		}
		if i = value(d, skipSpace(d, i+1), depth); i < 0 {
			return -1
		}
		i = skipSpace(d, i)
		if i >= len(d) {
			return -1
		}
		switch d[i] {
		case ',':
			i = skipSpace(d, i+1)
		case '}':
			return i + 1
		default:
			return -1
		}
	}
}

func array(d []byte, i, depth int) int {
	i = skipSpace(d, i)
	if i < len(d) && d[i] == ']' {
		return i + 1
	}
	for {
		if i = value(d, i, depth); i < 0 {
			return -1
		}
		i = skipSpace(d, i)
		if i >= len(d) {
			return -1
		}
		switch d[i] {
		case ',':
			i = skipSpace(d, i+1)
		case ']':
			return i + 1
		default:
			return -1
		}
	}
}

// plain marks the bytes a string holds as they are: not a quote, a backslash or a control.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str validates a string from just after its opening quote; it returns the index just
// after the closing quote.
func str(d []byte, i int) int {
	for {
		// Eight bytes at a time while none of them is special, then byte by byte.
		for i+8 <= len(d) && !special8(binary.LittleEndian.Uint64(d[i:])) {
			i += 8
		}
		for i < len(d) && plain[d[i]] {
			i++
		}
		if i >= len(d) {
			return -1
		}
		switch d[i] {
		case '"':
			return i + 1
		case '\\':
			i++
			if i >= len(d) {
				return -1
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+4 >= len(d) || !hex(d[i+1]) || !hex(d[i+2]) || !hex(d[i+3]) || !hex(d[i+4]) {
					return -1
				}
				i += 5
			default:
				return -1
			}
		default: // a control character
			return -1
		}
	}
}

// special8 reports whether one of the eight bytes of x is a quote, a backslash or a
// control character (the tests of "Bit Twiddling Hacks": no byte is missed, and a byte is
// only flagged wrongly above one that is not plain, where the caller goes byte by byte).
func special8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := x ^ (ones * '"')
	b := x ^ (ones * '\\')
	return ((q-ones)&^q|(b-ones)&^b|(x-ones*0x20)&^x)&highs != 0
}

func hex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func literal(d []byte, i int, lit string) int {
	if len(d)-i < len(lit) || string(d[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// number validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func number(d []byte, i int) int {
	if d[i] == '-' {
		i++
	}
	if i >= len(d) {
		return -1
	}
	switch {
	case d[i] == '0':
		i++
	case d[i] >= '1' && d[i] <= '9':
		i = digits(d, i+1)
	default:
		return -1
	}
	if i < len(d) && d[i] == '.' {
		j := digits(d, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(d, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digits(d []byte, i int) int {
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		i++
	}
	return i
}

// SkipSpace returns the index of the first byte of d at or after i that is not JSON
// whitespace.
func SkipSpace(d []byte, i int) int { return skipSpace(d, i) }

// Value validates the value starting at d[i], inside depth arrays and objects, and returns
// the index just after it, -1 when it is not valid (or nests deeper than MaxDepth).
func Value(d []byte, i, depth int) int { return value(d, i, depth) }

// String validates a string from just after its opening quote at d[i-1] and returns the
// index just after its closing quote, -1 when it is not valid.
func String(d []byte, i int) int { return str(d, i) }

// First returns the first element of the array arr (as written), nil when arr is not an
// array or is empty. arr must be valid JSON.
func First(arr []byte) []byte {
	if len(arr) == 0 || arr[0] != '[' {
		return nil
	}
	i := skipSpace(arr, 1)
	if i >= len(arr) || arr[i] == ']' {
		return nil
	}
	end := value(arr, i, 1)
	if end < 0 {
		return nil
	}
	return arr[i:end]
}

// Get returns the value of the first member of the object obj whose key is written exactly
// as key, nil when there is none. known is false when the answer is uncertain: obj is not
// valid JSON, or a key is written with escapes (it might spell key once unescaped).
func Get(obj []byte, key string) (v []byte, known bool) {
	escaped := false
	valid := Members(obj, func(k, val []byte) {
		if v == nil && string(k) == key {
			v = val
		} else if !escaped {
			escaped = indexBackslash(k)
		}
	})
	return v, valid && !escaped
}

func indexBackslash(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}
