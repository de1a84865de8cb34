package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	yamlv2 "go.yaml.in/yaml/v2"
	"go.yaml.in/yaml/v3"
)

// maxListDepth bounds Lists nested in Lists.
const maxListDepth = 8

// Parse parses the content of one file: every YAML (or JSON) document, and
// every object in them. It never panics; a document that does not parse is
// an *Error naming the file and line.
func Parse(name string, data []byte) (f *File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, errorf(name, 0, "the YAML parser failed (%v); please report this with the file", r)
		}
	}()
	f = &File{Name: name, Data: data}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		doc := &yaml.Node{}
		if err := dec.Decode(doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, syntaxError(name, data, err)
		}
		index := len(f.Documents)
		f.Documents = append(f.Documents, doc)
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
			continue // an empty document, as between "---" and "---"
		}
		if err := f.collect(root, index, -1, "", nil, 0); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// listContext is what the items of a typed List (DeploymentList, ...) inherit.
type listContext struct {
	apiVersion string
	kind       string
}

// collect adds the object at node (expanding Lists) to f.Objects.
func (f *File) collect(node *yaml.Node, doc, item int, pointer string, list *listContext, depth int) error {
	target := resolveAlias(node)
	if target.Kind != yaml.MappingNode {
		what := "document"
		if item >= 0 {
			what = fmt.Sprintf("item %d of the List", item)
		}
		return errorf(f.Name, node.Line, "%s is %s, not a Kubernetes object (a mapping with apiVersion and kind)", what, describeNode(target))
	}
	raw, err := toValue(f.Name, node)
	if err != nil {
		return err
	}
	value := raw.(map[string]any)
	apiVersion, err := stringField(f.Name, target, value, "apiVersion")
	if err != nil {
		return err
	}
	kind, err := stringField(f.Name, target, value, "kind")
	if err != nil {
		return err
	}
	if list != nil {
		// Items of a typed List may leave out the apiVersion and kind they share.
		if apiVersion == "" {
			apiVersion = list.apiVersion
			value["apiVersion"] = apiVersion
		}
		if kind == "" {
			kind = list.kind
			value["kind"] = kind
		}
	}
	if apiVersion == "" || kind == "" {
		return errorf(f.Name, node.Line, "not a Kubernetes object: %s; every object needs apiVersion and kind (remove files that are not manifests from the paths given)",
			missingTypeFields(apiVersion, kind))
	}

	if items, ok := listItems(target, kind); ok {
		if depth >= maxListDepth {
			return errorf(f.Name, node.Line, "Lists are nested more than %d deep", maxListDepth)
		}
		itemsNode := resolveAlias(items)
		switch {
		case itemsNode.Kind == yaml.ScalarNode && itemsNode.ShortTag() == "!!null":
			return nil
		case itemsNode.Kind != yaml.SequenceNode:
			return errorf(f.Name, items.Line, "items of %s is %s; it must be a list of objects", kind, describeNode(itemsNode))
		}
		inherit := &listContext{apiVersion: apiVersion, kind: strings.TrimSuffix(kind, "List")}
		if kind == "List" {
			inherit = nil // a v1 List holds objects of any kind, each naming its own
		}
		for i, it := range itemsNode.Content {
			if err := f.collect(it, doc, i, pointer+"/items/"+strconv.Itoa(i), inherit, depth+1); err != nil {
				return err
			}
		}
		return nil
	}

	obj := &Object{
		File: f, Line: node.Line, Document: doc, Item: item, Pointer: pointer,
		APIVersion: apiVersion, Kind: kind, Value: value, Node: target,
	}
	if meta, ok := value["metadata"].(map[string]any); ok {
		obj.Name, _ = meta["name"].(string)
		obj.Namespace, _ = meta["namespace"].(string)
	}
	if err := obj.decode(); err != nil {
		return err
	}
	f.Objects = append(f.Objects, obj)
	return nil
}

// listItems returns the items node of a List: kind List, or a kind ending
// in "List" that has items (a CRD kind that merely ends in "List" has none).
func listItems(m *yaml.Node, kind string) (*yaml.Node, bool) {
	if kind != "List" && !strings.HasSuffix(kind, "List") {
		return nil, false
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := resolveAlias(m.Content[i]); k.Kind == yaml.ScalarNode && k.Value == "items" {
			return m.Content[i+1], true
		}
	}
	if kind == "List" {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}, true
	}
	return nil, false
}

func stringField(file string, m *yaml.Node, value map[string]any, key string) (string, error) {
	v, ok := value[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		line := m.Line
		if kn := mappingKey(m, key); kn != nil {
			line = kn.Line
		}
		return "", errorf(file, line, "%s must be a string, not %s", key, jsonKind(v))
	}
	return s, nil
}

func missingTypeFields(apiVersion, kind string) string {
	switch {
	case apiVersion == "" && kind == "":
		return "apiVersion and kind are not set"
	case apiVersion == "":
		return fmt.Sprintf("apiVersion is not set (kind is %s)", kind)
	default:
		return fmt.Sprintf("kind is not set (apiVersion is %s)", apiVersion)
	}
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "empty (null)"
		}
		return fmt.Sprintf("a scalar (%q)", truncate(n.Value, 40))
	}
	return "not a mapping"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are the problems that go.yaml.in/yaml/v3 raises from its
// parser (not its scanner). For those it reports the 0-based line of the
// construct being parsed, so the 1-based line is one more.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
	"unknown problem parsing YAML content":   true,
}

var unknownAnchorRE = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)

// parserContexts names the construct a parser problem is found in.
var parserContexts = map[string]string{
	"did not find expected ',' or ']'":    "flow sequence",
	"did not find expected ',' or '}'":    "flow mapping",
	"did not find expected '-' indicator": "block sequence",
	"did not find expected key":           "block mapping",
}

// syntaxError turns a go.yaml.in/yaml/v3 error into an *Error at the line
// of the problem. For a parser problem, yaml.v3 reports where the construct
// being parsed starts (an unclosed bracket, a mapping), and yaml.v2 where
// the problem was found (the line that breaks the mapping): both are given.
func syntaxError(file string, data []byte, err error) *Error {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		problem := m[2]
		suffix := ""
		if parserProblems[problem] {
			line++
			if at := problemLine(data, problem); at > 0 && at != line && parserContexts[problem] != "" {
				suffix = fmt.Sprintf(" (in the %s that starts at line %d)", parserContexts[problem], line)
				line = at
			}
		}
		// A problem found at the end of the input (an unclosed bracket) is
		// reported on the line after the last one.
		if last := lineCount(data); line > last {
			line = last
		}
		return &Error{File: file, Line: line, Msg: "invalid YAML: " + problem + suffix}
	}
	if m := unknownAnchorRE.FindStringSubmatch(msg); m != nil {
		return &Error{File: file, Line: lineOf(data, "*"+m[1]), Msg: fmt.Sprintf("invalid YAML: alias *%s refers to no anchor &%s defined before it", m[1], m[1])}
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if parserProblems[msg] {
		// Reported without a line: the problem is on the first one.
		return &Error{File: file, Line: 1, Msg: "invalid YAML: " + msg}
	}
	return &Error{File: file, Msg: "invalid YAML: " + msg}
}

// problemLine is the 1-based line where go.yaml.in/yaml/v2, which reports
// the position of a parser problem rather than of its context, finds the
// same problem; 0 when it does not.
func problemLine(data []byte, problem string) (line int) {
	defer func() {
		if recover() != nil {
			line = 0
		}
	}()
	dec := yamlv2.NewDecoder(bytes.NewReader(data))
	for {
		// An empty struct: documents are parsed, not built (nor their aliases expanded).
		var v struct{}
		err := dec.Decode(&v)
		var typeErr *yamlv2.TypeError
		if err == nil || errors.As(err, &typeErr) {
			continue
		}
		m := yamlLineRE.FindStringSubmatch(err.Error())
		if m == nil || m[2] != problem {
			return 0
		}
		n, _ := strconv.Atoi(m[1])
		return n + 1 // a parser problem: yaml.v2 reports the 0-based line
	}
}

// lineCount is the number of lines of data.
func lineCount(data []byte) int {
	n := bytes.Count(data, []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return max(n, 1)
}

// lineOf is the 1-based line of the first occurrence of s in data, or 0.
func lineOf(data []byte, s string) int {
	i := bytes.Index(data, []byte(s))
	if i < 0 {
		return 0
	}
	return bytes.Count(data[:i], []byte("\n")) + 1
}
