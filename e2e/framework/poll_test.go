package framework

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPoll(t *testing.T) {
	pending := errors.New("phase Pending")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name      string
		ctx       context.Context
		answers   []error // what check returns on each call; the last one repeats
		blockLate bool    // calls after the first block until the poll's deadline
		wantErr   string  // "" means nil
		wantCalls int     // 0: do not check
	}{
		{name: "done at once", answers: []error{nil}, wantCalls: 1},
		{name: "done after two tries", answers: []error{pending, pending, nil}, wantCalls: 3},
		{
			name:    "timeout says what and the last answer",
			answers: []error{errors.New("no pod yet"), pending},
			wantErr: "timed out after 100ms waiting for the pod to run; last: phase Pending",
		},
		{
			name:      "abort ends the wait at once",
			answers:   []error{Abort(errors.New("the webhook exited: exit status 1"))},
			wantErr:   "the webhook exited: exit status 1",
			wantCalls: 1,
		},
		{
			name:      "a check cut short by the deadline keeps the answer before it",
			answers:   []error{pending},
			blockLate: true,
			wantErr:   "timed out after 100ms waiting for the pod to run; last: phase Pending",
		},
		{
			name:      "a cancelled context stops the wait",
			ctx:       cancelled,
			answers:   []error{pending},
			wantErr:   "stopped waiting for the pod to run: context canceled; last: phase Pending",
			wantCalls: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			calls := 0
			err := Poll(ctx, 10*time.Millisecond, 100*time.Millisecond, "the pod to run", func(ctx context.Context) error {
				calls++
				if tc.blockLate && calls > 1 {
					<-ctx.Done()
					return ctx.Err()
				}
				return tc.answers[min(calls, len(tc.answers))-1]
			})
			if tc.wantErr == "" {
				assert.NoError(t, err)
			} else {
				assert.EqualError(t, err, tc.wantErr)
			}
			if tc.wantCalls > 0 {
				assert.Equal(t, tc.wantCalls, calls)
			}
		})
	}
}
