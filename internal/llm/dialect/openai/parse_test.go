package openai

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pylon-gateway/pylon/internal/llm"
)

// msgs wraps messages JSON in a valid request.
func msgs(m string) string { return `{"model":"gpt-4o","messages":[` + m + `]}` }

// with adds fields to a valid one-message request.
func with(fields string) string {
	return `{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}],` + fields + `}`
}

// Each error names its param as OpenAI does (error.param), and the message starts with it.
func TestParseChat(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		param      string // "" with msg "": the request is valid
		msg        string // a part of the message
	}{
		{"minimal", msgs(`{"role":"user","content":"Hi"}`), "", ""},
		{"every role", msgs(`{"role":"system","content":"s"},{"role":"developer","content":"d"},{"role":"user","content":[{"type":"text","text":"u"},{"type":"image_url","image_url":{"url":"https://x/y.png"}},{"type":"input_audio","input_audio":{"data":"AAA=","format":"wav"}},{"type":"file","file":{"file_id":"f"}}]},` +
			`{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"r"},{"role":"assistant","refusal":"no"},{"role":"function","name":"f","content":"x"}`), "", ""},
		{"every param", with(`"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"},"strict":true}}],"tool_choice":{"type":"function","function":{"name":"f"}},` +
			`"parallel_tool_calls":false,"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{}}},"temperature":2,"top_p":0,"max_tokens":1,"max_completion_tokens":5,"n":1,` +
			`"stop":["a","b","c","d"],"stream":true,"stream_options":{"include_usage":true},"seed":-1,"user":"u","presence_penalty":0.5,"logprobs":true,"top_logprobs":3,"logit_bias":{"1":-100},` +
			`"reasoning_effort":"low","metadata":{"k":"v"},"store":true,"unknown_future_param":{"x":1}`), "", ""},
		{"stop as a string", with(`"stop":"END"`), "", ""},
		{"tool_choice modes", with(`"tool_choice":"required"`), "", ""},

		{"not JSON", `{"model":`, "", "not valid JSON"},
		{"trailing garbage", msgs(`{"role":"user","content":"Hi"}`) + "x", "", "not valid JSON"},
		{"empty body", ``, "", "not valid JSON"},
		{"an array", `[]`, "", "expected a JSON object, got array"},
		{"no model", `{"messages":[{"role":"user","content":"Hi"}]}`, "model", "is required"},
		{"no messages", `{"model":"m"}`, "messages", "non-empty array"},
		{"empty messages", `{"model":"m","messages":[]}`, "messages", "non-empty array"},
		{"unknown role", msgs(`{"role":"user","content":"a"},{"role":"robot","content":"b"}`), "messages[1].role", `"robot"`},
		{"user without content", msgs(`{"role":"system","content":"a"},{"role":"user"}`), "messages[1].content", "is required"},
		{"user with null content", msgs(`{"role":"user","content":null}`), "messages[0].content", "is required"},
		{"assistant without content", msgs(`{"role":"user","content":"a"},{"role":"assistant"}`), "messages[1].content", "unless tool_calls"},
		{"tool without id", msgs(`{"role":"user","content":"a"},{"role":"tool","content":"r"}`), "messages[1].tool_call_id", "is required"},
		{"tool call without id", msgs(`{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}`), "messages[1].tool_calls[0].id", "is required"},
		{"tool call without name", msgs(`{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f"}},{"id":"b","type":"function","function":{"arguments":"{}"}}]}`), "messages[1].tool_calls[1].function.name", "is required"},
		{"unknown part type", msgs(`{"role":"user","content":[{"type":"text","text":"a"},{"type":"video","text":"b"}]}`), "messages[0].content[1].type", `"video"`},
		{"image without url", msgs(`{"role":"user","content":[{"type":"image_url","image_url":{"detail":"low"}}]}`), "messages[0].content[0].image_url.url", "is required"},
		{"image_url missing", msgs(`{"role":"user","content":[{"type":"image_url"}]}`), "messages[0].content[0].image_url.url", "is required"},
		{"audio missing", msgs(`{"role":"user","content":[{"type":"input_audio"}]}`), "messages[0].content[0].input_audio", "is required"},
		{"file missing", msgs(`{"role":"user","content":[{"type":"file"}]}`), "messages[0].content[0].file", "is required"},
		{"tool type", with(`"tools":[{"type":"function","function":{"name":"f"}},{"type":"custom","function":{"name":"g"}}]`), "tools[1].type", `"custom"`},
		{"tool without name", with(`"tools":[{"type":"function","function":{"description":"d"}}]`), "tools[0].function.name", "is required"},
		{"temperature above 2", with(`"temperature":2.5`), "temperature", "between 0 and 2"},
		{"temperature below 0", with(`"temperature":-0.1`), "temperature", "between 0 and 2"},
		{"top_p", with(`"top_p":1.5`), "top_p", "between 0 and 1"},
		{"n", with(`"n":0`), "n", "at least 1"},
		{"max_tokens", with(`"max_tokens":0`), "max_tokens", "at least 1"},
		{"max_completion_tokens", with(`"max_completion_tokens":-5`), "max_completion_tokens", "at least 1"},
		{"five stops", with(`"stop":["a","b","c","d","e"]`), "stop", "at most 4"},
		{"stream_options without stream", with(`"stream_options":{"include_usage":true}`), "stream_options", "only allowed when stream is true"},
		{"response_format type", with(`"response_format":{"type":"yaml"}`), "response_format.type", `"yaml"`},
		{"json_schema without name", with(`"response_format":{"type":"json_schema","json_schema":{"schema":{}}}`), "response_format.json_schema.name", "is required"},
		{"json_schema missing", with(`"response_format":{"type":"json_schema"}`), "response_format.json_schema.name", "is required"},

		// Type errors found by encoding/json name the field with its indices.
		{"temperature as a string", with(`"temperature":"hot"`), "temperature", "expected a number, got string"},
		{"max_tokens as a float", with(`"max_tokens":1.5`), "max_tokens", "expected an integer, got number 1.5"},
		{"model as a number", `{"model":4,"messages":[]}`, "model", "expected a string, got number"},
		{"messages as an object", `{"model":"m","messages":{}}`, "messages", "expected an array, got object"},
		{"role as a number", msgs(`{"role":"user","content":"a"},{"role":1}`), "messages[1].role", "expected a string, got number"},
		{"text part as a number", msgs(`{"role":"user","content":"a"},{"role":"user","content":[{"type":"text","text":"x"},{"type":"text","text":5}]}`), "messages[1].content[1].text", "expected a string, got number"},
		{"image_url as a string", msgs(`{"role":"user","content":[{"type":"image_url","image_url":"https://x"}]}`), "messages[0].content[0].image_url", "expected an object, got string"},
		{"arguments as an object", msgs(`{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{}"}},{"id":"b","type":"function","function":{"name":"f","arguments":{}}}]}`), "messages[1].tool_calls[1].function.arguments", "expected a string, got object"},
		{"strict as a string", with(`"tools":[{"type":"function","function":{"name":"f","parameters":{"a":[1,{"strict":"x"}]},"strict":"yes"}}]`), "tools[0].function.strict", "expected a boolean, got string"},
		{"same key name elsewhere first", msgs(`{"role":"user","content":"a","name":"n"},{"role":"user","content":"b","name":7}`), "messages[1].name", "expected a string, got number"},
		// Fields that decode themselves name themselves too.
		{"content as a number", msgs(`{"role":"user","content":"a"},{"role":"user","content":5}`), "messages[1].content", "string or an array"},
		{"content as an object", msgs(`{"role":"user","content":{"text":"a"}}`), "messages[0].content", "string or an array"},
		{"unknown tool_choice", with(`"tool_choice":"sometimes"`), "tool_choice", `"sometimes"`},
		{"tool_choice without a name", with(`"tool_choice":{"type":"function"}`), "tool_choice", "name is required"},
		{"stop as a number", with(`"stop":5`), "stop", "string or an array"},
		{"stop with a number", with(`"stop":["a",5]`), "stop", "string or an array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, e := Dialect{}.ParseChat([]byte(tc.body))
			if tc.param == "" && tc.msg == "" {
				if e != nil {
					t.Fatalf("unexpected error %v", e)
				}
				if !bytes.Equal(req.Raw, []byte(tc.body)) {
					t.Error("Raw is not the client's body")
				}
				return
			}
			if e == nil {
				t.Fatalf("no error, want %s: %s", tc.param, tc.msg)
			}
			if e.Kind != llm.KindInvalidRequest || e.Status() != 400 {
				t.Errorf("kind %v status %d", e.Kind, e.Status())
			}
			if e.Param != tc.param {
				t.Errorf("param %q, want %q (%s)", e.Param, tc.param, e.Message)
			}
			if !strings.Contains(e.Message, tc.msg) {
				t.Errorf("message %q does not say %q", e.Message, tc.msg)
			}
			if e.Param != "" && !strings.HasPrefix(e.Message, e.Param+": ") {
				t.Errorf("message %q does not start with its param", e.Message)
			}
			if strings.Contains(e.Message, "openai.") || strings.Contains(e.Message, "Go ") {
				t.Errorf("message %q speaks of Go types", e.Message)
			}
		})
	}
}

// JSONError without the body (other endpoints) still names the field, without indices.
func TestJSONErrorWithoutBody(t *testing.T) {
	var v struct {
		Input []struct {
			N int `json:"n"`
		} `json:"input"`
	}
	err := jsonUnmarshal(`{"input":[{"n":"x"}]}`, &v)
	if e := JSONError(err); e.Param != "input.n" || e.Kind != llm.KindInvalidRequest {
		t.Errorf("got %+v", e)
	}
}

func FuzzParseChat(f *testing.F) {
	for _, s := range []string{
		msgs(`{"role":"user","content":"Hi"}`),
		msgs(`{"role":"user","content":[{"type":"text","text":"x"},{"type":"image_url","image_url":{"url":"https://x"}}]}`),
		with(`"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"}},"stop":["a"],"stream":true,"stream_options":{"include_usage":true}`),
		msgs(`{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":{}}}]}`),
		`{"model":"m","messages":[{"role":1}]}`, `[]`, `{"a":[[[[{}]]]]}`, `"x"`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, e := Dialect{}.ParseChat(body)
		if e != nil {
			if req != nil {
				t.Fatal("a request and an error")
			}
			if e.Kind != llm.KindInvalidRequest {
				t.Fatalf("kind %v", e.Kind)
			}
			if e.Param != "" && !strings.HasPrefix(e.Message, e.Param+": ") {
				t.Fatalf("message %q does not start with its param %q", e.Message, e.Param)
			}
			return
		}
		if Validate(req) != nil || !bytes.Equal(req.Raw, body) || req.Model == "" || len(req.Messages) == 0 {
			t.Fatalf("accepted an invalid request: %q", body)
		}
	})
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
