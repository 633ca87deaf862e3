package gitlabapi

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/alertflow/alertflow/gitlabapi/gitlabapitest"
)

// TestManyRefsLeaveNoGoroutinesOrConnections runs 2 000 Refs (found, gone,
// unknown project, refused) from several goroutines, then checks that
// closing the idle connections brings the goroutines back to where they
// were: a response body left open would keep its connection busy, and its
// goroutines alive.
func TestManyRefsLeaveNoGoroutinesOrConnections(t *testing.T) {
	const calls, workers = 2000, 8
	s := gitlabapitest.New(testToken)
	defer s.Close()
	s.AddBranch(1, "main")
	s.AddPipeline(1, pipe(1, "success"))
	s.AddPipeline(1, pipe(2, "running"))
	s.AddPipeline(2, pipe(1, "failed")) // project 2's branch is gone
	tr := &http.Transport{}
	// No timeout: with one, net/http would close a connection whose
	// response body was left unread, and hide the leak.
	c, err := New(s.URL(), testToken, &http.Client{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()

	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				pid := int64(1 + i%3)
				got, err := c.Ref(context.Background(), pid, "main", false)
				var re *RetryError
				switch {
				case errors.As(err, &re):
					// The scripted refusals below.
				case pid == 3:
					if !errors.Is(err, ErrPermanent) {
						t.Errorf("call %d: err = %v, want ErrPermanent", i, err)
					}
				case err != nil:
					t.Errorf("call %d: %v", i, err)
				case pid == 1 && (got.Gone || got.Newest == nil || got.Newest.Pipeline.ID != 1):
					t.Errorf("call %d: %+v", i, got)
				case pid == 2 && (!got.Gone || got.Newest == nil):
					t.Errorf("call %d: %+v", i, got)
				}
			}
		})
	}
	for i := range calls {
		if i%100 == 0 {
			s.Refuse(1, 0)
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if t.Failed() {
		return
	}

	tr.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after %d Refs and closing idle connections, %d before\n%s",
				runtime.NumGoroutine(), calls, before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond) // polling, bounded by the deadline
	}
}
