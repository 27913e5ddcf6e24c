package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// nodeError is a decode error about node n. It is a *yaml.TypeError so that the decoder
// records it and goes on: Load reports every problem of a document at once. The
// "line L:C:" prefix lets Load name the exact field, even in a flow-style map.
func nodeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{nodeMsg(n, format, args...)}}
}

func nodeMsg(n *yaml.Node, format string, args ...any) string {
	return fmt.Sprintf("line %d:%d: %s", n.Line, n.Column, fmt.Sprintf(format, args...))
}

// maxSeconds is the largest number of seconds a Duration holds.
const maxSeconds = float64(math.MaxInt64) / float64(time.Second)

// UnmarshalYAML reads a Go duration string ("250ms", "1m30s") or a number of seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return nodeError(n, "want a duration such as \"15s\"")
	}
	v := strings.TrimSpace(n.Value)
	if secs, err := strconv.ParseFloat(v, 64); err == nil || isRangeErr(err) {
		if err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) || math.Abs(secs) >= maxSeconds {
			return nodeError(n, "invalid duration %q: want a finite number of seconds or a duration such as \"15s\"", v)
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	td, err := time.ParseDuration(v)
	if err != nil {
		return nodeError(n, "invalid duration %q: want a duration such as \"250ms\" or \"15s\"", v)
	}
	*d = Duration(td)
	return nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// MarshalYAML writes the duration as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(time.Duration(d).String())), nil
}

// UnmarshalYAML reads "host:port" or {address: host:port, weight: N}.
func (e *Endpoint) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		e.Address = n.Value
		return nil
	case yaml.MappingNode:
		var errs []string
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if first, dup := seen[k.Value]; dup {
				errs = append(errs, fmt.Sprintf("line %d: mapping key %q already defined at line %d", k.Line, k.Value, first))
				continue
			}
			seen[k.Value] = k.Line
			var err error
			switch k.Value {
			case "address":
				err = v.Decode(&e.Address)
			case "weight":
				err = v.Decode(&e.Weight)
			default:
				errs = append(errs, fmt.Sprintf("line %d: field %s not found in type config.Endpoint", k.Line, k.Value))
			}
			if te, ok := err.(*yaml.TypeError); ok {
				errs = append(errs, te.Errors...)
			} else if err != nil {
				errs = append(errs, nodeMsg(v, "%v", err))
			}
		}
		if len(errs) > 0 {
			return &yaml.TypeError{Errors: errs}
		}
		return nil
	}
	return nodeError(n, "an endpoint is \"host:port\" or {address: host:port, weight: N}")
}

// MarshalYAML writes the endpoint back in its map form.
func (e Endpoint) MarshalYAML() (any, error) {
	type plain Endpoint
	return plain(e), nil
}

// UnmarshalYAML reads a bare filter name or a single-key map: {filter_name: config}.
func (f *Filter) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		f.Name, f.Line = n.Value, n.Line
		return nil
	}
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		return nodeError(n, "a filter is a name or a single-key map {name: config}")
	}
	k := n.Content[0]
	if k.Kind == yaml.AliasNode && k.Alias != nil {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode {
		return nodeError(k, "a filter name must be a string")
	}
	f.Name, f.Config, f.Line = k.Value, *n.Content[1], k.Line
	return nil
}

// MarshalYAML writes the filter back as {name: config}.
func (f Filter) MarshalYAML() (any, error) {
	if f.Config.Kind == 0 {
		return f.Name, nil
	}
	return map[string]*yaml.Node{f.Name: &f.Config}, nil
}

// UnmarshalYAML reads a status (200) or an inclusive range of statuses ("200-299").
func (r *StatusRange) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return nodeError(n, "want a status such as 200 or a range such as \"200-299\"")
	}
	v := strings.TrimSpace(n.Value)
	from, to, isRange := strings.Cut(v, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(from))
	hi, err2 := lo, error(nil)
	if isRange {
		hi, err2 = strconv.Atoi(strings.TrimSpace(to))
	}
	if err1 != nil || err2 != nil {
		return nodeError(n, "invalid status %q: want a status such as 200 or a range such as \"200-299\"", v)
	}
	*r = StatusRange{Min: lo, Max: hi}
	return nil
}

// MarshalYAML writes a single status as a number and a range as "min-max".
func (r StatusRange) MarshalYAML() (any, error) {
	if r.Min == r.Max {
		return r.Min, nil
	}
	return strconv.Itoa(r.Min) + "-" + strconv.Itoa(r.Max), nil
}

// MarshalJSON writes the range as MarshalYAML does.
func (r StatusRange) MarshalJSON() ([]byte, error) {
	if r.Min == r.Max {
		return []byte(strconv.Itoa(r.Min)), nil
	}
	return []byte(strconv.Quote(strconv.Itoa(r.Min) + "-" + strconv.Itoa(r.Max))), nil
}
