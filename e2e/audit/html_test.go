package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

const (
	htmlNamespace = "e2e-audit-html"
	htmlNode      = "e2e-html-node"
	// denyColour is the page's colour for what would be denied (the
	// summary card, the count cell, the badges): #c81e3c in audit.html.tmpl.
	denyR, denyG, denyB = 200, 30, 60
)

// TestAuditHTMLInChromium: the `audit -o html` page of a namespace whose
// objects were created while it was disabled, opened in headless Chromium.
// The DOM Chromium renders holds the summary, the namespace's row, each
// denied object's exact message and the gone profile under its node; the
// screenshot is the full size, not blank, and shows the deny colour.
func TestAuditHTMLInChromium(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		reason := "chromium is not installed, so the `audit -o html` page cannot be opened in a browser: apt-get install chromium (or, as root, make node-deps)"
		if framework.Unavailable(framework.SuiteName()+" TestAuditHTMLInChromium", reason) {
			t.Fatal(reason)
		}
		t.Skip(reason)
	}
	ctx := context.Background()
	createHTMLCluster(ctx, t)
	setNamespaceMode(t, htmlNamespace, "warn")

	code, page, stderr := runAudit(t, "-n", htmlNamespace, "-o", "html")
	require.Equal(t, 1, code, "stderr: %s", stderr)
	assert.Equal(t, "Error: 2 top-level objects would be denied at enforce, the next step of their namespace\n", stderr)
	dir := t.TempDir()
	file := filepath.Join(dir, "audit.html")
	require.NoError(t, os.WriteFile(file, []byte(page), 0o644))
	url := "file://" + file

	webMsg := `pod "(generated name)" is forbidden by seccomp-guard: spec.containers[0].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "e2e-audit-html" (UnconfinedForbidden); remove it or use RuntimeDefault`
	workerMsg := `pod "worker" is forbidden by seccomp-guard: spec.containers[0].securityContext.seccompProfile.localhostProfile: "profiles/gone.json" is missing on the only node this pod can run on: e2e-html-node (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`

	t.Run("rendered DOM", func(t *testing.T) {
		dom := runChromium(t, browser, dir, "--dump-dom", url)
		doc, err := html.Parse(strings.NewReader(dom))
		require.NoError(t, err, "parsing the DOM Chromium dumped")
		require.NotNil(t, find(doc, "section", "id", "summary"), "no summary in the rendered DOM:\n%s", dom)
		stats := map[string]string{}
		for _, n := range findAll(doc, "div", "data-stat", "") {
			if s := attr(n, "data-stat"); s != "" {
				stats[s] = text(find(n, "span", "class", "value"))
			}
		}
		assert.Equal(t, map[string]string{"namespaces": "1", "objects": "3", "violating": "2", "denied": "2", "profiles-gone": "1", "profiles-changed": "0"}, stats)

		var notes []string
		for _, li := range findAll(doc, "li", "class", "note") {
			notes = append(notes, text(li))
		}
		assert.Equal(t, []string{`the cluster has no ClusterSeccompPolicy "default": nodes are classified with the built-in defaults, as the webhook does`}, notes)

		row := find(doc, "tr", "data-namespace", htmlNamespace)
		require.NotNil(t, row, "no row for namespace %s:\n%s", htmlNamespace, dom)
		cells := map[string]string{}
		for _, td := range findAll(row, "td", "", "") {
			key := attr(td, "data-count")
			if key == "" {
				key = strings.Fields(attr(td, "class"))[0]
			}
			cells[key] = text(td)
		}
		assert.Equal(t, map[string]string{
			"name": htmlNamespace, "mode": "warn", "next-mode": "enforce",
			"deny": "2", "default": "1", "ok": "0", "exempt": "0", "not-applicable": "0", "profiles-gone": "1", "profiles-changed": "0",
			"recommendation": "2 objects would be denied at enforce: Pod worker (ProfileMissing), Deployment web (UnconfinedForbidden)",
		}, cells)

		section := find(doc, "section", "id", "ns-"+htmlNamespace)
		require.NotNil(t, section)
		messages := map[string]string{}
		for _, o := range findAll(section, "div", "data-status", "deny") {
			messages[attr(o, "data-kind")+"/"+attr(o, "data-name")] = text(find(o, "pre", "class", "message"))
		}
		assert.Equal(t, map[string]string{"Deployment/web": webMsg, "Pod/worker": workerMsg}, messages)

		node := find(doc, "section", "data-node", htmlNode)
		require.NotNil(t, node, "no section for node %s:\n%s", htmlNode, dom)
		gone := find(node, "tr", "data-pod", "worker")
		require.NotNil(t, gone)
		assert.Equal(t, "profile state-gone", attr(gone, "class"))
		assert.Contains(t, text(gone), "localhost/profiles/gone.json")
	})

	t.Run("screenshot", func(t *testing.T) {
		shot := filepath.Join(dir, "audit.png")
		runChromium(t, browser, dir, "--screenshot="+shot, "--window-size=1280,2000", "--hide-scrollbars", url)
		f, err := os.Open(shot)
		require.NoError(t, err, "chromium wrote no screenshot")
		defer f.Close()
		img, err := png.Decode(f)
		require.NoError(t, err)
		require.Equal(t, image.Rect(0, 0, 1280, 2000), img.Bounds())
		deny, white := 0, 0
		colours := map[[3]uint32]bool{}
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				c := [3]uint32{r >> 8, g >> 8, bl >> 8}
				colours[c] = true
				switch {
				case near(c, denyR, denyG, denyB):
					deny++
				case c == [3]uint32{255, 255, 255}:
					white++
				}
			}
		}
		total := b.Dx() * b.Dy()
		t.Logf("screenshot %s: %d pixels in the deny colour, %d white of %d, %d distinct colours", shot, deny, white, total, len(colours))
		assert.Greater(t, deny, 5000, "the deny colour #c81e3c (summary card, count cell, badges) is missing from the screenshot")
		assert.Greater(t, len(colours), 100, "too few colours: the page did not render")
		assert.Less(t, white, total*99/100, "the screenshot is blank")
	})
}

// near is true when c is within 3 of r, g, b in each channel.
func near(c [3]uint32, r, g, b int) bool {
	d := func(a uint32, b int) bool { return int(a)-b <= 3 && b-int(a) <= 3 }
	return d(c[0], r) && d(c[1], g) && d(c[2], b)
}

// createHTMLCluster creates, while the namespace is disabled (so admission
// never evaluates them): an Unconfined Deployment, a Deployment to default,
// and a running pod whose Localhost profile is gone from its node, with
// the node, its fresh inventory and its agent's Lease.
func createHTMLCluster(ctx context.Context, t *testing.T) {
	t.Helper()
	require.NoError(t, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: htmlNamespace, Labels: map[string]string{policy.ModeLabel: "disabled"}}}))
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultReleaseNamespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: htmlNode}}
	inv := &v1alpha1.NodeSeccompInventory{ObjectMeta: metav1.ObjectMeta{Name: htmlNode}}
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: v1alpha1.DefaultReleaseNamespace, Name: policy.LeaseName(htmlNode)},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To(htmlNode), LeaseDurationSeconds: ptr.To[int32](3600), RenewTime: &metav1.MicroTime{Time: time.Now()}},
	}
	for _, obj := range []client.Object{node, inv, lease} {
		require.NoError(t, k8s.Create(ctx, obj))
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), obj) })
	}
	inv.Status = v1alpha1.NodeSeccompInventoryStatus{Runtime: "containerd", ProfileCount: 1, ObservedTime: ptr.To(metav1.Now()),
		Profiles: []v1alpha1.ProfileStatus{{Path: "profiles/app.json", SHA256: strings.Repeat("a", 64), Valid: true, DefaultAction: "SCMP_ACT_ERRNO"}}}
	require.NoError(t, k8s.Status().Update(ctx, inv))

	labels := map[string]string{"app": "web"}
	container := func(name string, sc *corev1.SecurityContext) []corev1.Container {
		return []corev1.Container{{Name: name, Image: "registry.example/" + name, SecurityContext: sc}}
	}
	web := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: htmlNamespace, Name: "web", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				Containers: container("web", &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}})}},
		},
	}
	api := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: htmlNamespace, Name: "api", Labels: map[string]string{"app": "api"}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "api"}}, Spec: corev1.PodSpec{Containers: container("api", nil)}},
		},
	}
	worker := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: htmlNamespace, Name: "worker"}, Spec: corev1.PodSpec{NodeName: htmlNode,
		Containers: container("worker", &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("profiles/gone.json")}})}}
	for _, obj := range []client.Object{web, api, worker} {
		require.NoError(t, k8s.Create(ctx, obj), "creating %T %s while the namespace is disabled", obj, obj.GetName())
	}
	worker.Status.Phase = corev1.PodRunning
	require.NoError(t, k8s.Status().Update(ctx, worker))
}

// setNamespaceMode labels a namespace with a mode.
func setNamespaceMode(t *testing.T, name, mode string) {
	t.Helper()
	ns := &corev1.Namespace{}
	require.NoError(t, k8s.Get(context.Background(), client.ObjectKey{Name: name}, ns))
	ns.Labels[policy.ModeLabel] = mode
	require.NoError(t, k8s.Update(context.Background(), ns))
}

// runChromium runs headless Chromium with a throwaway profile under dir and
// returns its stdout. Chromium talks a lot on stderr (D-Bus, GPU): only its
// exit status counts, and stderr is shown when it fails. Its process group
// is killed after 60 s.
func runChromium(t *testing.T, browser, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	profile, err := os.MkdirTemp(dir, "chromium-profile-")
	require.NoError(t, err)
	args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=" + profile}, args...)
	cmd := exec.CommandContext(ctx, browser, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("killed after 60s: %w", errors.Join(err, ctx.Err()))
	}
	require.NoError(t, err, "%s %s\nstderr:\n%s", browser, strings.Join(args, " "), stderr.String())
	return stdout.String()
}

// find returns the first element named tag under n (n included) whose
// attribute key is val (any element named tag when key is "").
func find(n *html.Node, tag, key, val string) *html.Node {
	if all := findAll(n, tag, key, val); len(all) > 0 {
		return all[0]
	}
	return nil
}

// findAll returns every such element, in document order. With key "class",
// val matches one of the classes; val "" matches any element with the
// attribute, or any element when key is "" too.
func findAll(n *html.Node, tag, key, val string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == tag && matches(n, key, val) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	if n != nil {
		walk(n)
	}
	return out
}

func matches(n *html.Node, key, val string) bool {
	if key == "" {
		return true
	}
	for _, a := range n.Attr {
		if a.Key != key {
			continue
		}
		switch {
		case val == "":
			return true
		case key == "class":
			for _, c := range strings.Fields(a.Val) {
				if c == val {
					return true
				}
			}
			return false
		}
		return a.Val == val
	}
	return false
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// text is n's textContent, trimmed; "" for nil.
func text(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}
