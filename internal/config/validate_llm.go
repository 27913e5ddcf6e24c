package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
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
				APIKeys: []Secret{{Env: e.key}}})
		}
		if !have["bedrock"] && getenv("AWS_ACCESS_KEY_ID") != "" && getenv("AWS_SECRET_ACCESS_KEY") != "" {
			region := getenv("AWS_REGION")
			if region == "" {
				region = getenv("AWS_DEFAULT_REGION")
			}
			if region != "" {
				c.Providers = append(c.Providers, Provider{Name: "bedrock", Type: "bedrock", Region: region})
			}
		}
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
	if cc := c.LLM.Cache; cc != nil {
		if cc.TTL == 0 {
			cc.TTL = Duration(5 * time.Minute)
		}
		if cc.MaxBytes == 0 {
			cc.MaxBytes = 64 << 20
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
	}
	if sc := c.LLM.Sessions; sc != nil {
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
