package router

import (
	"fmt"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pylon-gateway/pylon/internal/config"
)

// ActionKind is what a route does with the requests it matches.
type ActionKind uint8

// The route actions.
const (
	ActionCluster          ActionKind = iota // forward to Route.Cluster
	ActionWeightedClusters                   // forward to a cluster picked by weight (PickCluster)
	ActionDirectResponse                     // answer from the gateway (DirectResponse)
	ActionRedirect                           // answer with a redirect (Redirect)
	ActionLLM                                // the LLM gateway: the request's model picks the targets
)

func (k ActionKind) String() string {
	switch k {
	case ActionCluster:
		return "cluster"
	case ActionWeightedClusters:
		return "weighted_clusters"
	case ActionDirectResponse:
		return "direct_response"
	case ActionRedirect:
		return "redirect"
	case ActionLLM:
		return "llm"
	}
	return "ActionKind(" + strconv.Itoa(int(k)) + ")"
}

// Route is a compiled config.Route. It is immutable and safe for concurrent use.
type Route struct {
	Name        string
	VirtualHost string // the virtual host name, or its first domain when unnamed
	Action      ActionKind
	Cluster     string        // ActionCluster
	Timeout     time.Duration // 0 = disabled; config.DefaultRouteTimeout when unset (forwarding routes)
	IdleTimeout time.Duration // stream idle timeout; -1 = the listener's, 0 = disabled
	Retry       *RetryPolicy  // nil = no retries
	Mirrors     []Mirror      // shadow clusters
	Config      *config.Route // the source
	Path        string        // the config field path, e.g. listeners[0].virtual_hosts[1].routes[2]

	vh      *virtualHost
	path    pathMatcher
	methods []string
	headers []headerMatcher
	query   []queryMatcher

	// ActionWeightedClusters: cumulative weights.
	weighted []weightedCluster
	total    uint64

	// Path rewrites (forwarding routes).
	prefixRewrite string
	regexRewrite  *regexp.Regexp
	substitution  string // Go template syntax

	redirect *redirect

	directStatus int
	directBody   []byte
	directType   string

	mut mutations
}

type weightedCluster struct {
	name string
	cum  uint64 // sum of the weights up to and including this cluster
}

// compiler collects errors as config.Errors.
type compiler struct {
	cfg  *config.Config
	errs config.Errors
}

func (c *compiler) add(path, format string, args ...any) {
	line := 0
	if c.cfg != nil {
		line = c.cfg.Line(path)
	}
	c.errs = append(c.errs, config.FieldError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// regexp compiles an RE2 pattern, anchored to the whole input when anchor is set.
func (c *compiler) regexp(path, pattern string, anchor bool) *regexp.Regexp {
	expr := pattern
	if anchor {
		expr = "^(?:" + pattern + ")$"
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		// Report the error against the pattern as written, not the anchored one.
		if _, err2 := regexp.Compile(pattern); err2 != nil {
			err = err2
		}
		c.add(path, "invalid regular expression: %v", err)
		return nil
	}
	return re
}

func (c *compiler) route(p string, src *config.Route, vh *virtualHost) *Route {
	nerr := len(c.errs)
	r := &Route{Name: src.Name, VirtualHost: vh.name, Config: src, Path: p, vh: vh, IdleTimeout: -1}
	c.match(p+".match", &src.Match, r)

	actions := 0
	if src.Cluster != "" {
		actions++
		r.Action, r.Cluster = ActionCluster, src.Cluster
	}
	if len(src.WeightedClusters) > 0 {
		actions++
		r.Action = ActionWeightedClusters
		for _, wc := range src.WeightedClusters {
			r.total += uint64(wc.Weight)
			r.weighted = append(r.weighted, weightedCluster{name: wc.Name, cum: r.total})
		}
		if r.total == 0 {
			c.add(p+".weighted_clusters", "the weights must not all be zero")
		}
	}
	if d := src.DirectResponse; d != nil {
		actions++
		r.Action = ActionDirectResponse
		r.directStatus, r.directType = d.Status, d.ContentType
		if d.Body != "" {
			r.directBody = []byte(d.Body)
			if r.directType == "" {
				r.directType = "text/plain"
			}
		}
	}
	if rd := src.Redirect; rd != nil {
		actions++
		r.Action = ActionRedirect
		r.redirect = compileRedirect(rd)
	}
	if src.LLM != nil {
		actions++
		r.Action = ActionLLM
	}
	switch {
	case actions == 0:
		c.add(p, "a route needs one action: cluster, weighted_clusters, direct_response, redirect or llm")
	case actions > 1:
		c.add(p, "cluster, weighted_clusters, direct_response, redirect and llm are mutually exclusive")
	}

	forwards := r.Action == ActionCluster || r.Action == ActionWeightedClusters
	if forwards {
		r.Timeout = config.DefaultRouteTimeout
		if src.Timeout != nil {
			r.Timeout = src.Timeout.D()
		}
		if src.Retry != nil {
			r.Retry = compileRetry(src.Retry)
		}
		r.Mirrors = compileMirrors(src.Mirror)
	}
	if src.IdleTimeout != nil {
		r.IdleTimeout = src.IdleTimeout.D()
	}
	r.prefixRewrite = src.PrefixRewrite
	if rr := src.RegexRewrite; rr != nil {
		if src.PrefixRewrite != "" {
			c.add(p, "prefix_rewrite and regex_rewrite are mutually exclusive")
		}
		if rr.Pattern == "" {
			c.add(p+".regex_rewrite.pattern", "is required")
		} else if re := c.regexp(p+".regex_rewrite.pattern", rr.Pattern, false); re != nil {
			sub, err := translateSubstitution(rr.Substitution, re.NumSubexp())
			if err != nil {
				c.add(p+".regex_rewrite.substitution", "%v", err)
			}
			r.regexRewrite, r.substitution = re, sub
		}
	}
	r.mut = compileMutations(&src.HeaderMutations)
	if len(c.errs) > nerr {
		return nil
	}
	return r
}

func (c *compiler) match(p string, m *config.RouteMatch, r *Route) {
	fold := m.CaseSensitive != nil && !*m.CaseSensitive
	n := 0
	for _, s := range []string{m.Prefix, m.Path, m.Regex, m.PathSeparatedPrefix} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		c.add(p, "prefix, path, regex and path_separated_prefix are mutually exclusive")
	}
	switch {
	case m.Path != "":
		r.path = pathMatcher{kind: pathExact, value: m.Path, fold: fold}
	case m.Regex != "":
		r.path = pathMatcher{kind: pathRegex, value: m.Regex, re: c.regexp(p+".regex", m.Regex, true)}
	case m.PathSeparatedPrefix != "":
		s := m.PathSeparatedPrefix
		if strings.HasSuffix(s, "/") || strings.ContainsAny(s, "?#") {
			c.add(p+".path_separated_prefix", "must not end with \"/\" nor contain \"?\" or \"#\"")
		}
		r.path = pathMatcher{kind: pathSeparated, value: s, fold: fold}
	default: // prefix; "" matches every path, as in Envoy
		r.path = pathMatcher{kind: pathPrefix, value: m.Prefix, fold: fold}
	}
	for i := range m.Headers {
		h := &m.Headers[i]
		hp := fmt.Sprintf("%s.headers[%d]", p, i)
		hm := headerMatcher{name: h.Name, invert: h.Invert}
		switch strings.ToLower(h.Name) {
		case ":authority", "host":
			// Go keeps the Host header out of r.Header (as Envoy turns it into :authority),
			// so a match on host reads the authority; hash_policy does the same.
			hm.pseudo = pseudoAuthority
		case ":method":
			hm.pseudo = pseudoMethod
		case ":path":
			hm.pseudo = pseudoPath
		case ":scheme":
			hm.pseudo = pseudoScheme
		case "":
			c.add(hp+".name", "is required")
		default:
			hm.name = textproto.CanonicalMIMEHeaderKey(h.Name)
		}
		hm.value = c.stringMatch(hp, &h.StringMatch, h.Present)
		r.headers = append(r.headers, hm)
	}
	for i := range m.Query {
		q := &m.Query[i]
		qp := fmt.Sprintf("%s.query[%d]", p, i)
		if q.Name == "" {
			c.add(qp+".name", "is required")
		}
		r.query = append(r.query, queryMatcher{name: q.Name, value: c.stringMatch(qp, &q.StringMatch, q.Present)})
	}
	r.methods = append([]string(nil), m.Methods...)
}

func (c *compiler) stringMatch(p string, s *config.StringMatch, present *bool) stringMatcher {
	var sm stringMatcher
	n := 0
	set := func(k matchKind, v string) {
		n++
		sm.kind, sm.value = k, v
	}
	if present != nil {
		n++
		sm.kind = matchPresent
		sm.present = *present
	}
	if s.Regex != "" {
		set(matchRegex, s.Regex)
		sm.re = c.regexp(p+".regex", s.Regex, true)
	}
	if s.Contains != "" {
		set(matchContains, s.Contains)
	}
	if s.Suffix != "" {
		set(matchSuffix, s.Suffix)
	}
	if s.Prefix != "" {
		set(matchPrefix, s.Prefix)
	}
	if s.Exact != nil {
		set(matchExact, *s.Exact)
	}
	if n > 1 {
		c.add(p, "exact, prefix, suffix, contains, regex and present are mutually exclusive")
	}
	if n == 0 {
		sm.kind, sm.present = matchPresent, true
	}
	if s.IgnoreCase && sm.kind != matchRegex && sm.kind != matchPresent {
		sm.fold = true
		sm.value = toLowerASCII(sm.value)
	}
	return sm
}

// translateSubstitution turns an RE2 rewrite string (\0-\9 back references, \\ for a
// backslash) into a Go regexp template, rejecting what RE2 rejects.
func translateSubstitution(s string, groups int) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '$':
			b.WriteString("$$")
		case '\\':
			if i+1 == len(s) {
				return "", fmt.Errorf("a lone \\ ends %q: write \\\\ for a backslash", s)
			}
			i++
			switch d := s[i]; {
			case d >= '0' && d <= '9':
				if int(d-'0') > groups {
					return "", fmt.Errorf("back reference \\%c refers to a group the pattern does not have (it has %d)", d, groups)
				}
				b.WriteString("${")
				b.WriteByte(d)
				b.WriteByte('}')
			case d == '\\':
				b.WriteByte('\\')
			default:
				return "", fmt.Errorf("invalid escape \\%c in %q: use \\0-\\9 for groups and \\\\ for a backslash", d, s)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
