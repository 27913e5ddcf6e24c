package accesslog

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// defaultTimeLayout is Envoy's default START_TIME format, %Y-%m-%dT%H:%M:%E3SZ, as a Go layout.
const defaultTimeLayout = "2006-01-02T15:04:05.000Z"

// timeFormat is a compiled strftime format for %START_TIME(...)%. Times are always
// rendered in UTC, as Envoy does.
type timeFormat struct {
	parts []timePart
}

type timePart struct {
	kind tpKind
	n    int    // digits for tpFrac
	lit  string // text for tpLit
}

type tpKind uint8

const (
	tpLit          tpKind = iota
	tpYear                // %Y: 2016
	tpYear2               // %y: 16
	tpCentury             // %C: 20
	tpMonth               // %m: 04
	tpMonthShort          // %b %h: Apr
	tpMonthLong           // %B: April
	tpDay                 // %d: 05
	tpDaySpace            // %e: " 5"
	tpYearDay             // %j: 106
	tpHour                // %H: 20
	tpHour12              // %I: 08
	tpAMPM                // %p: PM
	tpMinute              // %M: 17
	tpSecond              // %S: 00
	tpFrac                // %f %1f..%9f: fraction of the second, n digits
	tpEpoch               // %s: seconds since the epoch
	tpWeekdayShort        // %a: Fri
	tpWeekdayLong         // %A: Friday
	tpWeekdayMon          // %u: 1..7, Monday is 1
	tpWeekdaySun          // %w: 0..6, Sunday is 0
	tpWeekSun             // %U: week of the year, weeks start on Sunday
	tpWeekMon             // %W: week of the year, weeks start on Monday
	tpISOYear             // %G
	tpISOWeek             // %V
)

// compileTime compiles a strftime format. base is the offset of spec in the whole format
// string, for error messages.
func compileTime(spec string, base int) (*timeFormat, error) {
	tf := &timeFormat{}
	var lit []byte
	add := func(kinds ...tpKind) {
		if len(lit) > 0 {
			tf.parts = append(tf.parts, timePart{kind: tpLit, lit: string(lit)})
			lit = lit[:0]
		}
		for _, k := range kinds {
			tf.parts = append(tf.parts, timePart{kind: k})
		}
	}
	addFrac := func(n int) {
		add()
		tf.parts = append(tf.parts, timePart{kind: tpFrac, n: n})
	}
	for i := 0; i < len(spec); i++ {
		c := spec[i]
		if c != '%' {
			lit = append(lit, c)
			continue
		}
		at := i
		if i+1 >= len(spec) {
			return nil, fmt.Errorf("accesslog: START_TIME format ends in a bare %% at offset %d", base+at)
		}
		i++
		switch c = spec[i]; c {
		case '%':
			lit = append(lit, '%')
		case 'n':
			lit = append(lit, '\n')
		case 't':
			lit = append(lit, '\t')
		case 'z':
			lit = append(lit, "+0000"...)
		case 'Z':
			lit = append(lit, "UTC"...)
		case 'Y':
			add(tpYear)
		case 'y':
			add(tpYear2)
		case 'C':
			add(tpCentury)
		case 'm':
			add(tpMonth)
		case 'b', 'h':
			add(tpMonthShort)
		case 'B':
			add(tpMonthLong)
		case 'd':
			add(tpDay)
		case 'e':
			add(tpDaySpace)
		case 'j':
			add(tpYearDay)
		case 'H':
			add(tpHour)
		case 'I':
			add(tpHour12)
		case 'p':
			add(tpAMPM)
		case 'M':
			add(tpMinute)
		case 'S':
			add(tpSecond)
		case 's':
			add(tpEpoch)
		case 'f':
			addFrac(9)
		case 'a':
			add(tpWeekdayShort)
		case 'A':
			add(tpWeekdayLong)
		case 'u':
			add(tpWeekdayMon)
		case 'w':
			add(tpWeekdaySun)
		case 'U':
			add(tpWeekSun)
		case 'W':
			add(tpWeekMon)
		case 'G':
			add(tpISOYear)
		case 'V':
			add(tpISOWeek)
		case 'F': // %Y-%m-%d
			add(tpYear)
			lit = append(lit, '-')
			add(tpMonth)
			lit = append(lit, '-')
			add(tpDay)
		case 'T', 'X': // %H:%M:%S
			add(tpHour)
			lit = append(lit, ':')
			add(tpMinute)
			lit = append(lit, ':')
			add(tpSecond)
		case 'R': // %H:%M
			add(tpHour)
			lit = append(lit, ':')
			add(tpMinute)
		case 'r': // %I:%M:%S %p
			add(tpHour12)
			lit = append(lit, ':')
			add(tpMinute)
			lit = append(lit, ':')
			add(tpSecond)
			lit = append(lit, ' ')
			add(tpAMPM)
		case 'D', 'x': // %m/%d/%y
			add(tpMonth)
			lit = append(lit, '/')
			add(tpDay)
			lit = append(lit, '/')
			add(tpYear2)
		case 'c': // %a %b %e %H:%M:%S %Y
			add(tpWeekdayShort)
			lit = append(lit, ' ')
			add(tpMonthShort)
			lit = append(lit, ' ')
			add(tpDaySpace)
			lit = append(lit, ' ')
			add(tpHour)
			lit = append(lit, ':')
			add(tpMinute)
			lit = append(lit, ':')
			add(tpSecond)
			lit = append(lit, ' ')
			add(tpYear)
		case ':':
			if i+1 < len(spec) && spec[i+1] == 'z' {
				i++
				lit = append(lit, "+00:00"...)
				break
			}
			return nil, unknownSpec(spec[at:i+1], base+at)
		case '1', '2', '3', '4', '5', '6', '7', '8', '9':
			if i+1 < len(spec) && spec[i+1] == 'f' {
				i++
				addFrac(int(c - '0'))
				break
			}
			return nil, unknownSpec(spec[at:i+1], base+at)
		case 'E': // absl extensions: %E<n>S, %E4Y, %Ez
			switch {
			case i+2 < len(spec) && spec[i+1] >= '1' && spec[i+1] <= '9' && spec[i+2] == 'S':
				add(tpSecond)
				lit = append(lit, '.')
				addFrac(int(spec[i+1] - '0'))
				i += 2
			case i+2 < len(spec) && spec[i+1] == '4' && spec[i+2] == 'Y':
				add(tpYear)
				i += 2
			case i+1 < len(spec) && spec[i+1] == 'z':
				lit = append(lit, "+00:00"...)
				i++
			default:
				end := min(i+2, len(spec))
				return nil, unknownSpec(spec[at:end], base+at)
			}
		default:
			return nil, unknownSpec(spec[at:i+1], base+at)
		}
	}
	add()
	return tf, nil
}

func unknownSpec(spec string, offset int) error {
	return fmt.Errorf("accesslog: unknown START_TIME specifier %s at offset %d", spec, offset)
}

var (
	shortDays   = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	longDays    = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	shortMonths = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	longMonths  = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	pow10       = [...]int{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000}
)

// jsonSafe reports whether the rendered time never needs JSON escaping: the literals are
// plain ASCII (names of days and months and the digits are).
func (tf *timeFormat) jsonSafe() bool {
	for _, p := range tf.parts {
		if p.kind != tpLit {
			continue
		}
		for i := 0; i < len(p.lit); i++ {
			if c := p.lit[i]; c >= utf8.RuneSelf || asciiEsc[c] != 1 {
				return false
			}
		}
	}
	return true
}

// appendDefaultTime renders t in UTC as 2016-04-15T20:17:00.310Z (defaultTimeLayout),
// faster than time.AppendFormat.
func appendDefaultTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, defaultTimeLayout)
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	b := [24]byte{
		byte('0' + year/1000), byte('0' + year/100%10), byte('0' + year/10%10), byte('0' + year%10), '-',
		byte('0' + month/10), byte('0' + month%10), '-',
		byte('0' + day/10), byte('0' + day%10), 'T',
		byte('0' + hour/10), byte('0' + hour%10), ':',
		byte('0' + minute/10), byte('0' + minute%10), ':',
		byte('0' + sec/10), byte('0' + sec%10), '.',
		byte('0' + ms/100), byte('0' + ms/10%10), byte('0' + ms%10), 'Z',
	}
	return append(dst, b[:]...)
}

// appendTime renders t (in UTC) into dst without allocating.
func (tf *timeFormat) appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	for i := range tf.parts {
		p := &tf.parts[i]
		switch p.kind {
		case tpLit:
			dst = append(dst, p.lit...)
		case tpYear:
			if year >= 0 && year < 10000 {
				dst = appendPadded(dst, year, 4)
			} else {
				dst = strconv.AppendInt(dst, int64(year), 10)
			}
		case tpYear2:
			dst = appendPadded(dst, mod(year, 100), 2)
		case tpCentury:
			dst = appendPadded(dst, floorDiv(year, 100), 2)
		case tpMonth:
			dst = appendPadded(dst, int(month), 2)
		case tpMonthShort:
			dst = append(dst, shortMonths[month-1]...)
		case tpMonthLong:
			dst = append(dst, longMonths[month-1]...)
		case tpDay:
			dst = appendPadded(dst, day, 2)
		case tpDaySpace:
			if day < 10 {
				dst = append(dst, ' ')
			}
			dst = strconv.AppendInt(dst, int64(day), 10)
		case tpYearDay:
			dst = appendPadded(dst, t.YearDay(), 3)
		case tpHour:
			dst = appendPadded(dst, hour, 2)
		case tpHour12:
			h := hour % 12
			if h == 0 {
				h = 12
			}
			dst = appendPadded(dst, h, 2)
		case tpAMPM:
			if hour < 12 {
				dst = append(dst, "AM"...)
			} else {
				dst = append(dst, "PM"...)
			}
		case tpMinute:
			dst = appendPadded(dst, minute, 2)
		case tpSecond:
			dst = appendPadded(dst, sec, 2)
		case tpFrac:
			dst = appendPadded(dst, t.Nanosecond()/pow10[9-p.n], p.n)
		case tpEpoch:
			dst = strconv.AppendInt(dst, t.Unix(), 10)
		case tpWeekdayShort:
			dst = append(dst, shortDays[t.Weekday()]...)
		case tpWeekdayLong:
			dst = append(dst, longDays[t.Weekday()]...)
		case tpWeekdayMon:
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			dst = strconv.AppendInt(dst, int64(wd), 10)
		case tpWeekdaySun:
			dst = strconv.AppendInt(dst, int64(t.Weekday()), 10)
		case tpWeekSun:
			dst = appendPadded(dst, (t.YearDay()-1+7-int(t.Weekday()))/7, 2)
		case tpWeekMon:
			dst = appendPadded(dst, (t.YearDay()-1+7-(int(t.Weekday())+6)%7)/7, 2)
		case tpISOYear:
			y, _ := t.ISOWeek()
			dst = strconv.AppendInt(dst, int64(y), 10)
		case tpISOWeek:
			_, w := t.ISOWeek()
			dst = appendPadded(dst, w, 2)
		}
	}
	return dst
}

// appendPadded appends a non-negative v zero-padded to width digits.
func appendPadded(dst []byte, v, width int) []byte {
	if v < 0 {
		return strconv.AppendInt(dst, int64(v), 10)
	}
	var b [20]byte
	i := len(b)
	for v >= 10 || width > 1 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		width--
	}
	i--
	b[i] = byte('0' + v)
	return append(dst, b[i:]...)
}

func mod(a, b int) int {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
