package manifest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// describe is a one-line summary of every object of a file:
// "LINE doc=D item=I POINTER apiVersion kind namespace/name typed".
func describe(f *File) []string {
	out := make([]string, 0, len(f.Objects))
	for _, o := range f.Objects {
		typed := "untyped"
		if o.Typed != nil {
			typed = fmt.Sprintf("%T", o.Typed)
		}
		out = append(out, fmt.Sprintf("%d doc=%d item=%d %q %s %s %s/%s %s",
			o.Line, o.Document, o.Item, o.Pointer, o.APIVersion, o.Kind, o.Namespace, o.Name, typed))
	}
	return out
}

const pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: app\n    image: nginx\n"

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{
			name: "one document",
			in:   pod,
			want: []string{`1 doc=0 item=-1 "" v1 Pod /web *v1.Pod`},
		},
		{
			name: "multi-document with empty documents and comments",
			in:   "# header\n---\n" + pod + "---\n# only a comment\n---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: shop}\n...\n",
			want: []string{
				`3 doc=0 item=-1 "" v1 Pod /web *v1.Pod`,
				`15 doc=3 item=-1 "" apps/v1 Deployment shop/d *v1.Deployment`,
			},
		},
		{
			name: "v1 List with items of any kind",
			in:   "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: s}\n- apiVersion: batch/v1\n  kind: Job\n  metadata: {name: j}\n",
			want: []string{
				`4 doc=0 item=0 "/items/0" v1 Service /s untyped`,
				`7 doc=0 item=1 "/items/1" batch/v1 Job /j *v1.Job`,
			},
		},
		{
			name: "typed List items inherit apiVersion and kind",
			in:   "apiVersion: apps/v1\nkind: DeploymentList\nitems:\n- metadata: {name: a}\n- kind: Deployment\n  metadata: {name: b}\n",
			want: []string{
				`4 doc=0 item=0 "/items/0" apps/v1 Deployment /a *v1.Deployment`,
				`5 doc=0 item=1 "/items/1" apps/v1 Deployment /b *v1.Deployment`,
			},
		},
		{
			name: "nested List",
			in:   "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: PodList\n  items:\n  - metadata: {name: inner}\n",
			want: []string{`7 doc=0 item=0 "/items/0/items/0" v1 Pod /inner *v1.Pod`},
		},
		{
			name: "List without items",
			in:   "apiVersion: v1\nkind: List\nitems: []\n---\napiVersion: v1\nkind: List\n",
			want: []string{},
		},
		{
			name: "kind ending in List without items is an object",
			in:   "apiVersion: example.com/v1\nkind: AccessList\nmetadata: {name: acl}\n",
			want: []string{`1 doc=0 item=-1 "" example.com/v1 AccessList /acl untyped`},
		},
		{
			name: "JSON indented with tabs",
			in:   "{\n\t\"apiVersion\": \"v1\",\n\t\"kind\": \"Pod\",\n\t\"metadata\": {\"name\": \"j\"}\n}\n",
			want: []string{`1 doc=0 item=-1 "" v1 Pod /j *v1.Pod`},
		},
		{
			name: "CRLF line endings and a byte order mark",
			in:   "\ufeffapiVersion: v1\r\nkind: Pod\r\nmetadata:\r\n  name: crlf\r\n---\r\napiVersion: v1\r\nkind: Pod\r\nmetadata: {name: two}\r\n",
			want: []string{
				`1 doc=0 item=-1 "" v1 Pod /crlf *v1.Pod`,
				`6 doc=1 item=-1 "" v1 Pod /two *v1.Pod`,
			},
		},
		{
			name: "anchors, aliases and merge keys",
			in:   "apiVersion: v1\nkind: List\nitems:\n- &base\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- <<: *base\n  metadata: {name: b}\n",
			want: []string{
				`4 doc=0 item=0 "/items/0" v1 ConfigMap /a untyped`,
				`8 doc=0 item=1 "/items/1" v1 ConfigMap /b untyped`,
			},
		},
		{
			name: "other kinds and versions are kept untyped",
			in:   "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: old}\n---\napiVersion: example.com/v1\nkind: Pod\nmetadata: {name: crd}\n",
			want: []string{
				`1 doc=0 item=-1 "" batch/v1beta1 CronJob /old untyped`,
				`5 doc=1 item=-1 "" example.com/v1 Pod /crd untyped`,
			},
		},
		{
			name: "the cluster stand-ins are typed",
			in: "apiVersion: v1\nkind: Node\nmetadata: {name: node-1}\n---\napiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: l}\n---\n" +
				"apiVersion: seccomp-guard.io/v1alpha1\nkind: NodeSeccompInventory\nmetadata: {name: node-1}\n---\n" +
				"apiVersion: seccomp-guard.io/v1alpha1\nkind: ClusterSeccompPolicy\nmetadata: {name: default}\n",
			want: []string{
				`1 doc=0 item=-1 "" v1 Node /node-1 *v1.Node`,
				`5 doc=1 item=-1 "" coordination.k8s.io/v1 Lease /l *v1.Lease`,
				`9 doc=2 item=-1 "" seccomp-guard.io/v1alpha1 NodeSeccompInventory /node-1 *v1alpha1.NodeSeccompInventory`,
				`13 doc=3 item=-1 "" seccomp-guard.io/v1alpha1 ClusterSeccompPolicy /default *v1alpha1.ClusterSeccompPolicy`,
			},
		},
		{
			name: "empty input",
			in:   "",
			want: []string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("in.yaml", []byte(tc.in))
			require.NoError(t, err)
			assert.Equal(t, tc.want, describe(f))
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "unclosed flow sequence points at its start",
			in:   "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [a,\n  x: y\n",
			want: "in.yaml:5: invalid YAML: did not find expected ',' or ']' (in the flow sequence that starts at line 4)",
		},
		{
			name: "bad indentation in the second document",
			in:   pod + "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n   labels: {}\n",
			want: "in.yaml:14: invalid YAML: mapping values are not allowed in this context",
		},
		{
			name: "tab indentation",
			in:   "apiVersion: v1\nkind: Pod\nmetadata:\n\tname: a\n",
			want: "in.yaml:4: invalid YAML: found character that cannot start any token",
		},
		{
			name: "unclosed quote points at its start",
			in:   "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"a\n",
			want: "in.yaml:4: invalid YAML: found unexpected end of stream",
		},
		{
			name: "item where a key is expected",
			in:   "apiVersion: v1\nkind: Pod\n- a\n",
			want: "in.yaml:3: invalid YAML: did not find expected key",
		},
		{
			name: "unknown anchor",
			in:   "apiVersion: v1\nkind: Pod\nmetadata: *meta\n",
			want: "in.yaml:3: invalid YAML: alias *meta refers to no anchor &meta defined before it",
		},
		{
			name: "duplicate key",
			in:   "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\n",
			want: `in.yaml:5: key "name" is already defined at line 4; remove one of them`,
		},
		{
			name: "document is a list",
			in:   pod + "---\n- a\n- b\n",
			want: "in.yaml:10: document is a list, not a Kubernetes object (a mapping with apiVersion and kind)",
		},
		{
			name: "document is a scalar",
			in:   "just text\n",
			want: `in.yaml:1: document is a scalar ("just text"), not a Kubernetes object (a mapping with apiVersion and kind)`,
		},
		{
			name: "no kind",
			in:   "apiVersion: v1\nmetadata: {name: a}\n",
			want: "in.yaml:1: not a Kubernetes object: kind is not set (apiVersion is v1); every object needs apiVersion and kind (remove files that are not manifests from the paths given)",
		},
		{
			name: "neither apiVersion nor kind, as in a Helm values file",
			in:   "replicaCount: 2\nimage: nginx\n",
			want: "in.yaml:1: not a Kubernetes object: apiVersion and kind are not set; every object needs apiVersion and kind (remove files that are not manifests from the paths given)",
		},
		{
			name: "List item without apiVersion",
			in:   "apiVersion: v1\nkind: List\nitems:\n- kind: Pod\n  metadata: {name: a}\n",
			want: "in.yaml:4: not a Kubernetes object: apiVersion is not set (kind is Pod); every object needs apiVersion and kind (remove files that are not manifests from the paths given)",
		},
		{
			name: "kind is not a string",
			in:   "apiVersion: v1\nkind: [Pod]\n",
			want: "in.yaml:2: kind must be a string, not a list",
		},
		{
			name: "items is not a list",
			in:   "apiVersion: v1\nkind: List\nitems: {a: b}\n",
			want: "in.yaml:3: items of List is a mapping; it must be a list of objects",
		},
		{
			name: "List item is not a mapping",
			in:   "apiVersion: v1\nkind: List\nitems:\n- just text\n",
			want: `in.yaml:4: item 0 of the List is a scalar ("just text"), not a Kubernetes object (a mapping with apiVersion and kind)`,
		},
		{
			name: "field of the wrong type, at its line",
			in:   "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers: nginx\n",
			want: `in.yaml:6: Pod "web": spec.containers: found a string, but it must be a list ([]v1.Container)`,
		},
		{
			name: "YAML 1.1 boolean where kubectl expects a string",
			in:   "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels:\n    enabled: yes\n",
			want: `in.yaml:5: Pod "web": metadata.labels: found a boolean, but it must be a string (kubectl reads unquoted yes, no, on, off, y and n as booleans: quote the value)`,
		},
		{
			name: "alias inside its own anchor",
			in:   "apiVersion: v1\nkind: ConfigMap\ndata: &d\n  self: *d\n",
			want: "in.yaml:4: alias *d is inside the node it refers to",
		},
		{
			name: "infinity",
			in:   "apiVersion: v1\nkind: ConfigMap\nx: .inf\n",
			want: `in.yaml:3: ".inf" is not a number JSON can hold; quote it if it is meant as a string`,
		},
		{
			name: "merge of a scalar",
			in:   "apiVersion: v1\nkind: ConfigMap\nx:\n  <<: 3\n",
			want: "in.yaml:4: the value of a merge key (<<) must be a mapping or a list of mappings, not a number (3)",
		},
		{
			name: "complex key",
			in:   "apiVersion: v1\nkind: ConfigMap\n? [a]\n: b\n",
			want: "in.yaml:3: a mapping key must be a string, not a list",
		},
		{
			name: "Lists nested too deep",
			in:   "apiVersion: v1\nkind: List\nitems:\n" + nestedLists(9),
			want: "in.yaml:25: Lists are nested more than 8 deep",
		},
		{
			name: "billion laughs",
			in:   laughs(),
			want: "in.yaml:1: the object expands to more than 1048576 values (nested YAML aliases?)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("in.yaml", []byte(tc.in))
			require.Error(t, err)
			assert.Nil(t, f)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

// nestedLists is n Lists, each the only item of the one before.
func nestedLists(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		pad := strings.Repeat("  ", i)
		fmt.Fprintf(&b, "%s- apiVersion: v1\n%s  kind: List\n%s  items:\n", pad, pad, pad)
	}
	return b.String()
}

// laughs is a document whose aliases expand to 10^9 values.
func laughs() string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func TestParseValues(t *testing.T) {
	in := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    quoted-yes: "yes"
    number: "8080"
spec:
  replicas: 0x3
  paused: on
  minReadySeconds: 010
  template:
    spec:
      hostNetwork: no
      terminationGracePeriodSeconds: 1_0
      containers:
      - name: app
        image: nginx
        unknownField: 1
`
	f, err := Parse("in.yaml", []byte(in))
	require.NoError(t, err)
	require.Len(t, f.Objects, 1)
	d := f.Objects[0].Typed.(*appsv1.Deployment)
	assert.Equal(t, map[string]string{"quoted-yes": "yes", "number": "8080"}, d.Annotations)
	assert.Equal(t, int32(3), *d.Spec.Replicas, "hexadecimal")
	assert.True(t, d.Spec.Paused, "YAML 1.1 on, as kubectl reads it")
	assert.Equal(t, int32(8), d.Spec.MinReadySeconds, "YAML 1.1 octal, as kubectl reads it")
	assert.False(t, d.Spec.Template.Spec.HostNetwork, "YAML 1.1 no")
	assert.Equal(t, int64(10), *d.Spec.Template.Spec.TerminationGracePeriodSeconds)
	assert.Equal(t, []string{"spec.template.spec.containers[0].unknownField"}, f.Objects[0].UnknownFields)
}

func TestFieldLine(t *testing.T) {
	in := `apiVersion: v1
kind: Pod
metadata:
  name: web
  annotations:
    seccomp.security.alpha.kubernetes.io/pod: unconfined
spec:
  containers:
  - name: app
    image: nginx
  - name: sidecar
    securityContext:
      seccompProfile:
        type: Unconfined
`
	f, err := Parse("in.yaml", []byte(in))
	require.NoError(t, err)
	obj := f.Objects[0]
	tests := []struct {
		name string
		path string
		want int
	}{
		{name: "empty path is the object", path: "", want: 1},
		{name: "top-level key", path: "spec", want: 7},
		{name: "list item", path: "spec.containers[1]", want: 11},
		{name: "deep field", path: "spec.containers[1].securityContext.seccompProfile.type", want: 14},
		{name: "key with dots and slashes", path: "metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]", want: 6},
		{name: "missing field is its deepest ancestor", path: "spec.securityContext.seccompProfile", want: 7},
		{name: "index past the end", path: "spec.containers[5].name", want: 8},
		{name: "index into a mapping", path: "metadata[0]", want: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, obj.FieldLine(tc.path))
		})
	}
}

func TestObjectNames(t *testing.T) {
	f, err := Parse("in.yaml", []byte("apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: migrate-}\n---\napiVersion: v1\nkind: Pod\n"))
	require.NoError(t, err)
	require.Len(t, f.Objects, 2)
	assert.Equal(t, "migrate-*", f.Objects[0].DisplayName())
	assert.Equal(t, "<unnamed>", f.Objects[1].DisplayName())
	assert.Equal(t, "in.yaml:5", f.Objects[1].Location())
	assert.Equal(t, corev1.SchemeGroupVersion.WithKind("Pod"), f.Objects[1].GroupVersionKind())
}
