// Package transform rewrites chat calls of the LLM gateway by configured rules
// (llm.transforms): system prompt decorators, prompt templates with variables and
// request headers, generation parameter mutations, and header mutations of the request
// sent to the provider and of the answer the client gets.
//
// New compiles the rules once into an immutable Set. Per call, the gateway picks the
// rules that match the route and the requested model (Set.For) and applies them:
//
//	t := set.For(routeName, req.Model) // nil when no rule matches; nil is a no-op
//	req, err := t.Apply(req, r.Header) // a new request; the input is never modified
//	...
//	t.ApplyRequestHeaders(upstreamReq.Header) // each attempt, after the adapter built it
//	t.ApplyResponseHeaders(w.Header())        // before the status line is written
//
// Header values put into a prompt are confined to their place: a value is one line
// (control characters, line and paragraph separators and bidi controls become spaces,
// whitespace runs collapse), is cut to a byte bound, and is never parsed again as a
// template. See docs/transforms.md.
package transform
