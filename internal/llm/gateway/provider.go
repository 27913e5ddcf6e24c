package gateway

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/pylon-gateway/pylon/internal/cluster"
	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/llm"
	openaiadapter "github.com/pylon-gateway/pylon/internal/llm/provider/openai"
)

// provider is a configured provider, live: its adapter, its keys and the cluster that
// carries its traffic (nil for the in-process demo provider).
type provider struct {
	name, typ string
	adapter   llm.Adapter
	baseURL   string
	host      string // the base URL's host, sent as the Host header
	basePath  string // scheme://host stripped: what follows in the base URL
	cluster   *cluster.Cluster
	transport http.RoundTripper // the demo's in-process server; nil: the cluster's
	keys      []*apiKey
	total     uint64 // the sum of the key weights
	timeout   time.Duration
	maxTokens int
	series    seriesCache // the metric series of the provider's models
	// nameHeader is the X-Pylon-Provider value, shared by every response (read-only).
	nameHeader []string
}

// apiKey is one credential with the time until which it is set aside.
type apiKey struct {
	value  string
	weight uint64
	until  atomic.Int64 // unix nanos; the key is not used before
}

// adapterFor returns the adapter of a provider type. The constructors of the adapters that
// live in their own packages are registered in adapters.go.
func adapterFor(p *config.Provider) (llm.Adapter, error) {
	if f, ok := adapterCtors[p.Type]; ok {
		return f(p)
	}
	if _, ok := openaiadapter.Profiles[p.Type]; ok {
		a, err := openaiadapter.New(p.Type)
		if err != nil {
			return nil, err
		}
		a.APIVersion = p.APIVersion
		return a, nil
	}
	return nil, fmt.Errorf("provider type %q is not available in this build", p.Type)
}

// adapterCtors build the adapters of provider types outside the OpenAI family.
var adapterCtors = map[string]func(*config.Provider) (llm.Adapter, error){}

func newProvider(p *config.Provider, clusters map[string]*cluster.Cluster, log *slog.Logger) (*provider, error) {
	pr := &provider{name: p.Name, typ: p.Type, baseURL: p.BaseURL, timeout: p.Timeout.D(), maxTokens: p.MaxTokens,
		nameHeader: []string{p.Name}}
	if p.Type == "demo" {
		a, _ := openaiadapter.New("openai_compatible")
		pr.adapter = a
		pr.baseURL = "http://demo.pylon.internal/v1"
		pr.transport = demoTransport{}
	} else {
		a, err := adapterFor(p)
		if err != nil {
			return nil, err
		}
		pr.adapter = a
		pr.cluster = clusters[p.Name]
		if pr.cluster == nil {
			return nil, fmt.Errorf("provider %q has no cluster", p.Name)
		}
	}
	u, err := url.Parse(pr.baseURL)
	if err != nil {
		return nil, fmt.Errorf("provider %q: base_url: %w", p.Name, err)
	}
	pr.host = u.Host
	for i, s := range p.APIKeys {
		v, err := s.Resolve()
		if err != nil {
			// Not fatal: the provider stays configured, its calls fail over to others,
			// and the log says why.
			log.Warn("llm provider key unavailable", "provider", p.Name, "key", i, "error", err)
			continue
		}
		pr.keys = append(pr.keys, &apiKey{value: v, weight: uint64(s.Weight)})
		pr.total += uint64(s.Weight)
	}
	return pr, nil
}

// errNoKey is the attempt error of a provider whose keys are all missing or set aside.
func (p *provider) pickKey(now time.Time) (string, *llm.Error) {
	if len(p.keys) == 0 {
		if p.typ == "demo" || p.typ == "ollama" || p.typ == "lmstudio" || p.typ == "vllm" || p.typ == "bedrock" {
			return "", nil // these work without a key (Bedrock signs with AWS credentials)
		}
		return "", &llm.Error{Kind: llm.KindAuthentication, Upstream: 401, Message: "provider " + p.name + " has no usable API key"}
	}
	n := now.UnixNano()
	var total uint64
	soonest := int64(0)
	for _, k := range p.keys {
		if u := k.until.Load(); u > n {
			if soonest == 0 || u < soonest {
				soonest = u
			}
			continue
		}
		total += k.weight
	}
	if total == 0 {
		return "", &llm.Error{Kind: llm.KindRateLimit, Upstream: 429, RetryAfter: time.Duration(soonest - n),
			Message: "every API key of provider " + p.name + " is set aside after rate limits or refusals"}
	}
	r := rand.Uint64N(total)
	for _, k := range p.keys {
		if k.until.Load() > n {
			continue
		}
		if r < k.weight {
			return k.value, nil
		}
		r -= k.weight
	}
	return p.keys[len(p.keys)-1].value, nil
}

// setAside keeps a key out of rotation until the given time.
func (p *provider) setAside(key string, until time.Time) {
	for _, k := range p.keys {
		if k.value == key {
			k.until.Store(until.UnixNano())
		}
	}
}
