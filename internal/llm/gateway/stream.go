package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/cache"
	"github.com/pylon-gateway/pylon/internal/llm/jsonscan"
	"github.com/pylon-gateway/pylon/internal/llm/pii"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/tidwall/gjson"
)

// streamChat relays a streamed answer. Chunks that carry nothing a client would see yet
// (the role announcement) are held back until the first real content, so that an upstream
// that fails right away can still be replaced by another target: done is false then, and
// nothing was written.
func (g *Gateway) streamChat(w http.ResponseWriter, r *http.Request, d llm.Dialect, req *openai.ChatRequest, c *llm.Call, x *exchange, acct *accounting) (bool, *llm.Error) {
	cr := x.adapter.ChatStream(x.resp, c)
	defer cr.Close()
	ready, _ := cr.(llm.Ready)
	cw := &coalescer{ResponseWriter: w}
	w = cw
	var held []*openai.ChatChunk
	var sw llm.StreamWriter
	var usage *openai.Usage
	var firstToken time.Time
	var acc *cache.Accumulator
	if acct.cacheKey != "" || acct.session != nil {
		acc = new(cache.Accumulator)
	}
	var masker *pii.StreamRedactor
	if g.piiReplies != nil {
		masker = g.piiReplies.NewStreamRedactor(pii.NewVault())
	}
	var restorer *pii.ChunkRestorer
	if acct.vault != nil && acct.vault.Len() > 0 {
		restorer = pii.NewChunkRestorer(acct.vault)
	}
	for {
		ch, err := cr.Next()
		if err != nil {
			acct.upstream += time.Since(x.sent)
			if errors.Is(err, io.EOF) {
				x.done(200, nil)
				if sw == nil {
					sw = g.startStream(w, d, req, acct, held)
				}
				acct.streamed(firstToken, usage)
				acct.finish(usage, true)
				cw.hold = false
				if restorer != nil {
					if rest := restorer.Flush(); rest != nil {
						sw.WriteChunk(rest)
					}
				}
				if acc != nil && acc.Complete() {
					resp := acc.Response()
					g.cacheStore(context.WithoutCancel(x.ctx), acct, resp)
					g.sessionEnd(acct.session, req, resp)
				}
				// The end of the handler flushes what is left together with the end of the
				// chunked body: one write instead of two.
				cw.hold = true
				sw.Close()
				return true, nil
			}
			var le *llm.Error
			if !errors.As(err, &le) {
				le = llm.Errorf(llm.KindUpstream, "reading the provider's stream: %v", err)
			}
			x.done(502, err)
			if sw == nil {
				// Nothing reached the client: the caller may fall back.
				return false, le
			}
			acct.streamed(firstToken, usage)
			acct.finish(usage, false)
			acct.failed(le)
			cw.hold = false
			sw.Fail(le)
			return true, nil
		}
		if ch.Lazy() && (acc != nil || restorer != nil || masker != nil || d != llm.Dialect(openaiDialect)) {
			// Undecoded: the cache, PII restoring and other dialects need its fields.
			if err := ch.Decode(); err != nil {
				ch = nil
				x.done(502, err)
				le := llm.Errorf(llm.KindUpstream, "decoding the provider's stream: %v", err)
				if sw == nil {
					return false, le
				}
				acct.finish(usage, false)
				acct.failed(le)
				cw.hold = false
				sw.Fail(le)
				return true, nil
			}
		}
		if ch.Usage != nil {
			usage = ch.Usage
		}
		if acc != nil {
			acc.Add(ch) // as the provider wrote it: PII stays tokenized in the cache
		}
		if masker != nil {
			maskChunk(masker, ch)
		}
		if restorer != nil {
			ch = restorer.Restore(ch)
		}
		cw.hold = ready != nil && ready.Ready()
		if sw == nil {
			if !meaningful(ch) && !(ch.Lazy() && meaningfulRaw(ch.Raw)) {
				held = append(held, ch)
				continue
			}
			firstToken = time.Now()
			sw = g.startStream(w, d, req, acct, held)
			held = nil
			// The first content leaves at once, whatever follows it already: the client's
			// time to first token. Coalescing resumes with the next chunk.
			cw.hold = false
		}
		if err := sw.WriteChunk(ch); err != nil {
			// The client went away: stop reading the provider; account what was used.
			x.done(200, nil)
			acct.upstream += time.Since(x.sent)
			acct.streamed(firstToken, usage)
			acct.finish(usage, false)
			return true, nil
		}
		acct.outputChunks++
	}
}

// startStream writes the headers and the held chunks.
func (g *Gateway) startStream(w http.ResponseWriter, d llm.Dialect, req *openai.ChatRequest, acct *accounting, held []*openai.ChatChunk) llm.StreamWriter {
	acct.setHeaders(w.Header())
	sw := d.NewStream(w, req)
	for _, h := range held {
		sw.WriteChunk(h)
	}
	return sw
}

// meaningfulRaw is meaningful for an undecoded OpenAI chunk.
func meaningfulRaw(raw []byte) bool {
	if m, known := meaningfulScan(raw); known {
		return m
	}
	return meaningfulGet(raw)
}

// meaningfulScan reads what meaningfulGet reads, in a few scans of jsonscan instead of
// gjson's path walks. known is false when it cannot tell as gjson would (a key written
// with escapes, a choices value that is not an array).
func meaningfulScan(raw []byte) (meaningful, known bool) {
	choices, known := jsonscan.Get(raw, "choices")
	if !known || choices == nil || choices[0] == 'n' {
		return false, known
	}
	if choices[0] != '[' {
		return false, false // gjson reads "choices.0" in an object as its key "0"
	}
	c := jsonscan.First(choices)
	if c == nil || c[0] != '{' {
		return false, true
	}
	f, known := jsonscan.Get(c, "finish_reason")
	if !known {
		return false, false
	}
	if f != nil && string(f) != "null" {
		return true, true
	}
	d, known := jsonscan.Get(c, "delta")
	if !known || d == nil || d[0] != '{' {
		return false, known
	}
	// One pass over the delta: the first member of each key counts, as for Get.
	var calls, refusal, content, reasoning []byte
	escaped := false
	jsonscan.Members(d, func(k, v []byte) {
		switch string(k) {
		case "tool_calls":
			calls = firstValue(calls, v)
		case "refusal":
			refusal = firstValue(refusal, v)
		case "content":
			content = firstValue(content, v)
		case "reasoning_content":
			reasoning = firstValue(reasoning, v)
		default:
			escaped = escaped || bytes.IndexByte(k, '\\') >= 0
		}
	})
	if escaped {
		return false, false
	}
	return calls != nil || (refusal != nil && string(refusal) != "null") || nonEmpty(content) || nonEmpty(reasoning), true
}

// firstValue keeps the first value of a key.
func firstValue(have, v []byte) []byte {
	if have == nil {
		return v
	}
	return have
}

// nonEmpty reports whether a value's gjson String() is not empty: any value but null and "".
func nonEmpty(v []byte) bool {
	return v != nil && string(v) != "null" && string(v) != `""`
}

// meaningfulGet is meaningful for an undecoded OpenAI chunk, with gjson.
func meaningfulGet(raw []byte) bool {
	c := gjson.GetBytes(raw, "choices.0")
	if f := c.Get("finish_reason"); f.Exists() && f.Type != gjson.Null {
		return true
	}
	d := c.Get("delta")
	if d.Get("tool_calls").Exists() {
		return true
	}
	if r := d.Get("refusal"); r.Exists() && r.Type != gjson.Null {
		return true
	}
	return d.Get("content").String() != "" || d.Get("reasoning_content").String() != ""
}

// meaningful reports whether a chunk carries something for the client beyond the role:
// content, reasoning, a tool call, a finish reason.
func meaningful(ch *openai.ChatChunk) bool {
	for i := range ch.Choices {
		c := &ch.Choices[i]
		if c.FinishReason != nil || len(c.Delta.ToolCalls) > 0 || c.Delta.Refusal != nil {
			return true
		}
		if (c.Delta.Content != nil && *c.Delta.Content != "") || (c.Delta.ReasoningContent != nil && *c.Delta.ReasoningContent != "") {
			return true
		}
	}
	return false
}

// coalescer holds the dialect's flushes while the provider's next chunk is already
// buffered: the events that arrived in one read leave in one write, and an event that
// arrives alone is flushed at once, so streams stay event by event for the client. The
// first content is never held: it starts the stream for the client at once.
type coalescer struct {
	http.ResponseWriter
	hold bool
}

func (c *coalescer) Flush() {
	if !c.hold {
		http.NewResponseController(c.ResponseWriter).Flush()
	}
}

func (c *coalescer) FlushError() error {
	if c.hold {
		return nil
	}
	return http.NewResponseController(c.ResponseWriter).Flush()
}

func (c *coalescer) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// maskChunk masks PII the model writes in the content of choice 0, holding back at most the
// stream redactor's look-behind, released with the finish reason.
func maskChunk(m *pii.StreamRedactor, ch *openai.ChatChunk) {
	for i := range ch.Choices {
		c := &ch.Choices[i]
		if c.Index != 0 {
			continue
		}
		in := ""
		if c.Delta.Content != nil {
			in = *c.Delta.Content
		}
		out := m.Write(in)
		if c.FinishReason != nil {
			out += m.Flush()
		}
		if c.Delta.Content != nil || out != "" {
			c.Delta.Content = &out
		}
		ch.Raw = nil // the content may have changed: the dialect encodes the chunk
	}
}
