package app

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The connections gauge counts every connection in and every one out,
// whether it was answered, kept alive, or cut off half-way, and so reads
// zero again once the senders are gone.
func TestTheConnectionsGaugeComesBackToZeroAfterThousandsOfConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	limits := defaultHTTPLimits()
	limits.readHeader, limits.read, limits.idle = 200*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	servedLimits(t, ln, limits, reg)

	addr := "http://" + ln.Addr().String()
	keepAlive := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	oneShot := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for i := range 2000 {
		c := keepAlive
		if i%2 == 1 {
			c = oneShot
		}
		resp, err := c.Post(addr+"/webhooks/gitlab?token=wrong", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if i%100 == 0 {
			// A sender that stops half-way through its headers.
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.WriteString(conn, "POST /webhooks/gitlab HTTP/1.1\r\nHost: x\r\n")
			defer conn.Close()
		}
	}
	keepAlive.CloseIdleConnections()
	gauge := func() float64 {
		n, err := testutil.GatherAndCount(reg, "alertflow_http_connections_open")
		if err != nil || n != 1 {
			t.Fatalf("the gauge is not exported: %d, %v", n, err)
		}
		mfs, _ := reg.Gather()
		return mfs[0].GetMetric()[0].GetGauge().GetValue()
	}
	deadline := time.Now().Add(15 * time.Second)
	for gauge() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%v connections counted open 15 s after the last sender, want 0", gauge())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
