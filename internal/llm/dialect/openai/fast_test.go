package openai

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// fastBodies are requests fastParse must decode itself, the shapes of most traffic.
var fastBodies = []string{
	string(benchBody),
	`{"model":"m","messages":[{"role":"developer","content":"Be brief. \u00e9\n"},{"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"https://x/y.png","detail":"low"}}]},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"c1","content":"ok","name":"f"}],` +
		`"tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object","properties":{}},"strict":true}}],"tool_choice":"auto","parallel_tool_calls":false,` +
		`"stream":true,"stream_options":{"include_usage":true,"include_obfuscation":false},"stop":["a","b"],"seed":-7,"n":1,"max_completion_tokens":100,"top_p":0.5,"user":"u",` +
		`"presence_penalty":-0.5,"frequency_penalty":1e-1,"logprobs":true,"top_logprobs":2,"logit_bias":{"50256":-100},"reasoning_effort":"low","metadata":{"k":"v"},"top_k":3,"store":true,"service_tier":{"x":[1,2]}}`,
	`  {"model":"m","messages":[{"role":"user","content":"héllo wörld"}],"stop":"END","temperature":null,"max_tokens":null,"stream":false}  `,
}

// edgeBodies are decoded by fastParse as encoding/json decodes them, or left to it.
var edgeBodies = []string{
	`{"model":"m","messages":[{"role":"user","content":[]}],"tools":[],"stop":[],"n":-1,"temperature":-0,"top_p":1E+0,"seed":-0}`,
	`{"model":"m","messages":[{"role":"user","content":"a\u2028b\ud83d\ude00\ud800 ` + "\xff\xfe" + `"}],"user":"\"q\""}`,
	`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"x","name":"y"}}]}]}`,
	`{"model":"m","stream":true,"stream_options":{"Include_Usage":true}}`, `{"model":"m","stream_options":{"include_usage":null}}`,
	`{"model":"m","seed":1e3}`, `{"model":"m","top_k":9223372036854775807}`, `{"model":"m","max_tokens":9223372036854775808}`,
	`{"model":"m","temperature":1e400}`, `{"model":null,"stream":null,"user":null,"tools":null,"messages":null,"stop":null}`,
	`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"u","URL":"v"}}]}]}`,
	`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a","cache_control":{"type":"ephemeral"}}]}]}`,
	`{"model":"m","tools":[{"type":"function","function":null,"cache_control":{}}],"tool_choice":"none"}`,
	`{"model":"m","tool_choice":"bogus"}`, `{"model":"m","stop":["a",null]}`, `{"model":"m","stop":"a\u0000"}`,
	`{"model":"m","mod":1,"messages":[{"role":"user","content":"x","extra":[{"deep":[[[]]]}]}],"ſtream":true}`,
	`{"model":"m","logit_bias":{"1":2},"metadata":[],"messages":[{"role":"tool","content":"x","tool_call_id":"c","tool_call_id":"d"}]}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"Kelvin":"K","max_tokenſ":3}`,
}

func TestFastParse(t *testing.T) {
	for _, body := range fastBodies {
		got, ok := fastParse([]byte(body))
		if !ok {
			t.Fatalf("fastParse(%s) fell back", body)
		}
		compareParse(t, []byte(body), got, ok)
	}
	for _, body := range edgeBodies {
		got, ok := fastParse([]byte(body))
		compareParse(t, []byte(body), got, ok)
	}
	// Shapes left to encoding/json.
	for _, body := range []string{
		`{"model":"m","Model":"n","messages":[]}`, `{"model":"m","model":"n"}`, `{"m\u006fdel":"m"}`, `{"model":"m","response_format":{"type":"text"}}`,
		`{"model":"m","max_tokens":1.0}`, `{"model":"m","tool_choice":{"type":"function","function":{"name":"f"}}}`, `{"model":"m","metadata":null}`,
		`{"model":"m","messages":[null]}`, `{"model":"m"} x`, `{"model":4}`, `null`, `{"model":"m","max_tokenſ":3}`,
	} {
		if _, ok := fastParse([]byte(body)); ok {
			t.Errorf("fastParse(%s) did not fall back", body)
		}
	}
}

// compareParse checks a fastParse answer against encoding/json's.
func compareParse(t *testing.T, body []byte, got *openai.ChatRequest, ok bool) {
	t.Helper()
	if !ok {
		return
	}
	want := new(openai.ChatRequest)
	if err := json.Unmarshal(body, want); err != nil {
		t.Fatalf("fastParse took %q, which encoding/json refuses: %v", body, err)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Fatalf("fastParse(%q)\n got %s\nwant %s", body, g, w)
	}
}

func FuzzFastParse(f *testing.F) {
	for _, b := range fastBodies {
		f.Add([]byte(b))
	}
	for _, b := range edgeBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := fastParse(body)
		compareParse(t, body, got, ok)
	})
}
