package usage

import "testing"

func TestFromProvider(t *testing.T) {
	tests := []struct {
		name string
		got  Usage
		want Usage
	}{
		{
			name: "openai: prompt includes cached, completion includes reasoning",
			got:  FromOpenAI(82, 17, 64, 10),
			want: Usage{Prompt: 82, Completion: 17, CachedPrompt: 64, Reasoning: 10, Total: 99},
		},
		{
			// providers.md §7 case 10.
			name: "anthropic: input excludes cache reads and writes",
			got:  FromAnthropic(5, 3, 100, 20),
			want: Usage{Prompt: 125, Completion: 3, CachedPrompt: 100, CacheWrite: 20, Total: 128},
		},
		{
			name: "bedrock: like anthropic",
			got:  FromBedrock(12, 7, 0, 0),
			want: Usage{Prompt: 12, Completion: 7, Total: 19},
		},
		{
			// providers.md §7 case 18.
			name: "gemini: candidates exclude thoughts",
			got:  FromGemini(107, 31, 0, 148, 0),
			want: Usage{Prompt: 107, Completion: 179, Reasoning: 148, Total: 286},
		},
		{
			name: "gemini: cached inside prompt, tool-use prompt added",
			got:  FromGemini(1000, 10, 800, 0, 50),
			want: Usage{Prompt: 1050, Completion: 10, CachedPrompt: 800, Total: 1060},
		},
		{
			name: "negative counts clamp to zero",
			got:  FromOpenAI(-1, -2, -3, -4),
			want: Usage{},
		},
		{
			name: "cached larger than the prompt is clamped to it",
			got:  FromOpenAI(10, 5, 50, 9),
			want: Usage{Prompt: 10, Completion: 5, CachedPrompt: 10, Reasoning: 5, Total: 15},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %+v\nwant %+v", tt.got, tt.want)
			}
		})
	}
}

func TestUncachedPrompt(t *testing.T) {
	if got := FromAnthropic(5, 3, 100, 20).UncachedPrompt(); got != 5 {
		t.Errorf("UncachedPrompt = %d, want 5 (Anthropic's own input_tokens)", got)
	}
	// A hand-built, inconsistent Usage never yields a negative count.
	if got := (Usage{Prompt: 10, CachedPrompt: 8, CacheWrite: 8}).UncachedPrompt(); got != 0 {
		t.Errorf("UncachedPrompt = %d, want 0", got)
	}
}
