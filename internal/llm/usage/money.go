package usage

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Money is an amount of US dollars in picodollars (1e-12 USD).
//
// Why picodollars: providers quote prices per 1M tokens with up to four or five
// decimal places ($0.0375, $0.01875). One picodollar per token is $0.000001 per
// 1M tokens, so every price anyone quotes is exact per token, and a rounded
// per-call cost is off by at most a few picodollars. Nanodollars would already
// round $0.01875/1M (18.75 n$ per token).
//
// Why int64 is enough: the largest value is about 9.22e18 pUSD = $9,223,372.04.
// The most expensive list price today is in the hundreds of dollars per 1M
// output tokens, so one call would need around 1e10 tokens to overflow, four
// orders of magnitude above any context window. Cost saturates at MaxMoney
// rather than wrapping. Sums over many calls (a tenant's monthly spend) can
// exceed $9.2M in principle: store those in a coarser unit (see StringFixed) or
// a wider type, not as a running Money.
//
// There is no float64 anywhere in this type or in cost arithmetic: prices are
// parsed from decimal text and multiplied with 128-bit integer intermediates.
type Money int64

// Units of Money.
const (
	Picodollar  Money = 1
	Nanodollar  Money = 1e3
	Microdollar Money = 1e6
	Cent        Money = 1e10
	Dollar      Money = 1e12

	// MaxMoney is the largest representable amount; Cost saturates at it.
	MaxMoney Money = math.MaxInt64
)

// moneyScale is the number of decimal places of one Dollar in Money units.
const moneyScale = 12

// ErrInvalidMoney is wrapped by every ParseMoney error.
var ErrInvalidMoney = errors.New("invalid money")

// ParseMoney parses a plain decimal amount of USD: an optional '-', one or more
// digits, then optionally '.' and one to twelve digits ("0.15", "2.50",
// "-3", "0.000000000001").
//
// Everything else is rejected rather than guessed at: exponents ("2.5e-6"),
// because a price file is read by people and "2.5e-6" per 1M is an easy
// thousand-fold mistake; more than twelve decimal places, because silently
// rounding a price is a billing error; currency signs, spaces, '+', "1." and
// ".5".
func ParseMoney(s string) (Money, error) {
	m, msg := parseMoney(s)
	if msg != "" {
		return 0, fmt.Errorf("%w %q: %s", ErrInvalidMoney, s, msg)
	}
	return m, nil
}

// parseMoney returns a reason instead of an error so the hot path of a valid
// amount does not build one.
func parseMoney(s string) (Money, string) {
	if s == "" {
		return 0, "empty"
	}
	neg := false
	rest := s
	if rest[0] == '-' {
		neg = true
		rest = rest[1:]
	}
	if looksExponent(rest) {
		return 0, "exponent notation is not allowed; write a plain decimal such as 0.0000025"
	}
	intPart, frac, hasDot := strings.Cut(rest, ".")
	if intPart == "" {
		return 0, "want digits before the decimal point"
	}
	if hasDot && frac == "" {
		return 0, "want digits after the decimal point"
	}
	if i := strings.IndexFunc(intPart, notDigit); i >= 0 {
		return 0, unexpected(intPart[i:], len(s)-len(rest)+i)
	}
	if i := strings.IndexFunc(frac, notDigit); i >= 0 {
		return 0, unexpected(frac[i:], len(s)-len(frac)+i)
	}
	if len(frac) > moneyScale {
		return 0, "more than 12 decimal places (the smallest unit is 1e-12 USD)"
	}

	// Accumulate the magnitude in uint64 with overflow checks; the bound is
	// MaxInt64 for both signs so that every parsed value can be negated.
	var u uint64
	for _, c := range intPart + frac + strings.Repeat("0", moneyScale-len(frac)) {
		d := uint64(c - '0')
		if u > (math.MaxInt64-d)/10 {
			return 0, "out of range (the largest amount is 9223372.036854775807)"
		}
		u = u*10 + d
	}
	if neg {
		return -Money(u), ""
	}
	return Money(u), ""
}

func notDigit(r rune) bool { return r < '0' || r > '9' }

// looksExponent reports whether s is a number in exponent notation ("2.5e-6",
// "1E3"), which deserves its own message rather than "unexpected 'e'".
func looksExponent(s string) bool {
	if !strings.ContainsAny(s, "eE") {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return notDigit(r) && !strings.ContainsRune(".eE+-", r)
	}) < 0
}

func unexpected(rest string, offset int) string {
	r, _ := utf8.DecodeRuneInString(rest)
	return fmt.Sprintf("unexpected %q at offset %d", r, offset)
}

// String formats m as a decimal USD amount with no trailing zeros and no
// currency sign: "2.5", "0.000015", "-1", "0". The output parses back to m.
func (m Money) String() string {
	whole, frac, neg := m.split()
	var buf [40]byte // a sign, 20 digits, a point and 12 digits: on the stack
	b := buf[:0]
	if neg {
		b = append(b, '-')
	}
	b = strconv.AppendUint(b, whole, 10)
	if frac != 0 {
		// The 12 digits of the fraction, zero-padded, without the trailing zeros (the
		// cost header is written on every call: no fmt here).
		var digits [moneyScale]byte
		for i := moneyScale - 1; i >= 0; i-- {
			digits[i] = byte('0' + frac%10)
			frac /= 10
		}
		end := moneyScale
		for digits[end-1] == '0' {
			end--
		}
		b = append(b, '.')
		b = append(b, digits[:end]...)
	}
	return string(b)
}

// StringFixed formats m with exactly places decimal places (0 to 12),
// rounding half away from zero: the rule invoices and dashboards use, so that
// $0.005 shows as "0.01" and -$0.005 as "-0.01". Out-of-range places are
// clamped.
func (m Money) StringFixed(places int) string {
	places = min(max(places, 0), moneyScale)
	u := m.abs()
	unit := pow10(moneyScale - places)
	q, r := u/unit, u%unit
	if r >= unit-r { // r*2 >= unit without overflow
		q++
	}
	var b []byte
	if m < 0 && q != 0 {
		b = append(b, '-')
	}
	scale := pow10(places)
	b = strconv.AppendUint(b, q/scale, 10)
	if places > 0 {
		b = append(b, '.')
		b = append(b, fmt.Sprintf("%0*d", places, q%scale)...)
	}
	return string(b)
}

// MarshalText implements encoding.TextMarshaler, so Money is a JSON string
// ("0.0025") and never passes through a JSON float.
func (m Money) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseMoney's rules.
func (m *Money) UnmarshalText(b []byte) error {
	v, err := ParseMoney(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// abs returns |m| as uint64, which also holds |MinInt64|.
func (m Money) abs() uint64 {
	if m < 0 {
		return uint64(-m) // two's complement: correct even for MinInt64
	}
	return uint64(m)
}

func (m Money) split() (whole, frac uint64, neg bool) {
	u := m.abs()
	return u / uint64(Dollar), u % uint64(Dollar), m < 0
}

func pow10(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}
