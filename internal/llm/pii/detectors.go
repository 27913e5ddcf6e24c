package pii

import (
	"regexp"
	"strings"
)

// detector is one kind of PII: regexps that find candidates, a cheap prefilter that
// skips the regexps when the text cannot hold a match, and a validator that checks what
// the regexp cannot (checksums, ranges, context) and may narrow the span.
type detector struct {
	name  string
	label string
	res   []pattern
	pre   func(*prefilter) bool
	// win, when set, narrows the regexps to windows of the text around the places
	// the prefilter found (digit runs, '@'...), so that a long text costs one cheap scan.
	win func(*prefilter) []window
	// scan, when set, replaces the regexps: it returns submatch locations as a regexp would.
	scan  func(s string) [][]int
	valid func(s string, loc []int, group int) (start, end int, ok bool)
	// multi, when set, replaces valid for candidates that can hold several values
	// (card numbers in one run of digit groups).
	multi func(s string, loc []int) [][2]int
	mode  Mode
}

// window is a part of the text, s[start:end], that a detector's regexps search.
type window struct{ start, end int }

type pattern struct {
	re    *regexp.Regexp
	group int // the submatch replaced; 0 is the whole match
}

// Detector names, in priority order: when two matches overlap, the earlier detector wins
// (custom patterns come before all of these), then the longer match.
const (
	DetPrivateKey    = "private_key"
	DetJWT           = "jwt"
	DetAnthropicKey  = "anthropic_key"
	DetOpenAIKey     = "openai_key"
	DetAWSAccessKey  = "aws_access_key"
	DetAWSSecretKey  = "aws_secret_key"
	DetGitHubToken   = "github_token"
	DetSlackToken    = "slack_token"
	DetGoogleAPIKey  = "google_api_key"
	DetGenericSecret = "generic_secret"
	DetEmail         = "email"
	DetIBAN          = "iban"
	DetCard          = "card"
	DetSSN           = "ssn"
	DetUKNINO        = "uk_nino"
	DetESDNI         = "es_dni"
	DetFRNIR         = "fr_nir"
	DetIPv4          = "ipv4"
	DetIPv6          = "ipv6"
	DetPhone         = "phone"
)

var groups = map[string][]string{
	"all": {DetPrivateKey, DetJWT, DetAnthropicKey, DetOpenAIKey, DetAWSAccessKey, DetAWSSecretKey,
		DetGitHubToken, DetSlackToken, DetGoogleAPIKey, DetGenericSecret, DetEmail, DetIBAN, DetCard,
		DetSSN, DetUKNINO, DetESDNI, DetFRNIR, DetIPv4, DetIPv6, DetPhone},
	"secrets": {DetPrivateKey, DetJWT, DetAnthropicKey, DetOpenAIKey, DetAWSAccessKey, DetAWSSecretKey,
		DetGitHubToken, DetSlackToken, DetGoogleAPIKey, DetGenericSecret},
	"national_id": {DetSSN, DetUKNINO, DetESDNI, DetFRNIR},
	"ip":          {DetIPv4, DetIPv6},
}

var (
	rePrivateKey = regexp.MustCompile(`-----BEGIN[A-Z0-9 ]* PRIVATE KEY(?: BLOCK)?-----(?:(?s:.*?)-----END[A-Z0-9 ]* PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\:,-]*)`)
	reJWT        = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*`)
	reAnthropic  = regexp.MustCompile(`sk-ant-[A-Za-z0-9_-]{20,}`)
	reOpenAI     = regexp.MustCompile(`sk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,}`)
	reAWSAccess  = regexp.MustCompile(`(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}`)
	reAWSSecret  = regexp.MustCompile(`(?i)(?:aws[_.\- ]?)?secret[_.\- ]?(?:access[_.\- ]?)?key(?:[_.\- ]?id)?["']?\s*(?::|=|=>)\s*["']?([A-Za-z0-9/+]{40})`)
	reGitHub     = regexp.MustCompile(`gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255}`)
	reSlack      = regexp.MustCompile(`xox[abposre]-[A-Za-z0-9-]{10,}|https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,}`)
	reGoogle     = regexp.MustCompile(`AIza[0-9A-Za-z_-]{35}`)
	reEmail      = regexp.MustCompile(`[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}`)
	reIBAN       = regexp.MustCompile(`[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}`)
	reCard       = regexp.MustCompile(`[0-9](?:[ -]?[0-9])+`)
	reSSN        = regexp.MustCompile(`\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b|\b[0-9]{3} [0-9]{2} [0-9]{4}\b`)
	reSSNKeyword = regexp.MustCompile(`(?i)\b(?:ssn|social security(?: number| no\.?)?)\W{0,4}([0-9]{9})\b`)
	reNINO       = regexp.MustCompile(`\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]\b`)
	reDNI        = regexp.MustCompile(`\b(?:[XYZ][ -]?[0-9]{7}|[0-9]{8})[ -]?[A-Z]\b`)
	reNIR        = regexp.MustCompile(`\b[12] ?[0-9]{2} ?[0-9]{2} ?(?:[0-9]{2}|2[AB]) ?[0-9]{3} ?[0-9]{3} ?[0-9]{2}\b`)
	reIPv4       = regexp.MustCompile(`\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b`)
	reIPv6       = regexp.MustCompile(`(?i)(?:[0-9a-f]{0,4}:){2,7}[0-9a-f.]*(?:%[0-9a-z_.]+)?`)
	rePhone      = regexp.MustCompile(`\+?\(?[0-9][0-9 .()-]{5,24}[0-9]`)
	reEscape     = regexp.MustCompile(TokenOpen + `[A-Z0-9_]+` + TokenClose)
)

type builtinOptions struct {
	entropy float64
	anyIIN  bool
}

// builtins returns fresh built-in detectors (a Redactor sets their modes), in priority
// order.
func builtins(o builtinOptions) []*detector {
	digits := func(n int) func(*prefilter) bool {
		return func(p *prefilter) bool { return p.digitRun() >= n }
	}
	around := func(n, left, right int) func(*prefilter) []window {
		return func(p *prefilter) []window { return p.digitWindows(n, left, right, nil) }
	}
	aroundIf := func(n, left, right int, keep func(s string, sp span) bool) func(*prefilter) []window {
		return func(p *prefilter) []window { return p.digitWindows(n, left, right, keep) }
	}
	one := func(re *regexp.Regexp) []pattern { return []pattern{{re, 0}} }
	return []*detector{
		{name: DetPrivateKey, label: "PRIVATE_KEY", res: one(rePrivateKey),
			pre: func(p *prefilter) bool { return strings.Contains(p.s, "-----BEGIN") }},
		{name: DetJWT, label: "JWT", res: one(reJWT),
			pre:   func(p *prefilter) bool { return strings.Contains(p.s, "eyJ") },
			valid: validJWT},
		{name: DetAnthropicKey, label: "API_KEY", res: one(reAnthropic),
			pre:   func(p *prefilter) bool { return strings.Contains(p.s, "sk-ant-") },
			valid: validKeyToken(len("sk-ant-"))},
		{name: DetOpenAIKey, label: "API_KEY", res: one(reOpenAI),
			pre:   func(p *prefilter) bool { return strings.Contains(p.s, "sk-") },
			valid: validOpenAIKey},
		{name: DetAWSAccessKey, label: "API_KEY", res: one(reAWSAccess),
			pre:   hasAWSPrefix,
			valid: validBounded},
		{name: DetAWSSecretKey, label: "SECRET", res: []pattern{{reAWSSecret, 1}},
			pre:   func(p *prefilter) bool { return containsFold(p.s, "secret") },
			win:   func(p *prefilter) []window { return p.wordWindows("secret", 16, 110) },
			valid: validAWSSecret},
		{name: DetGitHubToken, label: "API_KEY", res: one(reGitHub),
			pre:   hasGitHubPrefix,
			valid: validBounded},
		{name: DetSlackToken, label: "API_KEY", res: one(reSlack),
			pre: func(p *prefilter) bool {
				return strings.Contains(p.s, "xox") || strings.Contains(p.s, "hooks.slack.com")
			},
			valid: validBounded},
		{name: DetGoogleAPIKey, label: "API_KEY", res: one(reGoogle),
			pre:   func(p *prefilter) bool { return strings.Contains(p.s, "AIza") },
			valid: validBounded},
		{name: DetGenericSecret, label: "SECRET", res: []pattern{{nil, 2}},
			scan:  scanAssignments,
			valid: validGenericSecret(o.entropy)},
		{name: DetEmail, label: "EMAIL", res: one(reEmail),
			pre:   func(p *prefilter) bool { return strings.IndexByte(p.s, '@') >= 0 },
			win:   func(p *prefilter) []window { return p.byteWindows('@', 66, 256) },
			valid: validEmail},
		{name: DetIBAN, label: "IBAN", res: one(reIBAN),
			pre:   func(p *prefilter) bool { return p.ibanLike() },
			win:   func(p *prefilter) []window { return p.ibanWindows() },
			valid: validIBAN},
		{name: DetCard, label: "CARD", res: one(reCard), pre: digits(13), win: around(13, 2, 2), multi: cardSpans(o.anyIIN)},
		{name: DetSSN, label: "SSN", res: []pattern{{reSSN, 0}, {reSSNKeyword, 1}}, pre: digits(9), win: around(9, 40, 2), valid: validSSN},
		{name: DetUKNINO, label: "NINO", res: one(reNINO), pre: digits(6), win: aroundIf(6, 4, 4, letterBefore), valid: validNINO},
		{name: DetESDNI, label: "DNI", res: one(reDNI), pre: digits(7), win: aroundIf(7, 4, 4, letterAround), valid: validDNI},
		{name: DetFRNIR, label: "NIR", res: one(reNIR), pre: digits(6), win: aroundIf(6, 12, 14, nirLike), valid: validNIR},
		{name: DetIPv4, label: "IP", res: one(reIPv4),
			pre:   func(p *prefilter) bool { return p.digitRun() >= 4 && strings.IndexByte(p.s, '.') >= 0 },
			win:   aroundIf(4, 2, 2, func(_ string, sp span) bool { return sp.dots >= 3 }),
			valid: validIPv4},
		{name: DetIPv6, label: "IP", res: one(reIPv6),
			pre:   func(p *prefilter) bool { return strings.IndexByte(p.s, ':') >= 0 },
			win:   func(p *prefilter) []window { return p.colonWindows() },
			valid: validIPv6},
		{name: DetPhone, label: "PHONE", res: one(rePhone), pre: digits(7), win: around(7, 4, 4), valid: validPhone},
	}
}

// escapeDetector swaps token-shaped text already in the input for a vault token.
func escapeDetector() *detector {
	return &detector{name: "literal_token", label: "LITERAL", res: []pattern{{reEscape, 0}}, mode: ModeToken}
}

// prefilter computes, once per text and only when asked, the cheap facts that let a
// detector skip its regexps or narrow them to windows.
type prefilter struct {
	s         string
	spans     []span
	spansDone bool
	run       int
	iban      []int // positions of two capitals and two digits
	ibanDone  bool
}

// span is a run of digits joined by at most two separator bytes from " -.()/+".
type span struct {
	start, end, digits, dots int
	// free is digits, less the first group's when the span is glued to a word byte
	// before it ("a716-4466..." in a UUID): what a detector needing a left word
	// boundary can use.
	free int
}

// minSpanDigits is the fewest digits a kept span has: the least any numeric detector
// needs (an IPv4 address).
const minSpanDigits = 4

// scanSpans finds the digit spans of at least minSpanDigits digits.
func (p *prefilter) scanSpans() {
	if p.spansDone {
		return
	}
	p.spansDone = true
	s := p.s
	cur, gap, start, last, dots, lead := 0, 0, 0, 0, 0, 0
	flush := func() {
		if cur >= minSpanDigits {
			free := cur
			if isWordByte(before(s, start)) {
				free -= lead
			}
			p.spans = append(p.spans, span{start, last + 1, cur, dots, free})
		}
		p.run = max(p.run, cur)
		cur, gap, dots, lead = 0, 0, 0, 0
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			if cur == 0 {
				start = i
			}
			cur++
			if cur == lead+1 && (cur == 1 || last == i-1) {
				lead++
			}
			gap = 0
			last = i
			continue
		}
		if cur > 0 && gap < 2 {
			switch c {
			case '.':
				dots++
				fallthrough
			case ' ', '-', '(', ')', '/', '+':
				gap++
				continue
			}
		}
		if cur > 0 {
			flush()
		}
	}
	if cur > 0 {
		flush()
	}
}

// digitRun returns the most digits in one span: an upper bound of the digits any numeric
// detector can match.
func (p *prefilter) digitRun() int {
	p.scanSpans()
	return p.run
}

// digitWindows returns the spans of at least n digits (that keep accepts, when set)
// widened by left and right bytes, merged where they overlap.
func (p *prefilter) digitWindows(n, left, right int, keep func(string, span) bool) []window {
	p.scanSpans()
	var ws []window
	for _, sp := range p.spans {
		if sp.digits >= n && (keep == nil || keep(p.s, sp)) {
			if keep == nil && sp.free < n {
				continue
			}
			ws = addWindow(ws, sp.start-left, sp.end+right, len(p.s))
		}
	}
	return ws
}

// letterBefore reports a capital just before the span, or before one space (NINO).
func letterBefore(s string, sp span) bool {
	return isUpper(before(s, sp.start)) || before(s, sp.start) == ' ' && isUpper(before(s, sp.start-1))
}

// letterAround reports a capital just after the span, or after one separator, or just
// before it (DNI control letter, NIE prefix).
func letterAround(s string, sp span) bool {
	return isUpper(after(s, sp.end)) || isUpper(after(s, sp.end+1)) || letterBefore(s, sp)
}

// nirLike reports a span that can hold a NIR or a part of a Corsican one.
func nirLike(s string, sp span) bool {
	return sp.digits >= 13 || after(s, sp.end) == 'A' || after(s, sp.end) == 'B' ||
		before(s, sp.start-1) == 'A' || before(s, sp.start-1) == 'B'
}

// byteWindows returns windows around each occurrence of c.
func (p *prefilter) byteWindows(c byte, left, right int) []window {
	var ws []window
	for i := 0; ; i++ {
		k := strings.IndexByte(p.s[i:], c)
		if k < 0 {
			return ws
		}
		i += k
		ws = addWindow(ws, i-left, i+1+right, len(p.s))
	}
}

// wordWindows returns windows around each occurrence of the lower-case ASCII word w in
// any case.
func (p *prefilter) wordWindows(w string, left, right int) []window {
	var ws []window
	s := p.s
	lo, up := w[0], w[0]-'a'+'A'
	for i := 0; i+len(w) <= len(s); i++ {
		if (s[i] == lo || s[i] == up) && strings.EqualFold(s[i:i+len(w)], w) {
			ws = addWindow(ws, i-left, i+len(w)+right, len(s))
		}
	}
	return ws
}

// addWindow appends [start, end) clamped to [0, n), merging it with the last window when
// they overlap (windows come in increasing start order).
func addWindow(ws []window, start, end, n int) []window {
	start, end = max(start, 0), min(end, n)
	if k := len(ws) - 1; k >= 0 && start <= ws[k].end {
		ws[k].end = max(ws[k].end, end)
		return ws
	}
	return append(ws, window{start, end})
}

// colonWindows returns windows around chains of colons separated by at most four hex
// digits ("fe80::1", "2001:db8:..."), the only places an IPv6 address can be.
func (p *prefilter) colonWindows() []window {
	var ws []window
	s := p.s
	for i := 0; ; {
		k := strings.IndexByte(s[i:], ':')
		if k < 0 {
			return ws
		}
		first := i + k
		last, n := first, 1
		for {
			j := last + 1
			for j < len(s) && j-last <= 5 && isHex(s[j]) {
				j++
			}
			if j >= len(s) || s[j] != ':' || j-last > 5 {
				break
			}
			last, n = j, n+1
		}
		if n >= 2 {
			ws = addWindow(ws, first-5, last+1+20, len(s))
		}
		i = last + 1
	}
}

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// ibanLike reports whether two capitals followed by two digits occur.
func (p *prefilter) ibanLike() bool {
	if !p.ibanDone {
		p.ibanDone = true
		s := p.s
		for i := 0; i+3 < len(s); i++ {
			if isDigit(s[i+3]) && isDigit(s[i+2]) && isUpper(s[i+1]) && isUpper(s[i]) {
				p.iban = append(p.iban, i)
			}
		}
	}
	return len(p.iban) > 0
}

func (p *prefilter) ibanWindows() []window {
	p.ibanLike()
	var ws []window
	for _, i := range p.iban {
		ws = addWindow(ws, i-1, i+43, len(p.s))
	}
	return ws
}

func hasAWSPrefix(p *prefilter) bool {
	for _, x := range [...]string{"AKIA", "ASIA", "ABIA", "ACCA"} {
		if strings.Contains(p.s, x) {
			return true
		}
	}
	return false
}

func hasGitHubPrefix(p *prefilter) bool {
	s := p.s
	for i := 0; ; {
		k := strings.Index(s[i:], "gh")
		if k < 0 {
			return strings.Contains(s, "github_pat_")
		}
		j := i + k
		if j+3 < len(s) && s[j+3] == '_' && strings.IndexByte("pousr", s[j+2]) >= 0 {
			return true
		}
		i = j + 2
	}
}

// containsFold reports whether s contains the lower-case ASCII word w, in any case.
func containsFold(s, w string) bool {
	lo, up := w[0], w[0]-'a'+'A'
	for i := 0; i+len(w) <= len(s); i++ {
		if (s[i] == lo || s[i] == up) && strings.EqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// isWordByte reports whether c continues an ASCII word or identifier.
func isWordByte(c byte) bool { return isAlnum(c) || c == '_' }
