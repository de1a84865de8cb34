package leader_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/webhook"
)

// Short timings: the Lease holds 2 s, the leader gives up renewing after
// 1 s, candidates retry every 250 ms (the Lease's duration is in whole
// seconds).
const (
	leaseDuration = 2 * time.Second
	renewDeadline = time.Second
	retryPeriod   = 250 * time.Millisecond
	// lossWithin bounds how long a cut-off leader takes to stop leading:
	// the renew deadline after its last renewal (at most a retry period
	// ago), plus one request's timeout (1 s) for the release it attempts.
	lossWithin = renewDeadline + retryPeriod + time.Second + time.Second
	// takeoverWithin bounds how long the other candidate takes to lead:
	// the Lease's duration after it last saw it renewed, a retry (with
	// jitter) and slack.
	takeoverWithin = leaseDuration + 2*retryPeriod + 2*time.Second
)

// TestElectorSurvivesOutages: two candidates on one Lease; the leader is
// cut off from the API server for longer than the renew deadline, then
// both are: each time the leader's work stops, the candidate goes on
// campaigning (its Start does not return), and once the API server is
// reachable again a candidate leads and its work starts again.
func TestElectorSurvivesOutages(t *testing.T) {
	ctx, cancel := context.WithCancel(logr.NewContext(context.Background(), testr.New(t)))
	defer cancel()
	a, b := startCandidate(ctx, t, "a", nil), startCandidate(ctx, t, "b", nil)

	leader := waitForOneLeader(t, a, b, 10*time.Second)
	follower := other(leader, a, b)
	leader.work.waitStarted(t, time.Second)
	assertHolder(t, leader.elector.Identity())
	if follower.work.starts() != 0 {
		t.Fatalf("candidate %s ran the leader work without leading", follower.name)
	}

	t.Run("the leader is cut off for longer than the renew deadline", func(t *testing.T) {
		leader.proxy.setDown(true)
		start := time.Now()
		leader.work.waitStopped(t, lossWithin)
		if leader.elector.Leading() {
			t.Errorf("candidate %s still says it leads after its leader work stopped", leader.name)
		}
		t.Logf("candidate %s stopped its leader work %s after it was cut off", leader.name, time.Since(start).Round(10*time.Millisecond))
		follower.work.waitStarted(t, takeoverWithin)
		if !follower.elector.Leading() {
			t.Errorf("candidate %s runs the leader work but does not say it leads", follower.name)
		}
		t.Logf("candidate %s took over %s after the leader was cut off", follower.name, time.Since(start).Round(10*time.Millisecond))
		leader.proxy.setDown(false)
		assertHolder(t, follower.elector.Identity())
		leader.assertRunning(t)
	})
	leader, follower = follower, leader

	t.Run("every candidate is cut off, then the API server is back", func(t *testing.T) {
		a.proxy.setDown(true)
		b.proxy.setDown(true)
		leader.work.waitStopped(t, lossWithin)
		if a.elector.Leading() || b.elector.Leading() {
			t.Fatalf("a candidate leads without reaching the API server (a %v, b %v)", a.elector.Leading(), b.elector.Leading())
		}
		a.proxy.setDown(false)
		b.proxy.setDown(false)
		back := time.Now()
		next := waitForOneLeader(t, a, b, takeoverWithin)
		next.work.waitStarted(t, time.Second)
		t.Logf("candidate %s leads again %s after the API server was back", next.name, time.Since(back).Round(10*time.Millisecond))
		assertHolder(t, next.elector.Identity())
		a.assertRunning(t)
		b.assertRunning(t)
		leader = next
	})

	t.Run("on shutdown the leader stops its work, then releases the Lease", func(t *testing.T) {
		cancel()
		for _, c := range []*candidate{a, b} {
			select {
			case err := <-c.returned:
				if err != nil {
					t.Errorf("candidate %s: Start returned %v, want nil", c.name, err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("candidate %s did not return within 5s of the shutdown", c.name)
			}
		}
		leader.work.waitStopped(t, 0)
		assertHolder(t, "")
	})
}

// candidate is one Elector with its proxy and leader work.
type candidate struct {
	name     string
	elector  *webhook.Elector
	proxy    *proxy
	work     *work
	returned chan error
}

// startCandidate starts an Elector named name whose leader work is w, or
// a new work when nil.
func startCandidate(ctx context.Context, t *testing.T, name string, w manager.Runnable) *candidate {
	t.Helper()
	p := startProxy(t, cp.Config.Host)
	cfg := rest.CopyConfig(cp.Config)
	cfg.Host = "https://" + p.addr()
	e, err := webhook.NewElector(cfg, webhook.ElectorOptions{
		Namespace:     namespace,
		Identity:      name,
		LeaseDuration: leaseDuration,
		RenewDeadline: renewDeadline,
		RetryPeriod:   retryPeriod,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &candidate{name: name, elector: e, proxy: p, returned: make(chan error, 1)}
	switch r := w.(type) {
	case nil:
		c.work = &work{started: make(chan struct{}, 10), stopped: make(chan struct{}, 10)}
		w = c.work
	case *failingWork:
		c.work = &r.work
	}
	if err := e.Add(w); err != nil {
		t.Fatal(err)
	}
	go func() { c.returned <- e.Start(ctx) }()
	return c
}

// assertRunning fails the test if the candidate's Start has returned.
func (c *candidate) assertRunning(t *testing.T) {
	t.Helper()
	select {
	case err := <-c.returned:
		t.Fatalf("candidate %s stopped campaigning: Start returned %v", c.name, err)
	default:
	}
}

func other(c, a, b *candidate) *candidate {
	if c == a {
		return b
	}
	return a
}

// waitForOneLeader waits until exactly one candidate leads.
func waitForOneLeader(t *testing.T, a, b *candidate, timeout time.Duration) *candidate {
	t.Helper()
	var leader *candidate
	err := framework.Poll(context.Background(), 50*time.Millisecond, timeout, "one candidate to lead", func(context.Context) error {
		switch la, lb := a.elector.Leading(), b.elector.Leading(); {
		case la && lb:
			return framework.Abort(errors.New("both candidates lead"))
		case la:
			leader = a
		case lb:
			leader = b
		default:
			return errors.New("no candidate leads")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return leader
}

// holder is the Lease's holderIdentity; "" when there is no Lease yet.
func holder(t *testing.T) string {
	t.Helper()
	var lease coordinationv1.Lease
	err := cp.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: webhook.LeaderElectionID}, &lease)
	if apierrors.IsNotFound(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	if lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

// assertHolder checks the Lease's holderIdentity.
func assertHolder(t *testing.T, want string) {
	t.Helper()
	if got := holder(t); got != want {
		t.Errorf("Lease %s/%s: holderIdentity %q, want %q", namespace, webhook.LeaderElectionID, got, want)
	}
}

// work is leader work that records when it starts and when its context
// ends.
type work struct {
	mu         sync.Mutex
	started    chan struct{}
	stopped    chan struct{}
	startCount int
}

func (w *work) Start(ctx context.Context) error {
	w.mu.Lock()
	w.startCount++
	w.mu.Unlock()
	w.started <- struct{}{}
	<-ctx.Done()
	w.stopped <- struct{}{}
	return nil
}

func (w *work) starts() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.startCount
}

func (w *work) waitStarted(t *testing.T, within time.Duration) {
	t.Helper()
	wait(t, w.started, within, "the leader work to start")
}

// waitStopped waits for the work's context to end; within 0: it must have.
func (w *work) waitStopped(t *testing.T, within time.Duration) {
	t.Helper()
	wait(t, w.stopped, within, "the leader work's context to end")
}

func wait(t *testing.T, ch <-chan struct{}, within time.Duration, what string) {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case <-ch:
	case <-timer.C:
		// One more look: a zero within means "by now".
		select {
		case <-ch:
		default:
			t.Fatalf("waited %s for %s", within, what)
		}
	}
}

// proxy forwards TCP connections to the API server; down, it cuts every
// connection and closes new ones at once.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
}

func startProxy(t *testing.T, apiserver string) *proxy {
	t.Helper()
	u, err := url.Parse(apiserver)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: u.Host, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.setDown(true)
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(in)
	}
}

func (p *proxy) forward(in net.Conn) {
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = in.Close()
		return
	}
	if !p.track(in, out) {
		_ = in.Close()
		_ = out.Close()
		return
	}
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		_ = dst.Close()
		_ = src.Close()
	}
	wg.Add(2)
	go pipe(out, in)
	go pipe(in, out)
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, in)
	delete(p.conns, out)
	p.mu.Unlock()
}

// track records a forwarded pair, unless the proxy is down.
func (p *proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if !down {
		return
	}
	for c := range p.conns {
		_ = c.Close()
	}
}

// failingWork fails at once the first time it runs, then runs as work does.
type failingWork struct {
	work
	failed bool
}

func (w *failingWork) Start(ctx context.Context) error {
	w.mu.Lock()
	first := !w.failed
	w.failed = true
	w.mu.Unlock()
	if first {
		return errors.New("the test's leader work fails")
	}
	return w.work.Start(ctx)
}

// TestElectorStepsDownWhenWorkFails: leader work that fails makes its
// candidate give up the Lease, which the other takes within a retry
// period, and campaign again (Start does not return).
func TestElectorStepsDownWhenWorkFails(t *testing.T) {
	ctx, cancel := context.WithCancel(logr.NewContext(context.Background(), testr.New(t)))
	defer cancel()
	// The Lease is free: released by the test before, or never taken.
	failing := &failingWork{work: work{started: make(chan struct{}, 10), stopped: make(chan struct{}, 10)}}
	a := startCandidate(ctx, t, "failing", failing)
	err := framework.Poll(ctx, 50*time.Millisecond, takeoverWithin, "the candidate "+a.name+" to lead and its work to fail", func(context.Context) error {
		if !failing.hasFailed() {
			return fmt.Errorf("its work has not run; the Lease is held by %q", holder(t))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b := startCandidate(ctx, t, "healthy", nil)
	start := time.Now()
	b.work.waitStarted(t, 2*retryPeriod+2*time.Second)
	t.Logf("candidate %s took over %s after it started", b.name, time.Since(start).Round(10*time.Millisecond))
	assertHolder(t, "healthy")
	if a.elector.Leading() {
		t.Errorf("candidate %s says it leads after its work failed", a.name)
	}
	a.assertRunning(t)
	cancel()
	for _, c := range []*candidate{a, b} {
		if err := <-c.returned; err != nil {
			t.Errorf("candidate %s: Start returned %v, want nil", c.name, err)
		}
	}
	assertHolder(t, "")
}

func (w *failingWork) hasFailed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}
