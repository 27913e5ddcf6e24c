package anthropic

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/anthropic"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/sse"
)

// maxBlocks bounds the content block index a stream may use: the block table is a slice.
const maxBlocks = 4096

// ChatStream decodes an Anthropic event stream into canonical chunks, one event at a time.
func (a *Adapter) ChatStream(resp *http.Response, c *llm.Call) llm.ChunkReader {
	return NewStreamReader(resp.Body, c.Model, resp.StatusCode, time.Now().Unix())
}

// NewStreamReader returns the ChunkReader of an Anthropic event stream read from body.
// model is reported until message_start names one; status is the HTTP status the stream
// came with (kept in the Upstream field of in-band errors).
func NewStreamReader(body io.ReadCloser, model string, status int, created int64) llm.ChunkReader {
	return &stream{body: body, sr: sse.NewReader(body), model: model, status: status, created: created}
}

// Ready reports whether the next chunk is already queued or buffered (see llm.Ready).
func (s *stream) Ready() bool { return s.qi < len(s.queue) || s.sr.Ready() }

type blockKind uint8

const (
	blockNone     blockKind = iota // not started, or a kind Pylon ignores (server tools...)
	blockText                      //
	blockTool                      //
	blockThinking                  //
)

type blockState struct {
	kind blockKind
	tool int  // dense tool index, for blockTool
	args bool // a non-empty arguments fragment was sent
}

// stream is the state machine of providers.md §4.1 ("Streaming").
type stream struct {
	body    io.ReadCloser
	sr      *sse.Reader
	id      string
	model   string
	created int64
	status  int

	started, done bool
	err           error
	blocks        []blockState // by Anthropic block index
	nextTool      int
	in, out       int
	cacheRead     int
	cacheWrite    int
	stop          string

	queue   []*openai.ChatChunk
	qi      int
	ev      anthropic.StreamEvent
	evIndex int
	evDelta anthropic.EventDelta
}

// Next returns the next canonical chunk, io.EOF after message_stop, or an *llm.Error.
func (s *stream) Next() (*openai.ChatChunk, error) {
	for {
		if s.qi < len(s.queue) {
			c := s.queue[s.qi]
			s.queue[s.qi] = nil
			s.qi++
			return c, nil
		}
		s.queue, s.qi = s.queue[:0], 0
		if s.err != nil {
			return nil, s.err
		}
		if s.done {
			return nil, io.EOF
		}
		ev, err := s.sr.Next()
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				s.err = llm.ErrTruncated()
			} else {
				s.err = llm.Errorf(llm.KindUpstream, "anthropic: reading stream: %v", err)
			}
			continue
		}
		s.handle(ev)
	}
}

// Close releases the upstream body.
func (s *stream) Close() error { return s.body.Close() }

// box holds a chunk with its one choice and the strings it points to: one allocation.
type box struct {
	c      openai.ChatChunk
	ch     [1]openai.ChunkChoice
	text   string
	finish string
}

func (s *stream) newChunk() *box {
	b := &box{}
	b.c = openai.ChatChunk{ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model, Choices: b.ch[:]}
	s.queue = append(s.queue, &b.c)
	return b
}

func (s *stream) emitText(t string) {
	b := s.newChunk()
	b.text = t
	b.ch[0].Delta.Content = &b.text
}

func (s *stream) emitReasoning(t string) {
	b := s.newChunk()
	b.text = t
	b.ch[0].Delta.ReasoningContent = &b.text
}

func (s *stream) emitArgs(tool int, args string) {
	b := s.newChunk()
	b.ch[0].Delta.ToolCalls = []openai.ToolCallDelta{{Index: tool, Function: openai.FunctionCallDelta{Arguments: args}}}
}

func (s *stream) start() {
	if s.started {
		return
	}
	s.started = true
	b := s.newChunk()
	b.ch[0].Delta.Role = "assistant"
	b.ch[0].Delta.Content = &b.text
}

func (s *stream) fail(format string, args ...any) {
	s.err = llm.Errorf(llm.KindUpstream, "anthropic: "+format, args...)
}

func (s *stream) block(i *int) *blockState {
	if i == nil || *i < 0 || *i >= maxBlocks {
		return nil
	}
	for len(s.blocks) <= *i {
		s.blocks = append(s.blocks, blockState{})
	}
	return &s.blocks[*i]
}

func (s *stream) handle(ev sse.Event) {
	data := bytes.TrimSpace(ev.Data)
	if len(data) == 0 {
		return
	}
	// Decoding reuses the index and the delta of the previous event (json.Unmarshal fills
	// non-nil pointers): the deltas are most of a stream. -1 and a zero delta mean absent.
	e := &s.ev
	*e = anthropic.StreamEvent{Index: &s.evIndex, Delta: &s.evDelta}
	s.evIndex, s.evDelta = -1, anthropic.EventDelta{}
	if err := json.Unmarshal(data, e); err != nil {
		s.fail("malformed stream event %q: %v", ev.Name, err)
		return
	}
	if e.Index != nil && *e.Index < 0 {
		e.Index = nil
	}
	if e.Delta != nil && *e.Delta == (anthropic.EventDelta{}) {
		e.Delta = nil
	}
	typ := e.Type
	if typ == "" {
		typ = ev.Name
	}
	switch typ {
	case "message_start":
		if m := e.Message; m != nil {
			if m.ID != "" {
				s.id = m.ID
			}
			if m.Model != "" {
				s.model = m.Model
			}
			u := m.Usage
			s.in, s.cacheRead, s.cacheWrite, s.out = u.InputTokens, u.CacheReadInputTokens, u.CacheCreationInputTokens, u.OutputTokens
		}
		s.start()
	case "content_block_start":
		st, b := s.block(e.Index), e.ContentBlock
		if st == nil || b == nil {
			s.fail("malformed content_block_start")
			return
		}
		s.start()
		switch b.Type {
		case "text":
			st.kind = blockText
			if b.Text != "" {
				s.emitText(b.Text)
			}
		case "tool_use":
			*st = blockState{kind: blockTool, tool: s.nextTool}
			s.nextTool++
			c := s.newChunk()
			c.ch[0].Delta.ToolCalls = []openai.ToolCallDelta{{Index: st.tool, ID: b.ID, Type: "function",
				Function: openai.FunctionCallDelta{Name: b.Name}}}
			if in := bytes.TrimSpace(b.Input); len(in) > 0 && string(in) != "{}" && string(in) != "null" {
				st.args = true
				s.emitArgs(st.tool, string(in))
			}
		case "thinking":
			st.kind = blockThinking
			if b.Thinking != "" {
				s.emitReasoning(b.Thinking)
			}
		default: // redacted_thinking, server_tool_use, web_search_tool_result...
			st.kind = blockNone
		}
	case "content_block_delta":
		d := e.Delta
		if d == nil {
			s.fail("malformed content_block_delta")
			return
		}
		st := s.block(e.Index)
		if st == nil {
			s.fail("malformed content_block_delta")
			return
		}
		s.start()
		switch d.Type {
		case "text_delta":
			if d.Text != "" && st.kind != blockNone && st.kind != blockTool {
				s.emitText(d.Text)
			}
		case "input_json_delta":
			if st.kind == blockTool && d.PartialJSON != nil && *d.PartialJSON != "" {
				st.args = true
				s.emitArgs(st.tool, *d.PartialJSON)
			}
		case "thinking_delta":
			if d.Thinking != "" && st.kind == blockThinking {
				s.emitReasoning(d.Thinking)
			}
		case "signature_delta":
			if d.Signature != "" && st.kind == blockThinking {
				c := s.newChunk()
				c.ch[0].Delta.ThinkingSignature = d.Signature
			}
		}
		// citations_delta and unknown deltas carry nothing a chat client reads.
	case "content_block_stop":
		if st := s.block(e.Index); st != nil && st.kind == blockTool && !st.args {
			st.args = true
			s.emitArgs(st.tool, "{}") // a no-arg call: clients JSON.parse the arguments
		}
	case "message_delta":
		if d := e.Delta; d != nil && d.StopReason != "" {
			s.stop = d.StopReason
		}
		if u := e.Usage; u != nil { // cumulative: set, never add
			s.out = u.OutputTokens
			if u.InputTokens != nil {
				s.in = *u.InputTokens
			}
			if u.CacheReadInputTokens != nil {
				s.cacheRead = *u.CacheReadInputTokens
			}
			if u.CacheCreationInputTokens != nil {
				s.cacheWrite = *u.CacheCreationInputTokens
			}
		}
	case "message_stop":
		s.start()
		b := s.newChunk()
		b.finish = FinishReason(s.stop)
		b.ch[0].FinishReason = &b.finish
		u := &box{}
		u.c = openai.ChatChunk{ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
			Choices: u.ch[:0], Usage: ConvertUsage(s.in, s.out, s.cacheRead, s.cacheWrite)}
		s.queue = append(s.queue, &u.c)
		s.done = true
	case "error":
		typ, msg := "", ""
		if e.Error != nil {
			typ, msg = e.Error.Type, e.Error.Message
		}
		le := errorFor(typ, msg, 0)
		le.Upstream = s.status
		s.err = le
	}
	// ping and unknown events: nothing.
}
