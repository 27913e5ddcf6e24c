package session

import (
	"errors"
	"net/http"
	"testing"
)

func TestParseDirectives(t *testing.T) {
	tests := []struct {
		name   string
		hdr    map[string]string
		idName string
		want   Directives
		ok     bool
		bad    bool
	}{
		{name: "no session", hdr: map[string]string{}, ok: false},
		{name: "id only", hdr: map[string]string{"X-Session-Id": "chat-42"}, want: Directives{ID: "chat-42", Mode: ModeAppend}, ok: true},
		{name: "custom id header", idName: "X-Conversation", hdr: map[string]string{"X-Conversation": "c1", "X-Session-Id": "ignored"},
			want: Directives{ID: "c1", Mode: ModeAppend}, ok: true},
		{name: "all", hdr: map[string]string{"X-Session-Id": "a:b.c_d-e", "X-Session-Mode": "Reset", "X-Session-Max-Turns": "5", "X-Session-Max-Tokens": "2000"},
			want: Directives{ID: "a:b.c_d-e", Mode: ModeReset, MaxTurns: 5, MaxTokens: 2000}, ok: true},
		{name: "skip", hdr: map[string]string{"X-Session-Id": "s", "X-Session-Mode": "skip"}, want: Directives{ID: "s", Mode: ModeSkip}, ok: true},
		{name: "read-only", hdr: map[string]string{"X-Session-Id": "s", "X-Session-Mode": "read-only"}, want: Directives{ID: "s", Mode: ModeReadOnly}, ok: true},
		{name: "bad id", hdr: map[string]string{"X-Session-Id": "a b"}, bad: true},
		{name: "bad mode", hdr: map[string]string{"X-Session-Id": "s", "X-Session-Mode": "forget"}, bad: true},
		{name: "zero turns", hdr: map[string]string{"X-Session-Id": "s", "X-Session-Max-Turns": "0"}, bad: true},
		{name: "bad tokens", hdr: map[string]string{"X-Session-Id": "s", "X-Session-Max-Tokens": "lots"}, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.hdr {
				h.Set(k, v)
			}
			d, ok, err := ParseDirectives(h, tt.idName)
			if tt.bad {
				if !errors.Is(err, ErrBadHeader) {
					t.Fatalf("err %v, want ErrBadHeader", err)
				}
				return
			}
			if err != nil || ok != tt.ok || d != tt.want {
				t.Errorf("got %+v, %v, %v; want %+v, %v", d, ok, err, tt.want, tt.ok)
			}
		})
	}
}
