package config

// This file holds the LLM gateway's schema: providers (clusters that speak an LLM API),
// model routes (public model names mapped to provider targets) and the llm route action.

// Provider is an LLM provider: a cluster that speaks one provider API, plus credentials.
type Provider struct {
	Name string `yaml:"name" json:"name"`
	// Type is the API the provider speaks: openai, azure, anthropic, gemini, vertex,
	// bedrock, mistral, groq, together, deepseek, openrouter, fireworks, xai, vllm, ollama,
	// lmstudio, openai_compatible, or demo (answered in process, for trying Pylon out).
	Type string `yaml:"type" json:"type"`
	// BaseURL is the API root, e.g. https://api.openai.com/v1 (default per type).
	BaseURL string `yaml:"base_url,omitempty" json:"base_url,omitempty"`
	// Endpoints overrides the host of base_url with several replicas (host:port), balanced
	// by LB: a provider is a cluster (for example several vLLM servers).
	Endpoints []Endpoint `yaml:"endpoints,omitempty" json:"endpoints,omitempty"`
	LB        string     `yaml:"lb,omitempty" json:"lb,omitempty"`
	// APIKeys are the credentials, picked by weight; a key the provider refuses (401) or
	// rate-limits (429) is set aside for a while.
	APIKeys []Secret `yaml:"api_keys,omitempty" json:"api_keys,omitempty"`
	// Models are the provider's model ids served under their own names.
	Models []string `yaml:"models,omitempty" json:"models,omitempty"`
	// APIVersion is Azure OpenAI's api-version (default 2024-10-21).
	APIVersion string `yaml:"api_version,omitempty" json:"api_version,omitempty"`
	// Region is the AWS region (bedrock) or Google Cloud location (vertex).
	Region string `yaml:"region,omitempty" json:"region,omitempty"`
	// Project is the Google Cloud project (vertex).
	Project string `yaml:"project,omitempty" json:"project,omitempty"`
	// AWS holds Bedrock credentials; empty fields come from the standard AWS_* variables.
	AWS *AWSCredentials `yaml:"aws,omitempty" json:"aws,omitempty"`
	// Timeout bounds one attempt on this provider, streams included (default 300s).
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// MaxTokens is the max_tokens sent when a client gives none and the API requires one
	// (Anthropic, Bedrock); default: the model's maximum output from the price table, else 4096.
	MaxTokens int `yaml:"max_tokens,omitempty" json:"max_tokens,omitempty"`
	// Cluster settings of the provider's endpoints.
	ConnectTimeout Duration     `yaml:"connect_timeout,omitempty" json:"connect_timeout,omitempty"`
	MaxConnections int          `yaml:"max_connections,omitempty" json:"max_connections,omitempty"`
	TLS            *UpstreamTLS `yaml:"tls,omitempty" json:"tls,omitempty"`
}

// Secret is a credential: exactly one of env (an environment variable), file (its content,
// trimmed) or value (inline; avoid in files under version control). Weight spreads calls over
// several keys (default 1).
type Secret struct {
	Env    string `yaml:"env,omitempty" json:"env,omitempty"`
	File   string `yaml:"file,omitempty" json:"file,omitempty"`
	Value  string `yaml:"value,omitempty" json:"value,omitempty"`
	Weight uint32 `yaml:"weight,omitempty" json:"weight,omitempty"`
}

// AWSCredentials are Bedrock's SigV4 credentials.
type AWSCredentials struct {
	AccessKeyID     Secret `yaml:"access_key_id,omitempty" json:"access_key_id,omitempty"`
	SecretAccessKey Secret `yaml:"secret_access_key,omitempty" json:"secret_access_key,omitempty"`
	SessionToken    Secret `yaml:"session_token,omitempty" json:"session_token,omitempty"`
}

// Model is a public model name and the targets that serve it.
type Model struct {
	Name string `yaml:"name" json:"name"`
	// Targets serve the model: the lowest priority group first, by weight within a group.
	Targets []ModelTarget `yaml:"targets" json:"targets"`
	// Fallbacks are tried in order after every target failed: "provider/model".
	Fallbacks []string `yaml:"fallbacks,omitempty" json:"fallbacks,omitempty"`
}

// ModelTarget is one provider model serving a public model.
type ModelTarget struct {
	Provider string `yaml:"provider" json:"provider"`
	// Model is the provider's model id (default: the public name).
	Model    string `yaml:"model,omitempty" json:"model,omitempty"`
	Weight   uint32 `yaml:"weight,omitempty" json:"weight,omitempty"`
	Priority int    `yaml:"priority,omitempty" json:"priority,omitempty"`
}

// LLM holds settings of the LLM gateway shared by every llm route.
type LLM struct {
	// ProvidersFromEnv enables a provider for each set of standard environment variables
	// (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, AWS credentials...).
	ProvidersFromEnv bool `yaml:"providers_from_env,omitempty" json:"providers_from_env,omitempty"`
	// Cooldown sets a target aside after it failed (429, 5xx, timeout, connection error)
	// unless the provider said when to come back (retry-after) (default 30s).
	Cooldown Duration `yaml:"cooldown,omitempty" json:"cooldown,omitempty"`
	// MaxAttempts bounds the targets tried for one call, fallbacks included (default 4).
	MaxAttempts int `yaml:"max_attempts,omitempty" json:"max_attempts,omitempty"`
	// MaxRequestBytes bounds a request body (default 32 MiB).
	MaxRequestBytes int64 `yaml:"max_request_bytes,omitempty" json:"max_request_bytes,omitempty"`
	// PriceFile overrides or extends the built-in price table (see docs/llm-usage.md).
	PriceFile string `yaml:"price_file,omitempty" json:"price_file,omitempty"`
	// Cache, when set, answers repeated identical chat requests from a cache.
	Cache *LLMCache `yaml:"cache,omitempty" json:"cache,omitempty"`
	// PII, when set, redacts personal data and secrets from prompts before they leave for a
	// provider (see docs/pii.md).
	PII *LLMPII `yaml:"pii,omitempty" json:"pii,omitempty"`
	// Sessions, when set, keeps conversations server-side for clients that send a session
	// id (see docs/sessions.md). In Redis when `redis` is set, in process otherwise.
	Sessions *LLMSessions `yaml:"sessions,omitempty" json:"sessions,omitempty"`
}

// LLMSessions configures server-side conversation context.
type LLMSessions struct {
	// Header carries the session id (default X-Session-Id).
	Header string `yaml:"header,omitempty" json:"header,omitempty"`
	// TTL is how long an idle session lives; every access restarts it (default 24h).
	TTL Duration `yaml:"ttl,omitempty" json:"ttl,omitempty"`
	// MaxSessions and MaxBytes bound the in-process store (defaults 10000 and 64 MiB).
	MaxSessions int   `yaml:"max_sessions,omitempty" json:"max_sessions,omitempty"`
	MaxBytes    int64 `yaml:"max_bytes,omitempty" json:"max_bytes,omitempty"`
	// MaxHistoryTokens caps the history sent with a call; by default it is the model's
	// context window minus the call's max_tokens (no cap when the window is unknown).
	MaxHistoryTokens int `yaml:"max_history_tokens,omitempty" json:"max_history_tokens,omitempty"`
}

// LLMPII configures PII redaction of prompts.
type LLMPII struct {
	// Mode is mask ("[EMAIL]", the default), hash ("[EMAIL:3f2a9c1b]", keyed by hash_key) or
	// token (reversible: "⟦EMAIL_1⟧" goes to the provider and the original comes back in
	// the reply the client sees, streams included).
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
	// Modes overrides the mode per detector.
	Modes map[string]string `yaml:"modes,omitempty" json:"modes,omitempty"`
	// Detectors lists the detectors (or groups: all, secrets, national_id, ip) to run
	// (default all); Disable removes some.
	Detectors []string `yaml:"detectors,omitempty" json:"detectors,omitempty"`
	Disable   []string `yaml:"disable,omitempty" json:"disable,omitempty"`
	// Custom adds patterns: {name, pattern (RE2), label}.
	Custom []PIIPattern `yaml:"custom,omitempty" json:"custom,omitempty"`
	// HashKey keys the hash mode (required for it).
	HashKey *Secret `yaml:"hash_key,omitempty" json:"hash_key,omitempty"`
}

// PIIPattern is a custom PII pattern.
type PIIPattern struct {
	Name    string `yaml:"name" json:"name"`
	Pattern string `yaml:"pattern" json:"pattern"`
	Label   string `yaml:"label,omitempty" json:"label,omitempty"`
}

// LLMCache is the exact-match response cache of chat calls.
type LLMCache struct {
	// TTL is how long an answer is served from the cache (default 5m).
	TTL Duration `yaml:"ttl,omitempty" json:"ttl,omitempty"`
	// MaxBytes bounds the in-process cache (default 64 MiB).
	MaxBytes int64 `yaml:"max_bytes,omitempty" json:"max_bytes,omitempty"`
}

// RouteLLM is the llm route action: the request's model picks the targets.
type RouteLLM struct {
	// Models, when set, limits the models callers of this route may use.
	Models []string `yaml:"models,omitempty" json:"models,omitempty"`
	// Auth requires an API key of the management plane (Authorization: Bearer pk_..., or
	// x-api-key) and enforces its scopes, limits and budgets. It needs `store`.
	Auth bool `yaml:"auth,omitempty" json:"auth,omitempty"`
	// API names the catalog API this route serves: a key's application needs an approved
	// subscription to it (published or deprecated). Needs auth.
	API string `yaml:"api,omitempty" json:"api,omitempty"`
}

// ProviderTypes are the provider types Pylon speaks.
var ProviderTypes = []string{"openai", "azure", "anthropic", "gemini", "vertex", "bedrock", "mistral", "groq",
	"together", "deepseek", "openrouter", "fireworks", "xai", "vllm", "ollama", "lmstudio", "openai_compatible", "demo"}
