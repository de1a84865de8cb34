package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/manifest"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestOptionsLoad(t *testing.T) {
	base := func() Options {
		return Options{NamespaceMode: "enforce", Namespace: "default"}
	}
	clock := func() time.Time { return t0 }
	t.Run("defaults: built-in policy, coverage off", func(t *testing.T) {
		o := base()
		env, err := o.Load(clock)
		require.NoError(t, err)
		assert.Equal(t, v1alpha1.NodeCoverageOff, env.Policy.NodeCoverage)
		assert.Equal(t, v1alpha1.NodeCoverageAll, policy.DefaultPolicy().NodeCoverage, "the shared default is not modified")
		assert.Equal(t, policy.EmptyNodeView{}, env.View)
		assert.False(t, env.CoverageChecked)
		assert.Equal(t, t0, env.Now)
		assert.Empty(t, env.PolicySource)
	})
	t.Run("--now wins", func(t *testing.T) {
		o := base()
		o.Now = "2026-01-02T03:04:05.5+01:00"
		env, err := o.Load(clock)
		require.NoError(t, err)
		assert.True(t, time.Date(2026, 1, 2, 2, 4, 5, 5e8, time.UTC).Equal(env.Now))
	})
	for _, tc := range []struct {
		name   string
		tweak  func(*Options)
		errMsg string
	}{
		{name: "mode", tweak: func(o *Options) { o.NamespaceMode = "Enforce" }, errMsg: `invalid --namespace-mode "Enforce": use enforce, warn, audit or disabled`},
		{name: "default profile with dot-dot", tweak: func(o *Options) { o.NamespaceDefaultProfile = "localhost/../p.json" },
			errMsg: `invalid --namespace-default-profile "localhost/../p.json": it names a path that contains ".."; use RuntimeDefault or localhost/<path relative to the kubelet's seccomp root>`},
		{name: "empty Localhost path", tweak: func(o *Options) { o.NamespaceDefaultProfile = "localhost/" },
			errMsg: `invalid --namespace-default-profile "localhost/": it names a path that is empty; use RuntimeDefault or localhost/<path relative to the kubelet's seccomp root>`},
	} {
		t.Run("invalid "+tc.name, func(t *testing.T) {
			o := base()
			tc.tweak(&o)
			_, err := o.Load(clock)
			require.Error(t, err)
			assert.Equal(t, tc.errMsg, err.Error())
			assert.True(t, IsInputError(err))
		})
	}
}

func TestIsInputError(t *testing.T) {
	assert.True(t, IsInputError(&manifest.Error{File: "a.yaml", Msg: "bad"}))
	assert.True(t, IsInputError(inputErrorf("bad flag")))
	assert.False(t, IsInputError(errors.New("disk full")))
}

func TestWriteStream(t *testing.T) {
	file := func(data string) FixedFile { return FixedFile{Data: []byte(data)} }
	tests := []struct {
		name  string
		files []FixedFile
		want  string
	}{
		{name: "one file as it is", files: []FixedFile{file("a: 1")}, want: "a: 1"},
		{name: "separator between files", files: []FixedFile{file("a: 1\n"), file("b: 2\n")}, want: "a: 1\n---\nb: 2\n"},
		{name: "newline added before the separator", files: []FixedFile{file("a: 1"), file("b: 2\n")}, want: "a: 1\n---\nb: 2\n"},
		{name: "no second separator", files: []FixedFile{file("a: 1\n"), file("---\nb: 2\n")}, want: "a: 1\n---\nb: 2\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, WriteStream(&buf, tc.files))
			assert.Equal(t, tc.want, buf.String())
		})
	}
}

// TestVerifyFix: content that changes more than the patches is refused.
func TestVerifyFix(t *testing.T) {
	f, err := manifest.Parse("pod.yaml", []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: []}\n"))
	require.NoError(t, err)
	res := &Result{Object: f.Objects[0], Decision: policy.Decision{Patches: []policy.Patch{{
		Op: "add", Path: "/spec/securityContext", Value: map[string]any{"seccompProfile": map[string]string{"type": "RuntimeDefault"}},
	}}}}
	good := "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {securityContext: {seccompProfile: {type: RuntimeDefault}}, containers: []}\n"
	require.NoError(t, verifyFix(f, []byte(good), []*Result{res}))

	tests := []struct {
		name string
		data string
		want string
	}{
		{name: "another field changed", data: strings.Replace(good, "name: a", "name: b", 1), want: `changes Pod "a" beyond its seccomp profile`},
		{name: "patch missing", data: string(f.Data), want: `changes Pod "a" beyond its seccomp profile`},
		{name: "object lost", data: "apiVersion: v1\nkind: List\nitems: []\n", want: "holds 0 objects instead of 1"},
		{name: "does not parse", data: "a: [", want: "does not parse (pod.yaml:1: invalid YAML: did not find expected node content)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := verifyFix(f, []byte(tc.data), []*Result{res})
			require.Error(t, err)
			assert.Equal(t, "pod.yaml: internal error: fix produced content that "+tc.want+"; the file is left unchanged, please report this with the file", err.Error())
		})
	}
}

// TestCheckWarnsSilentRefusals: with an inventory that marks a profile's
// refusals silent, check warns at the line of each Localhost field naming
// it; other profiles get no such warning.
func TestCheckWarnsSilentRefusals(t *testing.T) {
	f, err := manifest.Parse("deploy.yaml", []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: registry.example/app
        securityContext:
          seccompProfile:
            type: Localhost
            localhostProfile: profiles/app.json
      - name: logged
        image: registry.example/logged
        securityContext:
          seccompProfile:
            type: Localhost
            localhostProfile: profiles/logged.json
`))
	require.NoError(t, err)
	p := policy.DefaultPolicy()
	p.NodeCoverage = v1alpha1.NodeCoverageOff
	env := &Env{Policy: p, View: policy.EmptyNodeView{}, Mode: v1alpha1.ModeEnforce, Namespace: "default",
		Silent: SilentProfiles{"profiles/app.json": {"SCMP_ACT_ERRNO": {"node-a", "node-b"}}}}
	r := Check(env, []*manifest.File{f})
	require.Len(t, r.Results, 1)
	assert.Equal(t, []Warning{{Line: 15, Message: `spec.template.spec.containers[0].securityContext.seccompProfile.localhostProfile: "profiles/app.json": its SCMP_ACT_ERRNO refusals leave no audit record on node-a, node-b, so violation monitoring cannot see them; add "flags": ["SECCOMP_FILTER_FLAG_LOG"] to the profile (runc 1.2 or later, or crun; docs/violations.md#4-silent-refusals)`}}, r.Results[0].Warnings)
}
