package gateway

import (
	"encoding/json"
	"testing"
)

var meaningfulSeeds = []string{
	`{"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}`,
	`{"choices":[{"delta":{"content":"hi"}}]}`, `{"choices":[{"delta":{},"finish_reason":"stop"}]}`, `{"choices":[{"delta":{"tool_calls":[]}}]}`,
	`{"choices":[{"delta":{"refusal":"no"}}]}`, `{"choices":[{"delta":{"reasoning_content":"think"}}]}`, `{"choices":[]}`, `{"choices":null}`,
	`{"choices":{"0":{"finish_reason":"stop"}}}`, `{"choices":[{"delta":{"content":"a","content":""}}]}`, `{"choices":[{"delta":{"c\u006fntent":"a"}}]}`,
	`{"choices":[1]}`, `{"choices":[{"delta":"x","finish_reason":null}]}`, `{"choices":[{"delta":{"content":5}}]}`, `{"choices":[{"delta":{"content":"\u0000"}}]}`,
	`{"choices":"x"}`, `[]`, `{"choices":[{"finish_reason":false}]}`,
}

func TestMeaningfulScan(t *testing.T) {
	for _, s := range meaningfulSeeds {
		checkMeaningful(t, []byte(s))
	}
}

func checkMeaningful(t *testing.T, raw []byte) {
	t.Helper()
	got, known := meaningfulScan(raw)
	if !known {
		return
	}
	if want := meaningfulGet(raw); got != want {
		t.Fatalf("meaningfulScan(%s) = %v, gjson %v", raw, got, want)
	}
}

// FuzzMeaningfulScan: on raw chunks (valid JSON), meaningfulScan agrees with gjson.
func FuzzMeaningfulScan(f *testing.F) {
	for _, s := range meaningfulSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return
		}
		checkMeaningful(t, raw)
	})
}
