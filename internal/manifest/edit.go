package manifest

// Editing a file in place. fix must change only the seccomp fields it adds:
// comments, blank lines, key order, quoting, indentation, document order and
// separators all survive. Re-encoding a yaml.v3 node tree normalises
// indentation and drops blank lines, so the node tree is used to find where
// each member goes (a node knows its line and column), and the member is
// spliced into the original text, rendered in the style of its
// surroundings: block YAML, flow YAML, or JSON (so a JSON file stays JSON).

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Add is an RFC 6902 "add" of a member that a mapping of one document does
// not have yet (or has as null), such as the securityContext that fix adds
// to a pod spec.
type Add struct {
	// Document is the index of the document in File.Documents.
	Document int
	// Path is the RFC 6901 pointer of the new member from the document's root.
	Path string
	// Value is the member's value; it is marshalled with encoding/json.
	Value any
}

// Apply returns the file's content with adds applied. Nothing but the added
// members changes. An add that cannot be written without touching
// something else (a path through a YAML alias, a key that is already set)
// is an *Error at the line of the mapping concerned.
func (f *File) Apply(adds []Add) ([]byte, error) {
	if len(adds) == 0 {
		return f.Data, nil
	}
	t := newText(f.Data)
	aliased := map[int]map[*yaml.Node]bool{}
	splices := make([]splice, 0, len(adds))
	for _, a := range adds {
		if a.Document < 0 || a.Document >= len(f.Documents) || len(f.Documents[a.Document].Content) == 0 {
			return nil, errorf(f.Name, 0, "document %d does not exist or is empty", a.Document)
		}
		if aliased[a.Document] == nil {
			aliased[a.Document] = aliasTargets(f.Documents[a.Document])
		}
		s, err := f.plan(t, a, aliased[a.Document])
		if err != nil {
			return nil, err
		}
		splices = append(splices, s)
	}
	slices.SortFunc(splices, func(a, b splice) int { return cmp.Compare(b.start, a.start) })
	out := append([]byte(nil), f.Data...)
	for i, s := range splices {
		if i > 0 && s.end > splices[i-1].start {
			return nil, errorf(f.Name, 0, "two changes overlap at byte %d", s.start)
		}
		out = append(out[:s.start], append([]byte(s.text), out[s.end:]...)...)
	}
	return out, nil
}

// splice replaces data[start:end] with text.
type splice struct {
	start, end int
	text       string
}

// plan finds where an add goes and renders it.
func (f *File) plan(t *text, a Add, aliased map[*yaml.Node]bool) (splice, error) {
	tokens, err := splitPointer(a.Path)
	if err != nil || len(tokens) == 0 {
		return splice{}, errorf(f.Name, 0, "invalid JSON pointer %q", a.Path)
	}
	key := tokens[len(tokens)-1]
	node := f.Documents[a.Document].Content[0]
	var parentKey *yaml.Node // the key whose value is node, when node is a mapping value
	cannot := func(n *yaml.Node, format string, args ...any) (splice, error) {
		return splice{}, errorf(f.Name, n.Line, format, args...)
	}
	for _, tok := range tokens[:len(tokens)-1] {
		if node.Kind == yaml.AliasNode || aliased[node] {
			return cannot(node, "the path to %s goes through a YAML alias or anchor (line %d), so a change would apply to every place that uses it", a.Path, node.Line)
		}
		switch node.Kind {
		case yaml.MappingNode:
			k, v := mappingEntry(node, tok)
			if k == nil {
				return cannot(node, "the path to %s needs %q, which the mapping at line %d does not have (a YAML merge key (<<) may bring it in)", a.Path, tok, node.Line)
			}
			parentKey, node = k, v
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(node.Content) {
				return cannot(node, "the path to %s needs item %q of the list at line %d, which does not exist", a.Path, tok, node.Line)
			}
			parentKey, node = nil, node.Content[i]
		default:
			return cannot(node, "the path to %s needs %q inside %s at line %d", a.Path, tok, describeNode(node), node.Line)
		}
	}
	if node.Kind == yaml.AliasNode || aliased[node] {
		return cannot(node, "the mapping it goes into is a YAML alias or anchor (line %d), so a change would apply to every place that uses it", node.Line)
	}
	if node.Kind != yaml.MappingNode {
		return cannot(node, "it would go into %s at line %d, which is not a mapping", describeNode(node), node.Line)
	}
	if k, v := mappingEntry(node, key); k != nil {
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!null" {
			return cannot(k, "%q is already set at line %d", key, k.Line)
		}
		return f.replaceNull(t, node, parentKey, k, v, a.Value)
	}
	if node.Style&yaml.FlowStyle != 0 {
		return f.insertFlow(t, node, parentKey, key, a.Value)
	}
	return f.insertBlock(t, node, parentKey, key, a.Value)
}

// insertBlock adds key as the first member of block mapping m, above the
// comment lines that belong to m's first key.
func (f *File) insertBlock(t *text, m, parentKey *yaml.Node, key string, value any) (splice, error) {
	first := m.Content[0]
	line := t.line(first.Line)
	keyStart, ok := t.columnOffset(first.Line, first.Column)
	if !ok || strings.TrimLeft(line[:keyStart], " ") != "" {
		return splice{}, errorf(f.Name, first.Line, "the mapping at line %d does not start on a line of its own, so %q cannot go above its first key", first.Line, key)
	}
	indent := keyStart
	bound := 0
	if parentKey != nil {
		bound = parentKey.Line
	}
	at := first.Line
	for at-1 > bound && isCommentLine(t.line(at-1)) {
		at--
	}
	rendered, err := renderBlock(key, value, indent, indentUnit(first, parentKey), t.eol)
	if err != nil {
		return splice{}, errorf(f.Name, first.Line, "cannot render %q: %v", key, err)
	}
	off := t.lineStart(at)
	return splice{start: off, end: off, text: rendered}, nil
}

// insertFlow adds key as the first member of flow mapping m ({...}).
func (f *File) insertFlow(t *text, m, parentKey *yaml.Node, key string, value any) (splice, error) {
	brace, ok := t.offset(m.Line, m.Column)
	if !ok || t.data[brace] != '{' {
		return splice{}, errorf(f.Name, m.Line, "cannot add %q: the flow mapping does not start with '{' where expected", key)
	}
	jsonStyle := parentKey != nil && parentKey.Style&yaml.DoubleQuotedStyle != 0
	if len(m.Content) > 0 {
		jsonStyle = m.Content[0].Style&yaml.DoubleQuotedStyle != 0
	}
	if len(m.Content) == 0 {
		member, err := renderMember(key, value, jsonStyle, "", "")
		if err != nil {
			return splice{}, errorf(f.Name, m.Line, "cannot render %q: %v", key, err)
		}
		return splice{start: brace + 1, end: brace + 1, text: member}, nil
	}
	first := m.Content[0]
	at, ok := t.offset(first.Line, first.Column)
	if !ok || at <= brace {
		return splice{}, errorf(f.Name, first.Line, "cannot add %q: the first key of the flow mapping is not where expected", key)
	}
	line := t.line(first.Line)
	keyStart, _ := t.columnOffset(first.Line, first.Column)
	lead := line[:keyStart]
	if first.Line > m.Line && strings.TrimLeft(lead, " \t") == "" {
		// One member per line: the new one gets its own line, indented alike.
		unit := "  "
		braceLine := t.line(m.Line)
		braceLead := braceLine[:len(braceLine)-len(strings.TrimLeft(braceLine, " \t"))]
		if strings.HasPrefix(lead, braceLead) && len(lead) > len(braceLead) {
			unit = lead[len(braceLead):]
		}
		member, err := renderMember(key, value, jsonStyle, lead, unit)
		if err != nil {
			return splice{}, errorf(f.Name, first.Line, "cannot render %q: %v", key, err)
		}
		member = strings.ReplaceAll(member, "\n", t.eol)
		return splice{start: at, end: at, text: member + "," + t.eol + lead}, nil
	}
	// On one line: as compact as the JSON around it.
	compact := jsonStyle && !strings.Contains(line, `": `)
	member, err := renderMember(key, value, jsonStyle, "", "")
	if err != nil {
		return splice{}, errorf(f.Name, first.Line, "cannot render %q: %v", key, err)
	}
	if compact {
		return splice{start: at, end: at, text: strings.ReplaceAll(strings.ReplaceAll(member, `": `, `":`), `, "`, `,"`) + ","}, nil
	}
	return splice{start: at, end: at, text: member + ", "}, nil
}

// replaceNull writes value where key k of mapping m is null.
func (f *File) replaceNull(t *text, m, parentKey, k, v *yaml.Node, value any) (splice, error) {
	if m.Style&yaml.FlowStyle != 0 {
		start, ok := t.offset(v.Line, v.Column)
		if !ok || v.Value == "" || !bytes.HasPrefix(t.data[start:], []byte(v.Value)) {
			return splice{}, errorf(f.Name, k.Line, "the empty value of %q at line %d is written in a way fix does not rewrite", k.Value, k.Line)
		}
		rendered, err := renderFlowValue(value, k.Style&yaml.DoubleQuotedStyle != 0)
		if err != nil {
			return splice{}, errorf(f.Name, k.Line, "cannot render %q: %v", k.Value, err)
		}
		return splice{start: start, end: start + len(v.Value), text: rendered}, nil
	}
	line := t.line(k.Line)
	keyStart, ok := t.columnOffset(k.Line, k.Column)
	if !ok {
		return splice{}, errorf(f.Name, k.Line, "cannot find key %q on its line", k.Value)
	}
	rest := line[keyStart:]
	matched := ""
	for _, written := range []string{k.Value, `"` + k.Value + `"`, `'` + k.Value + `'`} {
		if strings.HasPrefix(rest, written) {
			matched = written
			break
		}
	}
	after := strings.TrimLeft(rest[len(matched):], " \t")
	if matched == "" || !strings.HasPrefix(after, ":") || (v.Value != "" && v.Line != k.Line) {
		return splice{}, errorf(f.Name, k.Line, "the empty value of %q at line %d is written in a way fix does not rewrite", k.Value, k.Line)
	}
	// Keep what follows the null (spacing and a comment), drop the null itself.
	tail := after[1:]
	if v.Value != "" {
		i := strings.Index(tail, v.Value)
		if i < 0 || strings.TrimSpace(tail[:i]) != "" {
			return splice{}, errorf(f.Name, k.Line, "the empty value of %q at line %d is written in a way fix does not rewrite", k.Value, k.Line)
		}
		tail = tail[i+len(v.Value):]
	}
	if rest := strings.TrimSpace(tail); rest != "" && !strings.HasPrefix(rest, "#") {
		return splice{}, errorf(f.Name, k.Line, "the empty value of %q at line %d is written in a way fix does not rewrite", k.Value, k.Line)
	}
	head := line[:keyStart] + matched + ":" + strings.TrimRight(tail, " \t")
	unit := indentUnit(k, parentKey)
	body, err := renderBlockValue(value, keyStart+unit, unit, t.eol)
	if err != nil {
		return splice{}, errorf(f.Name, k.Line, "cannot render %q: %v", k.Value, err)
	}
	start := t.lineStart(k.Line)
	return splice{start: start, end: start + len(line), text: head + t.eol + strings.TrimSuffix(body, t.eol)}, nil
}

// indentUnit is the indentation step between a mapping's parent key and its keys.
func indentUnit(key, parentKey *yaml.Node) int {
	if parentKey != nil && key.Column > parentKey.Column {
		return key.Column - parentKey.Column
	}
	return 2
}

func isCommentLine(line string) bool {
	return strings.HasPrefix(strings.TrimLeft(line, " \t"), "#")
}

// aliasTargets returns the nodes that an alias of the document refers to.
func aliasTargets(doc *yaml.Node) map[*yaml.Node]bool {
	out := map[*yaml.Node]bool{}
	seen := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			out[n.Alias] = true
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(doc)
	return out
}

// splitPointer splits an RFC 6901 pointer into unescaped tokens.
func splitPointer(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("a JSON pointer starts with /")
	}
	tokens := strings.Split(p[1:], "/")
	for i, tok := range tokens {
		tokens[i] = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
	}
	return tokens, nil
}

// valueNode turns a JSON-marshallable value into a YAML node with the key
// order of its JSON encoding and plain styles (quoted where a plain scalar
// would be read as something else, by YAML 1.2 or by kubectl's YAML 1.1).
func valueNode(value any) (*yaml.Node, error) {
	data, err := marshalJSON(value)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	n := doc.Content[0]
	var restyle func(*yaml.Node)
	restyle = func(n *yaml.Node) {
		n.Style = 0
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
			if _, ok := yaml11Bools[n.Value]; ok {
				n.Style = yaml.DoubleQuotedStyle
			}
		}
		for _, c := range n.Content {
			restyle(c)
		}
	}
	restyle(n)
	return n, nil
}

func marshalJSON(value any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(value); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// renderBlock renders "key: value" as block YAML lines, each indented by
// indent spaces and ended by eol.
func renderBlock(key string, value any, indent, unit int, eol string) (string, error) {
	v, err := valueNode(value)
	if err != nil {
		return "", err
	}
	m := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: key}, v}}
	return encodeBlock(m, indent, unit, eol)
}

// renderBlockValue renders a mapping value as block YAML lines.
func renderBlockValue(value any, indent, unit int, eol string) (string, error) {
	v, err := valueNode(value)
	if err != nil {
		return "", err
	}
	if v.Kind != yaml.MappingNode {
		return "", fmt.Errorf("the value is not a mapping")
	}
	return encodeBlock(v, indent, unit, eol)
}

func encodeBlock(n *yaml.Node, indent, unit int, eol string) (string, error) {
	if unit < 2 || unit > 9 {
		unit = 2
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(unit)
	if err := enc.Encode(n); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	pad := strings.Repeat(" ", indent)
	var out strings.Builder
	for _, l := range strings.SplitAfter(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		out.WriteString(pad + strings.TrimSuffix(l, "\n") + eol)
	}
	return out.String(), nil
}

// renderMember renders `key: value` for a flow mapping: JSON when the
// mapping's keys are double-quoted, flow YAML otherwise. With a prefix, a
// JSON value spans lines, indented by prefix and unit as json.Indent does.
func renderMember(key string, value any, jsonStyle bool, prefix, unit string) (string, error) {
	if !jsonStyle {
		v, err := renderFlowValue(value, false)
		if err != nil {
			return "", err
		}
		k, err := flowScalar(key)
		if err != nil {
			return "", err
		}
		return k + ": " + v, nil
	}
	k, err := marshalJSON(key)
	if err != nil {
		return "", err
	}
	v, err := marshalJSON(value)
	if err != nil {
		return "", err
	}
	if prefix != "" || unit != "" {
		var buf bytes.Buffer
		if err := json.Indent(&buf, v, prefix, unit); err != nil {
			return "", err
		}
		v = buf.Bytes()
	} else {
		v = spaceJSON(v)
	}
	return string(k) + ": " + string(v), nil
}

// renderFlowValue renders a value on one line: JSON, or flow YAML.
func renderFlowValue(value any, jsonStyle bool) (string, error) {
	if jsonStyle {
		v, err := marshalJSON(value)
		return string(spaceJSON(v)), err
	}
	v, err := valueNode(value)
	if err != nil {
		return "", err
	}
	setFlow(v)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

func setFlow(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = yaml.FlowStyle
	}
	for _, c := range n.Content {
		setFlow(c)
	}
}

func flowScalar(s string) (string, error) {
	v, err := renderFlowValue(s, false)
	return v, err
}

// spaceJSON puts a space after the colons and commas of compact JSON
// (outside strings): {"a": 1, "b": 2}.
func spaceJSON(compact []byte) []byte {
	var out bytes.Buffer
	inString, escaped := false, false
	for _, c := range compact {
		out.WriteByte(c)
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ':' || c == ','):
			out.WriteByte(' ')
		}
	}
	return out.Bytes()
}

// text indexes a file's lines; lines and columns are 1-based, as in
// yaml.Node, and a column counts characters.
type text struct {
	data   []byte
	starts []int // starts[i] is the byte offset of line i+1
	eol    string
}

func newText(data []byte) *text {
	t := &text{data: data, eol: "\n"}
	first := 0
	if bytes.HasPrefix(data, []byte("\ufeff")) {
		first = 3 // yaml.v3 does not count the byte order mark in columns
	}
	t.starts = append(t.starts, first)
	for i, c := range data {
		if c == '\n' {
			t.starts = append(t.starts, i+1)
		}
	}
	if i := bytes.IndexByte(data, '\n'); i > 0 && data[i-1] == '\r' {
		t.eol = "\r\n"
	}
	return t
}

// lineStart is the byte offset where 1-based line n starts.
func (t *text) lineStart(n int) int {
	if n < 1 {
		return 0
	}
	if n > len(t.starts) {
		return len(t.data)
	}
	return t.starts[n-1]
}

// line is line n without its line ending.
func (t *text) line(n int) string {
	start := t.lineStart(n)
	end := len(t.data)
	if n < len(t.starts) {
		end = t.starts[n] - 1
	}
	if end < start {
		return ""
	}
	return strings.TrimSuffix(string(t.data[start:end]), "\r")
}

// columnOffset is the byte offset of column col within line n.
func (t *text) columnOffset(n, col int) (int, bool) {
	line := t.line(n)
	off := 0
	for i := 1; i < col; i++ {
		if off >= len(line) {
			return 0, false
		}
		_, size := utf8.DecodeRuneInString(line[off:])
		off += size
	}
	return off, off <= len(line)
}

// offset is the byte offset of line n, column col in the data.
func (t *text) offset(n, col int) (int, bool) {
	if n < 1 || n > len(t.starts) {
		return 0, false
	}
	c, ok := t.columnOffset(n, col)
	if !ok {
		return 0, false
	}
	off := t.lineStart(n) + c
	return off, off < len(t.data)
}
