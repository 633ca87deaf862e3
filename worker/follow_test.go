package worker

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// follow runs beside the worker: thousands of rounds, failing and not,
// and it is gone once its context ends, or at once when there is nothing
// to read again.
func TestFollowRetriesWhatFailsAndEndsWithItsContext(t *testing.T) {
	before := runtime.NumGoroutine()
	logger := slog.New(slog.DiscardHandler)
	for i := range 200 {
		ctx, cancel := context.WithCancel(context.Background())
		var rounds atomic.Int32
		done := make(chan struct{})
		go func() {
			defer close(done)
			follow(ctx, func(context.Context) error {
				n := rounds.Add(1)
				if n == 20 {
					cancel()
				}
				if n%3 == 0 {
					return errors.New("visibility too slow")
				}
				return nil
			}, true, time.Microsecond, logger)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: follow did not end with its context", i)
		}
		if n := rounds.Load(); n < 20 {
			t.Fatalf("round %d: %d steps before the end, want 20", i, n)
		}
	}
	// With nothing to read again, one success ends it at once.
	var steps atomic.Int32
	follow(context.Background(), func(context.Context) error {
		if steps.Add(1) < 3 {
			return errors.New("not yet")
		}
		return nil
	}, false, time.Microsecond, logger)
	if steps.Load() != 3 {
		t.Fatalf("%d steps, want two failures and a success", steps.Load())
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines, %d before", n, before)
	}
}
