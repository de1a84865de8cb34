package framework

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Poll calls check at once and then every interval until it returns nil, for
// at most timeout or until ctx ends. check's error says why the wait is not
// over yet; a timeout fails with "timed out after <timeout> waiting for
// <what>; last: <check's last error>". A check that returns Abort(err) ends
// the wait at once with err.
func Poll(ctx context.Context, interval, timeout time.Duration, what string, check func(ctx context.Context) error) error {
	var last, aborted error
	err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, func(pollCtx context.Context) (bool, error) {
		err := check(pollCtx)
		var a abortError
		if errors.As(err, &a) {
			aborted = a.err
			return false, a.err
		}
		// A check cut short by the deadline (or by a client rate limiter
		// that sees the deadline coming) says nothing new: keep the answer
		// before it.
		cutShort := pollCtx.Err() != nil || (err != nil && strings.Contains(err.Error(), "would exceed context deadline"))
		if err == nil || !cutShort || last == nil {
			last = err
		}
		return err == nil, nil
	})
	switch {
	case err == nil:
		return nil
	case aborted != nil:
		return aborted
	case ctx.Err() != nil:
		return fmt.Errorf("stopped waiting for %s: %w; last: %w", what, ctx.Err(), last)
	}
	return fmt.Errorf("timed out after %s waiting for %s; last: %w", timeout, what, last)
}

// Abort wraps the error a Poll check returns to end the wait at once, e.g.
// when the process it waits for has exited.
func Abort(err error) error { return abortError{err: err} }

type abortError struct{ err error }

func (e abortError) Error() string { return e.err.Error() }
func (e abortError) Unwrap() error { return e.err }
