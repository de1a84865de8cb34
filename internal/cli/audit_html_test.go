package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// TestAuditHTMLGolden renders the reports of TestAuditGolden as HTML.
// Regenerate with SECCOMP_GUARD_UPDATE_GOLDEN=1 after reviewing a change
// (open the .html.golden file in a browser).
func TestAuditHTMLGolden(t *testing.T) {
	sel, err := labels.Parse("app in (web,worker)")
	require.NoError(t, err)
	tests := []struct {
		name string
		opts AuditOptions
	}{
		{name: "all", opts: AuditOptions{}},
		{name: "namespace-tenant", opts: AuditOptions{Namespace: "tenant"}},
		{name: "selector", opts: AuditOptions{Selector: sel}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Now, opts.ReleaseNamespace = auditNow, v1alpha1.DefaultReleaseNamespace
			r, err := Audit(context.Background(), fakeCluster(auditCluster()...), opts)
			require.NoError(t, err)
			var got bytes.Buffer
			require.NoError(t, WriteAuditHTML(&got, r))
			path := filepath.Join("testdata", "audit", tt.name+".html.golden")
			if updateGolden {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, got.Bytes(), 0o644))
				return
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "regenerate with SECCOMP_GUARD_UPDATE_GOLDEN=1")
			assert.Equal(t, string(want), got.String(), "%s is stale; review the change, then regenerate with SECCOMP_GUARD_UPDATE_GOLDEN=1", path)
		})
	}
}

// hostileReport has markup in every string that comes from the cluster or
// the command line.
func hostileReport() *AuditReport {
	const script = `<script>document.title="pwned"</script>`
	return &AuditReport{
		Policy: `policy.yaml"><script>alert(1)</script>`,
		Now:    auditNow,
		Namespaces: []NamespaceAudit{{
			Name: `ns"><img src=x onerror=alert(1)>`, Mode: v1alpha1.ModeWarn, NextMode: v1alpha1.ModeEnforce,
			Warning:        `</p><script>alert(2)</script>`,
			Recommendation: "1 object would be denied at enforce: Pod " + script,
			Objects: []ObjectAudit{
				{Kind: "Pod", Name: `web"onmouseover="alert(3)`, Status: AuditDeny, Reasons: []policy.Reason{policy.ReasonUnconfinedForbidden},
					Message: `pod "web" is forbidden by seccomp-guard: ` + script + ` & <b>bold</b>`, Warnings: []string{`<iframe src="https://example.com/">`}},
				{Kind: "Pod", Name: "mirror", Status: AuditNotApplicable, Detail: `<a href="https://example.com/">fix it</a>`},
			},
			Profiles: []RunningProfile{{Pod: "p", Container: "c", Profile: `localhost/<svg onload=alert(4)>`, Node: `n"><link rel=stylesheet href=//example.com/x.css>`,
				State: ProfileStateGone, Detail: `<style>body{background:url(https://example.com/x.png)}</style>`}},
		}},
		Summary: AuditSummary{Namespaces: 1, Objects: 2, Violating: 1, Denied: 1, ProfilesGone: 1},
		Notes:   []string{`</style><script src="https://example.com/x.js"></script>`},
	}
}

// TestAuditHTMLSelfContained parses the page as a browser does and finds
// no script, no element that loads anything, no event handler and no URL
// leaving the page, also when every string in the report holds markup.
func TestAuditHTMLSelfContained(t *testing.T) {
	all, err := Audit(context.Background(), fakeCluster(auditCluster()...), AuditOptions{Now: auditNow, ReleaseNamespace: v1alpha1.DefaultReleaseNamespace})
	require.NoError(t, err)
	tests := []struct {
		name   string
		report *AuditReport
	}{
		{name: "fixture cluster", report: all},
		{name: "markup in every string", report: hostileReport()},
		{name: "empty", report: &AuditReport{Policy: "built-in defaults", Now: auditNow}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, WriteAuditHTML(&buf, tt.report))
			doc, err := html.Parse(bytes.NewReader(buf.Bytes()))
			require.NoError(t, err)
			assert.Empty(t, externalReferences(doc))
		})
	}
}

// externalReferences lists what in the document would run a script or load
// something: script, link, img, iframe, object, embed, source, video,
// audio, base and form elements, on* attributes, and src, href (other than
// #fragment), srcset, action, formaction, poster, data, xlink:href
// attributes; url( and @import in CSS.
func externalReferences(n *html.Node) []string {
	var out []string
	forbidden := map[atom.Atom]bool{atom.Script: true, atom.Link: true, atom.Img: true, atom.Iframe: true, atom.Object: true, atom.Embed: true,
		atom.Source: true, atom.Video: true, atom.Audio: true, atom.Base: true, atom.Form: true, atom.Svg: true}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if forbidden[n.DataAtom] || n.DataAtom == 0 {
				out = append(out, "element <"+n.Data+">")
			}
			for _, a := range n.Attr {
				switch k := strings.ToLower(a.Key); {
				case strings.HasPrefix(k, "on"):
					out = append(out, "<"+n.Data+" "+a.Key+"=...>")
				case k == "href" && strings.HasPrefix(a.Val, "#"):
				case k == "href", k == "src", k == "srcset", k == "action", k == "formaction", k == "poster", k == "data", a.Namespace == "xlink":
					out = append(out, "<"+n.Data+" "+a.Key+"="+a.Val+">")
				case k == "style" && (strings.Contains(a.Val, "url(") || strings.Contains(a.Val, "@import")):
					out = append(out, "<"+n.Data+" style="+a.Val+">")
				}
			}
			if n.DataAtom == atom.Style && n.FirstChild != nil {
				if css := n.FirstChild.Data; strings.Contains(css, "url(") || strings.Contains(css, "@import") {
					out = append(out, "<style> loads something")
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

// TestExternalReferences checks the checker: each case is a page
// TestAuditHTMLSelfContained must refuse.
func TestExternalReferences(t *testing.T) {
	tests := []struct {
		name string
		page string
		want []string
	}{
		{name: "self-contained", page: `<p><a href="#ns-a">a</a></p><style>p{color:red}</style>`},
		{name: "script", page: `<p>x</p><script>alert(1)</script>`, want: []string{"element <script>"}},
		{name: "stylesheet", page: `<link rel=stylesheet href=//cdn.example/x.css>`, want: []string{"element <link>", "<link href=//cdn.example/x.css>"}},
		{name: "image", page: `<img src="https://example.com/x.png">`, want: []string{"element <img>", "<img src=https://example.com/x.png>"}},
		{name: "link out", page: `<a href="https://example.com/">x</a>`, want: []string{"<a href=https://example.com/>"}},
		{name: "handler", page: `<p onclick="x()">x</p>`, want: []string{"<p onclick=...>"}},
		{name: "css url", page: `<style>body{background:url(x.png)}</style>`, want: []string{"<style> loads something"}},
		{name: "css import", page: `<p style="@import 'x.css'">x</p>`, want: []string{"<p style=@import 'x.css'>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := html.Parse(strings.NewReader(tt.page))
			require.NoError(t, err)
			assert.Equal(t, tt.want, externalReferences(doc))
		})
	}
}

// TestAuditHTMLEscapes: markup in a message, a name or a note is shown as
// text, where the reader sees it.
func TestAuditHTMLEscapes(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteAuditHTML(&buf, hostileReport()))
	doc, err := html.Parse(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	tests := []struct {
		name     string
		match    func(*html.Node) bool
		wantText string
	}{
		{name: "title", match: isElement(atom.Title, "", ""),
			wantText: `seccomp-guard audit: policy.yaml"><script>alert(1)</script>, 2026-03-01T12:00:00Z`},
		{name: "message", match: isElement(atom.Pre, "class", "message"),
			wantText: `pod "web" is forbidden by seccomp-guard: <script>document.title="pwned"</script> & <b>bold</b>`},
		{name: "object name", match: isElement(atom.Div, "data-name", `web"onmouseover="alert(3)`),
			wantText: "would be denied\nPod web\"onmouseover=\"alert(3) UnconfinedForbidden\npod \"web\" is forbidden by seccomp-guard: <script>document.title=\"pwned\"</script> & <b>bold</b>\nwarning: <iframe src=\"https://example.com/\">"},
		{name: "namespace row", match: isElement(atom.Td, "class", "name"), wantText: `ns"><img src=x onerror=alert(1)>`},
		{name: "note", match: isElement(atom.Li, "class", "note"), wantText: `</style><script src="https://example.com/x.js"></script>`},
		{name: "profile detail", match: isElement(atom.Td, "class", "detail"), wantText: `<style>body{background:url(https://example.com/x.png)}</style>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := findNode(doc, tt.match)
			require.NotNil(t, n, "no such element in:\n%s", buf.String())
			assert.Equal(t, tt.wantText, strings.TrimSpace(textOf(n)))
		})
	}
}

func isElement(a atom.Atom, key, val string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		if n.Type != html.ElementNode || n.DataAtom != a {
			return false
		}
		if key == "" {
			return true
		}
		for _, at := range n.Attr {
			if at.Key == key && at.Val == val {
				return true
			}
		}
		return false
	}
}

func findNode(n *html.Node, match func(*html.Node) bool) *html.Node {
	if match(n) {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := findNode(c, match); f != nil {
			return f
		}
	}
	return nil
}

// textOf is the text under n, as textContent gives it.
func textOf(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		b.WriteString(textOf(c))
	}
	return b.String()
}
