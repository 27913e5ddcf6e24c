package config

import (
	"fmt"
	"maps"
	"math"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Defaults of the LLM gateway.
const (
	DefaultProviderTimeout = 300 * time.Second
	DefaultLLMCooldown     = 30 * time.Second
	DefaultLLMMaxAttempts  = 4
	DefaultMaxRequestBytes = 32 << 20
)

// defaultBaseURLs are the public endpoints of the provider types that have one.
var defaultBaseURLs = map[string]string{
	"openai":     "https://api.openai.com/v1",
	"anthropic":  "https://api.anthropic.com/v1",
	"gemini":     "https://generativelanguage.googleapis.com/v1beta",
	"mistral":    "https://api.mistral.ai/v1",
	"groq":       "https://api.groq.com/openai/v1",
	"together":   "https://api.together.xyz/v1",
	"deepseek":   "https://api.deepseek.com",
	"openrouter": "https://openrouter.ai/api/v1",
	"fireworks":  "https://api.fireworks.ai/inference/v1",
	"xai":        "https://api.x.ai/v1",
	"vllm":       "http://127.0.0.1:8000/v1",
	"ollama":     "http://127.0.0.1:11434/v1",
	"lmstudio":   "http://127.0.0.1:1234/v1",
}

// envProviders are the providers enabled by providers_from_env: name, type, the key's
// variable and the base URL's variable.
var envProviders = []struct{ name, typ, key, base string }{
	{"openai", "openai", "OPENAI_API_KEY", "OPENAI_BASE_URL"},
	{"anthropic", "anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"},
	{"gemini", "gemini", "GEMINI_API_KEY", "GEMINI_BASE_URL"},
	{"mistral", "mistral", "MISTRAL_API_KEY", "MISTRAL_BASE_URL"},
	{"groq", "groq", "GROQ_API_KEY", "GROQ_BASE_URL"},
	{"together", "together", "TOGETHER_API_KEY", "TOGETHER_BASE_URL"},
	{"deepseek", "deepseek", "DEEPSEEK_API_KEY", "DEEPSEEK_BASE_URL"},
	{"openrouter", "openrouter", "OPENROUTER_API_KEY", "OPENROUTER_BASE_URL"},
	{"fireworks", "fireworks", "FIREWORKS_API_KEY", "FIREWORKS_BASE_URL"},
	{"xai", "xai", "XAI_API_KEY", "XAI_BASE_URL"},
}

// llmDefaults fills the LLM gateway's defaults, and adds the providers of the environment
// when providers_from_env is set (a provider of the same name in the file wins).
func llmDefaults(c *Config, getenv func(string) string) {
	if c.LLM.ProvidersFromEnv {
		have := map[string]bool{}
		for _, p := range c.Providers {
			have[p.Name] = true
		}
		for _, e := range envProviders {
			if have[e.name] || getenv(e.key) == "" {
				continue
			}
			c.Providers = append(c.Providers, Provider{Name: e.name, Type: e.typ, BaseURL: getenv(e.base),
				APIKeys: []Secret{{Env: e.key}}, FromEnv: true})
		}
		if !have["bedrock"] && getenv("AWS_ACCESS_KEY_ID") != "" && getenv("AWS_SECRET_ACCESS_KEY") != "" {
			region := getenv("AWS_REGION")
			if region == "" {
				region = getenv("AWS_DEFAULT_REGION")
			}
			if region != "" {
				c.Providers = append(c.Providers, Provider{Name: "bedrock", Type: "bedrock", Region: region, FromEnv: true})
			}
		}
	}
	if xc := c.LLM.Context; xc != nil {
		contextDefaults(xc)
	}
	if len(c.Providers) == 0 && len(c.Models) == 0 && !c.usesLLM() {
		return // no LLM gateway: keep its section out of config dumps
	}
	if c.LLM.Cooldown == 0 {
		c.LLM.Cooldown = Duration(DefaultLLMCooldown)
	}
	if c.LLM.MaxAttempts == 0 {
		c.LLM.MaxAttempts = DefaultLLMMaxAttempts
	}
	if c.LLM.MaxRequestBytes == 0 {
		c.LLM.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if sc := c.LLM.Sessions; sc != nil && sc.Summary != nil {
		sm := sc.Summary
		if sm.ThresholdTokens == 0 {
			sm.ThresholdTokens = 4000
		}
		if sm.KeepTurns == 0 {
			sm.KeepTurns = 4
		}
		if sm.MaxTokens == 0 {
			sm.MaxTokens = 512
		}
	}
	if cc := c.LLM.Cache; cc != nil {
		if cc.TTL == 0 {
			cc.TTL = Duration(5 * time.Minute)
		}
		if cc.MaxBytes == 0 {
			cc.MaxBytes = 64 << 20
		}
		if sc := cc.Semantic; sc != nil && sc.Threshold == 0 {
			sc.Threshold = 0.95
		}
	}
	for i := range c.Providers {
		p := &c.Providers[i]
		if p.BaseURL == "" {
			switch p.Type {
			case "bedrock":
				if p.Region != "" {
					p.BaseURL = "https://bedrock-runtime." + p.Region + ".amazonaws.com"
				}
			case "vertex":
				if p.Region != "" && p.Project != "" {
					p.BaseURL = "https://" + p.Region + "-aiplatform.googleapis.com/v1/projects/" + p.Project +
						"/locations/" + p.Region + "/publishers/google/models"
				}
			default:
				p.BaseURL = defaultBaseURLs[p.Type]
			}
		}
		p.BaseURL = strings.TrimSuffix(p.BaseURL, "/")
		if p.Timeout == 0 {
			p.Timeout = Duration(DefaultProviderTimeout)
		}
		for j := range p.APIKeys {
			if p.APIKeys[j].Weight == 0 {
				p.APIKeys[j].Weight = 1
			}
		}
	}
	providerClusters(c)
	for i := range c.Models {
		for j := range c.Models[i].Targets {
			t := &c.Models[i].Targets[j]
			if t.Model == "" {
				t.Model = c.Models[i].Name
			}
			if t.Weight == 0 {
				t.Weight = 1
			}
		}
	}
}

// usesLLM reports whether a route has the llm action.
func (c *Config) usesLLM() bool {
	for i := range c.Listeners {
		for j := range c.Listeners[i].VirtualHosts {
			for k := range c.Listeners[i].VirtualHosts[j].Routes {
				if c.Listeners[i].VirtualHosts[j].Routes[k].LLM != nil {
					return true
				}
			}
		}
	}
	return false
}

// llm validates providers and models. clusters holds the cluster names (nil: unknown).
func (v *validator) llm(c *Config, clusters map[string]bool) {
	if c.LLM.Cooldown < 0 {
		v.add("llm.cooldown", "must not be negative")
	}
	if c.LLM.MaxAttempts < 0 {
		v.add("llm.max_attempts", "must not be negative")
	}
	if c.LLM.MaxRequestBytes < 0 {
		v.add("llm.max_request_bytes", "must not be negative")
	}
	if cc := c.LLM.Cache; cc != nil {
		if cc.TTL < 0 {
			v.add("llm.cache.ttl", "must not be negative")
		}
		if cc.MaxBytes < 0 {
			v.add("llm.cache.max_bytes", "must not be negative")
		}
		if sc := cc.Semantic; sc != nil {
			if sc.EmbeddingModel == "" {
				v.add("llm.cache.semantic.embedding_model", "is required")
			}
			if sc.Threshold <= 0 || sc.Threshold > 1 {
				v.add("llm.cache.semantic.threshold", "must be in (0, 1], got %v", sc.Threshold)
			}
			if sc.MaxEntries < 0 {
				v.add("llm.cache.semantic.max_entries", "must not be negative")
			}
		}
	}
	if sc := c.LLM.Sessions; sc != nil {
		if sm := sc.Summary; sm != nil {
			if sm.Model == "" {
				v.add("llm.sessions.summary.model", "is required")
			}
			if sm.ThresholdTokens < 0 || sm.KeepTurns < 0 || sm.MaxTokens < 0 {
				v.add("llm.sessions.summary", "threshold_tokens, keep_turns and max_tokens must not be negative")
			}
		}
		if sc.Header != "" && !validHeaderName(sc.Header) {
			v.add("llm.sessions.header", "must be a header name, got %q", sc.Header)
		}
		if sc.TTL < 0 || sc.MaxSessions < 0 || sc.MaxBytes < 0 || sc.MaxHistoryTokens < 0 {
			v.add("llm.sessions", "ttl, max_sessions, max_bytes and max_history_tokens must not be negative")
		}
	}
	if pc := c.LLM.PII; pc != nil {
		okMode := func(m string) bool { return m == "" || m == "mask" || m == "hash" || m == "token" }
		if !okMode(pc.Mode) {
			v.add("llm.pii.mode", "must be mask, hash or token, got %q", pc.Mode)
		}
		hashUsed := pc.Mode == "hash"
		for d, m := range pc.Modes {
			if !okMode(m) {
				v.add("llm.pii.modes."+d, "must be mask, hash or token, got %q", m)
			}
			hashUsed = hashUsed || m == "hash"
		}
		if hashUsed && pc.HashKey == nil {
			v.add("llm.pii.hash_key", "is required by the hash mode (a secret: env, file or value)")
		}
		if pc.HashKey != nil {
			v.secret("llm.pii.hash_key", pc.HashKey, true)
		}
		for i, cp := range pc.Custom {
			if cp.Name == "" {
				v.add(fmt.Sprintf("llm.pii.custom[%d].name", i), "is required")
			}
			if _, err := regexp.Compile(cp.Pattern); err != nil || cp.Pattern == "" {
				v.add(fmt.Sprintf("llm.pii.custom[%d].pattern", i), "must be a non-empty RE2 regular expression: %v", err)
			}
		}
	}
	for i := range c.LLM.Transforms {
		v.llmTransform(fmt.Sprintf("llm.transforms[%d]", i), &c.LLM.Transforms[i], routeNames(c))
	}
	if cc := c.LLM.Context; cc != nil {
		v.llmContext("llm.context", cc, routeNames(c))
	}
	if c.LLM.PriceFile != "" {
		if err := regularFile(c.LLM.PriceFile); err != nil {
			v.add("llm.price_file", "%v", err)
		}
	}
	providers := map[string]*Provider{}
	for i := range c.Providers {
		p := &c.Providers[i]
		pp := fmt.Sprintf("providers[%d]", i)
		switch {
		case p.Name == "":
			v.add(pp+".name", "is required")
		case strings.Contains(p.Name, "/"):
			v.add(pp+".name", "must not contain \"/\" (model names use provider/model)")
		case providers[p.Name] != nil:
			v.add(pp+".name", "duplicate provider name %q", p.Name)
		case clusters[p.Name]:
			v.add(pp+".name", "%q is also a cluster name: a provider is a cluster, the names must differ", p.Name)
		}
		if p.Name != "" && providers[p.Name] == nil {
			providers[p.Name] = p
		}
		if !slices.Contains(ProviderTypes, p.Type) {
			v.add(pp+".type", "unknown provider type %q: want one of %s", p.Type, strings.Join(ProviderTypes, ", "))
			continue
		}
		if p.Type == "demo" {
			continue
		}
		switch {
		case p.BaseURL == "" && p.Type == "azure":
			v.add(pp+".base_url", "is required for azure: https://{resource}.openai.azure.com")
		case p.BaseURL == "" && p.Type == "bedrock":
			v.add(pp+".region", "is required for bedrock (or base_url)")
		case p.BaseURL == "" && p.Type == "vertex":
			v.add(pp+".project", "project and region are required for vertex (or base_url)")
		case p.BaseURL == "":
			v.add(pp+".base_url", "is required for type %s", p.Type)
		default:
			u, err := url.Parse(p.BaseURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.add(pp+".base_url", "must be an http:// or https:// URL, got %q", p.BaseURL)
			} else if u.RawQuery != "" || u.Fragment != "" {
				v.add(pp+".base_url", "must not have a query or fragment")
			}
		}
		for j, e := range p.Endpoints {
			v.hostPort(fmt.Sprintf("%s.endpoints[%d].address", pp, j), e.Address, true)
		}
		switch p.LB {
		case "", "round_robin", "least_request", "random":
		default:
			v.add(pp+".lb", "must be round_robin, least_request or random, got %q", p.LB)
		}
		for j := range p.APIKeys {
			v.secret(fmt.Sprintf("%s.api_keys[%d]", pp, j), &p.APIKeys[j], true)
		}
		if a := p.AWS; a != nil {
			v.secret(pp+".aws.access_key_id", &a.AccessKeyID, false)
			v.secret(pp+".aws.secret_access_key", &a.SecretAccessKey, false)
			v.secret(pp+".aws.session_token", &a.SessionToken, false)
		}
		if p.Timeout < 0 {
			v.add(pp+".timeout", "must not be negative")
		}
		if p.MaxTokens < 0 {
			v.add(pp+".max_tokens", "must not be negative")
		}
		for j, m := range p.Models {
			if m == "" {
				v.add(fmt.Sprintf("%s.models[%d]", pp, j), "must not be empty")
			}
		}
	}
	target := func(tp, prov string) {
		if prov == "" {
			v.add(tp+".provider", "is required")
		} else if providers[prov] == nil && !v.undecoded("providers") {
			v.add(tp+".provider", "unknown provider %q", prov)
		}
	}
	models := map[string]bool{}
	for i := range c.Models {
		m := &c.Models[i]
		mp := fmt.Sprintf("models[%d]", i)
		if m.Name == "" {
			v.add(mp+".name", "is required")
		} else if models[m.Name] {
			v.add(mp+".name", "duplicate model name %q", m.Name)
		}
		models[m.Name] = true
		if len(m.Targets) == 0 {
			v.add(mp+".targets", "at least one target is required")
		}
		for j := range m.Targets {
			target(fmt.Sprintf("%s.targets[%d]", mp, j), m.Targets[j].Provider)
		}
		for j, f := range m.Fallbacks {
			fp := fmt.Sprintf("%s.fallbacks[%d]", mp, j)
			prov, model, ok := strings.Cut(f, "/")
			if !ok || prov == "" || model == "" {
				v.add(fp, "must be provider/model, got %q", f)
				continue
			}
			if providers[prov] == nil && !v.undecoded("providers") {
				v.add(fp, "unknown provider %q", prov)
			}
		}
	}
}

// secret checks a credential reference. A referenced variable that is unset is not an
// error here (the key is set aside at run time with a clear log line), so that a config can
// be validated on a machine without the secrets.
func (v *validator) secret(p string, s *Secret, required bool) {
	n := 0
	for _, x := range []string{s.Env, s.File, s.Value} {
		if x != "" {
			n++
		}
	}
	switch {
	case n == 0 && required:
		v.add(p, "one of env, file or value is required")
	case n > 1:
		v.add(p, "env, file and value are mutually exclusive")
	}
	if s.File != "" {
		if err := regularFile(s.File); err != nil {
			v.add(p+".file", "%v", err)
		}
	}
}

// Resolve returns the secret's value: the variable, the file's trimmed content or the value.
func (s Secret) Resolve() (string, error) {
	switch {
	case s.Env != "":
		v := os.Getenv(s.Env)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is not set", s.Env)
		}
		return v, nil
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", fmt.Errorf("read secret: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return s.Value, nil
}

// Redacted returns s with its inline value hidden, for config dumps.
func (s Secret) Redacted() Secret {
	if s.Value != "" {
		s.Value = "[redacted]"
	}
	return s
}

// providerClusters adds a cluster for each provider that reaches its API over the network:
// the base URL's host (or the provider's endpoints), TLS for https with the host as SNI.
// A provider whose name is taken by a cluster of the file, or whose base URL does not
// parse, gets none: validation reports why.
func providerClusters(c *Config) {
	taken := map[string]bool{}
	for _, cl := range c.Clusters {
		taken[cl.Name] = true
	}
	for _, p := range c.Providers {
		if p.Type == "demo" || p.Name == "" || taken[p.Name] || p.BaseURL == "" {
			continue
		}
		u, err := url.Parse(p.BaseURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			continue
		}
		taken[p.Name] = true
		host := u.Hostname()
		port := u.Port()
		if port == "" {
			port = "80"
			if u.Scheme == "https" {
				port = "443"
			}
		}
		cl := Cluster{Name: p.Name, Provider: p.Name, LB: p.LB, ConnectTimeout: p.ConnectTimeout, MaxConnections: p.MaxConnections}
		if len(p.Endpoints) > 0 {
			cl.Endpoints = append([]Endpoint(nil), p.Endpoints...)
		} else {
			cl.Endpoints = []Endpoint{{Address: net.JoinHostPort(host, port)}}
		}
		for _, e := range cl.Endpoints {
			if h, _, err := net.SplitHostPort(e.Address); err == nil && net.ParseIP(h) == nil {
				cl.Type = "dns"
			}
		}
		if u.Scheme == "https" {
			t := UpstreamTLS{SNI: host}
			if p.TLS != nil {
				t = *p.TLS
				if t.SNI == "" {
					t.SNI = host
				}
			}
			cl.TLS = &t
		}
		c.Clusters = append(c.Clusters, cl)
	}
}

func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return s != ""
}

// contextDefaults fills in the external context client's defaults.
func contextDefaults(xc *LLMContext) {
	if xc.Method == "" {
		xc.Method = "GET"
	}
	if xc.KeyFrom == "" {
		xc.KeyFrom = "session"
	}
	if xc.Timeout == 0 {
		xc.Timeout = Duration(DefaultContextTimeout)
	}
	if xc.TTL == nil {
		xc.TTL = ptr(Duration(DefaultContextTTL))
	}
	if xc.MaxEntries == 0 {
		xc.MaxEntries = DefaultContextMaxEntries
	}
	if xc.CacheBytes == 0 {
		xc.CacheBytes = DefaultContextCacheBytes
	}
	if xc.MaxBytes == 0 {
		xc.MaxBytes = DefaultContextMaxBytes
	}
	if xc.Inject == "" {
		xc.Inject = "system"
	}
	if xc.Template == "" {
		xc.Template = DefaultContextTemplate
	}
	if xc.OnFailure == "" {
		xc.OnFailure = "continue"
	}
}

// routeNames returns the names of the routes of every listener.
func routeNames(c *Config) map[string]bool {
	names := map[string]bool{}
	for i := range c.Listeners {
		for j := range c.Listeners[i].VirtualHosts {
			for _, r := range c.Listeners[i].VirtualHosts[j].Routes {
				if r.Name != "" {
					names[r.Name] = true
				}
			}
		}
	}
	return names
}

// llmMatch checks a transform's or the context's match.
func (v *validator) llmMatch(p string, m *LLMMatch, routes map[string]bool) {
	if m == nil {
		return
	}
	for i, pat := range m.Models {
		if pat == "" {
			v.add(fmt.Sprintf("%s.models[%d]", p, i), "must not be empty (use \"*\" for any model)")
		}
	}
	for i, r := range m.Routes {
		switch {
		case r == "":
			v.add(fmt.Sprintf("%s.routes[%d]", p, i), "must not be empty")
		case !routes[r] && !v.undecoded("listeners"):
			v.add(fmt.Sprintf("%s.routes[%d]", p, i), "no route is named %q", r)
		}
	}
}

// llmTransform checks one transform rule (docs/transforms.md). The transform package
// compiles the same rules; its tests check that both agree.
func (v *validator) llmTransform(p string, t *LLMTransform, routes map[string]bool) {
	v.llmMatch(p+".match", t.Match, routes)
	if t.HeaderMaxBytes < 0 {
		v.add(p+".header_max_bytes", "must not be negative")
	}
	for i, st := range t.Prompt {
		sp := fmt.Sprintf("%s.prompt[%d]", p, i)
		if !slices.Contains(LLMPromptActions, st.Action) {
			v.add(sp+".action", "must be one of %s, got %q", strings.Join(LLMPromptActions, ", "), st.Action)
			continue
		}
		if st.Text == "" {
			v.add(sp+".text", "is required")
			continue
		}
		if st.Separator != nil && st.Action != "system_prefix" && st.Action != "system_suffix" {
			v.add(sp+".separator", "applies to system_prefix and system_suffix only")
		}
		if hasInput, err := checkTemplate(st.Text, t.Vars, st.Action == "user_template"); err != nil {
			v.add(sp+".text", "%v", err)
		} else if st.Action == "user_template" && !hasInput {
			v.add(sp+".text", "a user_template must hold {{input}}, the user's message")
		}
	}
	if b := t.Body; b != nil {
		seen := map[string]string{}
		for i, path := range b.Remove {
			if _, err := bodyParam(path); err != nil {
				v.add(fmt.Sprintf("%s.body.remove[%d]", p, i), "%v", err)
			}
			seen[path] = "remove"
		}
		kinds := []struct {
			field string
			m     map[string]any
		}{{"set", b.Set}, {"default", b.Default}, {"max", b.Max}}
		for _, k := range kinds {
			for _, path := range slices.Sorted(maps.Keys(k.m)) {
				fp := p + ".body." + k.field + "." + path
				if err := checkBodyValue(path, k.field, k.m[path]); err != nil {
					v.add(fp, "%v", err)
				}
				if other, dup := seen[path]; dup && !(k.field == "max" && other == "default") {
					v.add(fp, "%s is also in body.%s", path, other)
				}
				seen[path] = k.field
			}
		}
	}
	v.llmHeaders(p+".request_headers", t.RequestHeaders, true)
	v.llmHeaders(p+".response_headers", t.ResponseHeaders, false)
}

// LLMReservedRequestHeaders are the request headers a transform (or the context) must not
// touch: the provider's credentials and what the transport owns.
var LLMReservedRequestHeaders = map[string]bool{"host": true, "authorization": true, "x-api-key": true,
	"api-key": true, "x-goog-api-key": true, "content-length": true, "content-type": true, "content-encoding": true,
	"transfer-encoding": true, "connection": true, "te": true, "upgrade": true, "keep-alive": true}

// LLMReservedResponseHeaders are the response headers a transform must not touch: what
// the transport owns.
var LLMReservedResponseHeaders = map[string]bool{"content-length": true, "content-type": true, "content-encoding": true,
	"transfer-encoding": true, "connection": true, "te": true, "upgrade": true, "keep-alive": true}

func (v *validator) llmHeaders(p string, m *LLMHeaderMutations, request bool) {
	if m == nil {
		return
	}
	reserved := LLMReservedResponseHeaders
	if request {
		reserved = LLMReservedRequestHeaders
	}
	name := func(fp, n string) {
		switch {
		case n == "":
			v.add(fp, "a header name is required")
		case !httpguts.ValidHeaderFieldName(n):
			v.add(fp, "invalid header name %q", n)
		case reserved[strings.ToLower(n)]:
			v.add(fp, "header %q cannot be changed by a transform", n)
		}
	}
	for i, h := range m.Add {
		fp := fmt.Sprintf("%s.add[%d]", p, i)
		name(fp+".name", h.Name)
		switch {
		case h.Value == "":
			v.add(fp+".value", "is required (use remove to drop a header)")
		case !httpguts.ValidHeaderFieldValue(h.Value):
			v.add(fp+".value", "invalid header value: control characters other than tab are not allowed")
		}
	}
	for i, n := range m.Remove {
		name(fmt.Sprintf("%s.remove[%d]", p, i), n)
	}
}

// checkTemplate checks the placeholders of a transform template; input allows {{input}}
// and hasInput reports whether it is there.
func checkTemplate(s string, vars map[string]string, input bool) (hasInput bool, err error) {
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			return hasInput, nil
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			return false, fmt.Errorf("unclosed {{ at %q", trimTo(s[i:], 20))
		}
		name := strings.TrimSpace(s[i+2 : i+2+j])
		s = s[i+2+j+2:]
		switch {
		case name == "model" || name == "date" || name == "datetime":
		case name == "input":
			if !input {
				return false, fmt.Errorf("{{input}} is only known in a user_template")
			}
			hasInput = true
		case strings.HasPrefix(name, "var."):
			if _, ok := vars[name[4:]]; !ok {
				return false, fmt.Errorf("{{%s}}: no variable %q in vars", name, name[4:])
			}
		case strings.HasPrefix(name, "header."):
			h, _, _ := strings.Cut(name[7:], "|")
			if h = strings.TrimSpace(h); !httpguts.ValidHeaderFieldName(h) {
				return false, fmt.Errorf("{{%s}}: invalid header name %q", name, h)
			}
		default:
			return false, fmt.Errorf("unknown placeholder {{%s}}: want model, date, datetime, var.NAME, header.NAME or header.NAME|default", name)
		}
	}
}

func trimTo(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// bodyParam returns the kind of the body path: a key of LLMBodyParams, or metadata.KEY.
func bodyParam(path string) (string, error) {
	if k, ok := LLMBodyParams[path]; ok {
		return k, nil
	}
	if key, ok := strings.CutPrefix(path, "metadata."); ok && key != "" {
		return "metadata", nil
	}
	names := slices.Sorted(maps.Keys(LLMBodyParams))
	return "", fmt.Errorf("unknown parameter %q: want metadata.KEY or one of %s", path, strings.Join(names, ", "))
}

// checkBodyValue checks a value given to a body parameter by set, default or max.
func checkBodyValue(path, op string, val any) error {
	kind, err := bodyParam(path)
	if err != nil {
		return err
	}
	if op == "max" && kind != "number" && kind != "integer" {
		return fmt.Errorf("max applies to numeric parameters only")
	}
	ok := false
	switch kind {
	case "number":
		switch x := val.(type) {
		case int, int64, uint64:
			ok = true
		case float64:
			ok = !math.IsNaN(x) && !math.IsInf(x, 0)
		}
	case "integer":
		switch x := val.(type) {
		case int, int64:
			ok = true
		case uint64:
			ok = x <= math.MaxInt64
		}
	case "bool":
		_, ok = val.(bool)
	case "string", "metadata":
		_, ok = val.(string)
	case "strings":
		switch x := val.(type) {
		case string:
			ok = true
		case []any:
			ok = true
			for _, e := range x {
				if _, s := e.(string); !s {
					ok = false
				}
			}
		}
	}
	if !ok {
		return fmt.Errorf("want %s, got %v", LLMBodyKindName(kind), val)
	}
	return nil
}

// LLMBodyKindName describes a kind of LLMBodyParams ("metadata" for metadata.KEY) for
// error messages.
func LLMBodyKindName(kind string) string {
	switch kind {
	case "integer":
		return "an integer"
	case "bool":
		return "true or false"
	case "metadata", "string":
		return "a string"
	case "strings":
		return "a string or a list of strings"
	}
	return "a " + kind
}

// llmContext checks the external context client's settings.
func (v *validator) llmContext(p string, xc *LLMContext, routes map[string]bool) {
	if u, err := url.Parse(xc.URL); xc.URL == "" {
		v.add(p+".url", "is required")
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(p+".url", "must be an http:// or https:// URL, got %q", xc.URL)
	}
	if xc.Method != "GET" && xc.Method != "POST" {
		v.add(p+".method", "must be GET or POST, got %q", xc.Method)
	}
	headerRef := func(field, val string, plain ...string) {
		if slices.Contains(plain, val) {
			return
		}
		if h, ok := strings.CutPrefix(val, "header:"); ok {
			if !httpguts.ValidHeaderFieldName(h) {
				v.add(p+"."+field, "invalid header name %q", h)
			}
			return
		}
		v.add(p+"."+field, "must be %s or header:NAME, got %q", strings.Join(plain, ", "), val)
	}
	headerRef("key_from", xc.KeyFrom, "session", "user")
	headerRef("inject", xc.Inject, "system")
	if h, ok := strings.CutPrefix(xc.Inject, "header:"); ok && LLMReservedRequestHeaders[strings.ToLower(h)] {
		v.add(p+".inject", "header %q cannot be set by the context", h)
	}
	if xc.Timeout < 0 {
		v.add(p+".timeout", "must not be negative")
	}
	if xc.TTL != nil && *xc.TTL < 0 {
		v.add(p+".ttl", "must not be negative")
	}
	if xc.MaxEntries < 0 {
		v.add(p+".max_entries", "must not be negative")
	}
	if xc.CacheBytes < 0 {
		v.add(p+".cache_bytes", "must not be negative")
	}
	if xc.MaxBytes < 0 {
		v.add(p+".max_bytes", "must not be negative")
	}
	if !strings.Contains(xc.Template, "{{context}}") {
		v.add(p+".template", "must hold {{context}}")
	}
	if xc.OnFailure != "continue" && xc.OnFailure != "refuse" {
		v.add(p+".on_failure", "must be continue or refuse, got %q", xc.OnFailure)
	}
	for i, h := range xc.ForwardHeaders {
		if !httpguts.ValidHeaderFieldName(h) {
			v.add(fmt.Sprintf("%s.forward_headers[%d]", p, i), "invalid header name %q", h)
		}
	}
	if xc.APIKey != nil {
		v.secret(p+".api_key", xc.APIKey, true)
	}
	v.llmMatch(p+".match", xc.Match, routes)
}
