package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// requestUID finds the uid of an AdmissionReview's request without decoding
// the object: the API server (and NewReview) writes "uid" first in
// "request". A body of another shape is decoded for request.uid alone.
func requestUID(body []byte) (string, error) {
	const key = `"request":{"uid":"`
	if i := bytes.Index(body, []byte(key)); i >= 0 {
		rest := body[i+len(key):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 {
			return string(rest[:j]), nil
		}
	}
	var review struct {
		Request *struct {
			UID string `json:"uid"`
		} `json:"request"`
	}
	if err := json.Unmarshal(body, &review); err != nil {
		return "", fmt.Errorf("the body is not an AdmissionReview: %w", err)
	}
	if review.Request == nil || review.Request.UID == "" {
		return "", errors.New("the AdmissionReview has no request.uid")
	}
	return review.Request.UID, nil
}

// NoopResponse is the answer that allows the review with uid.
func NoopResponse(uid string) []byte {
	b := make([]byte, 0, 128)
	b = append(b, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":`...)
	u, _ := json.Marshal(uid)
	b = append(b, u...)
	return append(b, `,"allowed":true}}`...)
}

// noopHandler allows every review: the floor of an HTTPS webhook.
func noopHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST an AdmissionReview", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	uid, err := requestUID(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(NoopResponse(uid))
}

// runNoop is `load noop`: an HTTPS server on 127.0.0.1 that allows every
// review on any path, and a plain HTTP /metrics with
// go_memstats_mallocs_total and a request counter.
func runNoop(args []string) error {
	fs := flag.NewFlagSet("noop", flag.ContinueOnError)
	port := fs.Int("port", 9443, "HTTPS port on 127.0.0.1")
	metricsPort := fs.Int("metrics-port", 0, "plain HTTP port on 127.0.0.1 for /metrics (0: none)")
	cert := fs.String("tls-cert-file", "", "serving certificate (PEM)")
	key := fs.String("tls-key-file", "", "serving key (PEM)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cert == "" || *key == "" {
		return errors.New("noop: give -tls-cert-file and -tls-key-file, the serving certificate and key")
	}
	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		return fmt.Errorf("noop: loading the serving certificate: %w", err)
	}
	var served countingHandler
	mux := http.NewServeMux()
	mux.Handle("/", &served)
	srv := &http.Server{
		Addr:              fmt.Sprintf("127.0.0.1:%d", *port),
		Handler:           mux,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}},
		ReadHeaderTimeout: 10 * time.Second,
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){}, // HTTP/1.1: what the load client speaks
	}
	if *metricsPort != 0 {
		metrics := &http.Server{Addr: fmt.Sprintf("127.0.0.1:%d", *metricsPort), ReadHeaderTimeout: 10 * time.Second,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				fmt.Fprintf(w, "go_memstats_mallocs_total %d\nnoop_requests_total %d\n", m.Mallocs, served.n.Load())
			})}
		go func() { _ = metrics.ListenAndServe() }()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServeTLS("", ""); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// countingHandler is noopHandler with a count of the reviews it answered.
type countingHandler struct{ n atomic.Int64 }

func (c *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	noopHandler(w, r)
}
