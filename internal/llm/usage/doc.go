// Package usage normalizes the token usage of LLM calls, prices it and
// estimates token counts before a call. It is a leaf: it knows no wire
// format, provider client or config type, so translators, routes, limits and
// call logs can all share it.
//
// Units and semantics:
//
//   - Token counts are ints in OpenAI's semantics (see Usage): the prompt
//     includes cached and cache-written tokens, the completion includes
//     reasoning. FromOpenAI, FromAnthropic, FromGemini and FromBedrock
//     convert each provider's own counting into that one shape.
//   - Money is an int64 number of picodollars (1e-12 USD): exact for every
//     per-token price in use, good to about $9.2M, and never a float.
//   - Prices are USD per 1M tokens, as providers quote them, in a YAML table
//     embedded in the binary (prices.yaml) that an operator file overrides
//     (LoadTable). Cost returns known=false for a model the table lacks: an
//     unknown cost is not a zero cost.
//   - Estimates (Estimator) come from OpenAI's tokenizers, loaded on first
//     use, or a byte-count heuristic. They are for admission and rate
//     limits only; billing uses the provider's reported usage.
//
// The file format, override rules and estimator costs are described in
// docs/llm-usage.md.
package usage
