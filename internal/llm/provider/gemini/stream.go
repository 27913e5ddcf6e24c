package gemini

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/gemini"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/sse"
)

// maxCandidates bounds the candidates a stream may carry (candidateCount is at most 8).
const maxCandidates = 8

// ChatStream decodes a streamGenerateContent?alt=sse answer. Each event is a whole
// GenerateContentResponse with the new parts; function calls arrive whole.
func (a *Adapter) ChatStream(resp *http.Response, c *llm.Call) llm.ChunkReader {
	return &stream{a: a, body: resp.Body, r: sse.NewReader(resp.Body), model: c.Model, created: a.now().Unix(), status: resp.StatusCode}
}

// candState is what the stream remembers of one candidate.
type candState struct {
	seen     bool
	started  bool // the role was sent
	tools    int  // tool calls sent: the next tool index
	finished bool
}

type stream struct {
	a       *Adapter
	body    io.ReadCloser
	r       *sse.Reader
	id      string
	model   string
	created int64
	status  int

	cands    [maxCandidates]candState
	seen     int // candidates seen
	finished int // candidates finished
	usage    *gemini.UsageMetadata
	pending  []*openai.ChatChunk
	err      error // sticky: returned once pending is drained
}

// event is one stream event: a response, or an error object.
type event struct {
	gemini.Response
	Error *gemini.ErrorBody `json:"error,omitempty"`
}

// Next returns the next chunk.
func (s *stream) Next() (*openai.ChatChunk, error) {
	for len(s.pending) == 0 {
		if s.err != nil {
			return nil, s.err
		}
		s.read()
	}
	c := s.pending[0]
	s.pending[0] = nil
	s.pending = s.pending[1:]
	return c, nil
}

// Close closes the body.
func (s *stream) Close() error { return s.body.Close() }

// read reads one event and queues its chunks, or sets err.
func (s *stream) read() {
	ev, err := s.r.Next()
	if err != nil {
		s.end(err)
		return
	}
	data := bytes.TrimSpace(ev.Data)
	if len(data) == 0 || string(data) == "[DONE]" {
		return
	}
	var e event
	if err := json.Unmarshal(data, &e); err != nil {
		s.err = &llm.Error{Kind: llm.KindUpstream, Message: "gemini: malformed stream event: " + err.Error(), Upstream: s.status}
		return
	}
	if e.Error != nil {
		s.err = errorFromBody(e.Error, 0)
		return
	}
	s.handle(&e.Response)
}

// end handles the end of the body: a clean end only after every candidate finished.
func (s *stream) end(err error) {
	switch {
	case errors.Is(err, io.EOF):
		if s.finished == 0 || s.finished < s.seen {
			s.err = llm.ErrTruncated()
			return
		}
		if s.usage != nil {
			s.pending = append(s.pending, &openai.ChatChunk{
				ID: s.chunkID(), Object: "chat.completion.chunk", Created: s.created, Model: s.model,
				Choices: []openai.ChunkChoice{}, Usage: openAIUsage(s.usage),
			})
		}
		s.err = io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		s.err = llm.ErrTruncated()
	default:
		s.err = &llm.Error{Kind: llm.KindUpstream, Message: "gemini: read stream: " + err.Error(), Upstream: s.status}
	}
}

func (s *stream) chunkID() string {
	if s.id == "" {
		s.id = "chatcmpl-" + s.a.newID()
	}
	return s.id
}

func (s *stream) chunk(index int, d openai.Delta, finish *string) *openai.ChatChunk {
	return &openai.ChatChunk{
		ID: s.chunkID(), Object: "chat.completion.chunk", Created: s.created, Model: s.model,
		Choices: []openai.ChunkChoice{{Index: index, Delta: d, FinishReason: finish}},
	}
}

func (s *stream) handle(r *gemini.Response) {
	if s.id == "" && r.ResponseID != "" {
		s.id = r.ResponseID
	}
	if r.ModelVersion != "" {
		s.model = r.ModelVersion
	}
	// Usage is cumulative: the last snapshot wins, and an all-zero one never replaces a
	// real one (some models send zeros early, or on a trailing chunk).
	if u := r.UsageMetadata; u != nil && (s.usage == nil || !u.IsZero()) {
		cp := *u
		s.usage = &cp
	}
	if len(r.Candidates) == 0 && r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" {
		st := &s.cands[0]
		if !st.finished {
			s.see(0)
			st.finished = true
			s.finished++
			d := openai.Delta{}
			if !st.started {
				st.started = true
				d.Role = "assistant"
			}
			s.pending = append(s.pending, s.chunk(0, d, openai.Ptr(openai.FinishContentFilter)))
		}
		return
	}
	for i := range r.Candidates {
		cand := &r.Candidates[i]
		if cand.Index < 0 || cand.Index >= maxCandidates {
			s.err = &llm.Error{Kind: llm.KindUpstream, Message: "gemini: stream candidate index out of range", Upstream: s.status}
			return
		}
		st := &s.cands[cand.Index]
		s.see(cand.Index)
		if st.finished {
			continue // a trailing chunk of a finished candidate (usage only, empty text)
		}
		var d openai.Delta
		var text, reasoning []byte
		if cand.Content != nil {
			for j := range cand.Content.Parts {
				p := &cand.Content.Parts[j]
				switch {
				case p.FunctionCall != nil:
					d.ToolCalls = append(d.ToolCalls, openai.ToolCallDelta{
						Index:    st.tools,
						ID:       s.a.callID(p.ThoughtSignature),
						Type:     "function",
						Function: openai.FunctionCallDelta{Name: p.FunctionCall.Name, Arguments: argsString(p.FunctionCall.Args)},
					})
					st.tools++
				case p.Thought:
					reasoning = append(reasoning, p.Text...)
				default:
					text = append(text, p.Text...)
				}
			}
		}
		if len(text) > 0 {
			d.Content = openai.Ptr(string(text))
		}
		if len(reasoning) > 0 {
			d.ReasoningContent = openai.Ptr(string(reasoning))
		}
		if d.Content != nil || d.ReasoningContent != nil || len(d.ToolCalls) > 0 {
			if !st.started {
				st.started = true
				d.Role = "assistant"
			}
			s.pending = append(s.pending, s.chunk(cand.Index, d, nil))
		}
		if cand.FinishReason != "" {
			st.finished = true
			s.finished++
			d := openai.Delta{}
			if !st.started {
				st.started = true
				d.Role = "assistant"
			}
			s.pending = append(s.pending, s.chunk(cand.Index, d, openai.Ptr(finishReason(cand.FinishReason, st.tools > 0))))
		}
	}
}

func (s *stream) see(index int) {
	if !s.cands[index].seen {
		s.cands[index].seen = true
		s.seen++
	}
}
