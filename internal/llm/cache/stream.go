package cache

import (
	"sort"
	"strings"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// Accumulator rebuilds a complete answer from the chunks of a stream, so that a streamed
// answer can be cached like a plain one. Only choice 0 is kept (the gateway caches n=1).
type Accumulator struct {
	id, model string
	created   int64
	role      string
	content   strings.Builder
	reasoning strings.Builder
	tools     map[int]*openai.ToolCall
	finish    string
	usage     *openai.Usage
}

// Add takes one chunk.
func (a *Accumulator) Add(c *openai.ChatChunk) {
	if a.id == "" {
		a.id, a.model, a.created = c.ID, c.Model, c.Created
	}
	if c.Usage != nil {
		a.usage = c.Usage
	}
	for i := range c.Choices {
		ch := &c.Choices[i]
		if ch.Index != 0 {
			continue
		}
		d := &ch.Delta
		if d.Role != "" {
			a.role = d.Role
		}
		if d.Content != nil {
			a.content.WriteString(*d.Content)
		}
		if d.ReasoningContent != nil {
			a.reasoning.WriteString(*d.ReasoningContent)
		}
		for _, tc := range d.ToolCalls {
			if a.tools == nil {
				a.tools = map[int]*openai.ToolCall{}
			}
			t := a.tools[tc.Index]
			if t == nil {
				t = &openai.ToolCall{Type: "function"}
				a.tools[tc.Index] = t
			}
			if tc.ID != "" {
				t.ID = tc.ID
			}
			if tc.Function.Name != "" {
				t.Function.Name = tc.Function.Name
			}
			t.Function.Arguments += tc.Function.Arguments
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			a.finish = *ch.FinishReason
		}
	}
}

// Complete reports whether the stream finished (a finish reason was seen).
func (a *Accumulator) Complete() bool { return a.finish != "" }

// Response returns the answer the chunks make.
func (a *Accumulator) Response() *openai.ChatResponse {
	msg := openai.Message{Role: "assistant", ReasoningContent: a.reasoning.String()}
	if a.content.Len() > 0 || len(a.tools) == 0 {
		msg.Content = openai.TextContent(a.content.String())
	}
	idx := make([]int, 0, len(a.tools))
	for i := range a.tools {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		msg.ToolCalls = append(msg.ToolCalls, *a.tools[i])
	}
	return &openai.ChatResponse{ID: a.id, Object: "chat.completion", Created: a.created, Model: a.model,
		Choices: []openai.Choice{{Index: 0, Message: msg, FinishReason: a.finish}}, Usage: a.usage}
}

// Chunks replays a complete answer as the chunks of a stream: the role, the reasoning and the
// content (in pieces of at most size bytes), each tool call (id and name, then its
// arguments), the finish reason, then the usage report.
func Chunks(r *openai.ChatResponse, size int) []*openai.ChatChunk {
	if size <= 0 {
		size = 64
	}
	var out []*openai.ChatChunk
	mk := func(d openai.Delta, finish *string) {
		out = append(out, &openai.ChatChunk{ID: r.ID, Object: "chat.completion.chunk", Created: r.Created, Model: r.Model,
			Choices: []openai.ChunkChoice{{Index: 0, Delta: d, FinishReason: finish}}})
	}
	if len(r.Choices) == 0 {
		return nil
	}
	c := &r.Choices[0]
	mk(openai.Delta{Role: "assistant", Content: openai.Ptr("")}, nil)
	for _, piece := range split(c.Message.ReasoningContent, size) {
		mk(openai.Delta{ReasoningContent: openai.Ptr(piece)}, nil)
	}
	for _, piece := range split(c.Message.Content.String(), size) {
		mk(openai.Delta{Content: openai.Ptr(piece)}, nil)
	}
	for i, tc := range c.Message.ToolCalls {
		mk(openai.Delta{ToolCalls: []openai.ToolCallDelta{{Index: i, ID: tc.ID, Type: "function",
			Function: openai.FunctionCallDelta{Name: tc.Function.Name}}}}, nil)
		if tc.Function.Arguments != "" {
			mk(openai.Delta{ToolCalls: []openai.ToolCallDelta{{Index: i, Function: openai.FunctionCallDelta{Arguments: tc.Function.Arguments}}}}, nil)
		}
	}
	fr := c.FinishReason
	if fr == "" {
		fr = openai.FinishStop
	}
	mk(openai.Delta{}, &fr)
	if r.Usage != nil {
		out = append(out, &openai.ChatChunk{ID: r.ID, Object: "chat.completion.chunk", Created: r.Created, Model: r.Model,
			Choices: []openai.ChunkChoice{}, Usage: r.Usage})
	}
	return out
}

// split cuts s into pieces of at most size bytes, at rune boundaries.
func split(s string, size int) []string {
	var out []string
	for len(s) > size {
		cut := size
		for cut > 0 && !startsRune(s[cut]) {
			cut--
		}
		if cut == 0 {
			cut = size
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

func startsRune(b byte) bool { return b&0xC0 != 0x80 }
