// Package limits enforces rate limits, concurrency limits and spend budgets
// on the data plane, at key, application and tenant level.
//
// A Limiter admits a call with Reserve, which checks every limit of the call
// at once and takes from all of them or from none: a request from
// requests-per-window limits (GCRA), the token estimate (the prompt count
// plus max_tokens) from tokens-per-window limits and token budgets, the cost
// estimate from money budgets, and a lease from concurrency limits. When the
// call ends, Settle replaces the estimates with the actual usage, or Refund
// gives them back; both are idempotent by reservation id, and a reservation
// nobody settles (a crashed node) is released after its TTL.
//
// Local keeps the counters in this process (one node); Redis keeps them in
// Redis with one atomic Lua script per call, so the limits hold across
// nodes. docs/limits.md describes the semantics, the headers and the Redis
// key layout.
package limits
