package manifest

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxValues bounds the values one document may expand to, so that nested
// aliases (a "billion laughs" document) fail instead of exhausting memory.
const maxValues = 1 << 20

// yaml11Bools are the plain scalars that kubectl (sigs.k8s.io/yaml, a YAML
// 1.1 reader) turns into booleans while YAML 1.2 keeps them strings.
var yaml11Bools = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true,
	"on": true, "On": true, "ON": true,
	"n": false, "N": false, "no": false, "No": false, "NO": false,
	"off": false, "Off": false, "OFF": false,
}

// toValue converts a node into the generic JSON value kubectl would send:
// map[string]any, []any, string, bool, int/int64/uint64/float64 or nil.
func toValue(file string, n *yaml.Node) (any, error) {
	c := converter{file: file, line: n.Line, budget: maxValues, expanding: map[*yaml.Node]bool{}}
	return c.value(n)
}

type converter struct {
	file      string
	line      int // where the value starts
	budget    int
	expanding map[*yaml.Node]bool // anchored nodes being expanded, to catch an alias inside its own anchor
}

func (c *converter) value(n *yaml.Node) (any, error) {
	c.budget--
	if c.budget < 0 {
		return nil, errorf(c.file, c.line, "the object expands to more than %d values (nested YAML aliases?)", maxValues)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.value(n.Content[0])
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, errorf(c.file, n.Line, "alias *%s refers to no anchor", n.Value)
		}
		if c.expanding[n.Alias] {
			return nil, errorf(c.file, n.Line, "alias *%s is inside the node it refers to", n.Value)
		}
		c.expanding[n.Alias] = true
		v, err := c.value(n.Alias)
		delete(c.expanding, n.Alias)
		return v, err
	case yaml.ScalarNode:
		return c.scalar(n)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, item := range n.Content {
			v, err := c.value(item)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		return c.mapping(n)
	}
	return nil, errorf(c.file, n.Line, "unsupported YAML node")
}

func (c *converter) mapping(n *yaml.Node) (map[string]any, error) {
	out := make(map[string]any, len(n.Content)/2)
	lines := make(map[string]int, len(n.Content)/2)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.ScalarNode && kn.ShortTag() == "!!merge" {
			merges = append(merges, vn)
			continue
		}
		key, err := c.key(kn)
		if err != nil {
			return nil, err
		}
		if first, dup := lines[key]; dup {
			return nil, errorf(c.file, kn.Line, "key %q is already defined at line %d; remove one of them", key, first)
		}
		lines[key] = kn.Line
		v, err := c.value(vn)
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
	// Merge keys (<<) add the keys the mapping does not set itself; of
	// several merged mappings, the first one that sets a key wins.
	for _, m := range merges {
		sources := []*yaml.Node{m}
		if r := resolveAlias(m); r.Kind == yaml.SequenceNode {
			sources = r.Content
		}
		for _, src := range sources {
			v, err := c.value(src)
			if err != nil {
				return nil, err
			}
			mv, ok := v.(map[string]any)
			if !ok {
				return nil, errorf(c.file, src.Line, "the value of a merge key (<<) must be a mapping or a list of mappings, not %s", jsonKind(v))
			}
			for k, val := range mv {
				if _, set := out[k]; !set {
					out[k] = val
				}
			}
		}
	}
	return out, nil
}

// key returns a mapping key as a string, as kubectl does for scalar keys.
func (c *converter) key(kn *yaml.Node) (string, error) {
	r := resolveAlias(kn)
	if r.Kind != yaml.ScalarNode {
		return "", errorf(c.file, kn.Line, "a mapping key must be a string, not %s", describeNode(r))
	}
	if r.ShortTag() == "!!null" {
		return "null", nil
	}
	return r.Value, nil
}

func (c *converter) scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		b, err := strconv.ParseBool(strings.ToLower(n.Value))
		if err != nil {
			return nil, errorf(c.file, n.Line, "%q is not a boolean", n.Value)
		}
		return b, nil
	case "!!int":
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, errorf(c.file, n.Line, "%q is not an integer: %v", n.Value, err)
		}
		return v, nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, errorf(c.file, n.Line, "%q is not a number: %v", n.Value, err)
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, errorf(c.file, n.Line, "%q is not a number JSON can hold; quote it if it is meant as a string", n.Value)
		}
		return f, nil
	case "!!str":
		if n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			if b, ok := yaml11Bools[n.Value]; ok {
				return b, nil
			}
		}
		return n.Value, nil
	default:
		// !!timestamp (kept as written, as kubectl does), !!binary and
		// custom tags: the text.
		return n.Value, nil
	}
}

// resolveAlias follows an alias to its anchored node.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// mappingKey returns the key node of key in mapping m, or nil.
func mappingKey(m *yaml.Node, key string) *yaml.Node {
	k, _ := mappingEntry(m, key)
	return k
}

// mappingEntry returns the key and value nodes of key in mapping m.
func mappingEntry(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := resolveAlias(m.Content[i]); k.Kind == yaml.ScalarNode && k.ShortTag() != "!!merge" && k.Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// jsonKind describes a generic JSON value for messages.
func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	default:
		return fmt.Sprintf("a number (%v)", v)
	}
}
