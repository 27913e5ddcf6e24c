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
	// streamBatch is the least a StreamRedactor releases at once (beyond its window).
	streamBatch = 32
)

// StreamRedactor runs the detectors on a stream of text deltas (a streamed reply). It
// holds back the last Config.StreamWindow bytes (default 64) plus a batch of up to 32,
// extended back to the start of the run of non-space bytes they end in and to the start
// of an unterminated "-----BEGIN" block, but never more than 8 KiB. Every value that fits
// in the window, and every value without spaces or inside a key block up to 4 KiB
// (e-mails, keys, JWTs, PEM blocks), is redacted exactly as Redact would. What it can
// miss: a value with spaces longer than the window (released before it is complete),
// a value longer than the cap (its head is released redacted once recognised, or raw if
// not yet recognisable), and a value whose detector needs more than 64 bytes of left
// context. Not safe for concurrent use.
type StreamRedactor struct {
	r      *Redactor
	v      *Vault
	ctx    string // the tail of the released input, as context
	pend   string
	counts Counts
	// nextScan is the length pend must reach before the next detection attempt.
	nextScan int
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
	cut, forced := len(buf), false
	if !final {
		if len(s.pend) < s.nextScan {
			return ""
		}
		cut, forced = s.cutPoint(buf, base)
		if cut <= base {
			return ""
		}
	}
	ms := s.r.find(buf, false)
	for i, m := range ms {
		if m.start >= base && m.start < cut && m.end > cut {
			if forced {
				// Past the cap: release the value's head redacted, never raw.
				ms[i].end = cut
			} else {
				cut = m.start
			}
			break
		}
	}
	if cut <= base {
		// A value runs past everything held: wait for a window more before looking
		// again, so that a long value does not cost a scan per delta.
		s.nextScan = len(s.pend) + s.r.window
		return ""
	}
	s.nextScan = 0
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
// the end, then back to a space and before an open private key block. Releases come in
// batches (streamBatch bytes at least) so that a stream of tiny deltas does not rescan
// its tail for each of them; past the cap, half of the cap is released at once.
func (s *StreamRedactor) cutPoint(buf string, base int) (cut int, forced bool) {
	n := len(buf)
	if n-base > streamMaxHold {
		forced = true
		cut = n - streamMaxHold/2
		if k := strings.LastIndexAny(buf[n-streamMaxHold:cut], " \n\t\r"); k >= 0 {
			cut = n - streamMaxHold + k + 1
		}
	} else {
		cut = n - s.r.window
		if cut-base < streamBatch {
			return base, false
		}
		k := strings.LastIndexAny(buf[base:cut], " \n\t\r")
		if k < 0 {
			return base, false
		}
		cut = base + k + 1
		from := base
		if e := strings.LastIndex(buf[base:], "-----END"); e >= 0 {
			from = base + e
		}
		if k := strings.Index(buf[from:], "-----BEGIN"); k >= 0 { // the first open block
			cut = min(cut, from+k)
		}
	}
	for cut > base && cut < n && !utf8.RuneStart(buf[cut]) {
		cut--
	}
	return cut, forced
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }
