package pii

import (
	"strings"
	"unicode/utf8"
)

const (
	// streamContext is how much already-released text a StreamRedactor keeps as left
	// context for the detectors (word boundaries, "password:" before a value).
	streamContext = 64
	// streamMaxHold caps what a StreamRedactor holds back for one unbroken run of
	// non-space bytes or one unterminated private key block.
	streamMaxHold = 8192
)

// StreamRedactor runs the detectors on a stream of text deltas (a streamed reply). It
// holds back the last Config.StreamWindow bytes (default 64), extended back to the start
// of the run of non-space bytes they end in and to the start of an unterminated
// "-----BEGIN" block, but never more than 8 KiB. Every value that fits in the window, and
// every value without spaces up to 8 KiB (e-mails, keys, JWTs), is redacted exactly as
// Redact would; a value with spaces longer than the window, or longer than 8 KiB, can be
// released in part before it is recognised. Not safe for concurrent use.
type StreamRedactor struct {
	r      *Redactor
	v      *Vault
	ctx    string // the tail of the released input, as context
	pend   string
	counts Counts
}

// NewStreamRedactor returns a StreamRedactor writing tokens into v (which may be nil).
func (r *Redactor) NewStreamRedactor(v *Vault) *StreamRedactor {
	return &StreamRedactor{r: r, v: v}
}

// Write takes the next delta and returns the redacted text that can be released now.
func (s *StreamRedactor) Write(delta string) string {
	s.pend += delta
	return s.emit(false)
}

// Flush releases everything held back; call it at the end of the stream.
func (s *StreamRedactor) Flush() string { return s.emit(true) }

// Counts returns the values replaced so far, by detector.
func (s *StreamRedactor) Counts() Counts { return s.counts }

func (s *StreamRedactor) emit(final bool) string {
	if s.pend == "" {
		return ""
	}
	buf := s.ctx + s.pend
	base := len(s.ctx)
	cut := len(buf)
	if !final {
		cut = s.cutPoint(buf, base)
		if cut <= base {
			return ""
		}
	}
	ms := s.r.find(buf, false)
	for _, m := range ms {
		if m.start >= base && m.start < cut && m.end > cut {
			cut = m.start
			break
		}
	}
	if cut <= base {
		return ""
	}
	var b strings.Builder
	last := base
	for _, m := range ms {
		if m.start < base || m.end > cut {
			continue
		}
		b.WriteString(buf[last:m.start])
		b.WriteString(s.r.replacement(m.d, buf[m.start:m.end], s.v))
		last = m.end
		if s.counts == nil {
			s.counts = Counts{}
		}
		s.counts[m.d.name]++
	}
	b.WriteString(buf[last:cut])
	s.ctx = strings.Clone(buf[max(0, cut-streamContext):cut])
	s.pend = strings.Clone(buf[cut:])
	return b.String()
}

// cutPoint returns how far buf can be released before detection: the window back from
// the end, then back to a space and before an open private key block, within the cap.
func (s *StreamRedactor) cutPoint(buf string, base int) int {
	floor := max(base, len(buf)-streamMaxHold)
	cut := len(buf) - s.r.window
	if cut <= floor {
		return max(cut, floor)
	}
	c := cut
	for c > floor && !isSpaceByte(buf[c-1]) {
		c--
	}
	if c > floor {
		cut = c
	} else {
		cut = floor
	}
	if k := strings.LastIndex(buf[base:], "-----BEGIN"); k >= 0 && !strings.Contains(buf[base+k:], "-----END") {
		cut = max(floor, min(cut, base+k))
	}
	for cut > base && cut < len(buf) && !utf8.RuneStart(buf[cut]) {
		cut--
	}
	return cut
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }
