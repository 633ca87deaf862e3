package testkit

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
)

func TestBufferKeepsEveryConcurrentWrite(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() { fmt.Fprintf(&b, "line %d\n", i) })
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 100 {
		t.Errorf("%d lines, want 100", n)
	}
}

func TestFreePortsAreDistinctAndFree(t *testing.T) {
	ports := FreePorts(t, 20)
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d twice in %v", p, ports)
		}
		seen[p] = true
	}
	l, err := net.Listen("tcp", FreeAddr())
	if err != nil {
		t.Fatalf("the free address is taken: %v", err)
	}
	l.Close()
}

func TestRoutingReadsTheFileWithItsVariables(t *testing.T) {
	c := Routing(t, "receivers:\n  - name: chat\n    webhook:\n      url: ${CHAT_URL}\nroute:\n  receiver: chat\n",
		map[string]string{"CHAT_URL": "https://example.com/hook"})
	if len(c.Receivers) != 1 || c.Receivers[0].Webhook == nil || c.Receivers[0].Webhook.URL.Value() != "https://example.com/hook" {
		t.Fatalf("read %+v", c.Receivers)
	}
}
