package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/seccomp-guard/seccomp-guard/internal/violations"
)

const (
	webID   = "1111111111111111111111111111111111111111111111111111111111111111"
	otherID = "2222222222222222222222222222222222222222222222222222222222222222"
)

// violationsFixture writes a fake /proc and a kernel log, and stands in for
// the node's pods.
func violationsFixture(t *testing.T) (proc, log string) {
	t.Helper()
	dir := t.TempDir()
	proc = filepath.Join(dir, "proc")
	// testNow is 2026-03-01T12:30:00Z; the processes started an hour before.
	boot := testNow.Add(-2 * time.Hour).Unix()
	require.NoError(t, os.MkdirAll(proc, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(proc, "stat"), []byte(fmt.Sprintf("btime %d\n", boot)), 0o644))
	for pid, cgroup := range map[int]string{100: "0::/kubepods/besteffort/pod1/" + webID, 200: "0::/kubepods/pod2/" + otherID, 300: "0::/system.slice/cron.service"} {
		d := filepath.Join(proc, strconv.Itoa(pid))
		require.NoError(t, os.MkdirAll(d, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d, "cgroup"), []byte(cgroup+"\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(d, "stat"), []byte(strconv.Itoa(pid)+" (sh) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 360000 0 0"), 0o644))
	}
	at := func(ago time.Duration) string {
		t := testNow.Add(-ago)
		return fmt.Sprintf("%d.%03d", t.Unix(), t.Nanosecond()/1e6)
	}
	lines := []string{
		`[ 1.0] audit: type=1326 audit(` + at(50*time.Minute) + `:1): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=100 comm="mkdir" exe="/bin/busybox" sig=0 arch=c000003e syscall=83 compat=0 ip=0x1 code=0x50000`,
		`[ 1.1] eth0: link up`,
		`[ 1.2] audit: type=1326 audit(` + at(40*time.Minute) + `:2): pid=100 comm="mkdir" exe="/bin/busybox" arch=c000003e syscall=83 code=0x7ffc0000`,
		`[ 1.3] audit: type=1326 audit(` + at(30*time.Minute) + `:3): pid=200 comm="my app" exe="/app" arch=c000003e syscall=mkdir code=0x7ffc0000`,
		`[ 1.4] audit: type=1326 audit(` + at(20*time.Minute) + `:4): pid=200 comm=6D7920617070 exe="/app" arch=c00000b7 syscall=34 code=0x80000000`,
		`[ 1.5] audit: type=1326 audit(` + at(10*time.Minute) + `:5): pid=300 comm="cron" exe="/usr/sbin/cron" arch=c000003e syscall=101 code=0x30000`,
		`[ 1.6] audit: type=1326 audit(` + at(5*time.Minute) + `:6): pid=400 comm="gone" exe="/gone" arch=c000003e syscall=83 code=0x7ffc0000`,
		`[ 1.7] audit: type=1326 audit(` + at(time.Minute) + `:7): pid=100 comm="mkdir" exe="/bin/busybox" arch=c000003e syscall=83 code=0x50026`,
	}
	log = filepath.Join(dir, "kern.log")
	require.NoError(t, os.WriteFile(log, []byte(strings.Join(lines, "\n")+"\n"), 0o644))

	saved := violationsPods
	violationsPods = func(_ context.Context, _, node string) ([]corev1.Pod, error) {
		if node != "node1" {
			return nil, fmt.Errorf("list the pods on node %s: no such node", node)
		}
		return []corev1.Pod{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-5d8f7c9b6-x2x9k", UID: "u1", Labels: map[string]string{"pod-template-hash": "5d8f7c9b6"},
				OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-5d8f7c9b6", Controller: ptr.To(true)}}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", SecurityContext: &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{
				Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("profiles/no-mkdir.json")}}}}},
			Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://" + webID}}},
		}}, nil
	}
	t.Cleanup(func() { violationsPods = saved })
	return proc, log
}

func TestViolationsCommandFile(t *testing.T) {
	proc, log := violationsFixture(t)
	records := []string{
		`2026-03-01T11:40:00.000Z shop/web-5d8f7c9b6-x2x9k/app workload=Deployment/web syscall=mkdir action=SCMP_ACT_ERRNO comm="mkdir" exe="/bin/busybox" pid=100 profile=localhost/profiles/no-mkdir.json`,
		`2026-03-01T11:50:00.000Z shop/web-5d8f7c9b6-x2x9k/app workload=Deployment/web syscall=mkdir action=SCMP_ACT_LOG comm="mkdir" exe="/bin/busybox" pid=100 profile=localhost/profiles/no-mkdir.json`,
		`2026-03-01T12:10:00.000Z container 222222222222 syscall=mkdirat action=SCMP_ACT_KILL_PROCESS comm="my app" exe="/app" pid=200`,
		`2026-03-01T12:20:00.000Z host process syscall=ptrace action=SCMP_ACT_TRAP comm="cron" exe="/usr/sbin/cron" pid=300`,
		`2026-03-01T12:25:00.000Z process exited syscall=mkdir action=SCMP_ACT_LOG comm="gone" exe="/gone" pid=400`,
		`2026-03-01T12:29:00.000Z shop/web-5d8f7c9b6-x2x9k/app workload=Deployment/web syscall=mkdir action=SCMP_ACT_ERRNO(ENOSYS) comm="mkdir" exe="/bin/busybox" pid=100 profile=localhost/profiles/no-mkdir.json`,
	}
	malformed := log + `:4: malformed seccomp record: field syscall="mkdir" is not a syscall number` + "\n"
	errMalformed := "Error: 1 malformed seccomp record in " + log + " (listed above); the records that parsed are shown\n"

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    string
		wantStderr string
	}{
		{name: "text with pods and a summary", args: []string{"--node", "node1"}, wantCode: exitError,
			wantOut: strings.Join(records, "\n") + `

6 seccomp records in ` + log + `, 1 malformed
by workload:
       3  shop/Deployment/web
       1  container 222222222222
       1  host process
       1  process exited
by syscall:
       4  mkdir
       1  mkdirat
       1  ptrace
by action:
       2  SCMP_ACT_ERRNO
       2  SCMP_ACT_LOG
       1  SCMP_ACT_KILL_PROCESS
       1  SCMP_ACT_TRAP
`, wantStderr: malformed + errMalformed},
		// --since 31m keeps the records from 11:59 on, --limit 1 the first:
		// the KILL_PROCESS at 12:10. The malformed record comes before it.
		{name: "without --node: container IDs; since and limit", args: []string{"--since", "31m", "--limit", "1"}, wantCode: exitError,
			wantOut: records[2] + "\n\n1 seccomp record in " + log + ", 1 malformed\nby workload:\n       1  container 222222222222\n" +
				"by syscall:\n       1  mkdirat\nby action:\n       1  SCMP_ACT_KILL_PROCESS\n",
			wantStderr: malformed + errMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"violations", "--file", log, "--proc", proc}, tt.args...)
			code, stdout, stderr := runCLI(t, "", args...)
			assert.Equal(t, tt.wantCode, code, stderr)
			assert.Equal(t, tt.wantOut, stdout)
			assert.Equal(t, tt.wantStderr, stderr)
		})
	}
}

func TestViolationsCommandFileJSON(t *testing.T) {
	proc, log := violationsFixture(t)
	code, stdout, stderr := runCLI(t, "", "violations", "--file", log, "--proc", proc, "--node", "node1", "--since", "2m", "-o", "json")
	assert.Equal(t, exitError, code)
	assert.Equal(t, log+`:4: malformed seccomp record: field syscall="mkdir" is not a syscall number`+"\n"+
		"Error: 1 malformed seccomp record in "+log+" (listed above); the records that parsed are shown\n", stderr)
	assert.JSONEq(t, `{
  "records": [{
    "time": "2026-03-01T12:29:00Z", "serial": 7, "origin": "pod",
    "namespace": "shop", "pod": "web-5d8f7c9b6-x2x9k", "container": "app", "workload": "Deployment/web",
    "profile": "localhost/profiles/no-mkdir.json", "containerID": "`+webID+`",
    "syscall": "mkdir", "syscallNr": 83, "arch": "x86_64", "action": "SCMP_ACT_ERRNO", "errno": "ENOSYS",
    "pid": 100, "comm": "mkdir", "exe": "/bin/busybox"
  }],
  "summary": {"records": 1, "malformed": 1, "byWorkload": {"shop/Deployment/web": 1}, "bySyscall": {"mkdir": 1}, "byAction": {"SCMP_ACT_ERRNO": 1}},
  "malformed": [{"file": "`+log+`", "line": 4, "error": "malformed seccomp record: field syscall=\"mkdir\" is not a syscall number"}]
}`, stdout)
}

func TestViolationsCommandFollow(t *testing.T) {
	proc, _ := violationsFixture(t)
	log := filepath.Join(t.TempDir(), "audit.log")
	require.NoError(t, os.WriteFile(log, []byte("type=SECCOMP msg=audit(1.000:1): pid=100 arch=c000003e syscall=83 code=0x7ffc0000\n"), 0o644))
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		// Append a record until the command has read two new ones.
		for serial := 2; ; serial++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return
			}
			fmt.Fprintf(f, "type=SECCOMP msg=audit(1772368140.000:%d): pid=100 comm=\"mkdir\" exe=\"/bin/busybox\" arch=c000003e syscall=83 code=0x7ffc0000\n", serial)
			fmt.Fprintln(f, "type=SECCOMP msg=audit(1772368140.000:0): pid=bad")
			f.Close()
		}
	}()
	code, stdout, stderr := runCLI(t, "", "violations", "--source", "auditd", "--file", log, "--proc", proc, "--node", "node1", "--limit", "2", "-o", "json")
	assert.Equal(t, exitOK, code, stderr)
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	require.Len(t, lines, 2, stdout)
	assert.JSONEq(t, `{"time": "2026-03-01T12:29:00Z", "serial": 2, "origin": "pod",
    "namespace": "shop", "pod": "web-5d8f7c9b6-x2x9k", "container": "app", "workload": "Deployment/web",
    "profile": "localhost/profiles/no-mkdir.json", "containerID": "`+webID+`",
    "syscall": "mkdir", "syscallNr": 83, "arch": "x86_64", "action": "SCMP_ACT_LOG",
    "pid": 100, "comm": "mkdir", "exe": "/bin/busybox"}`, lines[0])
	assert.Contains(t, lines[1], `"serial":3,`)
	assert.True(t, strings.HasPrefix(stderr, "warning: "+log+`:3: malformed seccomp record: field pid="bad" is not a process ID`+"\n"), stderr)
}

func TestViolationsCommandErrors(t *testing.T) {
	saved := violationsNetlink
	violationsNetlink = func() (violations.Source, error) {
		return nil, errors.New("bind the audit netlink multicast group: operation not permitted; it needs CAP_AUDIT_READ")
	}
	t.Cleanup(func() { violationsNetlink = saved })
	missing := filepath.Join(t.TempDir(), "nope.log")
	usage := "Run 'seccomp-guard violations --help' for usage.\n"
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{name: "netlink refused", args: nil, wantCode: exitError,
			wantStderr: "Error: cannot read the audit netlink multicast group: bind the audit netlink multicast group: operation not permitted; it needs CAP_AUDIT_READ; run as root (CAP_AUDIT_READ) in the host's network namespace, or use --source kmsg (lossy) or --source auditd\n"},
		{name: "bad output", args: []string{"-o", "yaml"}, wantCode: exitUsage,
			wantStderr: "Error: unknown output format \"yaml\" for --output: use text or json\n" + usage},
		{name: "unknown source", args: []string{"--source", "ebpf"}, wantCode: exitUsage,
			wantStderr: "Error: unknown --source \"ebpf\": use netlink, kmsg, auditd or file\n" + usage},
		{name: "file with a live source", args: []string{"--source", "kmsg", "--file", "x"}, wantCode: exitUsage,
			wantStderr: "Error: --file is for --source file or auditd; --source kmsg reads the live kernel\n" + usage},
		{name: "source file without a file", args: []string{"--source", "file"}, wantCode: exitUsage,
			wantStderr: "Error: --source file needs --file PATH, e.g. a saved kernel log (dmesg > kern.log)\n" + usage},
		{name: "live source without follow", args: []string{"--source", "netlink", "--follow=false"}, wantCode: exitUsage,
			wantStderr: "Error: --source netlink reads only new records and needs --follow; to read the kernel log so far, save it (dmesg > kern.log) and use --file kern.log\n" + usage},
		{name: "since while following", args: []string{"--source", "kmsg", "--since", "1h"}, wantCode: exitUsage,
			wantStderr: "Error: --since filters a file read once; drop --follow, or drop --since to see only new records\n" + usage},
		{name: "negative since", args: []string{"--file", "x", "--since", "-1h"}, wantCode: exitUsage,
			wantStderr: "Error: --since -1h0m0s is negative: give how far back to read, e.g. 1h\n" + usage},
		{name: "negative limit", args: []string{"--file", "x", "--limit", "-1"}, wantCode: exitUsage,
			wantStderr: "Error: --limit -1 is negative: give how many records to show, or 0 for all\n" + usage},
		{name: "kubeconfig without node", args: []string{"--file", "x", "--kubeconfig", "k"}, wantCode: exitUsage,
			wantStderr: "Error: --kubeconfig needs --node NODE, the node whose pods the records are attributed to (kubectl get nodes)\n" + usage},
		{name: "missing file", args: []string{"--file", missing}, wantCode: exitUsage,
			wantStderr: "Error: stat " + missing + ": no such file or directory\n" + usage},
		{name: "missing audit log, followed", args: []string{"--source", "auditd", "--file", missing}, wantCode: exitUsage,
			wantStderr: "Error: stat " + missing + ": no such file or directory\n" + usage},
		{name: "bad flag", args: []string{"--nope"}, wantCode: exitUsage,
			wantStderr: "Error: unknown flag: --nope\n" + usage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", append([]string{"violations"}, tt.args...)...)
			assert.Equal(t, tt.wantCode, code)
			assert.Equal(t, tt.wantStderr, stderr)
			assert.Empty(t, stdout)
		})
	}
	t.Run("pods of an unknown node", func(t *testing.T) {
		_, log := violationsFixture(t)
		code, _, stderr := runCLI(t, "", "violations", "--file", log, "--node", "node9")
		assert.Equal(t, exitError, code)
		assert.Equal(t, "Error: list the pods on node node9: no such node\n", stderr)
	})
}

func TestNodePodsRelist(t *testing.T) {
	pod := func(uid, id string) corev1.Pod {
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: uid, UID: types.UID(uid)},
			Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "c", ContainerID: "containerd://" + id}}}}
	}
	lists := [][]corev1.Pod{{pod("a", webID)}, {pod("b", otherID)}}
	calls := 0
	saved := violationsPods
	violationsPods = func(context.Context, string, string) ([]corev1.Pod, error) {
		calls++
		if calls > len(lists) {
			return nil, errors.New("the API server is gone")
		}
		return lists[calls-1], nil
	}
	t.Cleanup(func() { violationsPods = saved })

	p, err := newNodePods(context.Background(), "", "node1")
	require.NoError(t, err)
	_, ok := p.index.Lookup(webID)
	assert.True(t, ok)
	p.refresh()
	assert.Equal(t, 1, calls, "no second list within podRelistEvery")

	p.listed = time.Now().Add(-podRelistEvery)
	p.refresh()
	assert.Equal(t, 2, calls)
	_, ok = p.index.Lookup(webID)
	assert.False(t, ok, "the deleted pod left the index")
	got, ok := p.index.Lookup(otherID)
	assert.True(t, ok)
	assert.Equal(t, "b", got.Pod)

	p.listed = time.Now().Add(-podRelistEvery)
	p.refresh()
	_, ok = p.index.Lookup(otherID)
	assert.True(t, ok, "a failed list keeps the index")
}
