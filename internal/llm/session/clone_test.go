package session

import (
	"reflect"
	"testing"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

func fullMessage() openai.Message {
	return openai.Message{
		Role: "assistant", Name: "n", Refusal: "r", ReasoningContent: "rc", ToolCallID: "id",
		Content: &openai.Content{Parts: []openai.Part{
			{Type: "text", Text: "t", CacheControl: []byte(`{"type":"ephemeral"}`)},
			{Type: "image_url", ImageURL: &openai.ImageURL{URL: "u"}},
			{Type: "input_audio", InputAudio: &openai.InputAudio{Data: "d", Format: "wav"}},
			{Type: "file", File: &openai.File{FileID: "f"}},
		}},
		ToolCalls:      []openai.ToolCall{{ID: "c", Type: "function", Function: openai.FunctionCall{Name: "f", Arguments: "{}"}}},
		ThinkingBlocks: []openai.ThinkingBlock{{Type: "thinking", Thinking: "hm", Signature: "s"}},
	}
}

// TestCloneMessage: a clone shares nothing mutable with its source, and
// cloneMessage knows every reference field of the message types.
func TestCloneMessage(t *testing.T) {
	src := fullMessage()
	before := mustJSON(t, src)
	c := cloneMessage(&src)
	if mustJSON(t, c) != before {
		t.Fatalf("clone differs:\n%s\n%s", mustJSON(t, c), before)
	}
	c.Content.Parts[0].Text = "x"
	c.Content.Parts[0].CacheControl[0] = 'X'
	c.Content.Parts[1].ImageURL.URL = "x"
	c.Content.Parts[2].InputAudio.Data = "x"
	c.Content.Parts[3].File.FileID = "x"
	c.ToolCalls[0].ID = "x"
	c.ThinkingBlocks[0].Thinking = "x"
	c.Content.Text = "x"
	if mustJSON(t, src) != before {
		t.Errorf("modifying the clone changed the source:\n%s\n%s", mustJSON(t, src), before)
	}
	known := map[string]bool{
		"Message.Content": true, "Message.ToolCalls": true, "Message.ThinkingBlocks": true,
		"Content.Parts": true, "Part.ImageURL": true, "Part.InputAudio": true, "Part.File": true,
		"Part.CacheControl": true,
	}
	var walk func(reflect.Type)
	seen := map[reflect.Type]bool{}
	walk = func(ty reflect.Type) {
		if seen[ty] {
			return
		}
		seen[ty] = true
		for i := range ty.NumField() {
			f := ty.Field(i)
			name := ty.Name() + "." + f.Name
			ft := f.Type
			switch ft.Kind() {
			case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
				if !known[name] {
					t.Errorf("%s is a reference field cloneMessage does not copy", name)
				}
				for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
					ft = ft.Elem()
				}
			}
			if ft.Kind() == reflect.Struct {
				walk(ft)
			}
		}
	}
	walk(reflect.TypeFor[openai.Message]())
}
