package framework

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// BuildBinary builds cmd/seccomp-guard into dir and returns its path.
func BuildBinary(dir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "seccomp-guard")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/seccomp-guard")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/seccomp-guard: %w\n%s", err, b)
	}
	return out, nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var errKilled = errors.New("killed")

// Process is a program (a seccomp-guard subcommand, a cluster component) running as a child process, its
// output going to a log file that is kept for a failed test.
type Process struct {
	Name    string
	Cmd     *exec.Cmd
	LogPath string

	mu     sync.Mutex
	done   chan struct{}
	waited error
}

// StartProcess runs bin with args, logging to dir/name.log.
func StartProcess(dir, name, bin string, args ...string) (*Process, error) {
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group: a Ctrl-C in the terminal reaches only the test
	// process, whose signal handler then stops everything in order. Killed
	// if the test process dies without stopping it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{Name: name, Cmd: cmd, LogPath: logPath, done: make(chan struct{})}
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

// Exited reports whether the process has exited, and its error.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.waited
	default:
		return false, nil
	}
}

// Signal sends sig and waits up to timeout for the process to exit.
func (p *Process) Signal(sig os.Signal, timeout time.Duration) error {
	if exited, err := p.Exited(); exited {
		return err
	}
	_ = p.Cmd.Process.Signal(sig)
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.waited
	case <-time.After(timeout):
		_ = p.Cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within %s of %s: %w", p.Name, timeout, sig, errKilled)
	}
}

// Wait waits up to timeout for the process to exit on its own and returns how it exited.
func (p *Process) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.waited
	case <-time.After(timeout):
		return fmt.Errorf("%s did not exit within %s", p.Name, timeout)
	}
}

// StopWithin sends SIGTERM and waits up to timeout, then SIGKILLs. How the
// process exits on SIGTERM does not matter (kube-scheduler exits 1); an error
// means it had to be killed.
func (p *Process) StopWithin(timeout time.Duration) error {
	err := p.Signal(syscall.SIGTERM, timeout)
	if errors.Is(err, errKilled) {
		return err
	}
	return nil
}

// Stop ends the process: SIGTERM, then SIGKILL after 20 s.
func (p *Process) Stop() error {
	return p.Signal(syscall.SIGTERM, 20*time.Second)
}

// Log returns what the process wrote so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

var webhookCount atomic.Int32

// Webhook is a running `seccomp-guard webhook`.
type Webhook struct {
	*Process
	Port        int
	ProbePort   int
	MetricsPort int
	CertDir     string
	CA          *CA
}

// StartWebhook starts the webhook with a fresh CA and serving certificate
// and waits until /readyz answers.
func StartWebhook(ctx context.Context, cp *ControlPlane, bin string, extraArgs ...string) (*Webhook, error) {
	ca, err := NewCA()
	if err != nil {
		return nil, err
	}
	// The first webhook of a control plane logs to webhook.log; more
	// instances get their own names, logs and certificates.
	name := "webhook"
	if n := webhookCount.Add(1); n > 1 {
		name = fmt.Sprintf("webhook-%d", n)
	}
	w := &Webhook{CA: ca, CertDir: filepath.Join(cp.Dir, name+"-certs")}
	if _, err := ca.WriteServingCert(w.CertDir); err != nil {
		return nil, err
	}
	for _, p := range []*int{&w.Port, &w.ProbePort, &w.MetricsPort} {
		if *p, err = FreePort(); err != nil {
			return nil, err
		}
	}
	args := append([]string{"webhook",
		"--kubeconfig", cp.Kubeconfig,
		"--port", strconv.Itoa(w.Port),
		"--cert-dir", w.CertDir,
		"--health-probe-bind-address", "127.0.0.1:" + strconv.Itoa(w.ProbePort),
		"--metrics-bind-address", "127.0.0.1:" + strconv.Itoa(w.MetricsPort),
		"--inventory-namespace", v1alpha1.DefaultReleaseNamespace,
		"--graceful-shutdown-timeout", "10s",
	}, extraArgs...)
	if w.Process, err = StartProcess(cp.Dir, name, bin, args...); err != nil {
		return nil, err
	}
	if err := w.WaitReady(ctx, 60*time.Second); err != nil {
		_ = w.Stop()
		return nil, fmt.Errorf("%w\nwebhook log:\n%s", err, w.Log())
	}
	return w, nil
}

// WaitReady polls /readyz.
func (w *Webhook) WaitReady(ctx context.Context, timeout time.Duration) error {
	return w.WaitReadyz(ctx, w.ProbePort, timeout)
}

// WaitReadyz polls the process's /readyz on 127.0.0.1:port until it answers
// 200, and gives up at once if the process exits.
func (p *Process) WaitReadyz(ctx context.Context, port int, timeout time.Duration) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	return Poll(ctx, 200*time.Millisecond, timeout, "the "+p.Name+" to be ready", func(ctx context.Context) error {
		if exited, err := p.Exited(); exited {
			return Abort(fmt.Errorf("the %s exited before it was ready: %w\n%s", p.Name, err, p.Log()))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz answered %s", resp.Status)
		}
		return nil
	})
}

// ServingSerial connects to the webhook and returns the serial number of the
// certificate it presents, and the negotiated protocol.
func (w *Webhook) ServingSerial() (int64, string, error) {
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", w.Port), &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // we only read the certificate the server presents
		NextProtos:         []string{"h2", "http/1.1"},
	})
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	state := conn.ConnectionState()
	if len(state.PeerCertificates) == 0 {
		return 0, "", errors.New("no certificate presented")
	}
	return state.PeerCertificates[0].SerialNumber.Int64(), state.NegotiatedProtocol, nil
}

// WebhookProcesses is a Suite.Processes for packages whose only process is
// the webhook *w points to (nil until Setup starts it).
func WebhookProcesses(w **Webhook) func() []*Process {
	return func() []*Process {
		if *w == nil || (*w).Process == nil {
			return nil
		}
		return []*Process{(*w).Process}
	}
}
