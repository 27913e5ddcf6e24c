package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// The body path syntax: a parameter's JSON name from config.LLMBodyParams
// ("temperature", "max_tokens", "stop"...), or "metadata.KEY" for one key of the
// request's metadata object (KEY is taken as is, dots included). Nothing else: the
// messages belong to the prompt steps, the model to routing.

type opKind uint8

const (
	opRemove opKind = iota
	opSet
	opDefault
	opMax
)

// bodyOp is one compiled body mutation. The value is kept in the field of its kind.
type bodyOp struct {
	op   opKind
	path string
	meta string // metadata key; "" for a parameter
	num  float64
	i    int64
	b    bool
	s    string
	ss   []string
}

func compileBody(p string, c *config.LLMBodyMutations) ([]bodyOp, error) {
	var ops []bodyOp
	seen := map[string]string{}
	for i, path := range c.Remove {
		fp := fmt.Sprintf("%s.remove[%d]", p, i)
		if _, err := paramKind(path); err != nil {
			return nil, fieldErr(fp, "%v", err)
		}
		seen[path] = "remove"
		ops = append(ops, bodyOp{op: opRemove, path: path, meta: metaKey(path)})
	}
	for _, g := range []struct {
		field string
		op    opKind
		m     map[string]any
	}{{"set", opSet, c.Set}, {"default", opDefault, c.Default}, {"max", opMax, c.Max}} {
		for _, path := range slices.Sorted(maps.Keys(g.m)) {
			fp := p + "." + g.field + "." + path
			if other, dup := seen[path]; dup && !(g.op == opMax && other == "default") {
				return nil, fieldErr(fp, "%s is also in body.%s", path, other)
			}
			seen[path] = g.field
			o, err := bodyValue(path, g.op, g.m[path])
			if err != nil {
				return nil, fieldErr(fp, "%v", err)
			}
			ops = append(ops, o)
		}
	}
	return ops, nil
}

func metaKey(path string) string {
	k, _ := strings.CutPrefix(path, "metadata.")
	if k == path {
		return ""
	}
	return k
}

func paramKind(path string) (string, error) {
	if k, ok := config.LLMBodyParams[path]; ok {
		return k, nil
	}
	if metaKey(path) != "" {
		return "metadata", nil
	}
	return "", fmt.Errorf("unknown parameter %q: want metadata.KEY or one of %s", path,
		strings.Join(slices.Sorted(maps.Keys(config.LLMBodyParams)), ", "))
}

// bodyValue checks and keeps a value given by set, default or max.
func bodyValue(path string, op opKind, v any) (bodyOp, error) {
	o := bodyOp{op: op, path: path, meta: metaKey(path)}
	kind, err := paramKind(path)
	if err != nil {
		return o, err
	}
	if op == opMax && kind != "number" && kind != "integer" {
		return o, fmt.Errorf("max applies to numeric parameters only")
	}
	ok := true
	switch kind {
	case "number":
		switch x := v.(type) {
		case int:
			o.num = float64(x)
		case int64:
			o.num = float64(x)
		case uint64:
			o.num = float64(x)
		case float64:
			o.num = x
			ok = !math.IsNaN(x) && !math.IsInf(x, 0)
		default:
			ok = false
		}
	case "integer":
		switch x := v.(type) {
		case int:
			o.i = int64(x)
		case int64:
			o.i = x
		case uint64:
			o.i, ok = int64(x), x <= math.MaxInt64
		default:
			ok = false
		}
	case "bool":
		o.b, ok = v.(bool)
	case "string", "metadata":
		o.s, ok = v.(string)
	case "strings":
		switch x := v.(type) {
		case string:
			o.ss = []string{x}
		case []any:
			for _, e := range x {
				s, isStr := e.(string)
				if !isStr {
					ok = false
				}
				o.ss = append(o.ss, s)
			}
		case []string:
			o.ss = slices.Clone(x)
		default:
			ok = false
		}
	}
	if !ok {
		return o, fmt.Errorf("want %s, got %v", config.LLMBodyKindName(kind), v)
	}
	return o, nil
}

// applyBody runs the body mutations on ed.req (a shallow copy): a changed field gets a new
// pointer, never a write through the client's.
func applyBody(ed *editor, ops []bodyOp) error {
	r := ed.req
	for i := range ops {
		o := &ops[i]
		if o.meta != "" {
			changed, err := applyMeta(r, o)
			if err != nil {
				return err
			}
			ed.changed = ed.changed || changed
			continue
		}
		if applyParam(r, o) {
			ed.changed = true
		}
	}
	return nil
}

// num applies op to a numeric field.
func num[T int | int64 | float64](p **T, o *bodyOp, v T) bool {
	switch o.op {
	case opRemove:
		if *p == nil {
			return false
		}
		*p = nil
	case opSet:
		if *p != nil && **p == v {
			return false
		}
		*p = &v
	case opDefault:
		if *p != nil {
			return false
		}
		*p = &v
	case opMax:
		if *p == nil || **p <= v {
			return false
		}
		*p = &v
	}
	return true
}

func flag(p **bool, o *bodyOp) bool {
	switch o.op {
	case opRemove:
		if *p == nil {
			return false
		}
		*p = nil
	case opSet:
		if *p != nil && **p == o.b {
			return false
		}
		v := o.b
		*p = &v
	case opDefault:
		if *p != nil {
			return false
		}
		v := o.b
		*p = &v
	}
	return true
}

func str(p *string, o *bodyOp) bool {
	switch o.op {
	case opRemove:
		if *p == "" {
			return false
		}
		*p = ""
	case opSet:
		if *p == o.s {
			return false
		}
		*p = o.s
	case opDefault:
		if *p != "" {
			return false
		}
		*p = o.s
	}
	return true
}

// applyParam applies o to a parameter; it reports whether the request changed.
func applyParam(r *openai.ChatRequest, o *bodyOp) bool {
	switch o.path {
	case "temperature":
		return num(&r.Temperature, o, o.num)
	case "top_p":
		return num(&r.TopP, o, o.num)
	case "presence_penalty":
		return num(&r.PresencePenalty, o, o.num)
	case "frequency_penalty":
		return num(&r.FrequencyPenalty, o, o.num)
	case "max_tokens":
		return num(&r.MaxTokens, o, int(o.i))
	case "max_completion_tokens":
		return num(&r.MaxCompletionTokens, o, int(o.i))
	case "n":
		return num(&r.N, o, int(o.i))
	case "seed":
		return num(&r.Seed, o, o.i)
	case "top_k":
		return num(&r.TopK, o, int(o.i))
	case "top_logprobs":
		return num(&r.TopLogprobs, o, int(o.i))
	case "logprobs":
		return flag(&r.Logprobs, o)
	case "parallel_tool_calls":
		return flag(&r.ParallelToolCalls, o)
	case "reasoning_effort":
		return str(&r.ReasoningEffort, o)
	case "user":
		return str(&r.User, o)
	case "stop":
		switch o.op {
		case opRemove:
			if r.Stop == nil {
				return false
			}
			r.Stop = nil
		case opSet:
			if r.Stop != nil && slices.Equal(*r.Stop, o.ss) {
				return false
			}
			s := openai.Stop(slices.Clone(o.ss))
			r.Stop = &s
		case opDefault:
			if r.Stop != nil {
				return false
			}
			s := openai.Stop(slices.Clone(o.ss))
			r.Stop = &s
		}
		return true
	}
	panic("transform: no setter for body parameter " + o.path) // New checked the path; a test checks every parameter
}

// applyMeta sets, defaults or removes one key of the metadata object. The client's
// metadata bytes are not written: a new object replaces them.
func applyMeta(r *openai.ChatRequest, o *bodyOp) (bool, error) {
	var m map[string]json.RawMessage
	if raw := bytes.TrimSpace(r.Metadata); len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		if err := json.Unmarshal(raw, &m); err != nil {
			return false, fmt.Errorf("metadata must be a JSON object to change %s", o.path)
		}
	}
	_, has := m[o.meta]
	switch o.op {
	case opRemove:
		if !has {
			return false, nil
		}
		delete(m, o.meta)
	case opSet, opDefault:
		if has && o.op == opDefault {
			return false, nil
		}
		v, _ := json.Marshal(o.s)
		if has && bytes.Equal(m[o.meta], v) {
			return false, nil
		}
		if m == nil {
			m = map[string]json.RawMessage{}
		}
		m[o.meta] = v
	}
	if len(m) == 0 {
		r.Metadata = nil
		return true, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return false, err
	}
	r.Metadata = b
	return true, nil
}
