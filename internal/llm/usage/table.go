package usage

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
)

// embeddedPrices is the default price table, shipped in the binary so that
// cost works offline and on first start. Operators override it with
// LoadTable; Pylon never fetches prices at runtime.
//
//go:embed prices.yaml
var embeddedPrices []byte

// Table maps models to prices. A Table is immutable once built and safe for
// concurrent use; the *Price values it returns must not be modified.
type Table struct {
	version string
	order   []*Price // in file order; overrides keep the position of what they replace
	// byProvider holds every key: "openai/gpt-4o" under "openai", "gpt-4o";
	// a bare key ("my-model") under "".
	byProvider map[string]map[string]*Price
	// byModel maps the model part of every key to the first entry in file
	// order with that model part, so a bare model name or an unlisted
	// provider (azure, openai_compatible) still finds a price.
	byModel map[string]*Price
}

func newTable(version string, entries []*Price) *Table {
	t := &Table{
		version:    version,
		order:      entries,
		byProvider: make(map[string]map[string]*Price),
		byModel:    make(map[string]*Price, len(entries)),
	}
	for _, e := range entries {
		prov, model := splitKey(e.Key)
		m := t.byProvider[prov]
		if m == nil {
			m = make(map[string]*Price)
			t.byProvider[prov] = m
		}
		m[model] = e
		if _, ok := t.byModel[model]; !ok {
			t.byModel[model] = e
		}
	}
	return t
}

func splitKey(key string) (provider, model string) {
	if p, m, ok := strings.Cut(key, "/"); ok {
		return p, m
	}
	return "", key
}

// Embedded returns the table built from the prices.yaml shipped in the
// binary. It is parsed once, on first use.
func Embedded() *Table { return embeddedTable() }

var embeddedTable = sync.OnceValue(func() *Table {
	t, err := ParseTable("prices.yaml (embedded)", embeddedPrices)
	if err != nil {
		// A test parses the same bytes, so this cannot ship.
		panic(err)
	}
	return t
})

// LoadTable reads the operator's price file at overridePath and merges it
// over base (usually Embedded()). An empty path returns base unchanged.
//
// The merged version is "<base>+<override>", where the override's part is
// its version field or, when it has none, a hash of its content: a usage
// record that stores the version can then be re-priced exactly later.
func LoadTable(base *Table, overridePath string) (*Table, error) {
	if overridePath == "" {
		return base, nil
	}
	data, err := os.ReadFile(overridePath)
	if err != nil {
		return nil, fmt.Errorf("usage: read price overrides: %w", err)
	}
	over, err := ParseTable(overridePath, data)
	if err != nil {
		return nil, err
	}
	if over.version == "" {
		sum := sha256.Sum256(data)
		over.version = "sha256:" + hex.EncodeToString(sum[:6])
	}
	return base.Merge(over), nil
}

// Merge returns a new table with every entry of over replacing the entry of
// base with the same key, whole: an override entry gives all of its fields,
// so a half-written override never silently keeps a stale tier or cache
// price. Keys new in over are added. Neither table is modified.
func (t *Table) Merge(over *Table) *Table {
	replaced := make(map[string]*Price, len(over.order))
	for _, e := range over.order {
		replaced[e.Key] = e
	}
	entries := make([]*Price, 0, len(t.order)+len(over.order))
	for _, e := range t.order {
		if r, ok := replaced[e.Key]; ok {
			entries = append(entries, r)
			delete(replaced, e.Key)
			continue
		}
		entries = append(entries, e)
	}
	for _, e := range over.order {
		if _, ok := replaced[e.Key]; ok {
			entries = append(entries, e)
		}
	}
	version := t.version
	switch {
	case version == "":
		version = over.version
	case over.version != "":
		version += "+" + over.version
	}
	return newTable(version, entries)
}

// Version identifies the price data: the version field of the file, with
// the override's appended by LoadTable.
func (t *Table) Version() string { return t.version }

// Len returns the number of keys in the table.
func (t *Table) Len() int { return len(t.order) }

// Keys returns the table's keys in file order, for listings such as
// /config_dump.
func (t *Table) Keys() []string {
	keys := make([]string, len(t.order))
	for i, e := range t.order {
		keys[i] = e.Key
	}
	return keys
}

// Cost looks up the model and prices u; known is false when the model is not
// in the table.
func (t *Table) Cost(provider, model string, u Usage) (cost Money, known bool) {
	p, _ := t.Lookup(provider, model)
	return Cost(u, p)
}
