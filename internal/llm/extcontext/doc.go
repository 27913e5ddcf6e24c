// Package extcontext asks an external HTTP service for the context of a chat call (facts
// about the user, the conversation's memory, a customer record) and injects the answer into
// the call: as a system message after the existing system prompt, or as a header of the
// request sent to the provider. It is configured by llm.context.
//
// The key of a lookup comes from the session id, the request's user field or a request
// header. Answers are cached per key (and per forwarded header values) for a TTL in a
// bounded in-process LRU, and concurrent lookups of one key share one call to the service.
// A lookup is bounded by a timeout; when the service times out, fails or answers garbage,
// the call either continues without context (the Result says why, for metrics and logs)
// or is refused with an *Error the gateway maps to 502 or 503.
//
// The gateway's sequence per chat call:
//
//	if c.Matches(routeName, req.Model) {
//		res, err := c.Fetch(ctx, r, req, sessionID)
//		if err != nil { /* refuse: errors.As(err, &xerr); answer xerr.Status() with xerr.Error() */ }
//		var hdr http.Header
//		req, hdr = c.Inject(req, res) // hdr: headers to add to every upstream attempt
//	}
//
// See docs/transforms.md.
package extcontext
