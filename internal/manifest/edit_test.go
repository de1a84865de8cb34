package manifest

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
)

var runtimeDefault = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}

func withProfile(sp *corev1.SeccompProfile) map[string]any {
	return map[string]any{"seccompProfile": sp}
}

func localhost(p string) *corev1.SeccompProfile {
	return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &p}
}

func TestApply(t *testing.T) {
	tests := []struct {
		name string
		in   string
		adds []Add
		want string
	}{
		{
			name: "block mapping: first member, above the comment of the first key",
			in:   "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  # the containers\n  containers:\n  - name: app\n    image: nginx\n",
			adds: []Add{{Path: "/spec/securityContext", Value: withProfile(runtimeDefault)}},
			want: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  securityContext:\n    seccompProfile:\n      type: RuntimeDefault\n  # the containers\n  containers:\n  - name: app\n    image: nginx\n",
		},
		{
			name: "a blank line keeps the comment above it in place",
			in:   "spec:\n  # about spec\n\n  containers: []\n",
			adds: []Add{{Path: "/spec/securityContext", Value: withProfile(runtimeDefault)}},
			want: "spec:\n  # about spec\n\n  securityContext:\n    seccompProfile:\n      type: RuntimeDefault\n  containers: []\n",
		},
		{
			name: "indentation of four follows the file",
			in:   "spec:\n    template:\n        spec:\n            containers: []\n",
			adds: []Add{{Path: "/spec/template/spec/securityContext", Value: withProfile(runtimeDefault)}},
			want: "spec:\n    template:\n        spec:\n            securityContext:\n                seccompProfile:\n                    type: RuntimeDefault\n            containers: []\n",
		},
		{
			name: "into an existing securityContext",
			in:   "spec:\n  securityContext:\n    runAsNonRoot: true # why\n  containers: []\n",
			adds: []Add{{Path: "/spec/securityContext/seccompProfile", Value: localhost("profiles/audit.json")}},
			want: "spec:\n  securityContext:\n    seccompProfile:\n      type: Localhost\n      localhostProfile: profiles/audit.json\n    runAsNonRoot: true # why\n  containers: []\n",
		},
		{
			name: "strings that need quotes get them",
			in:   "spec:\n  containers: []\n",
			adds: []Add{{Path: "/spec/securityContext", Value: withProfile(localhost("yes"))}},
			want: "spec:\n  securityContext:\n    seccompProfile:\n      type: Localhost\n      localhostProfile: \"yes\"\n  containers: []\n",
		},
		{
			name: "empty value replaced, comment kept",
			in:   "spec:\n  securityContext:   # later\n  containers: []\n",
			adds: []Add{{Path: "/spec/securityContext", Value: withProfile(runtimeDefault)}},
			want: "spec:\n  securityContext:   # later\n    seccompProfile:\n      type: RuntimeDefault\n  containers: []\n",
		},
		{
			name: "explicit null replaced",
			in:   "spec:\n  containers: []\n  securityContext: null\n",
			adds: []Add{{Path: "/spec/securityContext", Value: withProfile(runtimeDefault)}},
			want: "spec:\n  containers: []\n  securityContext:\n    seccompProfile:\n      type: RuntimeDefault\n",
		},
		{
			name: "tilde replaced in a quoted key, last line without newline",
			in:   "spec:\n  containers: []\n  \"securityContext\": ~",
			adds: []Add{{Path: "/spec/securityContext", Value: withProfile(runtimeDefault)}},
			want: "spec:\n  containers: []\n  \"securityContext\":\n    seccompProfile:\n      type: RuntimeDefault",
		},
		{
			name: "flow mapping",
			in:   "spec: {containers: [{name: a, image: b}]}\n",
			adds: []Add{{Path: "/spec/securityContext", Value: withProfile(runtimeDefault)}},
			want: "spec: {securityContext: {seccompProfile: {type: RuntimeDefault}}, containers: [{name: a, image: b}]}\n",
		},
		{
			name: "empty flow mapping",
			in:   "spec:\n  securityContext: {}\n",
			adds: []Add{{Path: "/spec/securityContext/seccompProfile", Value: localhost("a, b")}},
			want: "spec:\n  securityContext: {seccompProfile: {type: Localhost, localhostProfile: 'a, b'}}\n",
		},
		{
			name: "null in a flow mapping",
			in:   "spec: {securityContext: null, containers: []}\n",
			adds: []Add{{Path: "/spec/securityContext", Value: withProfile(runtimeDefault)}},
			want: "spec: {securityContext: {seccompProfile: {type: RuntimeDefault}}, containers: []}\n",
		},
		{
			name: "JSON, one member per line",
			in:   "{\n  \"spec\": {\n    \"containers\": []\n  }\n}\n",
			adds: []Add{{Path: "/spec/securityContext", Value: withProfile(runtimeDefault)}},
			want: "{\n  \"spec\": {\n    \"securityContext\": {\n      \"seccompProfile\": {\n        \"type\": \"RuntimeDefault\"\n      }\n    },\n    \"containers\": []\n  }\n}\n",
		},
		{
			name: "JSON indented with tabs",
			in:   "{\n\t\"spec\": {\n\t\t\"containers\": []\n\t}\n}\n",
			adds: []Add{{Path: "/spec/securityContext", Value: withProfile(runtimeDefault)}},
			want: "{\n\t\"spec\": {\n\t\t\"securityContext\": {\n\t\t\t\"seccompProfile\": {\n\t\t\t\t\"type\": \"RuntimeDefault\"\n\t\t\t}\n\t\t},\n\t\t\"containers\": []\n\t}\n}\n",
		},
		{
			name: "compact JSON stays compact",
			in:   `{"spec":{"securityContext":{"runAsUser":1},"containers":[]}}`,
			adds: []Add{{Path: "/spec/securityContext/seccompProfile", Value: runtimeDefault}},
			want: `{"spec":{"securityContext":{"seccompProfile":{"type":"RuntimeDefault"},"runAsUser":1},"containers":[]}}`,
		},
		{
			name: "spaced JSON on one line",
			in:   `{"spec": {"securityContext": {}, "containers": []}}`,
			adds: []Add{{Path: "/spec/securityContext/seccompProfile", Value: runtimeDefault}},
			want: `{"spec": {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}, "containers": []}}`,
		},
		{
			name: "JSON null",
			in:   "{\n  \"spec\": {\n    \"securityContext\": null\n  }\n}\n",
			adds: []Add{{Path: "/spec/securityContext", Value: withProfile(runtimeDefault)}},
			want: "{\n  \"spec\": {\n    \"securityContext\": {\"seccompProfile\": {\"type\": \"RuntimeDefault\"}}\n  }\n}\n",
		},
		{
			name: "CRLF line endings and a byte order mark",
			in:   "\ufeffspec:\r\n  containers: []\r\n",
			adds: []Add{{Path: "/spec/securityContext", Value: withProfile(runtimeDefault)}},
			want: "\ufeffspec:\r\n  securityContext:\r\n    seccompProfile:\r\n      type: RuntimeDefault\r\n  containers: []\r\n",
		},
		{
			name: "non-ASCII before a flow mapping",
			in:   "metadata: {name: café}\nspec: {containers: []}\n",
			adds: []Add{{Path: "/spec/securityContext", Value: withProfile(runtimeDefault)}},
			want: "metadata: {name: café}\nspec: {securityContext: {seccompProfile: {type: RuntimeDefault}}, containers: []}\n",
		},
		{
			name: "List items, second document, several at once",
			in:   "kind: Pod\nspec: {}\n---\nkind: List\nitems:\n- spec:\n    containers: []\n- spec:\n    containers: []\n",
			adds: []Add{
				{Document: 1, Path: "/items/1/spec/securityContext", Value: withProfile(runtimeDefault)},
				{Document: 1, Path: "/items/0/spec/securityContext", Value: withProfile(runtimeDefault)},
				{Document: 0, Path: "/spec/securityContext", Value: withProfile(runtimeDefault)},
			},
			want: "kind: Pod\nspec: {securityContext: {seccompProfile: {type: RuntimeDefault}}}\n---\nkind: List\nitems:\n" +
				"- spec:\n    securityContext:\n      seccompProfile:\n        type: RuntimeDefault\n    containers: []\n" +
				"- spec:\n    securityContext:\n      seccompProfile:\n        type: RuntimeDefault\n    containers: []\n",
		},
		{
			name: "no adds",
			in:   "a: b\n",
			want: "a: b\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := parseRaw(t, tc.in)
			out, err := f.Apply(tc.adds)
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(out))
		})
	}
}

func TestApplyErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		add  Add
		want string
	}{
		{
			name: "through an alias",
			in:   "base: &b\n  template:\n    containers: []\nspec: *b\n",
			add:  Add{Path: "/spec/template/securityContext", Value: 1},
			want: "in.yaml:4: the path to /spec/template/securityContext goes through a YAML alias or anchor (line 4), so a change would apply to every place that uses it",
		},
		{
			name: "into an alias",
			in:   "base: &b\n  containers: []\nspec: *b\n",
			add:  Add{Path: "/spec/securityContext", Value: 1},
			want: "in.yaml:3: the mapping it goes into is a YAML alias or anchor (line 3), so a change would apply to every place that uses it",
		},
		{
			name: "into an anchored mapping that an alias uses",
			in:   "spec: &b\n  containers: []\nother: *b\n",
			add:  Add{Path: "/spec/securityContext", Value: 1},
			want: "in.yaml:1: the mapping it goes into is a YAML alias or anchor (line 1), so a change would apply to every place that uses it",
		},
		{
			name: "already set",
			in:   "spec:\n  securityContext: {}\n",
			add:  Add{Path: "/spec/securityContext", Value: 1},
			want: `in.yaml:2: "securityContext" is already set at line 2`,
		},
		{
			name: "missing parent, as behind a merge key",
			in:   "base: &b\n  template: {}\nspec:\n  <<: *b\n",
			add:  Add{Path: "/spec/template/securityContext", Value: 1},
			want: `in.yaml:4: the path to /spec/template/securityContext needs "template", which the mapping at line 4 does not have (a YAML merge key (<<) may bring it in)`,
		},
		{
			name: "list index out of range",
			in:   "items:\n- a: b\n",
			add:  Add{Path: "/items/3/spec", Value: 1},
			want: `in.yaml:2: the path to /items/3/spec needs item "3" of the list at line 2, which does not exist`,
		},
		{
			name: "parent is null",
			in:   "spec:\n",
			add:  Add{Path: "/spec/securityContext", Value: 1},
			want: "in.yaml:1: it would go into empty (null) at line 1, which is not a mapping",
		},
		{
			name: "through a scalar",
			in:   "spec: text\n",
			add:  Add{Path: "/spec/template/securityContext", Value: 1},
			want: `in.yaml:1: the path to /spec/template/securityContext needs "template" inside a scalar ("text") at line 1`,
		},
		{
			name: "first key shares its line",
			in:   "spec:\n  ? containers\n  : []\n",
			add:  Add{Path: "/spec/securityContext", Value: 1},
			want: `in.yaml:2: the mapping at line 2 does not start on a line of its own, so "securityContext" cannot go above its first key`,
		},
		{
			name: "null written in an unusual way",
			in:   "spec:\n  securityContext: !!null ''\n",
			add:  Add{Path: "/spec/securityContext", Value: 1},
			want: `in.yaml:2: the empty value of "securityContext" at line 2 is written in a way fix does not rewrite`,
		},
		{
			name: "document out of range",
			in:   "a: b\n",
			add:  Add{Document: 3, Path: "/a", Value: 1},
			want: "in.yaml: document 3 does not exist or is empty",
		},
		{
			name: "not a pointer",
			in:   "a: b\n",
			add:  Add{Path: "a", Value: 1},
			want: `in.yaml: invalid JSON pointer "a"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := parseRaw(t, tc.in)
			_, err := f.Apply([]Add{tc.add})
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

// parseRaw parses documents that need not be Kubernetes objects.
func parseRaw(t *testing.T, in string) *File {
	t.Helper()
	f := &File{Name: "in.yaml", Data: []byte(in)}
	dec := newDecoder(in)
	for {
		doc, ok, err := dec()
		require.NoError(t, err)
		if !ok {
			return f
		}
		f.Documents = append(f.Documents, doc)
	}
}

func TestSpaceJSON(t *testing.T) {
	assert.Equal(t, `{"a": "x:y, \"z\"", "b": [1, 2]}`, string(spaceJSON([]byte(`{"a":"x:y, \"z\"","b":[1,2]}`))))
	assert.Equal(t, "", strings.TrimSpace(string(spaceJSON(nil))))
}

// newDecoder returns the documents of in one by one.
func newDecoder(in string) func() (*yaml.Node, bool, error) {
	dec := yaml.NewDecoder(strings.NewReader(in))
	return func() (*yaml.Node, bool, error) {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, false, nil
			}
			return nil, false, err
		}
		return &n, true, nil
	}
}
