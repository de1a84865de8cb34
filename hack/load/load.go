package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Outcome classifies one request. Nothing is retried: each failure counts once.
type Outcome int

// The outcomes; OK is the only success.
const (
	OK             Outcome = iota
	Transport              // no HTTP response (connection refused, reset, timeout, TLS)
	BadStatus              // an HTTP status other than 200
	Undecodable            // a 200 whose body is not an AdmissionReview with a response
	AllowedMissing         // a response without the allowed field
	UIDMismatch            // a response whose uid is not the request's
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "transport", "status", "undecodable", "allowed-missing", "uid-mismatch"}

func (o Outcome) String() string { return outcomeNames[o] }

// CheckResponse classifies a 200 answer to the review with uid: it must be
// an AdmissionReview whose response carries the same uid and an allowed
// field (true or false: a denial is an answer, and the fixtures are meant
// to be allowed, which Run reports separately).
func CheckResponse(body []byte, uid string) (Outcome, bool) {
	var review struct {
		Response *struct {
			UID     string `json:"uid"`
			Allowed *bool  `json:"allowed"`
		} `json:"response"`
	}
	if err := json.Unmarshal(body, &review); err != nil || review.Response == nil {
		return Undecodable, false
	}
	if review.Response.Allowed == nil {
		return AllowedMissing, false
	}
	if review.Response.UID != uid {
		return UIDMismatch, false
	}
	return OK, *review.Response.Allowed
}

// Counts are the outcomes of a run, and how many OK answers denied.
type Counts struct {
	By      [numOutcomes]int
	Denied  int
	Missed  int    // -rate only: ticks when every worker was busy (the generator could not keep up)
	Example string // the first failure, for the report
}

// Errors is the number of failed requests.
func (c *Counts) Errors() int {
	n := 0
	for o := Transport; o < numOutcomes; o++ {
		n += c.By[o]
	}
	return n
}

// String lists the non-zero failure counts, e.g. "status=3 transport=1".
func (c *Counts) String() string {
	var b bytes.Buffer
	for o := Transport; o < numOutcomes; o++ {
		if c.By[o] > 0 {
			fmt.Fprintf(&b, "%s=%d ", o, c.By[o])
		}
	}
	if c.Denied > 0 {
		fmt.Fprintf(&b, "denied=%d ", c.Denied)
	}
	if c.Missed > 0 {
		fmt.Fprintf(&b, "missed=%d ", c.Missed)
	}
	if b.Len() == 0 {
		return "none"
	}
	return string(bytes.TrimSpace(b.Bytes()))
}

func (c *Counts) add(o Counts) {
	for i := range c.By {
		c.By[i] += o.By[i]
	}
	c.Denied += o.Denied
	c.Missed += o.Missed
	if c.Example == "" {
		c.Example = o.Example
	}
}

// Load is one load run against one URL.
type Load struct {
	URL         string
	Review      *Review
	Client      *http.Client
	Concurrency int           // workers, each with its own keep-alive connection
	Rate        float64       // requests per second in total; 0 sends as fast as the workers answer
	Duration    time.Duration // how long to send
	Timeout     time.Duration // per request
}

// Result is what a run measured.
type Result struct {
	Elapsed   time.Duration
	Latencies []time.Duration // of OK requests
	Counts    Counts
}

// Throughput is OK answers per second.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(len(r.Latencies)) / r.Elapsed.Seconds()
}

var uidCounter atomic.Uint64

// Run sends reviews until Duration has passed. With Rate 0 each worker sends
// its next request when the previous one is answered (closed loop); with a
// Rate, requests are due at fixed intervals and a free worker takes each
// one, its latency counted from when it was due (open loop, so that a slow
// server's queueing is measured, not hidden).
func (l *Load) Run(ctx context.Context) Result {
	ctx, cancel := context.WithTimeout(ctx, l.Duration)
	defer cancel()
	var due chan time.Time
	var missed atomic.Int64
	if l.Rate > 0 {
		due = make(chan time.Time, l.Concurrency)
		go func() {
			interval := time.Duration(float64(time.Second) / l.Rate)
			next := time.Now()
			defer close(due)
			for {
				if d := time.Until(next); d > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(d):
					}
				} else if ctx.Err() != nil {
					return
				}
				select {
				case due <- next:
				default:
					missed.Add(1)
				}
				next = next.Add(interval)
			}
		}()
	}
	results := make([]Result, l.Concurrency)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range l.Concurrency {
		wg.Go(func() { results[w] = l.worker(ctx, due) })
	}
	wg.Wait()
	total := Result{Elapsed: time.Since(start)}
	for _, r := range results {
		total.Latencies = append(total.Latencies, r.Latencies...)
		total.Counts.add(r.Counts)
	}
	total.Counts.Missed = int(missed.Load())
	return total
}

func (l *Load) worker(ctx context.Context, due <-chan time.Time) Result {
	var res Result
	buf := make([]byte, 0, l.Review.Len())
	for {
		var sent time.Time
		if due != nil {
			t, ok := <-due
			if !ok {
				return res
			}
			sent = t
		} else {
			if ctx.Err() != nil {
				return res
			}
			sent = time.Now()
		}
		uid := UID(uidCounter.Add(1))
		buf = l.Review.AppendBody(buf[:0], uid)
		outcome, allowed, detail := l.do(buf, uid)
		if outcome == OK {
			res.Latencies = append(res.Latencies, time.Since(sent))
			if !allowed {
				res.Counts.Denied++
			}
		} else if res.Counts.Example == "" {
			res.Counts.Example = fmt.Sprintf("%s: %s", outcome, detail)
		}
		res.Counts.By[outcome]++
	}
}

// do sends one review; it does not take ctx so that a request in flight at
// the end of the run is answered, not cancelled and counted as an error.
func (l *Load) do(body []byte, uid string) (Outcome, bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), l.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.URL, bytes.NewReader(body))
	if err != nil {
		return Transport, false, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.Client.Do(req)
	if err != nil {
		return Transport, false, err.Error()
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return Transport, false, err.Error()
	}
	if resp.StatusCode != http.StatusOK {
		return BadStatus, false, fmt.Sprintf("%s: %.200s", resp.Status, answer)
	}
	o, allowed := CheckResponse(answer, uid)
	return o, allowed, fmt.Sprintf("%.200s", answer)
}

// NewClient is the HTTP/1.1 client of every run: up to conns keep-alive
// connections to one host, verified against the PEM CA bundle in caFile
// unless insecure.
func NewClient(caFile string, insecure bool, conns int) (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	switch {
	case insecure:
		cfg.InsecureSkipVerify = true //nolint:gosec // asked for with -insecure
	case caFile != "":
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca-file %s holds no PEM certificate: give the CA bundle that signed the webhook's serving certificate", caFile)
		}
		cfg.RootCAs = pool
	default:
		return nil, errors.New("give -ca-file (the CA bundle of the webhook's serving certificate) or -insecure")
	}
	return newClient(cfg, conns), nil
}

func newClient(cfg *tls.Config, conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:     cfg,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{}, // HTTP/1.1 only
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}}
}

// TLSVersion dials url's host once and names the negotiated TLS version.
func TLSVersion(client *http.Client, host string) (string, error) {
	tr := client.Transport.(*http.Transport)
	conn, err := tls.Dial("tcp", host, tr.TLSClientConfig)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return tls.VersionName(conn.ConnectionState().Version), nil
}
