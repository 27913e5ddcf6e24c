package usage

// Usage is the normalized token usage of one LLM call, in OpenAI's semantics
// whatever the provider reported:
//
//   - Prompt counts every input token, cached or not: uncached input, cache
//     reads (CachedPrompt) and cache writes (CacheWrite) are all inside it.
//   - Completion counts every output token, including Reasoning.
//   - Total is Prompt + Completion.
//
// One shape for every provider is what lets cost, budgets, rate-limit
// reconciliation and the client-facing usage object agree. Anthropic's
// input_tokens, by contrast, excludes the cache: reading it as Prompt
// undercounts a cached prompt a thousand-fold. Build Usage with the FromXxx
// helpers, which know each provider's rules, rather than by hand.
type Usage struct {
	Prompt       int // all input tokens, including CachedPrompt and CacheWrite
	Completion   int // all output tokens, including Reasoning
	CachedPrompt int // input tokens read from the provider's prompt cache
	CacheWrite   int // input tokens written to the prompt cache (billed at a premium by Anthropic)
	Reasoning    int // output tokens spent on hidden reasoning; 0 when the provider does not say
	Total        int // Prompt + Completion
}

// FromOpenAI normalizes an OpenAI usage object (chat completions and
// responses, and OpenAI-compatible upstreams): prompt_tokens already includes
// prompt_tokens_details.cached_tokens, and completion_tokens already includes
// completion_tokens_details.reasoning_tokens. OpenAI reports no cache writes:
// caching is automatic and writing costs the plain input price.
func FromOpenAI(promptTokens, completionTokens, cachedTokens, reasoningTokens int) Usage {
	return normalize(Usage{
		Prompt:       promptTokens,
		Completion:   completionTokens,
		CachedPrompt: cachedTokens,
		Reasoning:    reasoningTokens,
	})
}

// FromAnthropic normalizes an Anthropic Messages usage object. input_tokens
// excludes both cache_read_input_tokens and cache_creation_input_tokens, so
// the prompt is their sum. output_tokens includes extended-thinking tokens,
// which the API does not count separately, so Reasoning stays 0.
func FromAnthropic(inputTokens, outputTokens, cacheReadTokens, cacheCreationTokens int) Usage {
	inputTokens, cacheReadTokens, cacheCreationTokens = max(inputTokens, 0), max(cacheReadTokens, 0), max(cacheCreationTokens, 0)
	return normalize(Usage{
		Prompt:       inputTokens + cacheReadTokens + cacheCreationTokens,
		Completion:   outputTokens,
		CachedPrompt: cacheReadTokens,
		CacheWrite:   cacheCreationTokens,
	})
}

// FromBedrock normalizes a Bedrock Converse usage object. Converse reports
// inputTokens without cacheReadInputTokens and cacheWriteInputTokens, as
// Anthropic does (and Claude is where Bedrock prompt caching matters), so
// the same rule applies.
func FromBedrock(inputTokens, outputTokens, cacheReadInputTokens, cacheWriteInputTokens int) Usage {
	return FromAnthropic(inputTokens, outputTokens, cacheReadInputTokens, cacheWriteInputTokens)
}

// FromGemini normalizes a Gemini usageMetadata object. promptTokenCount
// includes cachedContentTokenCount, but candidatesTokenCount excludes
// thoughtsTokenCount, so the completion is candidates + thoughts. Tokens of
// tool-use prompts (toolUsePromptTokenCount, e.g. search results fed back to
// the model) are input the model read and are billed as input, so they join
// the prompt. Gemini's totalTokenCount is the sum of all four, which equals
// Total here.
func FromGemini(promptTokenCount, candidatesTokenCount, cachedContentTokenCount, thoughtsTokenCount, toolUsePromptTokenCount int) Usage {
	candidatesTokenCount, thoughtsTokenCount = max(candidatesTokenCount, 0), max(thoughtsTokenCount, 0)
	return normalize(Usage{
		Prompt:       max(promptTokenCount, 0) + max(toolUsePromptTokenCount, 0),
		Completion:   candidatesTokenCount + thoughtsTokenCount,
		CachedPrompt: cachedContentTokenCount,
		Reasoning:    thoughtsTokenCount,
	})
}

// normalize clamps what a provider got wrong so that no later arithmetic
// sees a negative count or a part larger than its whole (which would make a
// negative uncached prompt), and sets Total.
func normalize(u Usage) Usage {
	u.Prompt = max(u.Prompt, 0)
	u.Completion = max(u.Completion, 0)
	u.CachedPrompt = min(max(u.CachedPrompt, 0), u.Prompt)
	u.CacheWrite = min(max(u.CacheWrite, 0), u.Prompt-u.CachedPrompt)
	u.Reasoning = min(max(u.Reasoning, 0), u.Completion)
	u.Total = u.Prompt + u.Completion
	return u
}

// UncachedPrompt is the part of the prompt that was neither read from nor
// written to the cache: the tokens billed at the plain input price.
func (u Usage) UncachedPrompt() int {
	return max(u.Prompt-u.CachedPrompt-u.CacheWrite, 0)
}
