package inventory

// The agent's loop: file system watch with debounce, periodic full resync,
// retries with exponential backoff, the heartbeat timer and health probes.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
)

// Run watches, scans, writes and renews until ctx is cancelled. Errors while
// talking to the API are retried with exponential backoff; Run returns an
// error only when it cannot start.
func (a *Agent) Run(ctx context.Context) error {
	a.Options.setDefaults()
	if err := a.Options.Validate(); err != nil {
		return err
	}
	a.Log.Info("starting seccomp-guard agent", "node", a.Options.NodeName, "seccompRoot", a.Options.SeccompRoot,
		"hostRoot", a.Options.HostRoot, "resync", a.Options.Resync.String(), "leaseDuration", a.Options.LeaseDuration.String(),
		"namespace", a.Options.Namespace)

	stopHealth, err := a.serveHealth(a.Options.HealthProbeBindAddress)
	if err != nil {
		return err
	}
	defer stopHealth()
	stopMetrics, err := serveMetrics(a.Options.MetricsBindAddress)
	if err != nil {
		return err
	}
	defer stopMetrics()

	watches := newWatchSet(a.Log)
	defer watches.close()

	kick := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.renewLoop(ctx, kick)
	}()
	defer func() { <-done }()

	newBackoff := func() wait.Backoff {
		return wait.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.1, Steps: math.MaxInt32, Cap: min(30*time.Second, a.Options.Resync)}
	}
	backoff := newBackoff()
	debounce := stoppedTimer()
	retry := stoppedTimer()
	resync := time.NewTicker(a.Options.Resync)
	defer resync.Stop()
	var (
		debouncing, retrying, retryFull bool
		firstEvent                      time.Time
	)

	attempt := func(full bool) {
		for range 3 { // rescan while new directories appear, so none is missed between scan and watch
			scan, _, err := a.Sync(ctx, full)
			added := watches.update(scan.Dirs)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				delay := backoff.Step()
				syncErrors.Inc()
				a.Log.Error(err, "sync failed; retrying", "in", delay.Round(time.Millisecond).String())
				a.healthy.Store(false)
				retrying, retryFull = true, retryFull || full
				retry.Reset(delay)
				return
			}
			backoff = newBackoff()
			lastSync.SetToCurrentTime()
			if !a.healthy.Swap(true) {
				select { // renew now: the inventory is current again
				case kick <- struct{}{}:
				default:
				}
			}
			if added == 0 {
				return
			}
			full = false
		}
	}

	attempt(true)
	for {
		select {
		case <-ctx.Done():
			a.Log.Info("stopping seccomp-guard agent")
			return nil
		case ev := <-watches.events():
			a.Log.V(2).Info("file system event", "event", ev.String())
			if retrying {
				continue // the retry scans anyway
			}
			now := time.Now()
			if !debouncing {
				debouncing, firstEvent = true, now
			}
			debounce.Reset(min(a.Options.Debounce, max(0, firstEvent.Add(10*a.Options.Debounce).Sub(now))))
		case err := <-watches.errors():
			a.Log.Error(err, "watching the seccomp root; rescanning")
			if !retrying {
				debounce.Reset(a.Options.Debounce)
				debouncing = true
			}
		case <-debounce.C:
			debouncing = false
			if !retrying {
				attempt(false)
			}
		case <-resync.C:
			if retrying {
				retryFull = true
				continue
			}
			attempt(true)
		case <-retry.C:
			full := retryFull
			retrying, retryFull = false, false
			attempt(full)
		}
	}
}

func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// renewLoop renews the Lease every LeaseDuration/4 while the agent is
// healthy, and at once when kicked.
func (a *Agent) renewLoop(ctx context.Context, kick <-chan struct{}) {
	interval := a.Options.LeaseDuration / 4
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-kick:
		}
		if !a.healthy.Load() {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, max(interval, time.Second))
		err := a.RenewLease(rctx)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing {
				a.Log.Error(err, "heartbeat failed; retrying", "every", interval.String())
			}
			failing = true
		case err == nil && failing:
			a.Log.Info("heartbeat renewed again")
			failing = false
		}
	}
}

// serveHealth serves /healthz (the process runs) and /readyz (the cluster's
// inventory is current).
func (a *Agent) serveHealth(addr string) (func(), error) {
	mux := http.NewServeMux()
	mux.Handle("/healthz", http.StripPrefix("/healthz", &healthz.Handler{Checks: map[string]healthz.Checker{"ping": healthz.Ping}}))
	mux.Handle("/readyz", http.StripPrefix("/readyz", &healthz.Handler{Checks: map[string]healthz.Checker{
		"inventory": func(*http.Request) error {
			if !a.Healthy() {
				return errors.New("the inventory has not been written, or the last sync failed")
			}
			return nil
		},
	}}))
	return serve(addr, "health probes", mux)
}

// serve serves handler on addr until the returned function is called; ""
// or "0" serves nothing.
func serve(addr, what string, handler http.Handler) (func(), error) {
	if addr == "" || addr == "0" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serving %s on %s: %w", what, addr, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// watchSet keeps an fsnotify watch on each directory the last scan read
// (inotify is not recursive). Without a watcher (inotify unavailable or out
// of instances) the agent relies on the periodic resync.
type watchSet struct {
	log    logr.Logger
	w      *fsnotify.Watcher
	dirs   map[string]bool
	failed bool // a watch could not be added (logged once)
}

func newWatchSet(log logr.Logger) *watchSet {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		log.Error(err, "cannot watch the seccomp root; changes are noticed at the periodic resync only")
	}
	return &watchSet{log: log, w: w, dirs: map[string]bool{}}
}

func (ws *watchSet) events() <-chan fsnotify.Event {
	if ws.w == nil {
		return nil
	}
	return ws.w.Events
}

func (ws *watchSet) errors() <-chan error {
	if ws.w == nil {
		return nil
	}
	return ws.w.Errors
}

// update watches exactly dirs and returns how many watches it added.
func (ws *watchSet) update(dirs []string) int {
	if ws.w == nil || dirs == nil {
		return 0
	}
	want := make(map[string]bool, len(dirs))
	added := 0
	for _, d := range dirs {
		want[d] = true
		if ws.dirs[d] {
			continue
		}
		if err := ws.w.Add(d); err != nil {
			// Once at error level (typically the inotify watch limit), then quietly.
			log := ws.log.V(1)
			if !ws.failed {
				log, ws.failed = ws.log.V(0), true
			}
			log.Info("cannot watch a directory; its changes are noticed at the periodic resync (raise fs.inotify.max_user_watches?)", "dir", d, "error", err.Error())
			continue
		}
		ws.dirs[d] = true
		added++
	}
	for d := range ws.dirs {
		if !want[d] {
			_ = ws.w.Remove(d) // fails when the directory is gone, which removed the watch
			delete(ws.dirs, d)
		}
	}
	return added
}

func (ws *watchSet) close() {
	if ws.w != nil {
		_ = ws.w.Close()
	}
}
