package anthropic

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/sse"
)

// NewStream returns a writer of canonical chunks as an Anthropic event stream
// (providers.md §4.1, "Reverse direction"). Nothing is written before the first chunk.
func (d Dialect) NewStream(w http.ResponseWriter, req *openai.ChatRequest) llm.StreamWriter {
	return &streamWriter{w: w, rc: http.NewResponseController(w), model: clientModel(req, ""), tools: map[int]int{}}
}

type openKind uint8

const (
	openNone openKind = iota
	openText
	openThinking
	openTool
)

// streamWriter is the reverse state machine: canonical chunks in, Anthropic events out.
type streamWriter struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	model string

	started, closed bool
	id              string
	next            int      // next Anthropic block index
	open            openKind // the open block, at index next-1
	openTool        int      // the OpenAI tool index of the open tool_use block
	tools           map[int]int
	sawTool         bool
	finish          string
	usage           *openai.Usage
	buf             []byte
	scratch         []byte
}

var errInterleaved = llm.Errorf(llm.KindUpstream, "upstream interleaved the arguments of two tool calls")

// Started reports whether anything was written.
func (s *streamWriter) Started() bool { return s.started }

// WriteChunk turns one canonical chunk into zero or more events, flushed together.
func (s *streamWriter) WriteChunk(c *openai.ChatChunk) error {
	if s.closed {
		return errors.New("anthropic dialect: write after the end of the stream")
	}
	if c.Usage != nil {
		s.usage = c.Usage
	}
	if !s.started {
		s.begin(c.ID)
	}
	for i := range c.Choices {
		ch := &c.Choices[i]
		if ch.Index != 0 {
			continue // an Anthropic message has one choice
		}
		d := &ch.Delta
		if r := d.ReasoningContent; r != nil && *r != "" {
			s.ensure(openThinking)
			s.delta(`{"type":"thinking_delta","thinking":`, *r)
		}
		if d.ThinkingSignature != "" {
			s.ensure(openThinking)
			s.delta(`{"type":"signature_delta","signature":`, d.ThinkingSignature)
		}
		if t := d.Content; t != nil && *t != "" {
			s.ensure(openText)
			s.delta(`{"type":"text_delta","text":`, *t)
		}
		if t := d.Refusal; t != nil && *t != "" {
			s.ensure(openText)
			s.delta(`{"type":"text_delta","text":`, *t)
		}
		for j := range d.ToolCalls {
			if err := s.tool(&d.ToolCalls[j]); err != nil {
				return err
			}
		}
		if f := ch.FinishReason; f != nil && *f != "" {
			s.finish = *f
			s.closeBlock()
		}
	}
	return s.flush()
}

// begin writes the headers and message_start. The input tokens are not known yet: they
// come in the final message_delta.
func (s *streamWriter) begin(id string) {
	s.started = true
	s.id = MessageID(id)
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Del("Content-Length")
	s.w.WriteHeader(http.StatusOK)
	b := s.scratch[:0]
	b = append(b, `{"type":"message_start","message":{"id":`...)
	b = appendString(b, s.id)
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	b = appendString(b, s.model)
	b = append(b, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}}`...)
	s.event("message_start", b)
}

func (s *streamWriter) event(name string, data []byte) {
	s.buf = sse.AppendEvent(s.buf, name, data)
	s.scratch = data[:0]
}

// ensure opens a block of kind k unless one is open.
func (s *streamWriter) ensure(k openKind) {
	if s.open == k {
		return
	}
	s.closeBlock()
	b := s.scratch[:0]
	b = append(b, `{"type":"content_block_start","index":`...)
	b = strconv.AppendInt(b, int64(s.next), 10)
	if k == openText {
		b = append(b, `,"content_block":{"type":"text","text":""}}`...)
	} else {
		b = append(b, `,"content_block":{"type":"thinking","thinking":"","signature":""}}`...)
	}
	s.event("content_block_start", b)
	s.open = k
	s.next++
}

func (s *streamWriter) closeBlock() {
	if s.open == openNone {
		return
	}
	b := s.scratch[:0]
	b = append(b, `{"type":"content_block_stop","index":`...)
	b = strconv.AppendInt(b, int64(s.next-1), 10)
	b = append(b, '}')
	s.event("content_block_stop", b)
	s.open = openNone
}

// delta writes a content_block_delta on the open block; prefix is the delta object up to
// its string value.
func (s *streamWriter) delta(prefix, v string) {
	b := s.scratch[:0]
	b = append(b, `{"type":"content_block_delta","index":`...)
	b = strconv.AppendInt(b, int64(s.next-1), 10)
	b = append(b, `,"delta":`...)
	b = append(b, prefix...)
	b = appendString(b, v)
	b = append(b, "}}"...)
	s.event("content_block_delta", b)
}

// tool handles one tool call fragment: a call index not seen yet opens a tool_use block
// (never merged into another call's block), arguments become input_json_delta.
func (s *streamWriter) tool(tc *openai.ToolCallDelta) error {
	if _, seen := s.tools[tc.Index]; !seen {
		s.closeBlock()
		id := tc.ID
		if id == "" {
			id = "toolu_" + MessageID("")[4:]
		}
		s.tools[tc.Index] = s.next
		b := s.scratch[:0]
		b = append(b, `{"type":"content_block_start","index":`...)
		b = strconv.AppendInt(b, int64(s.next), 10)
		b = append(b, `,"content_block":{"type":"tool_use","id":`...)
		b = appendString(b, id)
		b = append(b, `,"name":`...)
		b = appendString(b, tc.Function.Name)
		b = append(b, `,"input":{}}}`...)
		s.event("content_block_start", b)
		s.open, s.openTool = openTool, tc.Index
		s.next++
		s.sawTool = true
	} else if s.open != openTool || s.openTool != tc.Index {
		if tc.Function.Arguments == "" {
			return nil // a repeated id or name: nothing to write
		}
		return errInterleaved
	}
	if tc.Function.Arguments != "" {
		s.delta(`{"type":"input_json_delta","partial_json":`, tc.Function.Arguments)
	}
	return nil
}

func (s *streamWriter) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	_, err := s.w.Write(s.buf)
	s.buf = s.buf[:0]
	if err != nil {
		return err
	}
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// Close ends a complete stream: the open block is closed, then message_delta with the stop
// reason (tool_use whenever a tool call was streamed) and the usage, then message_stop.
func (s *streamWriter) Close() error {
	if s.closed {
		return nil
	}
	if !s.started {
		s.begin("")
	}
	s.closed = true
	s.closeBlock()
	b := s.scratch[:0]
	b = append(b, `{"type":"message_delta","delta":{"stop_reason":`...)
	b = appendString(b, StopReason(s.finish, s.sawTool))
	b = append(b, `,"stop_sequence":null},"usage":{`...)
	if s.usage != nil {
		u := ConvertUsage(s.usage)
		b = append(b, `"input_tokens":`...)
		b = strconv.AppendInt(b, int64(u.InputTokens), 10)
		if u.CacheReadInputTokens > 0 {
			b = append(b, `,"cache_read_input_tokens":`...)
			b = strconv.AppendInt(b, int64(u.CacheReadInputTokens), 10)
		}
		if u.CacheCreationInputTokens > 0 {
			b = append(b, `,"cache_creation_input_tokens":`...)
			b = strconv.AppendInt(b, int64(u.CacheCreationInputTokens), 10)
		}
		b = append(b, `,"output_tokens":`...)
		b = strconv.AppendInt(b, int64(u.OutputTokens), 10)
	} else {
		b = append(b, `"output_tokens":0`...)
	}
	b = append(b, "}}"...)
	s.event("message_delta", b)
	s.event("message_stop", append(s.scratch[:0], `{"type":"message_stop"}`...))
	return s.flush()
}

// Fail ends the stream with an error event, or writes an error answer when nothing was
// written yet.
func (s *streamWriter) Fail(e *llm.Error) error {
	if s.closed {
		return nil
	}
	s.closed = true
	if !s.started {
		Dialect{}.WriteError(s.w, e)
		s.started = true
		return nil
	}
	_, typ := ErrorType(e)
	s.buf = s.buf[:0]
	s.event("error", errorBody(typ, errorMessage(e), ""))
	return s.flush()
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
