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
	valid func(s string, loc []int, group int) (start, end int, ok bool)
	mode  Mode
}

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
	reGeneric    = regexp.MustCompile(`(?i)([a-z0-9_.\-]*(?:key|secret|token|passw(?:or)?d|pwd|credentials?|auth|authorization))["']?[ \t]*(?::|=|:=|=>)[ \t]*["']?(?:(?:bearer|basic|token)[ \t]+)?([^\s"'<>;,()\[\]{}` + "`" + `]+)`)
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
		{name: DetGenericSecret, label: "SECRET", res: []pattern{{reGeneric, 2}},
			pre:   func(p *prefilter) bool { return hasKeywordAssign(p.s) },
			valid: validGenericSecret(o.entropy)},
		{name: DetEmail, label: "EMAIL", res: one(reEmail),
			pre:   func(p *prefilter) bool { return strings.IndexByte(p.s, '@') >= 0 },
			valid: validEmail},
		{name: DetIBAN, label: "IBAN", res: one(reIBAN),
			pre:   func(p *prefilter) bool { return p.ibanLike() },
			valid: validIBAN},
		{name: DetCard, label: "CARD", res: one(reCard), pre: digits(13), valid: validCard(o.anyIIN)},
		{name: DetSSN, label: "SSN", res: []pattern{{reSSN, 0}, {reSSNKeyword, 1}}, pre: digits(9), valid: validSSN},
		{name: DetUKNINO, label: "NINO", res: one(reNINO), pre: digits(6), valid: validNINO},
		{name: DetESDNI, label: "DNI", res: one(reDNI), pre: digits(7), valid: validDNI},
		{name: DetFRNIR, label: "NIR", res: one(reNIR), pre: digits(6), valid: validNIR},
		{name: DetIPv4, label: "IP", res: one(reIPv4),
			pre:   func(p *prefilter) bool { return p.digitRun() >= 4 && strings.IndexByte(p.s, '.') >= 0 },
			valid: validIPv4},
		{name: DetIPv6, label: "IP", res: one(reIPv6),
			pre:   func(p *prefilter) bool { return strings.Contains(p.s, "::") || strings.Count(p.s, ":") >= 7 },
			valid: validIPv6},
		{name: DetPhone, label: "PHONE", res: one(rePhone), pre: digits(7), valid: validPhone},
	}
}

// escapeDetector swaps token-shaped text already in the input for a vault token.
func escapeDetector() *detector {
	return &detector{name: "literal_token", label: "LITERAL", res: []pattern{{reEscape, 0}}, mode: ModeToken}
}

// prefilter computes, once per text and only when asked, the cheap facts that let a
// detector skip its regexps.
type prefilter struct {
	s       string
	run     int
	runDone bool
	iban    int8 // 0 unknown, 1 yes, -1 no
}

// digitRun returns the most digits in one run of digits joined by at most two separator
// bytes from " -.()/+" (capped at 19): an upper bound of the digits any numeric detector
// can match.
func (p *prefilter) digitRun() int {
	if p.runDone {
		return p.run
	}
	p.runDone = true
	best, cur, gap := 0, 0, 0
	s := p.s
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			cur++
			gap = 0
			if cur > best {
				best = cur
				if best >= 19 {
					break
				}
			}
			continue
		}
		if cur > 0 && gap < 2 {
			switch c {
			case ' ', '-', '.', '(', ')', '/', '+':
				gap++
				continue
			}
		}
		cur, gap = 0, 0
	}
	p.run = best
	return best
}

// ibanLike reports whether two capitals followed by two digits occur.
func (p *prefilter) ibanLike() bool {
	if p.iban == 0 {
		p.iban = -1
		s := p.s
		for i := 0; i+3 < len(s); i++ {
			if isDigit(s[i+3]) && isDigit(s[i+2]) && isUpper(s[i+1]) && isUpper(s[i]) {
				p.iban = 1
				break
			}
		}
	}
	return p.iban == 1
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

// secretWords are the name endings of a generic secret assignment, lower case.
var secretWords = [...]string{"key", "secret", "token", "password", "passwd", "pwd", "credential", "credentials", "auth", "authorization"}

// hasKeywordAssign reports whether some ':' or '=' follows a name ending in a secret word
// (case-insensitively, optionally closed by a quote and spaces): the generic secret's
// prefilter, so that prose without assignments never runs its regexp.
func hasKeywordAssign(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != ':' && s[i] != '=' {
			continue
		}
		j := i
		for j > 0 && (s[j-1] == ' ' || s[j-1] == '\t') {
			j--
		}
		if j > 0 && (s[j-1] == '"' || s[j-1] == '\'') {
			j--
		}
		for _, w := range secretWords {
			if j >= len(w) && strings.EqualFold(s[j-len(w):j], w) {
				return true
			}
		}
	}
	return false
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
