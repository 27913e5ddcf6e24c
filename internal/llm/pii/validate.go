package pii

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// before returns the byte before s[i], 0 at the start.
func before(s string, i int) byte {
	if i <= 0 {
		return 0
	}
	return s[i-1]
}

// after returns the byte at s[j], 0 at the end.
func after(s string, j int) byte {
	if j >= len(s) {
		return 0
	}
	return s[j]
}

// validBounded accepts a key-shaped match that is not part of a longer identifier.
func validBounded(s string, loc []int, _ int) (int, int, bool) {
	i, j := loc[0], loc[1]
	if isWordByte(before(s, i)) || isWordByte(after(s, j)) || after(s, j) == '-' {
		return 0, 0, false
	}
	return i, j, true
}

// validKeyToken accepts a bounded key whose random part (after prefix bytes) holds a
// letter and a digit: a slug like "sk-ant-my-notes-about-keys" is not a key.
func validKeyToken(prefix int) func(string, []int, int) (int, int, bool) {
	return func(s string, loc []int, g int) (int, int, bool) {
		i, j, ok := validBounded(s, loc, g)
		if !ok || !hasLetterAndDigit(s[i+prefix:j]) {
			return 0, 0, false
		}
		return i, j, true
	}
}

func validOpenAIKey(s string, loc []int, g int) (int, int, bool) {
	if strings.HasPrefix(s[loc[0]:], "sk-ant-") {
		return 0, 0, false
	}
	return validKeyToken(len("sk-"))(s, loc, g)
}

func hasLetterAndDigit(s string) bool {
	var l, d bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		d = d || isDigit(c)
		l = l || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	return l && d
}

// validAWSSecret accepts 40 base64 characters assigned to an AWS secret key name, mixed
// case and not longer.
func validAWSSecret(s string, loc []int, g int) (int, int, bool) {
	i, j := loc[2*g], loc[2*g+1]
	if c := after(s, j); isAlnum(c) || c == '/' || c == '+' || c == '=' {
		return 0, 0, false
	}
	v := s[i:j]
	if strings.ToLower(v) == v || strings.ToUpper(v) == v {
		return 0, 0, false
	}
	return i, j, true
}

// validJWT accepts header.payload.signature whose header decodes to a JSON object with
// "alg" and whose payload decodes to JSON.
func validJWT(s string, loc []int, _ int) (int, int, bool) {
	i, j := loc[0], loc[1]
	if isWordByte(before(s, i)) || after(s, j) == '.' || after(s, j) == '-' {
		return 0, 0, false
	}
	parts := strings.SplitN(s[i:j], ".", 3)
	h, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return 0, 0, false
	}
	var hdr map[string]any
	if json.Unmarshal(h, &hdr) != nil || hdr["alg"] == nil {
		return 0, 0, false
	}
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || !json.Valid(p) {
		return 0, 0, false
	}
	return i, j, true
}

// validGenericSecret accepts the value of a key/token/secret/password assignment when it
// looks random: passwords need 6+ bytes and a digit or symbol among two character classes;
// other names need 16+ bytes, a letter and a digit, and the entropy threshold. UUIDs,
// placeholders and already-redacted values are not secrets.
func validGenericSecret(threshold float64) func(string, []int, int) (int, int, bool) {
	return func(s string, loc []int, g int) (int, int, bool) {
		i, j := loc[2*g], loc[2*g+1]
		for j > i && (s[j-1] == '.' || s[j-1] == ':') { // sentence punctuation
			j--
		}
		v := s[i:j]
		name := strings.ToLower(s[loc[2]:loc[3]])
		if isPlaceholder(v) || isUUID(v) {
			return 0, 0, false
		}
		lower, upper, digit, other := classes(v)
		if strings.Contains(name, "pass") || strings.HasSuffix(name, "pwd") {
			n := b2i(lower) + b2i(upper) + b2i(digit) + b2i(other)
			return i, j, len(v) >= 6 && n >= 2 && (digit || other)
		}
		if len(v) < 16 || !digit || !(lower || upper) || entropy(v) < threshold {
			return 0, 0, false
		}
		return i, j, true
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func classes(v string) (lower, upper, digit, other bool) {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		case isDigit(c):
			digit = true
		default:
			other = true
		}
	}
	return
}

// isPlaceholder reports values that stand for a secret rather than being one.
func isPlaceholder(v string) bool {
	if strings.Contains(v, TokenOpen) || strings.HasPrefix(v, "$") || strings.HasPrefix(v, "%") ||
		strings.HasPrefix(v, "*") || strings.HasPrefix(v, "os.") || strings.HasPrefix(v, "process.env") {
		return true
	}
	l := strings.ToLower(v)
	for _, w := range [...]string{"xxxx", "****", "...", "your", "example", "placeholder", "changeme", "redacted", "dummy", "<"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// isUUID reports the 8-4-4-4-12 hex form.
func isUUID(v string) bool {
	if len(v) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := v[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !isDigit(c) && !(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// entropy returns the Shannon entropy of v in bits per byte.
func entropy(v string) float64 {
	var freq [256]int
	for i := 0; i < len(v); i++ {
		freq[v[i]]++
	}
	h, n := 0.0, float64(len(v))
	for _, f := range freq {
		if f > 0 {
			p := float64(f) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// validEmail checks the RFC 5321 lengths and that the address does not run on.
func validEmail(s string, loc []int, _ int) (int, int, bool) {
	i, j := loc[0], loc[1]
	m := s[i:j]
	at := strings.LastIndexByte(m, '@')
	if at > 64 || len(m) > 254 || isWordByte(after(s, j)) || after(s, j) == '-' || before(s, i) == '.' {
		return 0, 0, false
	}
	return i, j, true
}

// ibanLen is the length of an IBAN by country (the SWIFT IBAN registry).
var ibanLen = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
	"BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
	"DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
	"GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
	"IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
	"LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
	"MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
	"PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
	"SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
	"TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}

// validIBAN takes the country's length of characters from the match (single spaces
// allowed between them) and checks the mod-97 remainder.
func validIBAN(s string, loc []int, _ int) (int, int, bool) {
	i := loc[0]
	if isWordByte(before(s, i)) {
		return 0, 0, false
	}
	n, ok := ibanLen[s[i:i+2]]
	if !ok {
		return 0, 0, false
	}
	var buf [34]byte
	k, j := 0, i
	for ; j < loc[1] && k < n; j++ {
		if s[j] != ' ' {
			buf[k] = s[j]
			k++
		}
	}
	if k < n || isWordByte(after(s, j)) {
		return 0, 0, false
	}
	if !mod97(buf[:n]) {
		return 0, 0, false
	}
	return i, j, true
}

// mod97 reports whether the IBAN in b (compact, upper case) has remainder 1.
func mod97(b []byte) bool {
	rem := 0
	add := func(c byte) {
		if isDigit(c) {
			rem = (rem*10 + int(c-'0')) % 97
		} else {
			v := int(c-'A') + 10
			rem = (rem*100 + v) % 97
		}
	}
	for _, c := range b[4:] {
		add(c)
	}
	for _, c := range b[:4] {
		add(c)
	}
	return rem == 1
}

// cardSpans finds, among the digit groups of a candidate, the card numbers: from left to
// right, the longest run of whole groups that has 13 to 19 digits, is either ungrouped or
// in groups of one separator kind whose first group has 4 digits and the others 3 to 6,
// passes Luhn and (unless anyIIN) starts with a known network prefix.
func cardSpans(anyIIN bool) func(string, []int) [][2]int {
	return func(s string, loc []int) [][2]int {
		start, end := loc[0], loc[1]
		if isWordByte(before(s, start)) || before(s, start) == '.' && isDigit(before(s, start-1)) {
			return nil
		}
		type grp struct{ s, e int }
		var gs []grp
		for i := start; i < end; {
			j := i
			for j < end && isDigit(s[j]) {
				j++
			}
			gs = append(gs, grp{i, j})
			i = j + 1 // skip one separator
		}
		var out [][2]int
		var digits [19]byte
		for a := 0; a < len(gs); a++ {
			best, n := -1, 0
			for b := a; b < len(gs); b++ {
				n += gs[b].e - gs[b].s
				if n > 19 {
					break
				}
				if n < 13 {
					continue
				}
				ws, we := gs[a].s, gs[b].e
				if c := after(s, we); isWordByte(c) || (c == '.' || c == ',') && isDigit(after(s, we+1)) {
					continue
				}
				if a > 0 && before(s, ws) == '-' { // part of a dashed run such as an id
					continue
				}
				if b > a {
					if gs[a].e-gs[a].s != 4 {
						continue
					}
					sep, ok := s[gs[a].e], true
					for x := a + 1; x <= b && ok; x++ {
						l := gs[x].e - gs[x].s
						ok = s[gs[x].s-1] == sep && l >= 3 && l <= 6
					}
					if !ok {
						continue
					}
				}
				k := 0
				for x := a; x <= b; x++ {
					k += copy(digits[k:], s[gs[x].s:gs[x].e])
				}
				if !luhn(digits[:k]) || !anyIIN && !knownIIN(digits[:k]) || allSame(digits[:k]) {
					continue
				}
				best = b
			}
			if best >= 0 {
				out = append(out, [2]int{gs[a].s, gs[best].e})
				a = best
			}
		}
		return out
	}
}

// luhn reports whether the digits pass the Luhn (mod 10) check.
func luhn(d []byte) bool {
	sum, dbl := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if dbl {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		dbl = !dbl
	}
	return sum%10 == 0
}

// knownIIN reports whether the number starts like a card of a known network: Visa 4,
// Mastercard 51-55 and 2221-2720, Mir 2200-2204, Amex 34/37, Diners 300-305/3095/36/38/39,
// JCB 3528-3589, Maestro/Discover/UnionPay/RuPay 5x and 6x, UATP 1 is excluded on purpose
// (rare, and it would let many order numbers through), RuPay/UnionPay 81-82.
func knownIIN(d []byte) bool {
	p2, _ := strconv.Atoi(string(d[:2]))
	p4, _ := strconv.Atoi(string(d[:4]))
	switch d[0] {
	case '4', '5', '6':
		return true
	case '2':
		return p4 >= 2200 && p4 <= 2204 || p4 >= 2221 && p4 <= 2720
	case '3':
		return p2 == 34 || p2 == 37 || p2 == 36 || p2 == 38 || p2 == 39 ||
			p4 >= 3000 && p4 <= 3059 || p4 == 3095 || p4 >= 3528 && p4 <= 3589
	case '8':
		return p2 == 81 || p2 == 82
	}
	return false
}

func allSame(d []byte) bool {
	for _, c := range d {
		if c != d[0] {
			return false
		}
	}
	return true
}

// validSSN excludes the numbers the SSA never issues: area 000, 666 and 900-999, group
// 00, serial 0000, and the well-known advertising numbers.
func validSSN(s string, loc []int, g int) (int, int, bool) {
	i, j := loc[2*g], loc[2*g+1]
	if c := before(s, i); c == '-' || c == '.' {
		return 0, 0, false
	}
	if c := after(s, j); (c == '-' || c == '.') && isDigit(after(s, j+1)) {
		return 0, 0, false
	}
	var d [9]byte
	k := 0
	for x := i; x < j; x++ {
		if isDigit(s[x]) {
			d[k] = s[x]
			k++
		}
	}
	area, grp, ser := string(d[:3]), string(d[3:5]), string(d[5:])
	if area == "000" || area == "666" || d[0] == '9' || grp == "00" || ser == "0000" {
		return 0, 0, false
	}
	switch string(d[:]) {
	case "078051120", "219099999", "457555462":
		return 0, 0, false
	}
	return i, j, true
}

// validNINO excludes the prefixes HMRC never allocates.
func validNINO(s string, loc []int, _ int) (int, int, bool) {
	switch s[loc[0] : loc[0]+2] {
	case "BG", "GB", "KN", "NK", "NT", "TN", "ZZ":
		return 0, 0, false
	}
	return loc[0], loc[1], true
}

// validDNI checks the control letter of a Spanish DNI (8 digits) or NIE (X/Y/Z and 7
// digits): "TRWAGMYFPDXBNJZSQVHLCKE"[number mod 23].
func validDNI(s string, loc []int, _ int) (int, int, bool) {
	m := s[loc[0]:loc[1]]
	n := 0
	for i := 0; i < len(m)-1; i++ {
		switch c := m[i]; {
		case isDigit(c):
			n = n*10 + int(c-'0')
		case c == 'X', c == 'Y', c == 'Z':
			n = int(c - 'X')
		}
	}
	if "TRWAGMYFPDXBNJZSQVHLCKE"[n%23] != m[len(m)-1] {
		return 0, 0, false
	}
	return loc[0], loc[1], true
}

// validNIR checks a French social security number: sex 1/2, a plausible month (01-12,
// or 20-42 and 50-99 used for unknown births), and the key 97 - (number mod 97), with
// Corsica's 2A and 2B read as 19 and 18.
func validNIR(s string, loc []int, _ int) (int, int, bool) {
	var d []byte
	for i := loc[0]; i < loc[1]; i++ {
		if s[i] != ' ' {
			d = append(d, s[i])
		}
	}
	if len(d) != 15 {
		return 0, 0, false
	}
	month, _ := strconv.Atoi(string(d[3:5]))
	if !(month >= 1 && month <= 12 || month >= 20 && month <= 42 || month >= 50 && month <= 99) {
		return 0, 0, false
	}
	body := string(d[:13])
	switch string(d[5:7]) {
	case "2A":
		body = body[:5] + "19" + body[7:]
	case "2B":
		body = body[:5] + "18" + body[7:]
	}
	n, err := strconv.ParseInt(body, 10, 64)
	key, err2 := strconv.Atoi(string(d[13:]))
	if err != nil || err2 != nil || int(97-n%97) != key {
		return 0, 0, false
	}
	return loc[0], loc[1], true
}

// validIPv4 parses the address (no octet above 255, no leading zeros) and rejects a
// dotted run that goes on, such as "10.0.0.0.1" or "1.2.3.4.5".
func validIPv4(s string, loc []int, _ int) (int, int, bool) {
	i, j := loc[0], loc[1]
	if before(s, i) == '.' || after(s, j) == '.' && isDigit(after(s, j+1)) {
		return 0, 0, false
	}
	if _, err := netip.ParseAddr(s[i:j]); err != nil {
		return 0, 0, false
	}
	return i, j, true
}

// validIPv6 parses the address and asks for the shapes of real addresses: "::" or eight
// groups, and at least one decimal digit (so that "dead::beef" or "a::b" in code is not an
// address).
func validIPv6(s string, loc []int, _ int) (int, int, bool) {
	i, j := loc[0], loc[1]
	if c := before(s, i); isWordByte(c) || c == '.' || c == ':' {
		return 0, 0, false
	}
	if c := after(s, j); isWordByte(c) || c == ':' {
		return 0, 0, false
	}
	if j-i > 2 && s[j-1] == ':' && s[j-2] != ':' { // "fe80::1: ..." ends a sentence part
		j--
	}
	for j > i && s[j-1] == '.' {
		j--
	}
	m := s[i:j]
	if !strings.Contains(m, "::") && strings.Count(m, ":") != 7 || strings.IndexAny(m, "0123456789") < 0 {
		return 0, 0, false
	}
	a, err := netip.ParseAddr(m)
	if err != nil || !a.Is6() {
		return 0, 0, false
	}
	return i, j, true
}

// Phone heuristics. A candidate is digits with spaces, dots, dashes and parentheses,
// optionally after '+'. It is a phone number when:
//   - it starts with '+' (or 00) and has 8 to 15 digits (E.164), or
//   - it is a North American number, 3-3-4 digits (optionally after a 1) with separators,
//     area code and exchange starting with 2-9, or
//   - it is a national number with a trunk 0: 9 to 11 digits in at least two groups of two
//     or more (UK 020 7946 0958, FR 01 23 45 67 89, DE 030 1234567), or
//   - a phone word (phone, tel, mobile, call, fax, ...) comes just before it and it has 7 to
//     15 digits.
//
// It is not when it looks like a date (2024-01-15, 15.01.2024), a decimal number, a
// run of the same digit, when it follows '#' or a word character, or when an order,
// invoice, tracking or serial word comes just before it without a phone word.
func validPhone(s string, loc []int, _ int) (int, int, bool) {
	i, j := loc[0], loc[1]
	switch c := before(s, i); {
	case isWordByte(c), c == '.', c == '/', c == '#', c == '$', c == '@', c == '-', c == '+', c == '%':
		return 0, 0, false
	}
	switch c := after(s, j); {
	case isWordByte(c), c == '%':
		return 0, 0, false
	case c == '/' || c == '.' || c == '-' || c == ',':
		if isDigit(after(s, j+1)) {
			return 0, 0, false
		}
	}
	m := s[i:j]
	plus := m[0] == '+'
	var glen []int // digit group lengths
	var d []byte
	var seps []byte
	open, closed, sepRun := 0, 0, 0
	for k := 0; k < len(m); k++ {
		c := m[k]
		switch {
		case isDigit(c):
			if sepRun > 0 || len(glen) == 0 {
				glen = append(glen, 0)
			}
			glen[len(glen)-1]++
			d = append(d, c)
			sepRun = 0
		case c == '+':
		default:
			if c == '(' {
				open++
				if closed > 0 {
					return 0, 0, false
				}
			}
			if c == ')' {
				closed++
				if open == 0 {
					return 0, 0, false
				}
			}
			if len(d) > 0 {
				sepRun++
				if sepRun > 2 {
					return 0, 0, false
				}
				seps = append(seps, c)
			}
		}
	}
	if open != closed || open > 1 || len(d) < 7 || len(d) > 17 || allSame(d) {
		return 0, 0, false
	}
	if looksLikeDate(glen, seps) {
		return 0, 0, false
	}
	if len(glen) == 2 && len(seps) == 1 && seps[0] == '.' { // a decimal number
		return 0, 0, false
	}
	ctx := strings.ToLower(s[max(0, i-32):i])
	if plus {
		return i, j, len(d) >= 8 && len(d) <= 15 && d[0] != '0'
	}
	if d[0] == '0' && d[1] == '0' && d[2] != '0' && len(d) >= 10 && len(glen) >= 2 {
		return i, j, true
	}
	if hasAny(ctx, phoneWords) {
		return i, j, len(d) <= 15
	}
	if hasAny(ctx, notPhoneWords) {
		return 0, 0, false
	}
	switch {
	case len(d) == 10 && len(glen) == 3 && glen[0] == 3 && glen[1] == 3 && glen[2] == 4:
		return i, j, d[0] >= '2' && d[3] >= '2'
	case len(d) == 11 && len(glen) == 4 && d[0] == '1' && glen[0] == 1 && glen[1] == 3 && glen[2] == 3 && glen[3] == 4:
		return i, j, d[1] >= '2' && d[4] >= '2'
	case d[0] == '0' && d[1] != '0' && len(d) >= 9 && len(d) <= 11 && len(glen) >= 2:
		for _, l := range glen {
			if l < 2 {
				return 0, 0, false
			}
		}
		return i, j, true
	}
	return 0, 0, false
}

var (
	phoneWords    = []string{"phone", "tel", "mobile", "cell", "fax", "call", "whatsapp", "sms", "mob.", "ph.", "contact", "telefon", "téléphone", "portable"}
	notPhoneWords = []string{"order", "invoice", "tracking", "serial", "sku", "isbn", "ticket", "ref", "account", "po "}
)

func hasAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// looksLikeDate reports the digit groupings of dates: 4-2-2, 2-2-4, 1/2-1/2-4 and with
// a time after them, joined by '-', '.' or '/'.
func looksLikeDate(g []int, seps []byte) bool {
	if len(g) < 3 {
		return false
	}
	dateSep := false
	for _, c := range seps {
		if c == '-' || c == '.' || c == '/' {
			dateSep = true
		}
	}
	if !dateSep {
		return false
	}
	return g[0] == 4 && g[1] <= 2 && g[2] <= 2 || g[0] <= 2 && g[1] <= 2 && g[2] == 4
}
