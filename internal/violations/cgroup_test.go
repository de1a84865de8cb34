package violations

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"
)

func TestContainerOfPID(t *testing.T) {
	const id = "3f1c9b8a7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a"
	tests := []struct {
		name    string
		cgroup  string // "" for no file: the process is gone
		want    string
		wantErr error
	}{
		{name: "cgroup v2, systemd driver, containerd",
			cgroup: "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0b1e2f3a_4c5d_6e7f_8a9b_0c1d2e3f4a5b.slice/cri-containerd-" + id + ".scope\n",
			want:   id},
		{name: "cgroup v2 from another cgroup namespace",
			cgroup: "0::/../../kubepods-burstable-pod1.slice/cri-containerd-" + id + ".scope\n", want: id},
		{name: "cgroup v1, cgroupfs driver, containerd",
			cgroup: "12:pids:/kubepods/besteffort/pod0b1e2f3a-4c5d-6e7f-8a9b-0c1d2e3f4a5b/" + id + "\n11:memory:/kubepods/besteffort/pod0b1e2f3a-4c5d-6e7f-8a9b-0c1d2e3f4a5b/" + id + "\n0::/\n",
			want:   id},
		{name: "cgroup v1 without QoS cgroups (this machine's local cluster)",
			cgroup: "9:name=systemd:/" + id + "\n4:memory:/" + id + "\n0::/\n", want: id},
		{name: "CRI-O", cgroup: "0::/kubepods.slice/kubepods-pod1.slice/crio-" + id + ".scope\n", want: id},
		{name: "CRI-O's conmon is not the container",
			cgroup: "0::/kubepods.slice/kubepods-pod1.slice/crio-conmon-" + id + ".scope\n", wantErr: ErrNotAContainer},
		{name: "docker, systemd", cgroup: "0::/system.slice/docker-" + id + ".scope\n", want: id},
		{name: "docker, cgroupfs", cgroup: "4:memory:/docker/" + id + "\n", want: id},
		{name: "nested cgroup inside the container",
			cgroup: "0::/kubepods.slice/cri-containerd-" + id + ".scope/init.scope\n", want: id},
		{name: "host process", cgroup: "0::/system.slice/containerd.service\n", wantErr: ErrNotAContainer},
		{name: "a 32-digit ID is not a container's",
			cgroup: "4:memory:/process_api/cb6275d1997b803279d6a5a7d52741f7\n0::/\n", wantErr: ErrNotAContainer},
		{name: "upper-case hex is not a container ID", cgroup: "0::/" + strings.ToUpper(id) + "\n", wantErr: ErrNotAContainer},
		{name: "process gone", wantErr: ErrProcessGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proc := t.TempDir()
			if tt.cgroup != "" {
				require.NoError(t, os.MkdirAll(filepath.Join(proc, "42"), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(proc, "42", "cgroup"), []byte(tt.cgroup), 0o644))
			}
			got, err := ContainerOfPID(proc, 42)
			assert.ErrorIs(t, err, tt.wantErr)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestContainerOfPIDOnThisHost(t *testing.T) {
	_, err := ContainerOfPID("/proc", os.Getpid())
	assert.ErrorIs(t, err, ErrNotAContainer, "this test runs outside a container")
	_, err = ContainerOfPID("/proc", 1<<30)
	assert.ErrorIs(t, err, ErrProcessGone)
}

func TestContainerOfPIDAt(t *testing.T) {
	const id = "3f1c9b8a7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a"
	boot := time.Unix(1796180000, 0)
	proc := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(proc, "42"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(proc, "stat"), []byte("cpu  1 2 3\nbtime 1796180000\nprocesses 9\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(proc, "42", "cgroup"), []byte("0::/"+id+"\n"), 0o644))
	// Started 1000 s after boot; the command has a space and a parenthesis.
	stat := "42 (my (app)) S 1 42 42 0 -1 4194560 100 0 0 0 1 1 0 0 20 0 1 0 100000 1000 100 18446744073709551615"
	require.NoError(t, os.WriteFile(filepath.Join(proc, "42", "stat"), []byte(stat), 0o644))
	tests := []struct {
		name    string
		at      time.Time
		want    string
		wantErr error
	}{
		{name: "record after the process started", at: boot.Add(2000 * time.Second), want: id},
		{name: "record within the second it started", at: boot.Add(999500 * time.Millisecond), want: id},
		{name: "record before the process started: the PID was reused", at: boot.Add(500 * time.Second), wantErr: ErrProcessGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ContainerOfPIDAt(proc, 42, tt.at)
			assert.ErrorIs(t, err, tt.wantErr)
			assert.Equal(t, tt.want, got)
		})
	}
	t.Run("this process", func(t *testing.T) {
		started, err := processStart("/proc", os.Getpid())
		require.NoError(t, err)
		assert.WithinDuration(t, time.Now(), started, 10*time.Minute, "start of pid %d", os.Getpid())
	})
	t.Run("bad stat", func(t *testing.T) {
		require.NoError(t, os.WriteFile(filepath.Join(proc, "42", "stat"), []byte("42 (x) S 1"), 0o644))
		_, err := processStart(proc, 42)
		assert.EqualError(t, err, fmt.Sprintf("%s/42/stat has 2 fields after the command, want 20 or more", proc))
		_, err = ContainerOfPIDAt(proc, 42, boot)
		assert.NoError(t, err, "an unreadable start time does not hide the container")
		_, err = processStart(proc, 7)
		assert.ErrorIs(t, err, os.ErrNotExist, strconv.Itoa(7))
	})
}

func TestAttributor(t *testing.T) {
	const inPod = "1111111111111111111111111111111111111111111111111111111111111111"
	const later = "2222222222222222222222222222222222222222222222222222222222222222"
	const other = "3333333333333333333333333333333333333333333333333333333333333333"
	proc := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(proc, "stat"), []byte("btime 1796180000\n"), 0o644))
	for pid, cgroup := range map[int]string{1: "0::/" + inPod, 2: "0::/" + later, 3: "0::/" + other, 4: "0::/system.slice/sshd.service"} {
		dir := filepath.Join(proc, strconv.Itoa(pid))
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup"), []byte(cgroup+"\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "stat"), []byte(strconv.Itoa(pid)+" (sh) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0"), 0o644))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(proc, "5", "cgroup"), 0o755)) // a directory: unreadable as a file

	index := NewPodIndex()
	index.Upsert(testPod("u1", "web-abc-1", map[string]string{"app": inPod}))
	refreshed := 0
	a := &Attributor{ProcRoot: proc, Pods: index, Refresh: func() {
		refreshed++
		index.Upsert(testPod("u2", "web-abc-2", map[string]string{"app": later}))
	}}
	at := time.Unix(1796180100, 0)
	web := func(pod string) PodContainer {
		uid := map[string]types.UID{"web-abc-1": "u1", "web-abc-2": "u2"}[pod]
		return PodContainer{Namespace: "shop", Pod: pod, UID: uid, Container: "app", Workload: "Deployment/web", Profile: "localhost/profiles/no-mkdir.json"}
	}
	tests := []struct {
		name string
		pid  int
		at   time.Time
		want Attribution
	}{
		{name: "pod in the index", pid: 1, at: at, want: Attribution{Origin: OriginPod, ContainerID: inPod, Pod: web("web-abc-1")}},
		{name: "pod found after a refresh", pid: 2, at: at, want: Attribution{Origin: OriginPod, ContainerID: later, Pod: web("web-abc-2")}},
		{name: "container of no known pod", pid: 3, at: at, want: Attribution{Origin: OriginContainer, ContainerID: other}},
		{name: "host process", pid: 4, at: at, want: Attribution{Origin: OriginHost}},
		{name: "exited", pid: 6, at: at, want: Attribution{Origin: OriginExited}},
		{name: "PID reused since the record", pid: 1, at: time.Unix(1796179000, 0), want: Attribution{Origin: OriginExited}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, a.Attribute(Record{PID: tt.pid, Time: tt.at}))
		})
	}
	assert.Equal(t, 2, refreshed, "a refresh for each container ID not in the index")
	t.Run("unreadable cgroup file", func(t *testing.T) {
		got := a.Attribute(Record{PID: 5, Time: at})
		assert.Equal(t, OriginUnknown, got.Origin)
		assert.EqualError(t, got.Err, "read "+filepath.Join(proc, "5", "cgroup")+": is a directory")
	})
	t.Run("without pods", func(t *testing.T) {
		got := (&Attributor{ProcRoot: proc}).Attribute(Record{PID: 1, Time: at})
		assert.Equal(t, Attribution{Origin: OriginContainer, ContainerID: inPod}, got)
	})
}
