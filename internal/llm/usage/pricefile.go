package usage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FieldError is one problem in a price file, named by its field path
// (models["openai/gpt-4o"].cache_read) and, when known, its line.
type FieldError struct {
	File string // the file name given to ParseTable
	Path string
	Line int // 1-based; 0 when unknown
	Msg  string
	Err  error // the cause, when there is one (ErrInvalidMoney)
}

func (e *FieldError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("usage: %s: %s (line %d): %s", e.File, e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("usage: %s: %s: %s", e.File, e.Path, e.Msg)
}

func (e *FieldError) Unwrap() error { return e.Err }

// ParseTable parses and validates a price file (the format is in
// docs/llm-usage.md). name is used only in error messages. An empty file is
// an empty table, so an override file may start out blank.
//
// The file is walked as YAML nodes rather than decoded into structs: that
// keeps line numbers for every error, keeps prices as the text the operator
// wrote (a YAML float never exists), and lets every problem be reported at
// once, sorted by line, joined with errors.Join.
func ParseTable(name string, data []byte) (*Table, error) {
	p := &fileParser{file: name}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return newTable("", nil), nil
		}
		return nil, fmt.Errorf("usage: %s: %w", name, err)
	}
	var second yaml.Node
	if err := dec.Decode(&second); !errors.Is(err, io.EOF) {
		line := second.Line
		if err != nil {
			line = 0
		}
		p.fail("(document)", line, "a price file is a single YAML document: remove the second one or merge it into the first")
	}
	entries, version := p.document(&doc)
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
		errs := make([]error, len(p.errs))
		for i, e := range p.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return newTable(version, entries), nil
}

type fileParser struct {
	file string
	errs []*FieldError
}

func (p *fileParser) fail(path string, line int, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{File: p.file, Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (p *fileParser) failErr(path string, line int, err error) {
	// The path and line already say where; keep only what ParseMoney says
	// about the value, and keep err for errors.Is.
	p.errs = append(p.errs, &FieldError{File: p.file, Path: path, Line: line, Msg: err.Error(), Err: err})
}

// resolve follows an alias (*name) to its anchor, so operators may share a
// block of rates between models.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func (p *fileParser) document(doc *yaml.Node) (entries []*Price, version string) {
	root := doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, ""
		}
		root = root.Content[0]
	}
	root = resolve(root)
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, "" // a file of comments only
	}
	if root.Kind != yaml.MappingNode {
		p.fail("(document)", root.Line, "want a mapping with the keys version and models")
		return nil, ""
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], resolve(root.Content[i+1])
		switch k.Value {
		case "version":
			if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" {
				p.fail("version", v.Line, "want a string such as \"2026-11\"")
				continue
			}
			version = v.Value
		case "models":
			entries = p.models(v)
		default:
			p.fail(k.Value, k.Line, "unknown field %q (want version or models)", k.Value)
		}
	}
	return entries, version
}

func (p *fileParser) models(n *yaml.Node) []*Price {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.fail("models", n.Line, "want a mapping from model key to prices")
		return nil
	}
	seen := make(map[string]int, len(n.Content)/2)
	entries := make([]*Price, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		key := strings.ToLower(k.Value)
		path := fmt.Sprintf("models[%q]", k.Value)
		if msg := checkKey(key); msg != "" {
			p.fail(path, k.Line, "%s", msg)
			continue
		}
		if first, dup := seen[key]; dup {
			p.fail(path, k.Line, "model key given twice (first on line %d; keys are case-insensitive)", first)
			continue
		}
		seen[key] = k.Line
		if e := p.entry(path, key, v); e != nil {
			entries = append(entries, e)
		}
	}
	return entries
}

// checkKey returns why key cannot be a model key, or "".
func checkKey(key string) string {
	if key == "" {
		return "empty model key"
	}
	if strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "a model key has no spaces or control characters"
	}
	if prov, model, ok := strings.Cut(key, "/"); ok && (prov == "" || model == "") {
		return "want provider/model or a bare model name"
	}
	return ""
}

func (p *fileParser) entry(path, key string, n *yaml.Node) *Price {
	if n.Kind != yaml.MappingNode {
		p.fail(path, n.Line, "want a mapping with input, output and optional cache_read, cache_write, context_window, max_output_tokens, tiers")
		return nil
	}
	e := &Price{Key: key}
	var have fieldSet
	errsBefore := len(p.errs)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		fpath := path + "." + k.Value
		if p.rate(fpath, k.Value, v, &e.Rates, &have) {
			continue
		}
		switch k.Value {
		case "context_window":
			e.ContextWindow = p.tokens(fpath, v)
		case "max_output_tokens":
			e.MaxOutputTokens = p.tokens(fpath, v)
		case "tiers":
			e.Tiers = p.tiers(fpath, v)
		default:
			p.fail(fpath, k.Line, "unknown field %q", k.Value)
		}
	}
	p.requireRates(path, n.Line, have)
	if e.ContextWindow > 0 && e.MaxOutputTokens > e.ContextWindow {
		p.fail(path+".max_output_tokens", n.Line, "max_output_tokens %d is larger than context_window %d", e.MaxOutputTokens, e.ContextWindow)
	}
	if len(p.errs) > errsBefore {
		return nil
	}
	return e
}

func (p *fileParser) tiers(path string, n *yaml.Node) []Tier {
	if n.Kind != yaml.SequenceNode {
		p.fail(path, n.Line, "want a list of tiers, each with above_input_tokens, input and output")
		return nil
	}
	tiers := make([]Tier, 0, len(n.Content))
	for i, item := range n.Content {
		item = resolve(item)
		ipath := fmt.Sprintf("%s[%d]", path, i)
		if item.Kind != yaml.MappingNode {
			p.fail(ipath, item.Line, "want a mapping with above_input_tokens, input and output")
			continue
		}
		var t Tier
		var have fieldSet
		for j := 0; j+1 < len(item.Content); j += 2 {
			k, v := item.Content[j], resolve(item.Content[j+1])
			fpath := ipath + "." + k.Value
			if p.rate(fpath, k.Value, v, &t.Rates, &have) {
				continue
			}
			if k.Value != "above_input_tokens" {
				p.fail(fpath, k.Line, "unknown field %q", k.Value)
				continue
			}
			have.above = true
			t.AboveInputTokens = p.tokens(fpath, v)
		}
		p.requireRates(ipath, item.Line, have)
		switch {
		case !have.above:
			p.fail(ipath, item.Line, "missing above_input_tokens")
		case len(tiers) > 0 && t.AboveInputTokens <= tiers[len(tiers)-1].AboveInputTokens:
			p.fail(ipath+".above_input_tokens", item.Line, "tiers must be sorted by above_input_tokens, strictly ascending (%d after %d)",
				t.AboveInputTokens, tiers[len(tiers)-1].AboveInputTokens)
		}
		tiers = append(tiers, t)
	}
	return tiers
}

// fieldSet records which fields of an entry or tier were given.
type fieldSet struct{ input, output, above bool }

// rate parses name into r if it is one of the four rate fields, and reports
// whether it was.
func (p *fileParser) rate(path, name string, v *yaml.Node, r *Rates, have *fieldSet) bool {
	switch name {
	case "input":
		r.Input, have.input = p.money(path, v), true
	case "output":
		r.Output, have.output = p.money(path, v), true
	case "cache_read":
		r.CacheRead, r.HasCacheRead = p.money(path, v), true
	case "cache_write":
		r.CacheWrite, r.HasCacheWrite = p.money(path, v), true
	default:
		return false
	}
	return true
}

func (p *fileParser) requireRates(path string, line int, have fieldSet) {
	if !have.input {
		p.fail(path, line, "missing input (USD per 1M input tokens)")
	}
	if !have.output {
		p.fail(path, line, "missing output (USD per 1M output tokens; 0 for embedding models)")
	}
}

// money reads a price per 1M tokens. Unquoted YAML numbers are fine (0.15):
// the node keeps the text as written, so it never becomes a float.
func (p *fileParser) money(path string, n *yaml.Node) Money {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!str" && n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
		p.fail(path, n.Line, "want a decimal USD amount per 1M tokens, such as 0.15")
		return 0
	}
	m, err := ParseMoney(n.Value)
	if err != nil {
		p.failErr(path, n.Line, err)
		return 0
	}
	if m < 0 {
		p.fail(path, n.Line, "a price cannot be negative (%s)", n.Value)
		return 0
	}
	return m
}

// tokens reads a positive token count written as plain digits.
func (p *fileParser) tokens(path string, n *yaml.Node) int {
	if n.Kind != yaml.ScalarNode {
		p.fail(path, n.Line, "want a whole number of tokens")
		return 0
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil || v <= 0 || strings.HasPrefix(n.Value, "+") {
		p.fail(path, n.Line, "want a whole number of tokens greater than 0, written as plain digits (got %q)", n.Value)
		return 0
	}
	return v
}
