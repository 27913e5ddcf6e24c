package envoy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"

	"github.com/pylon-gateway/pylon/internal/config"
)

// Bounds that keep pathological documents cheap.
const (
	maxDepth = 100     // nesting of maps and lists
	maxNodes = 1 << 18 // nodes emitted, aliases expanded ("billion laughs")
)

// converter turns a yaml.v3 node tree into the proto3 JSON of a message, the way Envoy
// turns YAML into JSON: it walks the message descriptors alongside, so that it can
//   - report unknown fields (all of them, with path and line),
//   - match enum names case-insensitively (Envoy's case_insensitive_enum_parsing),
//   - name every field by its proto (snake_case) name in paths, whatever the spelling,
//   - remember where each value starts in the JSON, to put a path on protojson's errors.
type converter struct {
	buf   bytes.Buffer
	lines map[string]int // field path -> line of its key (or list item)
	offs  []offset       // JSON offsets, increasing
	errs  config.Errors
	nodes int
}

type offset struct {
	at   int
	path string
}

func newConverter() *converter { return &converter{lines: map[string]int{}} }

func (c *converter) fail(path string, line int, format string, args ...any) {
	if path == "" {
		path = "(document)"
	}
	c.errs = append(c.errs, config.FieldError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (c *converter) mark(path string, line int) {
	if _, ok := c.lines[path]; !ok && path != "" {
		c.lines[path] = line
	}
	c.offs = append(c.offs, offset{c.buf.Len(), path})
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// pair is one key of a mapping, merge keys (<<) expanded.
type pair struct {
	key, val *yaml.Node
}

// pairs returns the keys of a mapping, with YAML merge keys expanded (explicit keys win).
func (c *converter) pairs(n *yaml.Node, depth int) []pair {
	var merged, own []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		if c.nodes++; c.nodes > maxNodes {
			break // reported by value
		}
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k == nil || v == nil {
			continue
		}
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" && depth < maxDepth {
			srcs := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				srcs = v.Content
			}
			for _, s := range srcs {
				if s = resolve(s); s != nil && s.Kind == yaml.MappingNode {
					merged = append(merged, c.pairs(s, depth+1)...)
				}
			}
			continue
		}
		own = append(own, pair{k, v})
	}
	if len(merged) == 0 {
		return own
	}
	seen := map[string]bool{}
	for _, p := range own {
		seen[p.key.Value] = true
	}
	out := own
	for _, p := range merged {
		if !seen[p.key.Value] {
			seen[p.key.Value] = true
			out = append(out, p)
		}
	}
	return out
}

// kind is what the converter knows about the value being converted.
type kind struct {
	md    protoreflect.MessageDescriptor // a message (nil: free-form JSON)
	enum  protoreflect.EnumDescriptor    // an enum value
	field protoreflect.FieldDescriptor   // the field, for messages about it
}

// wkt are the well-known types whose JSON is not an object of their fields.
var wkt = map[protoreflect.FullName]bool{
	"google.protobuf.Duration": true, "google.protobuf.Timestamp": true, "google.protobuf.FieldMask": true,
	"google.protobuf.Struct": true, "google.protobuf.Value": true, "google.protobuf.ListValue": true,
	"google.protobuf.BoolValue": true, "google.protobuf.StringValue": true, "google.protobuf.BytesValue": true,
	"google.protobuf.Int32Value": true, "google.protobuf.Int64Value": true, "google.protobuf.UInt32Value": true,
	"google.protobuf.UInt64Value": true, "google.protobuf.FloatValue": true, "google.protobuf.DoubleValue": true,
}

func fieldKind(fd protoreflect.FieldDescriptor) kind {
	k := kind{field: fd}
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if !wkt[fd.Message().FullName()] {
			k.md = fd.Message()
		}
	case protoreflect.EnumKind:
		k.enum = fd.Enum()
	}
	return k
}

func (c *converter) value(n *yaml.Node, path string, k kind, depth int) {
	n = resolve(n)
	c.nodes++
	if n == nil {
		c.buf.WriteString("null")
		return
	}
	if depth > maxDepth || c.nodes > maxNodes {
		if len(c.errs) == 0 || c.errs[len(c.errs)-1].Msg != "the document is nested too deeply or expands to too many nodes" {
			c.fail(path, n.Line, "the document is nested too deeply or expands to too many nodes")
		}
		c.buf.WriteString("null")
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			c.buf.WriteString("null")
			return
		}
		c.value(n.Content[0], path, k, depth)
	case yaml.MappingNode:
		if k.md != nil {
			c.message(n, path, k.md, depth)
			return
		}
		c.buf.WriteByte('{')
		for i, p := range c.pairs(n, depth) {
			if i > 0 {
				c.buf.WriteByte(',')
			}
			key := p.key.Value
			c.mark(join(path, key), p.key.Line)
			writeString(&c.buf, key)
			c.buf.WriteByte(':')
			c.value(p.val, join(path, key), kind{}, depth+1)
		}
		c.buf.WriteByte('}')
	case yaml.SequenceNode:
		c.buf.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				c.buf.WriteByte(',')
			}
			p := path + "[" + strconv.Itoa(i) + "]"
			c.mark(p, item.Line)
			c.value(item, p, k, depth+1)
		}
		c.buf.WriteByte(']')
	case yaml.ScalarNode:
		c.scalar(n, path, k)
	default:
		c.buf.WriteString("null")
	}
}

func (c *converter) scalar(n *yaml.Node, path string, k kind) {
	var v any
	if err := n.Decode(&v); err != nil {
		v = n.Value
	}
	switch x := v.(type) {
	case nil:
		c.buf.WriteString("null")
	case bool:
		c.buf.WriteString(strconv.FormatBool(x))
	case int:
		c.buf.WriteString(strconv.Itoa(x))
	case int64:
		c.buf.WriteString(strconv.FormatInt(x, 10))
	case uint64:
		c.buf.WriteString(strconv.FormatUint(x, 10))
	case float64:
		switch {
		case math.IsNaN(x):
			writeString(&c.buf, "NaN")
		case math.IsInf(x, 1):
			writeString(&c.buf, "Infinity")
		case math.IsInf(x, -1):
			writeString(&c.buf, "-Infinity")
		default:
			c.buf.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
		}
	case string:
		if k.enum != nil {
			x = enumName(k.enum, x)
		}
		writeString(&c.buf, x)
	default:
		writeString(&c.buf, n.Value)
	}
}

// enumName returns the name of the value of e spelled s in any case (Envoy's
// case_insensitive_enum_parsing), or s.
func enumName(e protoreflect.EnumDescriptor, s string) string {
	vals := e.Values()
	if vals.ByName(protoreflect.Name(s)) != nil {
		return s
	}
	for i := range vals.Len() {
		if name := string(vals.Get(i).Name()); strings.EqualFold(name, s) {
			return name
		}
	}
	return s
}

func writeString(b *bytes.Buffer, s string) {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	out, _ := json.Marshal(s)
	b.Write(out)
}

// removed are v2 fields that v3 dropped, with what to use instead.
var removed = map[string]string{
	"per_filter_config": "per_filter_config was removed in Envoy v3: use typed_per_filter_config",
	"perFilterConfig":   "per_filter_config was removed in Envoy v3: use typed_per_filter_config",
	"hosts":             "hosts was removed in Envoy v3: use load_assignment",
}

func (c *converter) message(n *yaml.Node, path string, md protoreflect.MessageDescriptor, depth int) {
	ps := c.pairs(n, depth)
	if md.FullName() == "google.protobuf.Any" {
		c.anyMessage(ps, n, path, depth)
		return
	}
	fields := md.Fields()
	c.buf.WriteByte('{')
	first := true
	for _, p := range ps {
		key := p.key.Value
		fd := fields.ByName(protoreflect.Name(key))
		if fd == nil {
			fd = fields.ByJSONName(key)
		}
		if fd == nil {
			if msg, ok := removed[key]; ok {
				c.fail(join(path, key), p.key.Line, "%s", msg)
			} else {
				c.fail(join(path, key), p.key.Line, "unknown field %q in %s", key, md.FullName())
			}
			continue
		}
		if !first {
			c.buf.WriteByte(',')
		}
		first = false
		fp := join(path, fd.TextName())
		c.mark(fp, p.key.Line)
		writeString(&c.buf, fd.TextName())
		c.buf.WriteByte(':')
		if fd.IsMap() {
			c.mapValue(p.val, fp, fd, depth+1)
			continue
		}
		c.value(p.val, fp, fieldKind(fd), depth+1)
	}
	c.buf.WriteByte('}')
}

func (c *converter) mapValue(n *yaml.Node, path string, fd protoreflect.FieldDescriptor, depth int) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		c.value(n, path, kind{}, depth) // protojson reports the type error
		return
	}
	vk := fieldKind(fd.MapValue())
	c.buf.WriteByte('{')
	for i, p := range c.pairs(n, depth) {
		if i > 0 {
			c.buf.WriteByte(',')
		}
		kp := join(path, p.key.Value)
		c.mark(kp, p.key.Line)
		writeString(&c.buf, p.key.Value)
		c.buf.WriteByte(':')
		c.value(p.val, kp, vk, depth+1)
	}
	c.buf.WriteByte('}')
}

// anyMessage converts an Any: "@type" names the message, whose fields sit beside it.
func (c *converter) anyMessage(ps []pair, n *yaml.Node, path string, depth int) {
	var typeURL string
	found := false
	for _, p := range ps {
		if p.key.Value == "@type" {
			typeURL, found = p.val.Value, true
		}
	}
	if !found {
		c.fail(path, n.Line, "an Any (typed_config) needs \"@type\"")
		c.buf.WriteString("{}")
		return
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByURL(typeURL)
	if err != nil {
		c.fail(join(path, "@type"), c.keyLine(ps, "@type"), "unsupported type %q: Pylon's Envoy translation does not know this extension", typeURL)
		c.buf.WriteString("{}")
		return
	}
	md := mt.Descriptor()
	c.buf.WriteByte('{')
	c.mark(join(path, "@type"), c.keyLine(ps, "@type"))
	c.buf.WriteString(`"@type":`)
	writeString(&c.buf, typeURL)
	if wkt[md.FullName()] {
		for _, p := range ps {
			switch p.key.Value {
			case "@type":
			case "value":
				c.mark(join(path, "value"), p.key.Line)
				c.buf.WriteString(`,"value":`)
				c.value(p.val, join(path, "value"), kind{}, depth+1)
			default:
				c.fail(join(path, p.key.Value), p.key.Line, "unknown field %q: a %s in an Any is given as \"value\"", p.key.Value, md.FullName())
			}
		}
		c.buf.WriteByte('}')
		return
	}
	// Convert the message without "@type", then splice its fields in.
	rest := &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
	for _, p := range ps {
		if p.key.Value != "@type" {
			rest.Content = append(rest.Content, p.key, p.val)
		}
	}
	start := c.buf.Len()
	c.message(rest, path, md, depth)
	body := c.buf.Bytes()[start:]
	if len(body) > 2 { // not "{}"
		body[0] = ',' // {"@type":"...","field":...}: the '{' becomes the separator
	} else {
		c.buf.Truncate(start)
		c.buf.WriteByte('}')
	}
}

func (c *converter) keyLine(ps []pair, key string) int {
	for _, p := range ps {
		if p.key.Value == key {
			return p.key.Line
		}
	}
	return 0
}

// pathAt names the value the JSON byte offset at falls in.
func (c *converter) pathAt(at int) string {
	i := sort.Search(len(c.offs), func(i int) bool { return c.offs[i].at > at })
	if i == 0 {
		return ""
	}
	return c.offs[i-1].path
}

// line returns the line of path or of its nearest ancestor.
func (c *converter) line(path string) int {
	for p := path; p != ""; {
		if l, ok := c.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

var (
	reYAMLLine  = regexp.MustCompile(`(?s)^line (\d+): (.*)$`)
	reProtoJSON = regexp.MustCompile(`(?s)^proto:[\s\x{00a0}]*\(line (\d+):(\d+)\):[\s\x{00a0}]*(.*)$`)
)

// parse reads an Envoy bootstrap document into the proto, as Envoy does, and returns the
// converter with its line index.
func parse(data []byte) (*bootstrapv3.Bootstrap, *converter, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 0
		if m := reYAMLLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		return nil, nil, config.Errors{{Path: "(document)", Line: line, Msg: msg}}
	}
	doc := resolve(&root)
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		doc = resolve(doc.Content[0])
	}
	if doc == nil || doc.Kind == 0 || doc.Kind == yaml.DocumentNode || (doc.Kind == yaml.ScalarNode && doc.ShortTag() == "!!null") {
		return nil, nil, config.Errors{{Path: "static_resources", Msg: "the config is empty"}}
	}
	if doc.Kind != yaml.MappingNode {
		return nil, nil, config.Errors{{Path: "(document)", Line: doc.Line, Msg: "an Envoy bootstrap is a map"}}
	}
	c := newConverter()
	bs := &bootstrapv3.Bootstrap{}
	c.value(doc, "", kind{md: bs.ProtoReflect().Descriptor()}, 0)
	if len(c.errs) > 0 {
		return nil, c, c.errs
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(c.buf.Bytes(), bs); err != nil {
		return nil, c, config.Errors{c.protoJSONError(err)}
	}
	var errs config.Errors
	pgvErrors(&errs, c, "", bs.ProtoReflect().Descriptor(), bs.ValidateAll())
	if len(errs) > 0 {
		return nil, c, errs
	}
	return bs, c, nil
}

func (c *converter) protoJSONError(err error) config.FieldError {
	msg := err.Error()
	m := reProtoJSON.FindStringSubmatch(msg)
	if m == nil {
		// protojson varies the space after "proto:" on purpose (U+00A0 or not).
		return config.FieldError{Path: "(document)", Msg: strings.TrimLeft(strings.TrimPrefix(msg, "proto:"), " \u00a0")}
	}
	col, _ := strconv.Atoi(m[2])
	// Column counts runes from 1 on the only line of the JSON.
	b := c.buf.Bytes()
	at := 0
	for r := 1; r < col && at < len(b); r++ {
		_, size := utf8.DecodeRune(b[at:])
		at += size
	}
	p := c.pathAt(at)
	if p == "" {
		p = "(document)"
	}
	return config.FieldError{Path: p, Line: c.line(p), Msg: m[3]}
}

// PGV (protoc-gen-validate) errors: a tree of field errors with Go field names.
type pgvError interface {
	Field() string
	Reason() string
	Cause() error
	Key() bool
}

type pgvMulti interface{ AllErrors() []error }

var reIndexed = regexp.MustCompile(`^([A-Za-z0-9_]+)(?:\[(.*)\])?$`)

// pgvErrors adds the errors of a ValidateAll of a message of type md at path.
func pgvErrors(errs *config.Errors, c *converter, path string, md protoreflect.MessageDescriptor, err error) {
	if err == nil {
		return
	}
	var multi pgvMulti
	if errors.As(err, &multi) && !isPGV(err) {
		for _, e := range multi.AllErrors() {
			pgvErrors(errs, c, path, md, e)
		}
		return
	}
	var pe pgvError
	if !errors.As(err, &pe) {
		*errs = append(*errs, config.FieldError{Path: orDoc(path), Line: c.line(path), Msg: err.Error()})
		return
	}
	p := path
	var sub protoreflect.MessageDescriptor
	if m := reIndexed.FindStringSubmatch(pe.Field()); m != nil && md != nil {
		fd := goField(md, m[1])
		name := snake(m[1])
		if fd != nil {
			name = fd.TextName()
			switch {
			case fd.IsMap():
				if fd.MapValue().Message() != nil {
					sub = fd.MapValue().Message()
				}
			case fd.Message() != nil:
				sub = fd.Message()
			}
		}
		p = join(path, name)
		if m[2] != "" {
			if fd != nil && fd.IsMap() {
				p = join(p, m[2])
			} else {
				p += "[" + m[2] + "]"
			}
		}
	} else {
		p = join(path, pe.Field())
	}
	if cause := pe.Cause(); cause != nil && sub != nil && !pe.Key() {
		before := len(*errs)
		pgvErrors(errs, c, p, sub, cause)
		if len(*errs) > before {
			return
		}
	}
	msg := pe.Reason()
	if cause := pe.Cause(); cause != nil {
		msg += ": " + cause.Error()
	}
	*errs = append(*errs, config.FieldError{Path: orDoc(p), Line: c.line(p), Msg: msg})
}

func isPGV(err error) bool {
	_, ok := err.(pgvError)
	return ok
}

func orDoc(p string) string {
	if p == "" {
		return "(document)"
	}
	return p
}

// goField finds the field of md whose Go name is name.
func goField(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	fs := md.Fields()
	for i := range fs.Len() {
		if goCamelCase(string(fs.Get(i).Name())) == name {
			return fs.Get(i)
		}
	}
	return nil
}

// goCamelCase is protoc-gen-go's name for a field.
func goCamelCase(s string) string {
	var b []byte
	lower := func(c byte) bool { return 'a' <= c && c <= 'z' }
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' && i+1 < len(s) && lower(s[i+1]):
		case c == '.':
			b = append(b, '_')
		case c == '_' && (i == 0 || s[i-1] == '.'):
			b = append(b, 'X')
		case c == '_' && i+1 < len(s) && lower(s[i+1]):
		case '0' <= c && c <= '9':
			b = append(b, c)
		default:
			if lower(c) {
				c -= 'a' - 'A'
			}
			b = append(b, c)
			for ; i+1 < len(s) && lower(s[i+1]); i++ {
				b = append(b, s[i+1])
			}
		}
	}
	return string(b)
}

// snake turns a Go name into snake_case (a fallback when the field is not found).
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if 'A' <= r && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
