package reporter

import (
	"errors"
	"fmt"
	"time"
)

// Options configure the reporter; `seccomp-guard reporter`'s flags set them.
type Options struct {
	Format Format
	// ReleaseNamespace holds the agents' heartbeat Leases and the
	// reporter's leader-election Lease.
	ReleaseNamespace string
	// Debounce is the quiet period after a change before a rescan; MaxWait
	// bounds the wait when changes keep coming.
	Debounce, MaxWait time.Duration
	// Resync is the period of rescans without a change: inventories go
	// stale with time, not with an event.
	Resync time.Duration
	// RetryAfter is the wait after a failed rescan.
	RetryAfter time.Duration
	// StatusInterval is the least time between two writes of the policy's
	// ladder status.
	StatusInterval time.Duration
	// MaxResults bounds the results of each report.
	MaxResults int
	// Excluded namespaces get no report and are not on the ladder: the
	// webhook configurations never send them (the chart's
	// excludedNamespaces and its release namespace).
	Excluded []string

	LeaderElection         bool
	MetricsBindAddress     string
	HealthProbeBindAddress string
}

// DefaultOptions are the flags' defaults.
func DefaultOptions() Options {
	return Options{
		Format:                 FormatOpenReports,
		Debounce:               2 * time.Second,
		MaxWait:                20 * time.Second,
		Resync:                 5 * time.Minute,
		RetryAfter:             10 * time.Second,
		StatusInterval:         10 * time.Second,
		MaxResults:             DefaultMaxResults,
		LeaderElection:         true,
		MetricsBindAddress:     ":8080",
		HealthProbeBindAddress: ":8081",
	}
}

// Validate says which flag is wrong and what it accepts.
func (o *Options) Validate() error {
	var errs []error
	if _, err := ParseFormat(string(o.Format)); err != nil {
		errs = append(errs, err)
	}
	if o.ReleaseNamespace == "" {
		errs = append(errs, errors.New("--release-namespace is required (the namespace of the agents' Leases; the chart sets it, and $POD_NAMESPACE is its default)"))
	}
	for _, d := range []struct {
		flag     string
		v, least time.Duration
	}{
		{"--debounce", o.Debounce, 0},
		{"--max-wait", o.MaxWait, o.Debounce},
		{"--resync", o.Resync, time.Second},
		{"--retry-after", o.RetryAfter, time.Second},
		{"--status-interval", o.StatusInterval, time.Second},
	} {
		if d.v < d.least {
			errs = append(errs, fmt.Errorf("%s %s is too short: it must be at least %s", d.flag, d.v, d.least))
		}
	}
	if o.MaxResults < 1 || o.MaxResults > 5000 {
		errs = append(errs, fmt.Errorf("--max-results %d is out of range: use 1 to 5000 (a report must stay under etcd's 1.5 MiB object limit)", o.MaxResults))
	}
	return errors.Join(errs...)
}

func (o *Options) excluded() map[string]bool {
	m := make(map[string]bool, len(o.Excluded))
	for _, ns := range o.Excluded {
		m[ns] = true
	}
	return m
}
