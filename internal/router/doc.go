// Package router compiles the virtual hosts and routes of one listener into a Table and
// matches requests against it, with Envoy's semantics.
//
// # Virtual host selection
//
// The key is the request host (the :authority, or the Host header of HTTP/1.1), lower-cased.
// Its :port is part of the key unless the listener sets ignore_port_in_host_matching, in which
// case a numeric port is stripped first ("[::1]:8080" becomes "[::1]"). Domains are tried in
// this order, and the first hit wins:
//
//  1. exact domains ("www.foo.com", "www.foo.com:8080"), one map lookup;
//  2. suffix wildcards ("*.foo.com", "*-bar.foo.com"), longest suffix first;
//  3. prefix wildcards ("foo.*", "foo-*"), longest prefix first;
//  4. the "*" virtual host.
//
// A wildcard stands for at least one character: "*.foo.com" matches "a.foo.com" and
// "a.b.foo.com" but neither "foo.com" nor ".foo.com". Prefix wildcards are tried before "*",
// so with "foo.*" configured, "foo.com" goes to it (as in Envoy's RouteMatcher::findVirtualHost). Wildcards are grouped by length, one map
// per length, so a lookup costs one map probe per distinct wildcard length and allocates
// nothing (an upper-case host is lower-cased into a stack buffer).
//
// # Route matching
//
// The routes of the chosen virtual host are tried in order; the first route whose every
// condition holds wins. No virtual host or no route means Match returns nil (404).
//
// The path is the request-target as the client sent it (r.RequestURI, or the escaped r.URL
// path plus "?" and the raw query): nothing is decoded or normalised. Path conditions:
//
//   - prefix: a prefix of the path including its query string;
//   - path: the path without its query string, exactly;
//   - regex: the whole path without its query string (the pattern is anchored);
//   - path_separated_prefix: the prefix, followed by the end of the path, "/" or "?".
//
// case_sensitive: false makes prefix, path and path_separated_prefix compare ASCII letters
// case-insensitively (regex is not affected). Then, in that order: methods (any listed),
// headers (all must hold; several values of a header are joined with ","; the pseudo-headers
// :authority, :method, :path and :scheme are read from the request), and query parameters
// (the first value of the key, not URL-decoded).
//
// A header condition on a missing header is false whatever invert says, except for a presence
// condition (no string condition, or present: true/false), which is about absence: Envoy's
// HeaderUtility::matchHeaders with treat_missing_header_as_empty unset.
//
// Match reads r.RequestURI when it is set. A filter that changes the request path before the
// route is chosen must update r.RequestURI too (or clear it, so that r.URL is read).
package router
