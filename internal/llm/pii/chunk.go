package pii

import (
	"slices"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// ChunkRestorer restores tokens in a streamed chat completion, chunk by chunk: content,
// refusal and reasoning deltas per choice, and tool-call argument deltas per choice and
// tool index, each through its own Restorer. Text a Restorer holds back is released in the
// chunk that carries the choice's finish_reason, or by Flush when the stream ends without
// one. A ChunkRestorer is for one stream and is not safe for concurrent use.
type ChunkRestorer struct {
	v     *Vault
	text  map[textKey]*Restorer
	tools map[int]*ToolArgsRestorer
	head  openai.ChatChunk // id, object, created, model of the last chunk
}

type textKey struct {
	choice int
	field  uint8 // 0 content, 1 refusal, 2 reasoning
}

// NewChunkRestorer returns a ChunkRestorer for one stream.
func NewChunkRestorer(v *Vault) *ChunkRestorer {
	return &ChunkRestorer{v: v, text: map[textKey]*Restorer{}, tools: map[int]*ToolArgsRestorer{}}
}

// Restore returns ch with its deltas restored. ch is not modified: a chunk whose deltas
// change is copied and loses its Raw, so that the client's encoder writes the deltas.
func (c *ChunkRestorer) Restore(ch *openai.ChatChunk) *openai.ChatChunk {
	if ch == nil || c.v.Len() == 0 {
		return ch
	}
	c.head = openai.ChatChunk{ID: ch.ID, Object: ch.Object, Created: ch.Created, Model: ch.Model, SystemFingerprint: ch.SystemFingerprint}
	var choices []openai.ChunkChoice
	for i := range ch.Choices {
		cc := &ch.Choices[i]
		d, changed := c.delta(cc.Index, &cc.Delta, cc.FinishReason != nil)
		if !changed {
			continue
		}
		if choices == nil {
			choices = slices.Clone(ch.Choices)
		}
		choices[i].Delta = d
	}
	if choices == nil {
		return ch
	}
	out := *ch
	out.Choices = choices
	out.Raw = nil
	return &out
}

// delta restores one choice's delta; finish releases everything held for the choice.
func (c *ChunkRestorer) delta(choice int, d *openai.Delta, finish bool) (openai.Delta, bool) {
	out := *d
	changed := false
	field := func(f uint8, p *string) *string {
		k := textKey{choice, f}
		r := c.text[k]
		in := ""
		if p != nil {
			in = *p
		}
		var s string
		switch {
		case r != nil:
			s = r.Write(in)
		case p != nil:
			r = NewRestorer(c.v)
			c.text[k] = r
			s = r.Write(in)
		}
		if finish && r != nil {
			s += r.Flush()
		}
		if p == nil && s == "" || p != nil && s == *p {
			return p
		}
		changed = true
		return &s
	}
	out.Content = field(0, d.Content)
	out.Refusal = field(1, d.Refusal)
	out.ReasoningContent = field(2, d.ReasoningContent)

	tr := c.tools[choice]
	if len(d.ToolCalls) > 0 {
		if tr == nil {
			tr = NewToolArgsRestorer(c.v)
			c.tools[choice] = tr
		}
		var calls []openai.ToolCallDelta
		for i, tc := range d.ToolCalls {
			if a := tr.Write(tc.Index, tc.Function.Arguments); a != tc.Function.Arguments {
				if calls == nil {
					calls = slices.Clone(d.ToolCalls)
				}
				calls[i].Function.Arguments = a
			}
		}
		if calls != nil {
			out.ToolCalls, changed = calls, true
		}
	}
	if finish && tr != nil {
		if rest := tr.FlushAll(); rest != nil {
			out.ToolCalls = append(slices.Clone(out.ToolCalls), rest...)
			changed = true
		}
	}
	return out, changed
}

// Flush returns a chunk carrying whatever is still held back (for a stream that ended
// without finish reasons), or nil.
func (c *ChunkRestorer) Flush() *openai.ChatChunk {
	byChoice := map[int]*openai.Delta{}
	get := func(i int) *openai.Delta {
		if byChoice[i] == nil {
			byChoice[i] = &openai.Delta{}
		}
		return byChoice[i]
	}
	for k, r := range c.text {
		if s := r.Flush(); s != "" {
			d := get(k.choice)
			switch k.field {
			case 0:
				d.Content = &s
			case 1:
				d.Refusal = &s
			case 2:
				d.ReasoningContent = &s
			}
		}
	}
	for i, tr := range c.tools {
		if rest := tr.FlushAll(); rest != nil {
			get(i).ToolCalls = rest
		}
	}
	if len(byChoice) == 0 {
		return nil
	}
	out := c.head
	for i, d := range byChoice {
		out.Choices = append(out.Choices, openai.ChunkChoice{Index: i, Delta: *d})
	}
	slices.SortFunc(out.Choices, func(a, b openai.ChunkChoice) int { return a.Index - b.Index })
	return &out
}
