package bedrock

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/bedrock"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// Event-stream framing bounds: a frame is a 12-byte prelude, headers, payload and a 4-byte
// CRC. Frames above maxFrame are refused rather than buffered.
const (
	preludeLen = 12
	minFrame   = preludeLen + 4
	maxFrame   = 16 << 20
)

// ChatStream decodes a ConverseStream answer: binary event-stream frames, each holding one
// JSON event. Frames may be split at any byte boundary across reads.
func (a *Adapter) ChatStream(resp *http.Response, c *llm.Call) llm.ChunkReader {
	return &stream{
		body: resp.Body, r: bufio.NewReaderSize(resp.Body, 32<<10), dec: eventstream.NewDecoder(),
		id: responseID(resp.Header, a.newID), model: c.Model, created: a.now().Unix(), status: resp.StatusCode,
		blocks: make(map[int]*toolBlock),
	}
}

// toolBlock is a tool-use content block in progress.
type toolBlock struct {
	index   int  // the OpenAI tool call index
	hasArgs bool // a non-empty input fragment was sent
}

type stream struct {
	body    io.ReadCloser
	r       *bufio.Reader
	dec     *eventstream.Decoder
	payload []byte
	id      string
	model   string
	created int64
	status  int

	started   bool
	tools     int
	blocks    map[int]*toolBlock // by contentBlockIndex
	stopped   bool               // messageStop seen (finish chunk queued)
	metadata  bool               // metadata seen
	usage     *bedrock.Usage
	usageSent bool
	pending   []*openai.ChatChunk
	err       error
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

func (s *stream) upstreamErr(msg string) *llm.Error {
	return &llm.Error{Kind: llm.KindUpstream, Message: "bedrock: " + msg, Upstream: s.status}
}

// read decodes one frame and queues its chunks, or sets err.
func (s *stream) read() {
	// Check the prelude before the decoder sees it: the decoder trusts the lengths, and a
	// corrupt one would make it read (and buffer) up to 4 GiB.
	pre, err := s.r.Peek(preludeLen)
	if len(pre) == 0 && errors.Is(err, io.EOF) {
		if s.stopped && s.metadata {
			s.err = io.EOF
		} else {
			s.err = llm.ErrTruncated()
		}
		return
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			s.err = llm.ErrTruncated()
		} else {
			s.err = s.upstreamErr("read stream: " + err.Error())
		}
		return
	}
	total, headers := binary.BigEndian.Uint32(pre[0:4]), binary.BigEndian.Uint32(pre[4:8])
	if total < minFrame || total > maxFrame || headers > total-minFrame {
		s.err = s.upstreamErr("malformed event-stream frame")
		return
	}
	msg, err := s.dec.Decode(s.r, s.payload)
	if err != nil {
		var ce eventstream.ChecksumError
		switch {
		case errors.As(err, &ce):
			s.err = s.upstreamErr("event-stream checksum mismatch")
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			s.err = llm.ErrTruncated()
		default:
			s.err = s.upstreamErr("malformed event-stream frame: " + err.Error())
		}
		return
	}
	s.payload = msg.Payload[:0]
	s.handle(&msg)
}

func header(m *eventstream.Message, name string) string {
	if v := m.Headers.Get(name); v != nil {
		if sv, ok := v.(eventstream.StringValue); ok {
			return string(sv)
		}
	}
	return ""
}

// exceptionKinds maps stream exception types to kinds and their HTTP status.
var exceptionKinds = map[string]struct {
	kind   llm.Kind
	status int
}{
	bedrock.ExceptionInternalServer:     {llm.KindUpstream, 500},
	bedrock.ExceptionModelStreamError:   {llm.KindUpstream, 424},
	bedrock.ExceptionValidation:         {llm.KindInvalidRequest, 400},
	bedrock.ExceptionThrottling:         {llm.KindRateLimit, 429},
	bedrock.ExceptionServiceUnavailable: {llm.KindOverloaded, 503},
	bedrock.ExceptionModelTimeout:       {llm.KindTimeout, 408},
}

func (s *stream) handle(m *eventstream.Message) {
	switch header(m, bedrock.HeaderMessageType) {
	case bedrock.MessageTypeEvent:
	case bedrock.MessageTypeException:
		typ := header(m, bedrock.HeaderExceptionType)
		var body bedrock.ErrorResponse
		_ = json.Unmarshal(m.Payload, &body)
		if body.Message == "" {
			body.Message = "bedrock: " + typ
		}
		k, ok := exceptionKinds[typ]
		if !ok {
			k.kind, k.status = llm.KindUpstream, 500
		}
		s.err = &llm.Error{Kind: k.kind, Message: body.Message, Upstream: k.status}
		return
	case bedrock.MessageTypeError:
		s.err = s.upstreamErr(header(m, bedrock.HeaderErrorCode) + ": " + header(m, bedrock.HeaderErrorMessage))
		return
	default:
		s.err = s.upstreamErr("event-stream frame without a known :message-type")
		return
	}
	var err error
	switch header(m, bedrock.HeaderEventType) {
	case bedrock.EventMessageStart:
		if !s.started {
			s.started = true
			s.emit(openai.Delta{Role: "assistant", Content: openai.Ptr("")}, nil)
		}
	case bedrock.EventContentBlockStart:
		var e bedrock.ContentBlockStartEvent
		if err = json.Unmarshal(m.Payload, &e); err == nil && e.Start != nil && e.Start.ToolUse != nil {
			if _, dup := s.blocks[e.ContentBlockIndex]; dup {
				s.err = s.upstreamErr("content block started twice")
				return
			}
			tb := &toolBlock{index: s.tools}
			s.tools++
			s.blocks[e.ContentBlockIndex] = tb
			s.emit(openai.Delta{ToolCalls: []openai.ToolCallDelta{{Index: tb.index, ID: e.Start.ToolUse.ToolUseID, Type: "function",
				Function: openai.FunctionCallDelta{Name: e.Start.ToolUse.Name}}}}, nil)
		}
	case bedrock.EventContentBlockDelta:
		var e bedrock.ContentBlockDeltaEvent
		if err = json.Unmarshal(m.Payload, &e); err == nil && e.Delta != nil {
			d := e.Delta
			switch {
			case d.Text != nil:
				if *d.Text != "" {
					s.emit(openai.Delta{Content: d.Text}, nil)
				}
			case d.ToolUse != nil:
				tb := s.blocks[e.ContentBlockIndex]
				if tb == nil {
					s.err = s.upstreamErr("tool input for a block that was not started")
					return
				}
				if d.ToolUse.Input != "" {
					tb.hasArgs = true
					s.emit(openai.Delta{ToolCalls: []openai.ToolCallDelta{{Index: tb.index, Function: openai.FunctionCallDelta{Arguments: d.ToolUse.Input}}}}, nil)
				}
			case d.ReasoningContent != nil:
				rc := d.ReasoningContent
				if rc.Text != nil && *rc.Text != "" {
					s.emit(openai.Delta{ReasoningContent: rc.Text}, nil)
				}
				if rc.Signature != "" {
					s.emit(openai.Delta{ThinkingSignature: rc.Signature}, nil)
				}
			}
		}
	case bedrock.EventContentBlockStop:
		var e bedrock.ContentBlockStopEvent
		if err = json.Unmarshal(m.Payload, &e); err == nil {
			// A no-arg tool streams no input: send "{}" so that clients can parse it.
			if tb := s.blocks[e.ContentBlockIndex]; tb != nil && !tb.hasArgs {
				tb.hasArgs = true
				s.emit(openai.Delta{ToolCalls: []openai.ToolCallDelta{{Index: tb.index, Function: openai.FunctionCallDelta{Arguments: "{}"}}}}, nil)
			}
		}
	case bedrock.EventMessageStop:
		var e bedrock.MessageStopEvent
		if err = json.Unmarshal(m.Payload, &e); err == nil && !s.stopped {
			s.stopped = true
			s.emit(openai.Delta{}, openai.Ptr(finishReason(e.StopReason, s.tools > 0)))
			s.flushUsage()
		}
	case bedrock.EventMetadata:
		var e bedrock.MetadataEvent
		if err = json.Unmarshal(m.Payload, &e); err == nil {
			s.metadata = true
			if e.Usage != nil {
				s.usage = e.Usage
			}
			s.flushUsage()
		}
	}
	if err != nil {
		s.err = s.upstreamErr("malformed stream event: " + err.Error())
	}
}

// flushUsage queues the usage chunk once both the finish chunk and the usage are known.
func (s *stream) flushUsage() {
	if s.stopped && s.usage != nil && !s.usageSent {
		s.usageSent = true
		s.pending = append(s.pending, &openai.ChatChunk{ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
			Choices: []openai.ChunkChoice{}, Usage: openAIUsage(s.usage)})
	}
}

// emit queues a chunk of choice 0; the first one carries the role.
func (s *stream) emit(d openai.Delta, finish *string) {
	if !s.started {
		s.started = true
		d.Role = "assistant"
	}
	s.pending = append(s.pending, &openai.ChatChunk{ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
		Choices: []openai.ChunkChoice{{Delta: d, FinishReason: finish}}})
}
