package pii

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// RedactChat returns req with PII redacted from everything the provider reads as text:
// message contents (strings and text parts), refusals and reasoning text, tool-call
// arguments (inside their JSON values), tool results (inside their JSON values when they
// are JSON), the user field and the metadata values. It returns the counts by detector.
//
// req is never modified: what changes is copied (messages slice, contents, parts, tool
// calls). When nothing is found the result is req itself. When the request carries the
// client's raw body (Raw), the copy's Raw gets the redacted messages, user and metadata
// with the other top-level fields kept; an unreadable Raw is dropped so that the adapter
// encodes the typed fields. Tool definitions, images, audio, files and Anthropic thinking
// blocks (signed: changing them would void the signature) are not touched.
func (r *Redactor) RedactChat(req *openai.ChatRequest, v *Vault) (*openai.ChatRequest, Counts) {
	var c Counts
	var msgs []openai.Message
	for i := range req.Messages {
		if m, ok := r.redactMessage(&req.Messages[i], v, &c); ok {
			if msgs == nil {
				msgs = slices.Clone(req.Messages)
			}
			msgs[i] = m
		}
	}
	user := r.redact(req.User, v, &c)
	var meta json.RawMessage
	if len(req.Metadata) > 0 {
		if s := r.redactJSON(string(req.Metadata), v, &c); s != string(req.Metadata) {
			meta = json.RawMessage(s)
		}
	}
	if msgs == nil && user == req.User && meta == nil {
		return req, c
	}
	out := *req
	if msgs != nil {
		out.Messages = msgs
	}
	out.User = user
	if meta != nil {
		out.Metadata = meta
	}
	if req.Raw != nil {
		out.Raw = patchRaw(req.Raw, &out, msgs != nil, user != req.User, meta != nil)
	}
	return &out, c
}

// patchRaw replaces the redacted top-level fields of a raw body, or returns nil.
func patchRaw(raw []byte, req *openai.ChatRequest, msgs, user, meta bool) []byte {
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return nil
	}
	set := func(key string, v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		top[key] = b
		return true
	}
	if msgs && !set("messages", req.Messages) || user && !set("user", req.User) {
		return nil
	}
	if meta {
		top["metadata"] = req.Metadata
	}
	b, err := json.Marshal(top)
	if err != nil {
		return nil
	}
	return b
}

// redactMessage returns a redacted copy of m and true, or false when nothing changed.
func (r *Redactor) redactMessage(m *openai.Message, v *Vault, c *Counts) (openai.Message, bool) {
	out := *m
	changed := false
	if m.Content != nil {
		if m.Content.Parts == nil {
			var t string
			if m.Role == "tool" && looksJSON(m.Content.Text) {
				t = r.redactJSON(m.Content.Text, v, c)
			} else {
				t = r.redact(m.Content.Text, v, c)
			}
			if t != m.Content.Text {
				out.Content = &openai.Content{Text: t}
				changed = true
			}
		} else {
			var parts []openai.Part
			for i, p := range m.Content.Parts {
				if p.Type != "text" || p.Text == "" {
					continue
				}
				var t string
				if m.Role == "tool" && looksJSON(p.Text) {
					t = r.redactJSON(p.Text, v, c)
				} else {
					t = r.redact(p.Text, v, c)
				}
				if t != p.Text {
					if parts == nil {
						parts = slices.Clone(m.Content.Parts)
					}
					parts[i].Text = t
				}
			}
			if parts != nil {
				out.Content = &openai.Content{Parts: parts}
				changed = true
			}
		}
	}
	if t := r.redact(m.Refusal, v, c); t != m.Refusal {
		out.Refusal, changed = t, true
	}
	if t := r.redact(m.ReasoningContent, v, c); t != m.ReasoningContent {
		out.ReasoningContent, changed = t, true
	}
	var calls []openai.ToolCall
	for i, tc := range m.ToolCalls {
		if a := r.redactJSON(tc.Function.Arguments, v, c); a != tc.Function.Arguments {
			if calls == nil {
				calls = slices.Clone(m.ToolCalls)
			}
			calls[i].Function.Arguments = a
		}
	}
	if calls != nil {
		out.ToolCalls, changed = calls, true
	}
	return out, changed
}

func looksJSON(s string) bool {
	s = strings.TrimLeft(s, " \t\r\n")
	return s != "" && (s[0] == '{' || s[0] == '[')
}

// RestoreResponse returns resp with the vault's tokens restored in every choice's content,
// refusal, reasoning text and tool-call arguments (JSON-escaped there). resp is not
// modified; a changed copy has no Raw, so that the client's encoder writes the restored
// fields. A response left raw by its adapter is decoded first.
func RestoreResponse(resp *openai.ChatResponse, v *Vault) (*openai.ChatResponse, error) {
	if v.Len() == 0 || resp == nil {
		return resp, nil
	}
	src := resp
	if resp.Choices == nil && resp.Raw != nil {
		cp := *resp
		if err := cp.Decode(); err != nil {
			return resp, err
		}
		src = &cp
	}
	var choices []openai.Choice
	for i := range src.Choices {
		m, ok := restoreMessage(&src.Choices[i].Message, v)
		if !ok {
			continue
		}
		if choices == nil {
			choices = slices.Clone(src.Choices)
		}
		choices[i].Message = m
	}
	if choices == nil {
		return resp, nil
	}
	out := *src
	out.Choices = choices
	out.Raw = nil
	return &out, nil
}

func restoreMessage(m *openai.Message, v *Vault) (openai.Message, bool) {
	out := *m
	changed := false
	if m.Content != nil {
		if m.Content.Parts == nil {
			if t := Restore(m.Content.Text, v); t != m.Content.Text {
				out.Content, changed = &openai.Content{Text: t}, true
			}
		} else {
			var parts []openai.Part
			for i, p := range m.Content.Parts {
				if t := Restore(p.Text, v); t != p.Text {
					if parts == nil {
						parts = slices.Clone(m.Content.Parts)
					}
					parts[i].Text = t
				}
			}
			if parts != nil {
				out.Content, changed = &openai.Content{Parts: parts}, true
			}
		}
	}
	if t := Restore(m.Refusal, v); t != m.Refusal {
		out.Refusal, changed = t, true
	}
	if t := Restore(m.ReasoningContent, v); t != m.ReasoningContent {
		out.ReasoningContent, changed = t, true
	}
	var calls []openai.ToolCall
	for i, tc := range m.ToolCalls {
		if a := RestoreJSON(tc.Function.Arguments, v); a != tc.Function.Arguments {
			if calls == nil {
				calls = slices.Clone(m.ToolCalls)
			}
			calls[i].Function.Arguments = a
		}
	}
	if calls != nil {
		out.ToolCalls, changed = calls, true
	}
	return out, changed
}
