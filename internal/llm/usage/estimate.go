package usage

import (
	"strings"
	"sync"

	"github.com/tiktoken-go/tokenizer"
)

// Estimator counts tokens offline, before a call, for admission and rate
// limiting (reserve an estimate, reconcile with the provider's usage after).
// Counts are estimates: only the provider's usage is billed.
type Estimator interface {
	// CountText returns the number of tokens s takes for model.
	CountText(model, s string) int
	// CountMessages returns the prompt tokens of a chat request made of msgs,
	// including the per-message framing and the reply primer.
	CountMessages(model string, msgs []Message) int
}

// Message is the part of one chat message that takes prompt tokens.
type Message struct {
	Role    string
	Content string // the text parts, concatenated
	Name    string // the optional participant name
	// ToolCallsJSON is an assistant message's tool calls as sent on the wire,
	// counted as text: OpenAI does not document their exact framing.
	ToolCallsJSON string
}

// Chat framing from OpenAI's cookbook ("How to count tokens with tiktoken")
// for every model since gpt-3.5-turbo-0613: each message costs 3 tokens
// around its fields, a name one more, and every reply is primed with 3
// (<|start|>assistant<|message|>).
const (
	tokensPerMessage = 3
	tokensPerName    = 1
	tokensReplyPrime = 3
)

func countMessages(count func(string) int, msgs []Message) int {
	n := tokensReplyPrime
	for _, m := range msgs {
		n += tokensPerMessage + count(m.Role) + count(m.Content) + count(m.ToolCallsJSON)
		if m.Name != "" {
			n += tokensPerName + count(m.Name)
		}
	}
	return n
}

// Compile-time guards.
var (
	_ Estimator = (*Tiktoken)(nil)
	_ Estimator = Heuristic{}
)

// Tiktoken counts with OpenAI's BPE encodings (github.com/tiktoken-go/tokenizer,
// vocabularies compiled into the binary, no network):
//
//   - o200k_base for gpt-4o, gpt-4.1, gpt-4.5, gpt-5, gpt-oss and the o-series;
//   - cl100k_base for gpt-4, gpt-3.5-turbo and the text-embedding models;
//   - o200k_base for every other model (Claude, Gemini, Llama, Mistral...),
//     whose tokenizers are not public: an estimate. Claude's and Gemini's
//     tokenizers produce somewhat more tokens for the same text, so callers
//     that reserve capacity may add a margin.
//
// Memory: each vocabulary is built on first use, not at program start, and
// costs about 12 MB of RSS (o200k) or 6 MB (cl100k); a process that never
// counts an older OpenAI model never loads cl100k. The first count with an
// encoding takes about 15 ms (o200k) or 6 ms (cl100k) on an idle core.
// Counting runs at roughly 9-12 MB of text per second on one core, so a
// 1 MB prompt costs about 0.1 s of CPU: bound the body size before counting.
// Safe for concurrent use.
type Tiktoken struct {
	o200k, cl100k lazyCodec
}

// NewTiktoken returns a Tiktoken estimator. It loads nothing until the first
// count.
func NewTiktoken() *Tiktoken {
	return &Tiktoken{
		o200k:  lazyCodec{enc: tokenizer.O200kBase},
		cl100k: lazyCodec{enc: tokenizer.Cl100kBase},
	}
}

// lazyCodec builds a codec on first use. The library builds its vocabulary
// maps lazily too, but only when asked for a codec; holding the codec here
// also avoids re-creating its split regexp on every call.
type lazyCodec struct {
	enc   tokenizer.Encoding
	once  sync.Once
	codec tokenizer.Codec // nil if the encoding failed to load
}

func (l *lazyCodec) get() tokenizer.Codec {
	l.once.Do(func() {
		c, err := tokenizer.Get(l.enc)
		if err == nil {
			l.codec = c
		}
	})
	return l.codec
}

// CountText implements Estimator. Should the tokenizer fail (it does not
// for any valid or invalid UTF-8 input today), it falls back to Heuristic
// rather than report 0.
func (t *Tiktoken) CountText(model, s string) int {
	if s == "" {
		return 0
	}
	c := t.codecFor(model)
	if c == nil {
		return Heuristic{}.CountText(model, s)
	}
	n, err := c.Count(s)
	if err != nil {
		return Heuristic{}.CountText(model, s)
	}
	return n
}

// CountMessages implements Estimator.
func (t *Tiktoken) CountMessages(model string, msgs []Message) int {
	c := t.codecFor(model)
	return countMessages(func(s string) int {
		if s == "" {
			return 0
		}
		if c != nil {
			if n, err := c.Count(s); err == nil {
				return n
			}
		}
		return Heuristic{}.CountText(model, s)
	}, msgs)
}

func (t *Tiktoken) codecFor(model string) tokenizer.Codec {
	if EncodingFor(model) == string(tokenizer.Cl100kBase) {
		return t.cl100k.get()
	}
	return t.o200k.get()
}

// cl100kModels are the OpenAI model families older than gpt-4o, which use
// cl100k_base. Everything else is counted with o200k_base.
var cl100kModels = []string{"gpt-4", "gpt-3.5", "gpt-35", "text-embedding-3", "text-embedding-ada-002"}

// o200kOverCl100k are names that cl100kModels would otherwise catch.
var o200kOverCl100k = []string{"gpt-4o", "gpt-4.1", "gpt-4.5"}

// EncodingFor returns the name of the BPE encoding Tiktoken uses for model
// ("o200k_base" or "cl100k_base"). A provider prefix ("azure/gpt-4") is
// ignored.
func EncodingFor(model string) string {
	if i := strings.LastIndexByte(model, '/'); i >= 0 {
		model = model[i+1:]
	}
	model = strings.ToLower(model)
	for _, p := range o200kOverCl100k {
		if strings.HasPrefix(model, p) {
			return string(tokenizer.O200kBase)
		}
	}
	for _, p := range cl100kModels {
		if strings.HasPrefix(model, p) {
			return string(tokenizer.Cl100kBase)
		}
	}
	return string(tokenizer.O200kBase)
}

// Heuristic estimates one token per four bytes of text, OpenAI's rule of
// thumb, with no vocabulary and no memory: the fallback for processes that
// cannot spare Tiktoken's. Against o200k_base it is within 10% for English
// prose, JSON and CJK text, but counts about 25% low for code, 30% low for
// long numbers and 65% low for base64 (an inline image), so limits that use
// it need headroom.
type Heuristic struct{}

// CountText implements Estimator: ceil(len(s) / 4).
func (Heuristic) CountText(_, s string) int { return (len(s) + 3) / 4 }

// CountMessages implements Estimator, with the same framing as Tiktoken.
func (h Heuristic) CountMessages(model string, msgs []Message) int {
	return countMessages(func(s string) int { return h.CountText(model, s) }, msgs)
}
