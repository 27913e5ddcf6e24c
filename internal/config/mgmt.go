package config

import "time"

// This file holds the schema of the management plane's state: the store of tenants, keys,
// subscriptions and limits, and the Redis server shared by several nodes.

// StoreConfig is where the management plane keeps its objects.
type StoreConfig struct {
	// DSN is "sqlite:PATH" (the default kind: a file, created if absent) or
	// "postgres://user@host:5432/db" for several nodes sharing one database.
	DSN string `yaml:"dsn" json:"dsn"`
	// PollInterval is how often a node checks the store for changes made through another
	// node (default 1s; a change is enforced everywhere within about twice this).
	PollInterval Duration `yaml:"poll_interval,omitempty" json:"poll_interval,omitempty"`
}

// RedisConfig is the Redis server several nodes share: rate limits and budgets, sessions and
// the response cache live there when it is set, in process otherwise.
type RedisConfig struct {
	// Address is host:port.
	Address  string `yaml:"address" json:"address"`
	Username string `yaml:"username,omitempty" json:"username,omitempty"`
	Password Secret `yaml:"password,omitempty" json:"password,omitempty"`
	DB       int    `yaml:"db,omitempty" json:"db,omitempty"`
	// Prefix starts every key Pylon writes (default "pylon:").
	Prefix string `yaml:"prefix,omitempty" json:"prefix,omitempty"`
}

// DefaultStorePoll is the default store poll interval.
const DefaultStorePoll = time.Second

func mgmtDefaults(c *Config) {
	if s := c.Store; s != nil && s.PollInterval == 0 {
		s.PollInterval = Duration(DefaultStorePoll)
	}
	if r := c.Redis; r != nil && r.Prefix == "" {
		r.Prefix = "pylon:"
	}
}

func (v *validator) mgmt(c *Config) {
	if s := c.Store; s != nil {
		switch {
		case s.DSN == "":
			v.add("store.dsn", "is required: sqlite:PATH or postgres://...")
		case !hasAnyPrefix(s.DSN, "sqlite:", "file:", "postgres://", "postgresql://"):
			v.add("store.dsn", "must start with sqlite:, file:, postgres:// or postgresql://, got %q", s.DSN)
		}
		if s.PollInterval < 0 {
			v.add("store.poll_interval", "must not be negative")
		}
	}
	if r := c.Redis; r != nil {
		v.hostPort("redis.address", r.Address, true)
		if r.DB < 0 {
			v.add("redis.db", "must not be negative")
		}
		v.secret("redis.password", &r.Password, false)
	}
	if t := c.Admin.Token; t != nil {
		v.secret("admin.token", t, true)
	}
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if len(s) >= len(p) && s[:len(p)] == p {
			return true
		}
	}
	return false
}
