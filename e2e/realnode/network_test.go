package realnode_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/internal/localcluster"
	"github.com/seccomp-guard/seccomp-guard/webhook"
)

// The tests of this file show that the node runs what a chart installs
// (docs/testing.md): pods on the pod network with their own addresses and
// ServiceAccount tokens, reaching the API server through the kubernetes
// Service; a Service's EndpointSlice; a DaemonSet; and an admission webhook
// that the API server calls through its Service.

const tokenDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// apiFromPod is a script that shows a pod has its token and reaches the API
// server where in-cluster clients dial it: the kubernetes Service at
// $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (a TCP connection:
// Debian's static busybox wget crashes on HTTPS; the webhook test's client-go
// makes verified, authenticated requests the same way).
const apiFromPod = `[ -s ` + tokenDir + `/token ] && [ -s ` + tokenDir + `/ca.crt ] && echo token-mounted
echo "api at $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"
echo | busybox nc -w 10 "$KUBERNETES_SERVICE_HOST" "$KUBERNETES_SERVICE_PORT" && echo api-reachable
`

// A Deployment of 2 replicas behind a ClusterIP Service: each pod has its
// own address in the pod network, a ServiceAccount token, reaches the API
// server through the kubernetes Service, and is Ready by an HTTP probe from
// the kubelet (host to pod); the Service's EndpointSlice lists both; a
// third pod fetches a page from each (pod to pod).
func TestDeploymentBehindServiceOnThePodNetwork(t *testing.T) {
	needNode(t)
	ctx := context.Background()
	ns := namespace(t, "network", "")

	labels := map[string]string{"app": "web"}
	script := apiFromPod + `echo "$HOSTNAME" > /tmp/index.html; exec busybox httpd -f -p 8080 -h /tmp`
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: networkPodSpec(script, func(s *corev1.PodSpec) {
					s.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
					s.Containers[0].ReadinessProbe = &corev1.Probe{
						ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("http")}},
						PeriodSeconds: 1,
					}
				}),
			},
		},
	}
	require.NoError(t, node.Client.Create(ctx, dep))
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
	require.NoError(t, node.Client.Create(ctx, svc))
	require.NotEmpty(t, svc.Spec.ClusterIP)

	require.NoError(t, waitFor(120*time.Second, "deployment web to have 2 ready replicas", func() (bool, string) {
		got := &appsv1.Deployment{}
		if err := node.Client.Get(ctx, client.ObjectKeyFromObject(dep), got); err != nil {
			return false, err.Error()
		}
		return got.Status.ReadyReplicas == 2, podsSummary(ctx, ns, labels)
	}), "kubelet log: %s", filepath.Join(node.LogDir, "kubelet.log"))

	pods := &corev1.PodList{}
	require.NoError(t, node.Client.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels(labels)))
	require.Len(t, pods.Items, 2)
	var ips []string
	for _, p := range pods.Items {
		ip := net.ParseIP(p.Status.PodIP)
		require.NotNil(t, ip, "pod %s has no IP", p.Name)
		assert.True(t, node.PodCIDR.Contains(ip), "pod %s has IP %s, outside the pod network %s", p.Name, ip, node.PodCIDR)
		ips = append(ips, ip.String())
		assert.True(t, mountsToken(&p), "pod %s has no ServiceAccount token volume at %s: %+v", p.Name, tokenDir, p.Spec.Volumes)

		log := waitLog(t, ns, p.Name, "main", "api-reachable\n")
		assert.Contains(t, log, "token-mounted\n")
		assert.Contains(t, log, "api at "+localcluster.KubernetesServiceIP+":443\n")
	}
	assert.NotEqual(t, ips[0], ips[1], "two pods with the same IP")

	// kube-controller-manager's endpointslice controller.
	sort.Strings(ips)
	require.NoError(t, waitFor(60*time.Second, "the EndpointSlice of service web to list both pods, ready", func() (bool, string) {
		slices := &discoveryv1.EndpointSliceList{}
		if err := node.Client.List(ctx, slices, client.InNamespace(ns), client.MatchingLabels{discoveryv1.LabelServiceName: "web"}); err != nil {
			return false, err.Error()
		}
		var got []string
		for _, s := range slices.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					got = append(got, e.Addresses...)
				}
			}
		}
		sort.Strings(got)
		return fmt.Sprint(got) == fmt.Sprint(ips), fmt.Sprintf("ready endpoints %v, want %v", got, ips)
	}))

	// Pod to pod, across the bridge (HTTP by hand: Debian's static busybox
	// wget crashes).
	client := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: ns},
		Spec: networkPodSpec(fmt.Sprintf(`for ip in %s; do printf 'GET / HTTP/1.0\r\n\r\n' | busybox nc -w 10 "$ip" 8080 || echo "failed: $ip"; done; echo done; exec sleep 3600`,
			strings.Join(ips, " ")), nil),
	}
	require.NoError(t, node.Client.Create(ctx, client))
	log := waitLog(t, ns, client.Name, "main", "done\n")
	for _, p := range pods.Items {
		assert.Contains(t, log, p.Name+"\n", "the client did not get pod %s's page", p.Name)
	}
	assert.NotContains(t, log, "failed:")
}

// A DaemonSet runs one pod on the node (kube-controller-manager's
// daemonset controller), on the pod network.
func TestDaemonSetRunsOnTheNode(t *testing.T) {
	needNode(t)
	ctx := context.Background()
	ns := namespace(t, "daemonset", "")
	labels := map[string]string{"app": "agent"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: ns},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       networkPodSpec("echo started; exec sleep 3600", nil),
			},
		},
	}
	require.NoError(t, node.Client.Create(ctx, ds))
	require.NoError(t, waitFor(90*time.Second, "daemonset agent to run 1 ready pod", func() (bool, string) {
		got := &appsv1.DaemonSet{}
		if err := node.Client.Get(ctx, client.ObjectKeyFromObject(ds), got); err != nil {
			return false, err.Error()
		}
		s := got.Status
		return s.DesiredNumberScheduled == 1 && s.NumberReady == 1,
			fmt.Sprintf("desired %d, ready %d; %s", s.DesiredNumberScheduled, s.NumberReady, podsSummary(ctx, ns, labels))
	}))
	pods := &corev1.PodList{}
	require.NoError(t, node.Client.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels(labels)))
	require.Len(t, pods.Items, 1)
	p := pods.Items[0]
	assert.Equal(t, node.NodeName, p.Spec.NodeName)
	assert.True(t, node.PodCIDR.Contains(net.ParseIP(p.Status.PodIP)), "pod IP %q outside %s", p.Status.PodIP, node.PodCIDR)
	require.Len(t, p.OwnerReferences, 1)
	assert.Equal(t, "DaemonSet", p.OwnerReferences[0].Kind)
}

// The API server calls an admission webhook through its Service: the real
// seccomp-guard webhook runs in a pod (its binary mounted from the host into
// the busybox image, its serving certificate from a Secret, in-cluster
// configuration with its ServiceAccount token, verified with
// kube-root-ca.crt), a ValidatingWebhookConfiguration names the Service,
// and an Unconfined pod is refused by it. Nothing routes the Service's
// ClusterIP (no kube-proxy): the API server reaches the pod at the address
// of the Service's EndpointSlice (--enable-aggregator-routing).
func TestWebhookCalledThroughItsService(t *testing.T) {
	needNode(t)
	ctx := context.Background()
	ns := namespace(t, "hook", "")
	target := namespace(t, "hooked", "enforce")
	require.NoError(t, labelNamespace(ctx, target, "e2e.seccomp-guard.dev/route", "service"))

	bin := guardBinary(t)
	caPEM, certPEM, keyPEM := issueServingCert(t, "guard."+ns+".svc")
	objs := []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "guard", Namespace: ns}},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-guard-" + ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "guard", Namespace: ns}},
		},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "guard-tls", Namespace: ns},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "guard", Namespace: ns},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "guard"},
				Ports:    []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromInt32(9443)}},
			},
		},
	}
	for _, o := range objs {
		require.NoError(t, node.Client.Create(ctx, o))
	}
	t.Cleanup(func() { _ = node.Client.Delete(context.Background(), objs[1]) })
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "guard", Namespace: ns, Labels: map[string]string{"app": "guard"}},
		Spec: corev1.PodSpec{
			ServiceAccountName:            "guard",
			TerminationGracePeriodSeconds: new(int64(1)),
			Containers: []corev1.Container{{
				Name:            "main",
				Image:           localcluster.BusyboxImage,
				ImagePullPolicy: corev1.PullNever,
				Command: []string{"/guard/seccomp-guard", "webhook",
					"--port", "9443", "--cert-dir", "/certs",
					"--health-probe-bind-address", ":8081", "--metrics-bind-address", "0",
					"--inventory-namespace", ns},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromInt32(8081)}},
					PeriodSeconds: 1,
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "bin", MountPath: "/guard", ReadOnly: true},
					{Name: "certs", MountPath: "/certs", ReadOnly: true},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "bin", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: filepath.Dir(bin)}}},
				{Name: "certs", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "guard-tls"}}},
			},
		},
	}
	require.NoError(t, node.Client.Create(ctx, pod))
	require.NoError(t, waitFor(120*time.Second, "the webhook pod to be Ready", func() (bool, string) {
		got := &corev1.Pod{}
		if err := node.Client.Get(ctx, client.ObjectKeyFromObject(pod), got); err != nil {
			return false, err.Error()
		}
		for _, c := range got.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return true, ""
			}
		}
		return false, describe(got) + "; log: " + podLogOrError(ns, pod.Name)
	}))

	// Before the configuration, the API server admits the pod.
	probe := busyboxPod(target, "unconfined", "true")
	probe.Spec.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
	require.NoError(t, node.Client.Create(ctx, probe.DeepCopy(), client.DryRunAll), "no webhook is registered for %s yet", target)

	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-through-service"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "through-service.e2e.seccomp-guard.dev",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				Service:  &admissionregistrationv1.ServiceReference{Namespace: ns, Name: "guard", Path: new(webhook.ValidatePath), Port: new(int32(443))},
				CABundle: caPEM,
			},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
			}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"e2e.seccomp-guard.dev/route": "service"}},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          new(int32(10)),
		}},
	}
	require.NoError(t, node.Client.Create(ctx, cfg))
	t.Cleanup(func() { _ = node.Client.Delete(context.Background(), cfg) })

	var last error
	err := waitFor(60*time.Second, "the API server to call the webhook through its Service", func() (bool, string) {
		last = node.Client.Create(ctx, probe.DeepCopy(), client.DryRunAll)
		return last != nil && strings.Contains(last.Error(), "UnconfinedForbidden"), fmt.Sprint(last)
	})
	require.NoError(t, err, "webhook pod log: %s", podLogOrError(ns, pod.Name))
	assert.True(t, apierrors.IsForbidden(last), "want Forbidden, got %v", last)
	assert.Contains(t, last.Error(), `admission webhook "through-service.e2e.seccomp-guard.dev" denied the request`)
	t.Logf("refused through service %s/guard: %v", ns, last)
}

// The certificate the API server serves is what an in-cluster client
// verifies: kube-root-ca.crt (published into every namespace by
// kube-controller-manager) signs it for the kubernetes Service's IP and DNS
// names.
func TestAPIServerCertificateForInClusterClients(t *testing.T) {
	needNode(t)
	ctx := context.Background()
	ns := namespace(t, "rootca", "")
	cm := &corev1.ConfigMap{}
	require.NoError(t, waitFor(30*time.Second, "kube-root-ca.crt in "+ns, func() (bool, string) {
		err := node.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "kube-root-ca.crt"}, cm)
		return err == nil, fmt.Sprint(err)
	}))
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM([]byte(cm.Data["ca.crt"])), "kube-root-ca.crt holds no certificate: %q", cm.Data["ca.crt"])

	u, err := url.Parse(node.Config.Host)
	require.NoError(t, err)
	host := u.Host
	for _, name := range []string{localcluster.KubernetesServiceIP, "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"} {
		t.Run(name, func(t *testing.T) {
			conn, err := tls.Dial("tcp", host, &tls.Config{RootCAs: roots, ServerName: name, MinVersion: tls.VersionTLS12})
			require.NoError(t, err)
			_ = conn.Close()
		})
	}
}

// networkPodSpec is a busybox pod on the pod network (no hostNetwork),
// placed by kube-scheduler, with the default ServiceAccount's token.
func networkPodSpec(script string, tweak func(*corev1.PodSpec)) corev1.PodSpec {
	return podSpec(script, func(s *corev1.PodSpec) {
		s.HostNetwork = false
		s.NodeSelector = map[string]string{corev1.LabelHostname: node.NodeName}
		if tweak != nil {
			tweak(s)
		}
	})
}

// mountsToken reports whether the pod's first container mounts a projected
// ServiceAccount token at tokenDir (added by the ServiceAccount admission
// plugin).
func mountsToken(p *corev1.Pod) bool {
	volumes := map[string]corev1.Volume{}
	for _, v := range p.Spec.Volumes {
		volumes[v.Name] = v
	}
	for _, m := range p.Spec.Containers[0].VolumeMounts {
		v, ok := volumes[m.Name]
		if m.MountPath != tokenDir || !ok || v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken != nil {
				return true
			}
		}
	}
	return false
}

// podsSummary describes the pods of a selector, for failure messages.
func podsSummary(ctx context.Context, ns string, labels map[string]string) string {
	pods := &corev1.PodList{}
	if err := node.Client.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels(labels)); err != nil {
		return err.Error()
	}
	if len(pods.Items) == 0 {
		return "no pods"
	}
	var out []string
	for i := range pods.Items {
		out = append(out, pods.Items[i].Name+": "+describe(&pods.Items[i]))
	}
	return strings.Join(out, " | ")
}

func podLogOrError(ns, pod string) string {
	log, err := node.PodLog(ns, pod, "main")
	if err != nil {
		return err.Error()
	}
	return log
}

func labelNamespace(ctx context.Context, name, key, value string) error {
	ns := &corev1.Namespace{}
	if err := node.Client.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		return err
	}
	patch := client.MergeFrom(ns.DeepCopy())
	ns.Labels[key] = value
	return node.Client.Patch(ctx, ns, patch)
}

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// buildGuard builds cmd/seccomp-guard once, statically (CGO_ENABLED=0, as
// `make build`: the busybox image has no libc), into a directory of its own
// under the cluster's Dir, which a pod mounts.
func buildGuard() (string, error) {
	binaryOnce.Do(func() {
		dir := filepath.Join(node.Dir, "guard-bin")
		if binaryErr = os.MkdirAll(dir, 0o755); binaryErr != nil {
			return
		}
		root, err := framework.RepoRoot()
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "seccomp-guard")
		cmd := exec.Command("go", "build", "-trimpath", "-o", binaryPath, "./cmd/seccomp-guard")
		cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binaryErr = fmt.Errorf("go build ./cmd/seccomp-guard: %w\n%s", err, out)
		}
	})
	return binaryPath, binaryErr
}

func guardBinary(t *testing.T) string {
	t.Helper()
	bin, err := buildGuard()
	require.NoError(t, err)
	return bin
}

// issueServingCert returns a new CA and a certificate for dnsName signed by
// it, in PEM.
func issueServingCert(t *testing.T, dnsName string) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e-webhook-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err = x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// ImportImage loads an archive into the node's containerd and names what it
// imported (the API e2e suites use for images built by `make image`).
func TestImportImage(t *testing.T) {
	needNode(t)
	names, err := node.ImportImage(context.Background(), filepath.Join(node.Dir, "images", "busybox.tar"))
	require.NoError(t, err)
	assert.Equal(t, []string{localcluster.BusyboxImage}, names)

	_, err = node.ImportImage(context.Background(), filepath.Join(node.Dir, "images", "missing.tar"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "importing "+filepath.Join(node.Dir, "images", "missing.tar")+" into the node's containerd: ctr images import")
}
