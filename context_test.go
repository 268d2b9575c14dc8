//go:build unix

package procshare_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/procshare/procshare"
	"github.com/procshare/procshare/shm"
)

var (
	failNow          = procshare.Register("procshare_test.failNow", func() error { return errors.New("no input") })
	blockUntilKilled = procshare.Register("procshare_test.blockUntilKilled", func(ctx context.Context, started *shm.Event) {
		started.Set()
		<-ctx.Done()
		select {} // SIGTERM ignored: only SIGKILL ends it
	})
	succeed = procshare.Register("procshare_test.succeed", func() {})
)

// TestWithProcesses waits on an Event that the children never set, with a
// context from WithProcesses: a child that fails (returns an error, or is
// killed with SIGKILL) ends the wait, and the context's cause is its
// *ExitError; a child that succeeds does not.
func TestWithProcesses(t *testing.T) {
	t.Parallel()
	base, stop := context.WithTimeout(context.Background(), 2*time.Minute)
	defer stop()
	never, err := shm.NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	defer never.Close()

	t.Run("error", func(t *testing.T) {
		// A child that exited successfully before: its watcher sees it
		// at once, and must not cancel.
		ok, err := procshare.Start(succeed)
		if err != nil {
			t.Fatal(err)
		}
		if err := ok.Join(base); err != nil {
			t.Fatal(err)
		}
		p, err := procshare.Start(failNow)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := procshare.WithProcesses(base, ok, p)
		defer cancel()
		if err := never.Wait(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v, want context.Canceled", err)
		}
		var ee *procshare.ExitError
		if !errors.As(context.Cause(ctx), &ee) || ee.Pid != p.Pid() || ee.Code != 1 || ee.Err != "no input" {
			t.Fatalf("cause = %v, want the failed child's ExitError", context.Cause(ctx))
		}
	})

	t.Run("SIGKILL", func(t *testing.T) {
		started, err := shm.NewEvent()
		if err != nil {
			t.Fatal(err)
		}
		defer started.Close()
		p, err := procshare.Start(blockUntilKilled, started)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := procshare.WithProcesses(base, p)
		defer cancel()
		go func() {
			if started.Wait(base) == nil {
				p.Kill()
			}
		}()
		if err := never.Wait(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v, want context.Canceled", err)
		}
		var ee *procshare.ExitError
		if !errors.As(context.Cause(ctx), &ee) || ee.Code != -9 {
			t.Fatalf("cause = %v, want an ExitError with code -9", context.Cause(ctx))
		}
	})

	t.Run("cancel", func(t *testing.T) {
		p, err := procshare.Start(succeed)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Join(base)
		ctx, cancel := procshare.WithProcesses(base, p)
		cancel()
		if !errors.Is(ctx.Err(), context.Canceled) || context.Cause(ctx) != context.Canceled {
			t.Fatalf("after cancel: %v, %v", ctx.Err(), context.Cause(ctx))
		}
	})
}
