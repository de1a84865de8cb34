package localcluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPoll(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name      string
		ctx       context.Context
		doneAt    int   // the call that reports done; 0: never
		fail      error // returned by the first call, if set
		wantErr   string
		wantCalls int // 0: do not check
	}{
		{name: "done at once", doneAt: 1, wantCalls: 1},
		{name: "done on the third call", doneAt: 3, wantCalls: 3},
		{name: "a failure ends the wait", fail: errors.New("kubelet exited (exit status 1); log /tmp/x/kubelet.log"), wantErr: "kubelet exited (exit status 1); log /tmp/x/kubelet.log", wantCalls: 1},
		{name: "timeout names what was awaited", wantErr: "timed out after 500ms waiting for kubelet /healthz"},
		{name: "a cancelled context stops the wait", ctx: cancelled, wantErr: "waiting for kubelet /healthz: context canceled", wantCalls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			calls := 0
			err := poll(ctx, 500*time.Millisecond, func() (bool, error) {
				calls++
				if tc.fail != nil {
					return false, tc.fail
				}
				return calls == tc.doneAt, nil
			}, "kubelet /healthz")
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
