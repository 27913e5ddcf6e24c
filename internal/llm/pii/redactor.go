package pii

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Mode says what replaces a detected value.
type Mode string

// Modes.
const (
	// ModeMask replaces the value with its label in brackets: "[EMAIL]".
	ModeMask Mode = "mask"
	// ModeHash replaces the value with its label and a truncated HMAC-SHA256 of it under
	// the configured key: "[EMAIL:3f2a9c1b]". Stable across requests for one key, so that
	// stored sessions and logs can still be joined on a value without holding it.
	ModeHash Mode = "hash"
	// ModeToken replaces the value with a reversible token, "⟦EMAIL_1⟧", kept in the
	// request's Vault and restored in the reply. Without a vault it acts as ModeMask.
	ModeToken Mode = "token"
)

// Config configures a Redactor.
type Config struct {
	// Detectors lists the built-in detectors to run, by name or group ("national_id",
	// "ip", "secrets", "all"). Empty means all.
	Detectors []string `json:"detectors,omitempty" yaml:"detectors,omitempty"`
	// Disable removes detectors (names or groups) from the set.
	Disable []string `json:"disable,omitempty" yaml:"disable,omitempty"`
	// Mode is the default mode; empty means ModeMask.
	Mode Mode `json:"mode,omitempty" yaml:"mode,omitempty"`
	// Modes overrides the mode per detector name (custom patterns included).
	Modes map[string]Mode `json:"modes,omitempty" yaml:"modes,omitempty"`
	// Custom adds patterns of the operator's own.
	Custom []CustomPattern `json:"custom,omitempty" yaml:"custom,omitempty"`
	// HashKey is the HMAC key of ModeHash; required when any detector hashes.
	HashKey []byte `json:"-" yaml:"-"`
	// HashLen is the number of hex digits of the hash kept, 4 to 64; default 8.
	HashLen int `json:"hash_len,omitempty" yaml:"hash_len,omitempty"`
	// EntropyThreshold is the Shannon entropy in bits per character that a value assigned
	// to a key/token/secret name must reach to be a generic secret; default 3.0.
	EntropyThreshold float64 `json:"entropy_threshold,omitempty" yaml:"entropy_threshold,omitempty"`
	// CardAnyIIN accepts Luhn-valid card numbers of any issuer prefix; by default the
	// first digits must belong to a known card network (2-6).
	CardAnyIIN bool `json:"card_any_iin,omitempty" yaml:"card_any_iin,omitempty"`
	// StreamWindow is the look-behind in bytes of a StreamRedactor; default 64.
	StreamWindow int `json:"stream_window,omitempty" yaml:"stream_window,omitempty"`
}

// CustomPattern is an operator's detector: an RE2 regexp. When the regexp has a group
// named "pii", only that group is replaced (so a pattern can require context around the
// value); otherwise the whole match is.
type CustomPattern struct {
	Name    string `json:"name" yaml:"name"`
	Pattern string `json:"pattern" yaml:"pattern"`
	// Label is the placeholder's label; default the name in upper case.
	Label string `json:"label,omitempty" yaml:"label,omitempty"`
}

// Counts holds the number of values replaced, by detector name.
type Counts map[string]int

// Add adds o to c, which must be non-nil when o is not empty.
func (c Counts) Add(o Counts) {
	for k, n := range o {
		c[k] += n
	}
}

// Total returns the number of values replaced.
func (c Counts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// Match is one detected value: text[Start:End].
type Match struct {
	Detector string
	Label    string
	Start    int
	End      int
}

// Redactor finds and replaces PII. Configure it once with New; it is safe for concurrent
// use.
type Redactor struct {
	dets     []*detector // in priority order
	escape   *detector
	anyToken bool
	hashKey  []byte
	hashLen  int
	window   int
	macs     sync.Pool
}

// New builds a Redactor.
func New(cfg Config) (*Redactor, error) {
	r := &Redactor{hashKey: slices.Clone(cfg.HashKey), hashLen: cfg.HashLen, window: cfg.StreamWindow}
	if r.hashLen == 0 {
		r.hashLen = 8
	}
	if r.hashLen < 4 || r.hashLen > 64 {
		return nil, fmt.Errorf("pii: hash_len %d: want 4 to 64", cfg.HashLen)
	}
	if r.window == 0 {
		r.window = 64
	}
	if r.window < 16 {
		return nil, fmt.Errorf("pii: stream_window %d: want at least 16", cfg.StreamWindow)
	}
	opts := builtinOptions{entropy: cfg.EntropyThreshold, anyIIN: cfg.CardAnyIIN}
	if opts.entropy == 0 {
		opts.entropy = 3.0
	}
	all := builtins(opts)
	byName := map[string]*detector{}
	for _, d := range all {
		byName[d.name] = d
	}
	enabled := map[string]bool{}
	expand := func(names []string, on bool, field string) error {
		for _, n := range names {
			members, ok := groups[n]
			if !ok {
				if byName[n] == nil {
					return fmt.Errorf("pii: %s: unknown detector %q", field, n)
				}
				members = []string{n}
			}
			for _, m := range members {
				enabled[m] = on
			}
		}
		return nil
	}
	if len(cfg.Detectors) == 0 {
		_ = expand([]string{"all"}, true, "detectors")
	} else if err := expand(cfg.Detectors, true, "detectors"); err != nil {
		return nil, err
	}
	if err := expand(cfg.Disable, false, "disable"); err != nil {
		return nil, err
	}

	seen := map[string]bool{}
	for i, c := range cfg.Custom {
		if c.Name == "" {
			return nil, fmt.Errorf("pii: custom[%d]: name is required", i)
		}
		if byName[c.Name] != nil || groups[c.Name] != nil || seen[c.Name] {
			return nil, fmt.Errorf("pii: custom[%d]: name %q is already taken", i, c.Name)
		}
		seen[c.Name] = true
		re, err := regexp.Compile(c.Pattern)
		if err != nil {
			return nil, fmt.Errorf("pii: custom[%d] %q: %w", i, c.Name, err)
		}
		group := 0
		if g := re.SubexpIndex("pii"); g > 0 {
			group = g
		}
		label := c.Label
		if label == "" {
			label = c.Name
		}
		// Custom patterns come first: the operator's intent wins an overlap.
		r.dets = append(r.dets, &detector{name: c.Name, label: normLabel(label), res: []pattern{{re, group}}})
	}
	for _, d := range all {
		if enabled[d.name] {
			r.dets = append(r.dets, d)
		}
	}

	for name := range cfg.Modes {
		if byName[name] == nil && !seen[name] {
			return nil, fmt.Errorf("pii: modes: unknown detector %q", name)
		}
	}
	for _, d := range r.dets {
		m := cfg.Mode
		if o, ok := cfg.Modes[d.name]; ok {
			m = o
		}
		switch m {
		case "":
			m = ModeMask
		case ModeMask, ModeToken:
		case ModeHash:
			if len(r.hashKey) == 0 {
				return nil, fmt.Errorf("pii: detector %q hashes but hash_key is empty", d.name)
			}
		default:
			return nil, fmt.Errorf("pii: detector %q: unknown mode %q: want mask, hash or token", d.name, m)
		}
		d.mode = m
		r.anyToken = r.anyToken || m == ModeToken
	}
	r.escape = escapeDetector()
	r.macs.New = func() any { return hmac.New(sha256.New, r.hashKey) }
	return r, nil
}

// MustNew is New that panics on error, for tests and fixed configurations.
func MustNew(cfg Config) *Redactor {
	r, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return r
}

// Detectors returns the names of the detectors that run, in priority order.
func (r *Redactor) Detectors() []string {
	out := make([]string, len(r.dets))
	for i, d := range r.dets {
		out[i] = d.name
	}
	return out
}

// Find returns the values the redactor would replace in text, in order, without overlaps.
func (r *Redactor) Find(text string) []Match {
	ms := r.find(text, false)
	out := make([]Match, len(ms))
	for i, m := range ms {
		out[i] = Match{Detector: m.d.name, Label: m.d.label, Start: m.start, End: m.end}
	}
	return out
}

// Redact returns text with every detected value replaced according to its detector's mode,
// and the counts by detector (nil when nothing was found). v receives the reversible
// tokens; it may be nil when no detector uses ModeToken.
//
// With a vault and a detector in ModeToken, token-shaped text already present in the
// input ("⟦X_1⟧" typed by a user) is itself swapped for a vault token, so that restoring
// the reply can never turn the user's own text into someone's PII: restoring the output of
// Redact gives back exactly the input.
func (r *Redactor) Redact(text string, v *Vault) (string, Counts) {
	var c Counts
	out := r.redact(text, v, &c)
	return out, c
}

// redact is Redact adding to *c (allocated on first use).
func (r *Redactor) redact(text string, v *Vault, c *Counts) string {
	ms := r.find(text, v != nil && r.anyToken)
	if len(ms) == 0 {
		return text
	}
	var b strings.Builder
	b.Grow(len(text) + 16*len(ms))
	last := 0
	for _, m := range ms {
		b.WriteString(text[last:m.start])
		b.WriteString(r.replacement(m.d, text[m.start:m.end], v))
		last = m.end
		if m.d != r.escape {
			if *c == nil {
				*c = Counts{}
			}
			(*c)[m.d.name]++
		}
	}
	b.WriteString(text[last:])
	return b.String()
}

// replacement returns what replaces value.
func (r *Redactor) replacement(d *detector, value string, v *Vault) string {
	switch d.mode {
	case ModeToken:
		if v != nil {
			return v.token(d.label, value)
		}
	case ModeHash:
		h := r.macs.Get().(hash.Hash)
		h.Reset()
		h.Write([]byte(value))
		var sum [sha256.Size]byte
		h.Sum(sum[:0])
		r.macs.Put(h)
		var hx [2 * sha256.Size]byte
		hex.Encode(hx[:], sum[:])
		return "[" + d.label + ":" + string(hx[:r.hashLen]) + "]"
	}
	return "[" + d.label + "]"
}

type match struct {
	d          *detector
	prio       int
	start, end int
}

// find runs the detectors whose prefilter passes and resolves overlaps: a higher-priority
// detector wins, then the longer match. The result is sorted by start.
func (r *Redactor) find(text string, escape bool) []match {
	if len(text) == 0 {
		return nil
	}
	p := prefilter{s: text}
	var ms []match
	if escape && strings.Contains(text, TokenOpen) {
		ms = r.escape.appendMatches(ms, &p, -1)
	}
	for i, d := range r.dets {
		ms = d.appendMatches(ms, &p, i)
	}
	if len(ms) <= 1 {
		return ms
	}
	overlap := false
	slices.SortFunc(ms, func(a, b match) int { return a.start - b.start })
	for i := 1; i < len(ms); i++ {
		if ms[i].start < ms[i-1].end {
			overlap = true
			break
		}
	}
	if !overlap {
		return ms
	}
	slices.SortStableFunc(ms, func(a, b match) int {
		if a.prio != b.prio {
			return a.prio - b.prio
		}
		if la, lb := a.end-a.start, b.end-b.start; la != lb {
			return lb - la
		}
		return a.start - b.start
	})
	kept := ms[:0:0]
	for _, m := range ms {
		ok := true
		for _, k := range kept {
			if m.start < k.end && k.start < m.end {
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, m)
		}
	}
	slices.SortFunc(kept, func(a, b match) int { return a.start - b.start })
	return kept
}

// appendMatches appends the validated matches of d in p.s.
func (d *detector) appendMatches(ms []match, p *prefilter, prio int) []match {
	if d.pre != nil && !d.pre(p) {
		return ms
	}
	s := p.s
	if d.scan != nil {
		return d.appendValid(ms, s, d.scan(s), d.res[0].group, prio)
	}
	if d.win == nil {
		for _, pt := range d.res {
			ms = d.appendValid(ms, s, pt.findAll(s, false), pt.group, prio)
		}
		return ms
	}
	for _, w := range d.win(p) {
		sub := s[w.start:w.end]
		for _, pt := range d.res {
			locs := pt.findAll(sub, false)
			n := 0
			for _, loc := range locs {
				// A match must not begin or end where the window cut a word.
				if loc[0] == 0 && w.start > 0 && isWordByte(s[w.start-1]) && isWordByte(s[w.start]) ||
					loc[1] == len(sub) && w.end < len(s) && isWordByte(s[w.end-1]) && isWordByte(s[w.end]) {
					continue
				}
				for k := range loc {
					if loc[k] >= 0 {
						loc[k] += w.start
					}
				}
				locs[n] = loc
				n++
			}
			ms = d.appendValid(ms, s, locs[:n], pt.group, prio)
		}
	}
	return ms
}

// findAll returns the match locations of the pattern in s, with submatches when needed.
func (pt pattern) findAll(s string, submatches bool) [][]int {
	if pt.group == 0 && !submatches {
		return pt.re.FindAllStringIndex(s, -1)
	}
	return pt.re.FindAllStringSubmatchIndex(s, -1)
}

// appendValid appends the locations that pass d's validator.
func (d *detector) appendValid(ms []match, s string, locs [][]int, group, prio int) []match {
	for _, loc := range locs {
		start, end := loc[2*group], loc[2*group+1]
		if start < 0 || start == end {
			continue
		}
		if d.multi != nil {
			for _, sp := range d.multi(s, loc) {
				ms = append(ms, match{d: d, prio: prio, start: sp[0], end: sp[1]})
			}
			continue
		}
		if d.valid != nil {
			var ok bool
			if start, end, ok = d.valid(s, loc, group); !ok {
				continue
			}
		}
		ms = append(ms, match{d: d, prio: prio, start: start, end: end})
	}
	return ms
}
