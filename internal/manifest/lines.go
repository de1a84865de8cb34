package manifest

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FieldLine returns the line of a field in the object, given its path as
// Kubernetes writes it (k8s.io/apimachinery field.Path, e.g.
// "spec.containers[1].securityContext.seccompProfile.type" or
// "metadata.annotations[example.com/key]"). For a field that is not in the
// file, such as one that fix would add, it is the line of its deepest
// ancestor that is; for an empty path, the object's line.
func (o *Object) FieldLine(path string) int {
	line := o.Line
	node := o.Node
	for _, seg := range splitFieldPath(path) {
		node = resolveAlias(node)
		switch {
		case seg.index >= 0 && node.Kind == yaml.SequenceNode:
			if seg.index >= len(node.Content) {
				return line
			}
			node = node.Content[seg.index]
			line = node.Line
		case node.Kind == yaml.MappingNode:
			k, v := mappingEntry(node, seg.key)
			if k == nil {
				return line
			}
			node = v
			line = k.Line
		default:
			return line
		}
	}
	return line
}

type pathSegment struct {
	key   string
	index int // -1 for a key
}

// splitFieldPath splits "a.b[2].c[x.y/z]" into a, b, 2, c, x.y/z.
func splitFieldPath(path string) []pathSegment {
	var out []pathSegment
	for path != "" {
		switch path[0] {
		case '.':
			path = path[1:]
		case '[':
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return out
			}
			inner := path[1:end]
			path = path[end+1:]
			if i, err := strconv.Atoi(inner); err == nil && i >= 0 {
				out = append(out, pathSegment{key: inner, index: i})
			} else {
				out = append(out, pathSegment{key: inner, index: -1})
			}
		default:
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				end = len(path)
			}
			out = append(out, pathSegment{key: path[:end], index: -1})
			path = path[end:]
		}
	}
	return out
}
