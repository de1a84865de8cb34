package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
)

// The webhook server's limits per connection. The API server sends small
// headers and a body of at most a few MiB at once, and waits at most 30s
// (a webhook's timeoutSeconds); a client that trickles bytes is not the
// API server, and must not hold a connection or its buffers for long.
const (
	// ServerReadHeaderTimeout bounds the TLS handshake and the request headers.
	ServerReadHeaderTimeout = 5 * time.Second
	// ServerReadTimeout bounds reading a whole request, headers and body.
	ServerReadTimeout = 15 * time.Second
	// ServerWriteTimeout bounds the time from the end of the headers to the
	// end of the response: above the longest webhook timeout the API server
	// allows (30s).
	ServerWriteTimeout = 35 * time.Second
	// ServerIdleTimeout closes a keep-alive connection idle that long. It
	// matches the API server's client side (90s), as controller-runtime's
	// server does: closing first would race with its next request.
	ServerIdleTimeout = 90 * time.Second
	// ServerMaxHeaderBytes bounds the request headers (Go's default is 1 MiB).
	ServerMaxHeaderBytes = 64 << 10
)

// Server is the webhook server: controller-runtime's webhook server for
// registering handlers (with its per-webhook metrics), TLS options and
// certwatcher, serving through an http.Server with the limits above, which
// controller-runtime's does not let one set (its read-header timeout is
// 32s, it has no read timeout, and headers may take 1 MiB).
type Server struct {
	*crwebhook.DefaultServer
	started atomic.Bool
}

var _ crwebhook.Server = (*Server)(nil)

// NewServer returns a Server for opts. opts.WebhookMux is set when empty.
func NewServer(opts crwebhook.Options) *Server {
	if opts.WebhookMux == nil {
		opts.WebhookMux = http.NewServeMux()
	}
	return &Server{DefaultServer: &crwebhook.DefaultServer{Options: opts}}
}

// newHTTPServer returns the http.Server with the limits.
func newHTTPServer(ctx context.Context, handler http.Handler) *http.Server {
	return &http.Server{
		BaseContext:       func(net.Listener) context.Context { return ctx },
		Handler:           handler,
		ReadHeaderTimeout: ServerReadHeaderTimeout,
		ReadTimeout:       ServerReadTimeout,
		WriteTimeout:      ServerWriteTimeout,
		IdleTimeout:       ServerIdleTimeout,
		MaxHeaderBytes:    ServerMaxHeaderBytes,
	}
}

// Start implements crwebhook.Server: it serves until ctx ends, then drains
// in-flight requests for up to a minute (the manager's graceful shutdown
// timeout bounds it).
func (s *Server) Start(ctx context.Context) error {
	o := s.serverOptions()
	cfg := &tls.Config{NextProtos: []string{"h2"}}
	for _, op := range o.TLSOpts {
		op(cfg)
	}
	if cfg.GetCertificate == nil {
		watcher, err := certwatcher.New(filepath.Join(o.CertDir, o.CertName), filepath.Join(o.CertDir, o.KeyName))
		if err != nil {
			return fmt.Errorf("loading the webhook's serving certificate from %s: %w", o.CertDir, err)
		}
		cfg.GetCertificate = watcher.GetCertificate
		go func() {
			if err := watcher.Start(ctx); err != nil {
				log.FromContext(ctx).Error(err, "the serving certificate's watcher stopped")
			}
		}()
	}
	if o.ClientCAName != "" {
		// One way to require client certificates: --client-ca-file, through TLSOpts.
		return errors.New("webhook.Server does not read Options.ClientCAName; pass RequireClientCertificates in TLSOpts")
	}
	ln, err := tls.Listen("tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)), cfg)
	if err != nil {
		return fmt.Errorf("listening for webhook requests: %w", err)
	}
	// Options.WebhookMux, not WebhookMux(): that is nil until the first
	// Register, and a nil handler would serve http.DefaultServeMux.
	srv := newHTTPServer(ctx, o.WebhookMux)
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil {
			log.FromContext(ctx).Error(err, "shutting down the webhook server")
		}
	}()
	s.started.Store(true)
	log.FromContext(ctx).Info("serving webhooks", "host", o.Host, "port", o.Port)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-done
	return nil
}

// serverOptions returns the options with controller-runtime's defaults.
func (s *Server) serverOptions() crwebhook.Options {
	o := s.Options
	if o.Port == 0 {
		o.Port = crwebhook.DefaultPort
	}
	if o.CertDir == "" {
		o.CertDir = filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs")
	}
	if o.CertName == "" {
		o.CertName = "tls.crt"
	}
	if o.KeyName == "" {
		o.KeyName = "tls.key"
	}
	return o
}

// StartedChecker implements crwebhook.Server: healthy once the server
// serves and a TLS connection to it succeeds.
func (s *Server) StartedChecker() healthz.Checker {
	return func(*http.Request) error {
		if !s.started.Load() {
			return errors.New("the webhook server has not started yet")
		}
		o := s.serverOptions()
		d := &net.Dialer{Timeout: 10 * time.Second}
		conn, err := tls.DialWithDialer(d, "tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a reachability probe of our own port
		if err != nil {
			return fmt.Errorf("the webhook server is not reachable: %w", err)
		}
		return conn.Close()
	}
}
