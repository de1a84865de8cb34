package chart_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// TestAgentViolations: violation monitoring grants the agent what its
// source needs and nothing else; off, the agent has none of it.
func TestAgentViolations(t *testing.T) {
	type want struct {
		hostNetwork bool
		caps        []corev1.Capability
		privileged  bool
		args        []string
		mounts      map[string]string // volume -> mount path
		hostPaths   map[string]string // volume -> host path
	}
	tests := []struct {
		name   string
		values map[string]any
		want   want
	}{
		{name: "off", want: want{caps: []corev1.Capability{"DAC_READ_SEARCH"}}},
		{
			name:   "netlink",
			values: values("agent.violations.enabled", true),
			want: want{
				hostNetwork: true, caps: []corev1.Capability{"DAC_READ_SEARCH", "AUDIT_READ"},
				args:      []string{"--violations-source=netlink", "--violations-proc-root=/host/proc", "--violations-event-interval=1m"},
				mounts:    map[string]string{"host-proc": "/host/proc"},
				hostPaths: map[string]string{"host-proc": "/proc"},
			},
		},
		{
			name:   "kmsg",
			values: values("agent.violations.enabled", true, "agent.violations.source", "kmsg"),
			want: want{
				caps: []corev1.Capability{"DAC_READ_SEARCH", "SYSLOG"}, privileged: true,
				args:      []string{"--violations-source=kmsg", "--violations-proc-root=/host/proc", "--violations-event-interval=1m"},
				mounts:    map[string]string{"host-proc": "/host/proc", "kmsg": "/dev/kmsg"},
				hostPaths: map[string]string{"host-proc": "/proc", "kmsg": "/dev/kmsg"},
			},
		},
		{
			name:   "auditd",
			values: values("agent.violations.enabled", true, "agent.violations.source", "auditd", "agent.violations.auditLogPath", "/var/log/audit/audit.log"),
			want: want{
				caps:      []corev1.Capability{"DAC_READ_SEARCH"},
				args:      []string{"--violations-source=auditd", "--violations-proc-root=/host/proc", "--violations-event-interval=1m", "--violations-audit-log=/host/var/log/audit/audit.log"},
				mounts:    map[string]string{"host-proc": "/host/proc", "audit-log": "/host/var/log/audit"},
				hostPaths: map[string]string{"host-proc": "/proc", "audit-log": "/var/log/audit"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, tc.values)
			ds := get[appsv1.DaemonSet](t, objs, "DaemonSet", fullname+"-agent")
			pod := ds.Spec.Template.Spec
			c := pod.Containers[0]
			assert.Equal(t, tc.want.hostNetwork, pod.HostNetwork)
			if tc.want.hostNetwork {
				assert.Equal(t, corev1.DNSClusterFirstWithHostNet, pod.DNSPolicy)
			}
			assert.Equal(t, tc.want.caps, c.SecurityContext.Capabilities.Add)
			assert.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop)
			assert.Equal(t, tc.want.privileged, c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged)
			var got []string
			for _, a := range c.Args {
				if len(a) > 13 && a[:13] == "--violations-" {
					got = append(got, a)
				}
			}
			assert.Equal(t, tc.want.args, got)
			for _, m := range c.VolumeMounts {
				if p, ok := tc.want.mounts[m.Name]; ok {
					assert.Equal(t, p, m.MountPath, m.Name)
					assert.True(t, m.ReadOnly, "%s is read-only", m.Name)
					delete(tc.want.mounts, m.Name)
				}
			}
			assert.Empty(t, tc.want.mounts, "mounts missing")
			for _, v := range pod.Volumes {
				if p, ok := tc.want.hostPaths[v.Name]; ok {
					require.NotNil(t, v.HostPath)
					assert.Equal(t, p, v.HostPath.Path)
					delete(tc.want.hostPaths, v.Name)
				}
			}
			assert.Empty(t, tc.want.hostPaths, "volumes missing")

			role := get[rbacv1.ClusterRole](t, objs, "ClusterRole", fullname+"-agent")
			podsAndEvents := 0
			for _, r := range role.Rules {
				for _, res := range r.Resources {
					if res == "pods" || res == "events" {
						podsAndEvents++
					}
				}
			}
			if tc.values == nil {
				assert.Zero(t, podsAndEvents, "no pods or events without violation monitoring")
			} else {
				assert.Equal(t, 2, podsAndEvents)
			}
		})
	}
}

func TestAgentViolationsRefusedValues(t *testing.T) {
	_, err := helmTemplate(t, values("agent.violations.enabled", true, "agent.violations.source", "dmesg"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "at '/agent/violations/source': value must be one of 'netlink', 'kmsg', 'auditd'")
}

// TestAgentRecording: recording adds exactly one writable mount, the
// <seccompRoot>/seccomp-guard directory, and its flags; every other mount
// stays read-only; without violation monitoring it is refused.
func TestAgentRecording(t *testing.T) {
	objs := render(t, values("agent.violations.enabled", true, "agent.recording.enabled", true, "agent.seccompRoot", "/var/lib/kubelet/seccomp"))
	ds := get[appsv1.DaemonSet](t, objs, "DaemonSet", fullname+"-agent")
	c := ds.Spec.Template.Spec.Containers[0]
	var writable []string
	for _, m := range c.VolumeMounts {
		if !m.ReadOnly {
			writable = append(writable, m.Name+"="+m.MountPath)
		}
	}
	assert.Equal(t, []string{"recording=/var/lib/seccomp-guard/recording"}, writable)
	var hostPath string
	for _, v := range ds.Spec.Template.Spec.Volumes {
		if v.Name == "recording" {
			require.NotNil(t, v.HostPath)
			hostPath = v.HostPath.Path
		}
	}
	assert.Equal(t, "/var/lib/kubelet/seccomp/seccomp-guard", hostPath)
	assert.Subset(t, c.Args, []string{"--recording-dir=/var/lib/seccomp-guard/recording", "--recording-interval=10s", "--recording-retention=168h", "--violations-fork-tracking"})
	assert.Equal(t, []corev1.Capability{"DAC_READ_SEARCH", "AUDIT_READ", "NET_ADMIN"}, c.SecurityContext.Capabilities.Add, "recording turns fork tracking on")
	assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)

	off := render(t, values("agent.violations.enabled", true))
	for _, m := range get[appsv1.DaemonSet](t, off, "DaemonSet", fullname+"-agent").Spec.Template.Spec.Containers[0].VolumeMounts {
		assert.True(t, m.ReadOnly, "without recording every mount is read-only: %s", m.Name)
	}

	_, err := helmTemplate(t, values("agent.recording.enabled", true))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "agent.recording.enabled needs agent.violations.enabled")
	_, err = helmTemplate(t, values("agent.violations.enabled", true, "agent.violations.source", "kmsg", "agent.violations.forkTracking", true))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "agent.violations.forkTracking (and agent.recording.enabled, which turns it on) needs agent.violations.source netlink")
	forks := render(t, values("agent.violations.enabled", true, "agent.violations.forkTracking", true))
	fc := get[appsv1.DaemonSet](t, forks, "DaemonSet", fullname+"-agent").Spec.Template.Spec.Containers[0]
	assert.Contains(t, fc.Args, "--violations-fork-tracking")
	assert.Contains(t, fc.SecurityContext.Capabilities.Add, corev1.Capability("NET_ADMIN"))
}
