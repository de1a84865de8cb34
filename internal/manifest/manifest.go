// Package manifest reads Kubernetes manifests the way kubectl does (files,
// directories, stdin; multi-document YAML and JSON; List kinds) and remembers
// where every object came from: the file, the document, the line and its
// YAML node. Findings can then point at the line of the offending field, and
// `seccomp-guard fix` can edit the file in place (see edit.go) instead of
// re-marshalling it.
//
// Documents are decoded with go.yaml.in/yaml/v3 into a node tree, turned into
// JSON with kubectl's YAML 1.1 reading of plain scalars (yes/no/on/off are
// booleans), and decoded case-sensitively into the typed k8s.io/api structs
// with sigs.k8s.io/json, as the API server decodes them.
package manifest

import (
	"fmt"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// StdinName is the name under which the standard input ("-") is reported.
const StdinName = "<stdin>"

// File is one parsed input file.
type File struct {
	// Name is the path as given (joined with the path inside a directory
	// that was given), or StdinName.
	Name string
	// Data is the file's content, unmodified.
	Data []byte
	// Documents are the file's YAML documents in order, including empty ones.
	Documents []*yaml.Node
	// Objects are the file's objects in order, List items expanded.
	Objects []*Object
}

// Object is one Kubernetes object of a file.
type Object struct {
	// File is the file the object is in.
	File *File
	// Line is the 1-based line where the object starts.
	Line int
	// Document is the 0-based index of the object's document in the file.
	Document int
	// Item is the 0-based index of the object in its List, or -1 when the
	// object is not a List item.
	Item int
	// Pointer is the RFC 6901 JSON pointer of the object in its document:
	// "" for a top-level object, "/items/3" for an item of a List.
	Pointer string

	APIVersion string
	Kind       string
	Namespace  string
	Name       string

	// Typed is the decoded object for the kinds of Kinds, nil for others.
	Typed runtime.Object
	// Value is the object as generic JSON (map[string]any), as kubectl
	// would send it to the API server.
	Value map[string]any
	// UnknownFields are the field paths that the typed decoding did not
	// recognise (a typo, or a field newer than this build's k8s.io/api).
	UnknownFields []string
	// Node is the object's YAML mapping node.
	Node *yaml.Node
}

// GroupVersionKind is the object's apiVersion and kind.
func (o *Object) GroupVersionKind() schema.GroupVersionKind {
	return schema.FromAPIVersionAndKind(o.APIVersion, o.Kind)
}

// Location is "FILE:LINE" of the object.
func (o *Object) Location() string {
	return fmt.Sprintf("%s:%d", o.File.Name, o.Line)
}

// DisplayName is the object's name, its generateName followed by "*", or
// "<unnamed>".
func (o *Object) DisplayName() string {
	if o.Name != "" {
		return o.Name
	}
	if meta, ok := o.Value["metadata"].(map[string]any); ok {
		if g, ok := meta["generateName"].(string); ok && g != "" {
			return g + "*"
		}
	}
	return "<unnamed>"
}

// Error is a problem with an input file, at a line when one is known.
type Error struct {
	File string
	Line int // 0 when unknown
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

func errorf(file string, line int, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}
