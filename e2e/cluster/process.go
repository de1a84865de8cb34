package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// component is one of the cluster's processes, its output in LogDir.
type component struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd

	mu     sync.Mutex
	done   chan struct{}
	waited error
}

// startProcess starts a component with its log in LogDir. It runs in its own
// process group, so that a Ctrl-C in the terminal reaches only the test
// process, whose signal handler then stops the cluster in order (containerd
// must still run to remove the containers); and it is killed if the test
// process dies without stopping it.
func (c *Cluster) startProcess(name, bin string, args ...string) (*component, error) {
	logPath := filepath.Join(c.LogDir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &component{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		logFile.Close()
		p.mu.Lock()
		p.waited = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// Exited reports whether the process has exited, and how.
func (p *component) Exited() (bool, error) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.waited
	default:
		return false, nil
	}
}

// stop sends SIGTERM and waits up to timeout, then SIGKILLs. How a
// component exits on SIGTERM (kube-scheduler exits 1,
// kube-controller-manager dies of the signal) does not matter; an error
// means it had to be killed.
func (p *component) stop(timeout time.Duration) error {
	if exited, _ := p.Exited(); exited {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within %s of SIGTERM; killed", p.Name, timeout)
	}
}

// exitStatus describes how a process ended.
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
