// Package testkit holds what several packages' tests need alike and would
// otherwise each write again: a buffer that goroutines write while a test
// reads it, free loopback ports, and a routing file read from text. Tests
// only: nothing else imports it.
package testkit

import (
	"bytes"
	"net"
	"sync"
	"testing"

	"github.com/alertflow/alertflow/config"
)

// Buffer is a bytes.Buffer that is safe for concurrent use: a log
// destination that a worker's or an activity environment's goroutines
// write while the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// FreePorts returns n distinct ports that were free on 127.0.0.1 a moment
// ago: all are held open together, so none repeats.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// FreeAddr is a loopback address that was free a moment ago. It takes no
// testing.TB so that a TestMain can ask too; a machine that cannot listen
// on loopback runs no test, so it panics.
func FreeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Routing reads a routing file from text, as alertflow does at start, with
// vars as its ${VAR} values (a variable not in vars is unset); it fails t
// on any error the file has.
func Routing(t testing.TB, text string, vars map[string]string) *config.Config {
	t.Helper()
	c, err := config.Parse("alertflow.yaml", []byte(text), func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}, nil)
	if err != nil {
		t.Fatalf("the routing file:\n%s\n%v", text, err)
	}
	return c
}
