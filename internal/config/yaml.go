package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// UnmarshalYAML reads a Go duration string ("250ms", "1m30s") or a number of seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration such as \"15s\"", n.Line)
	}
	v := strings.TrimSpace(n.Value)
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	td, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("line %d: invalid duration %q: want a duration such as \"250ms\" or \"15s\"", n.Line, v)
	}
	*d = Duration(td)
	return nil
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
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch k.Value {
			case "address":
				if err := v.Decode(&e.Address); err != nil {
					return err
				}
			case "weight":
				if err := v.Decode(&e.Weight); err != nil {
					return err
				}
			default:
				return fmt.Errorf("line %d: field %s not found in type config.Endpoint", k.Line, k.Value)
			}
		}
		return nil
	}
	return fmt.Errorf("line %d: an endpoint is \"host:port\" or {address: host:port, weight: N}", n.Line)
}

// MarshalYAML writes the endpoint back in its map form.
func (e Endpoint) MarshalYAML() (any, error) {
	type plain Endpoint
	return plain(e), nil
}

// UnmarshalYAML reads a single-key map: {filter_name: config}.
func (f *Filter) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		f.Name, f.Line = n.Value, n.Line
		return nil
	}
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		return fmt.Errorf("line %d: a filter is a single-key map {name: config}", n.Line)
	}
	f.Name, f.Config, f.Line = n.Content[0].Value, *n.Content[1], n.Content[0].Line
	return nil
}

// MarshalYAML writes the filter back as {name: config}.
func (f Filter) MarshalYAML() (any, error) {
	if f.Config.Kind == 0 {
		return f.Name, nil
	}
	return map[string]*yaml.Node{f.Name: &f.Config}, nil
}
