package chart_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// webhookPod renders the chart and returns the webhook Deployment's pod spec.
func webhookPod(t *testing.T, vals map[string]any) corev1.PodSpec {
	t.Helper()
	return get[appsv1.Deployment](t, render(t, vals), "Deployment", fullname+"-webhook").Spec.Template.Spec
}

func webhookSelector() map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":      "seccomp-guard",
		"app.kubernetes.io/instance":  release,
		"app.kubernetes.io/component": "webhook",
	}
}

func nodeFailureTolerations(seconds int64) []corev1.Toleration {
	return []corev1.Toleration{
		{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(seconds)},
		{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(seconds)},
	}
}

// TestWebhookPodsUnderPressure checks what keeps the webhook's pods up
// (issue 11, item 5): a priority class, Guaranteed QoS, replicas on
// different nodes, short node-failure tolerations, and GOMEMLIMIT.
func TestWebhookPodsUnderPressure(t *testing.T) {
	pod := webhookPod(t, nil)

	t.Run("priority class", func(t *testing.T) {
		assert.Equal(t, "system-cluster-critical", pod.PriorityClassName)
	})

	t.Run("Guaranteed QoS: requests equal limits for cpu and memory", func(t *testing.T) {
		require.Len(t, pod.Containers, 1)
		res := pod.Containers[0].Resources
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := res.Requests[name]
			limit, hasLimit := res.Limits[name]
			require.True(t, hasReq && hasLimit, "%s needs both a request and a limit", name)
			assert.Zero(t, req.Cmp(limit), "%s: request %s, limit %s", name, req.String(), limit.String())
		}
		assert.Equal(t, corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
		}, res)
	})

	t.Run("GOMEMLIMIT is 90% of the memory limit", func(t *testing.T) {
		assert.Equal(t, []corev1.EnvVar{{Name: "GOMEMLIMIT", Value: "460MiB"}}, pod.Containers[0].Env)
	})

	t.Run("replicas on different nodes where there is more than one", func(t *testing.T) {
		assert.Equal(t, []corev1.TopologySpreadConstraint{
			{
				MaxSkew: 1, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.DoNotSchedule,
				NodeTaintsPolicy: new(corev1.NodeInclusionPolicyHonor),
				LabelSelector:    &metav1.LabelSelector{MatchLabels: webhookSelector()},
				MatchLabelKeys:   []string{"pod-template-hash"},
			},
			{
				MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.ScheduleAnyway,
				LabelSelector:  &metav1.LabelSelector{MatchLabels: webhookSelector()},
				MatchLabelKeys: []string{"pod-template-hash"},
			},
		}, pod.TopologySpreadConstraints)
		assert.Nil(t, pod.Affinity, "no podAntiAffinity: the spread does its work without stranding replicas")
	})

	t.Run("not-ready and unreachable tolerated for 30s", func(t *testing.T) {
		assert.Equal(t, nodeFailureTolerations(30), pod.Tolerations)
	})
}

func TestWebhookTolerations(t *testing.T) {
	dedicated := map[string]any{"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}
	dedicatedToleration := corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "infra", Effect: corev1.TaintEffectNoSchedule}
	tests := []struct {
		name   string
		values map[string]any
		want   []corev1.Toleration
	}{
		{
			name:   "user tolerations are kept",
			values: values("webhook.tolerations", []any{dedicated}),
			want:   append(nodeFailureTolerations(30), dedicatedToleration),
		},
		{
			name:   "other seconds",
			values: values("webhook.nodeFailureTolerationSeconds", 10),
			want:   nodeFailureTolerations(10),
		},
		{
			name:   "zero evicts at once",
			values: values("webhook.nodeFailureTolerationSeconds", 0),
			want:   nodeFailureTolerations(0),
		},
		{
			name:   "null leaves the Kubernetes defaults",
			values: values("webhook.nodeFailureTolerationSeconds", nil, "webhook.tolerations", []any{dedicated}),
			want:   []corev1.Toleration{dedicatedToleration},
		},
		{
			name:   "null and no user tolerations: none",
			values: values("webhook.nodeFailureTolerationSeconds", nil),
		},
		{
			name: "a user toleration of the same key replaces the chart's",
			values: values("webhook.tolerations", []any{
				map[string]any{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 120},
			}),
			want: []corev1.Toleration{
				nodeFailureTolerations(30)[0],
				{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(int64(120))},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, webhookPod(t, tc.values).Tolerations)
		})
	}
}

func TestWebhookResourcesAndPriority(t *testing.T) {
	tests := []struct {
		name         string
		values       map[string]any
		wantEnv      []corev1.EnvVar
		wantPriority string
	}{
		{
			name:         "memory limit in Gi",
			values:       values("webhook.resources", map[string]any{"limits": map[string]any{"memory": "1Gi"}}),
			wantEnv:      []corev1.EnvVar{{Name: "GOMEMLIMIT", Value: "921MiB"}},
			wantPriority: "system-cluster-critical",
		},
		{
			name:         "memory limit in another unit: no GOMEMLIMIT",
			values:       values("webhook.resources", map[string]any{"limits": map[string]any{"memory": "1000M"}}),
			wantPriority: "system-cluster-critical",
		},
		{
			name:         "no memory limit: no GOMEMLIMIT",
			values:       values("webhook.resources.limits.memory", nil),
			wantPriority: "system-cluster-critical",
		},
		{
			name:    "priority class turned off",
			values:  values("webhook.priorityClassName", ""),
			wantEnv: []corev1.EnvVar{{Name: "GOMEMLIMIT", Value: "460MiB"}},
		},
		{
			name:         "a priority class of one's own",
			values:       values("webhook.priorityClassName", "platform-critical"),
			wantEnv:      []corev1.EnvVar{{Name: "GOMEMLIMIT", Value: "460MiB"}},
			wantPriority: "platform-critical",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := webhookPod(t, tc.values)
			assert.Equal(t, tc.wantEnv, pod.Containers[0].Env)
			assert.Equal(t, tc.wantPriority, pod.PriorityClassName)
		})
	}
}

func TestWebhookNetworkPolicy(t *testing.T) {
	webhookPort := networkingv1.NetworkPolicyPort{Protocol: new(corev1.ProtocolTCP), Port: new(intstr.FromInt32(9443))}
	metricsPort := networkingv1.NetworkPolicyPort{Protocol: new(corev1.ProtocolTCP), Port: new(intstr.FromInt32(8080))}
	apiServer := map[string]any{"ipBlock": map[string]any{"cidr": "10.0.0.10/32"}}
	monitoring := map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "monitoring"}}}
	tests := []struct {
		name   string
		values map[string]any
		// wantIngress nil: no NetworkPolicy.
		wantIngress []networkingv1.NetworkPolicyIngressRule
	}{
		{name: "off by default"},
		{name: "disabled", values: values("webhook.networkPolicy.from", []any{apiServer})},
		{
			name:        "the webhook port only, from any source",
			values:      values("webhook.networkPolicy.enabled", true),
			wantIngress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{webhookPort}}},
		},
		{
			name:   "the webhook port from the API server's address",
			values: values("webhook.networkPolicy.enabled", true, "webhook.networkPolicy.from", []any{apiServer}),
			wantIngress: []networkingv1.NetworkPolicyIngressRule{{
				Ports: []networkingv1.NetworkPolicyPort{webhookPort},
				From:  []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.10/32"}}},
			}},
		},
		{
			name: "metrics too, from the monitoring namespace",
			values: values("webhook.networkPolicy.enabled", true, "webhook.networkPolicy.metrics.enabled", true,
				"webhook.networkPolicy.metrics.from", []any{monitoring}),
			wantIngress: []networkingv1.NetworkPolicyIngressRule{
				{Ports: []networkingv1.NetworkPolicyPort{webhookPort}},
				{
					Ports: []networkingv1.NetworkPolicyPort{metricsPort},
					From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
						MatchLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"},
					}}},
				},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, tc.values)
			if tc.wantIngress == nil {
				for _, o := range objs {
					assert.NotEqual(t, "NetworkPolicy", o.GetKind(), "%s is rendered", o.GetName())
				}
				return
			}
			np := get[networkingv1.NetworkPolicy](t, objs, "NetworkPolicy", fullname+"-webhook")
			assert.Equal(t, namespace, np.Namespace)
			d := get[appsv1.Deployment](t, objs, "Deployment", fullname+"-webhook")
			assert.Equal(t, *d.Spec.Selector, np.Spec.PodSelector, "selects the webhook pods")
			assert.Equal(t, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, np.Spec.PolicyTypes, "egress stays open: the webhook calls the API server")
			assert.Equal(t, tc.wantIngress, np.Spec.Ingress)
			// The ports it admits are the container's.
			ports := map[int32]string{}
			for _, p := range d.Spec.Template.Spec.Containers[0].Ports {
				ports[p.ContainerPort] = p.Name
			}
			assert.Equal(t, "webhook", ports[9443])
			assert.Equal(t, "metrics", ports[8080])
		})
	}
}

func TestWebhookClientCA(t *testing.T) {
	const arg = "--client-ca-file=/etc/seccomp-guard/client-ca/ca.crt"
	mount := corev1.VolumeMount{Name: "client-ca", MountPath: "/etc/seccomp-guard/client-ca", ReadOnly: true}
	tlsMount := corev1.VolumeMount{Name: "tls", MountPath: "/etc/seccomp-guard/tls", ReadOnly: true}
	tlsVolume := corev1.Volume{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: fullname + "-webhook-tls"}}}
	items := []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}
	tests := []struct {
		name        string
		values      map[string]any
		wantArg     string
		wantMounts  []corev1.VolumeMount
		wantVolumes []corev1.Volume
	}{
		{name: "none by default", wantMounts: []corev1.VolumeMount{tlsMount}, wantVolumes: []corev1.Volume{tlsVolume}},
		{
			name: "from a ConfigMap", values: values("webhook.clientCA.configMap", "apiserver-client-ca"), wantArg: arg,
			wantMounts: []corev1.VolumeMount{tlsMount, mount},
			wantVolumes: []corev1.Volume{tlsVolume, {Name: "client-ca", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "apiserver-client-ca"}, Items: items,
			}}}},
		},
		{
			name: "from a Secret, another key", values: values("webhook.clientCA.secret", "apiserver-client-ca", "webhook.clientCA.key", "client-ca.pem"),
			wantArg:    "--client-ca-file=/etc/seccomp-guard/client-ca/client-ca.pem",
			wantMounts: []corev1.VolumeMount{tlsMount, mount},
			wantVolumes: []corev1.Volume{tlsVolume, {Name: "client-ca", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: "apiserver-client-ca", Items: []corev1.KeyToPath{{Key: "client-ca.pem", Path: "client-ca.pem"}},
			}}}},
		},
		{
			name: "with self-managed certificates: the client CA only", values: values(append([]any{"webhook.clientCA.configMap", "apiserver-client-ca"}, selfManagedMode...)...), wantArg: arg,
			wantMounts: []corev1.VolumeMount{mount},
			wantVolumes: []corev1.Volume{{Name: "client-ca", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "apiserver-client-ca"}, Items: items,
			}}}},
		},
		{name: "self-managed without: no volume", values: values(selfManagedMode...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := webhookPod(t, tc.values)
			c := pod.Containers[0]
			var got []string
			for _, a := range c.Args {
				if len(a) > len("--client-ca-file") && a[:len("--client-ca-file")] == "--client-ca-file" {
					got = append(got, a)
				}
			}
			if tc.wantArg == "" {
				assert.Empty(t, got)
			} else {
				assert.Equal(t, []string{tc.wantArg}, got)
			}
			assert.Equal(t, tc.wantMounts, c.VolumeMounts)
			assert.Equal(t, tc.wantVolumes, pod.Volumes)
		})
	}
}

func TestRefusedWebhookValues(t *testing.T) {
	tests := []struct {
		name    string
		values  map[string]any
		wantErr string
	}{
		{
			name:    "negative toleration seconds",
			values:  values("webhook.nodeFailureTolerationSeconds", -1),
			wantErr: "- at '/webhook/nodeFailureTolerationSeconds': minimum: got -1, want 0",
		},
		{
			name:    "toleration seconds as a duration",
			values:  values("webhook.nodeFailureTolerationSeconds", "30s"),
			wantErr: "- at '/webhook/nodeFailureTolerationSeconds': got string, want null or integer",
		},
		{
			name:    "priority class that is not a name",
			values:  values("webhook.priorityClassName", "System-Cluster-Critical"),
			wantErr: "- at '/webhook/priorityClassName': 'System-Cluster-Critical' does not match pattern",
		},
		{
			name:    "network policy: misspelt key",
			values:  values("webhook.networkPolicy.enable", true),
			wantErr: "- at '/webhook/networkPolicy': additional properties 'enable' not allowed",
		},
		{
			name:    "network policy: a CIDR without its length",
			values:  values("webhook.networkPolicy.from", []any{map[string]any{"ipBlock": map[string]any{"cidr": "10.0.0.10"}}}),
			wantErr: "- at '/webhook/networkPolicy/from/0/ipBlock/cidr': '10.0.0.10' does not match pattern",
		},
		{
			name: "network policy: ipBlock with a selector",
			values: values("webhook.networkPolicy.from", []any{map[string]any{
				"ipBlock": map[string]any{"cidr": "10.0.0.0/8"}, "namespaceSelector": map[string]any{},
			}}),
			wantErr: "- at '/webhook/networkPolicy/from/0': 'not' failed",
		},
		{
			name:    "network policy: an empty peer",
			values:  values("webhook.networkPolicy.metrics.from", []any{map[string]any{}}),
			wantErr: "- at '/webhook/networkPolicy/metrics/from/0': minProperties: got 0, want 1",
		},
		{
			name:    "network policy: a peer that is not one",
			values:  values("webhook.networkPolicy.from", []any{map[string]any{"cidr": "10.0.0.0/8"}}),
			wantErr: "- at '/webhook/networkPolicy/from/0': additional properties 'cidr' not allowed",
		},
		{
			name:    "client CA in both a ConfigMap and a Secret",
			values:  values("webhook.clientCA.configMap", "ca", "webhook.clientCA.secret", "ca"),
			wantErr: "- at '/webhook/clientCA': 'not' failed",
		},
		{
			name:    "client CA: empty key",
			values:  values("webhook.clientCA.configMap", "ca", "webhook.clientCA.key", ""),
			wantErr: "- at '/webhook/clientCA/key': minLength: got 0, want 1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := helmTemplate(t, tc.values)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "values don't meet the specifications of the schema(s)")
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}
