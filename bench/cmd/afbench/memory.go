package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The memory scenario: what anyone who can reach the port can make the
// intake hold. Two loads, one after the other, against alertflow serve with
// its default limits, each reporting the intake's resident memory (VmRSS,
// sampled) before, at its peak and after, beside the limits that bound it.
const (
	// headerConns connections each send an unfinished header block of
	// headerBlock bytes: without a header limit net/http buffers up to
	// 1 MiB of each.
	headerConns = 200
	headerBlock = 1 << 20
	// bodyHooks webhooks of bodyBytes each are sent at once: valid
	// pipeline events, padded.
	bodyHooks = 50
	bodyBytes = 20 << 20
	// The limits alertflow serve runs with here: the defaults.
	limitHeaderBytes = 64 << 10
	limitConnections = 256
	limitBodyBytes   = 25 << 20
	limitInFlight    = 64 << 20
	// rssSampleEvery is how often VmRSS is read during a load.
	rssSampleEvery = 20 * time.Millisecond
	// afterwards is how long after a load its "after" RSS is read.
	afterwards = 10 * time.Second
)

// Memory is the memory scenario's measurements.
type Memory struct {
	Limits  MemoryLimits `json:"limits"`
	Headers MemoryLoad   `json:"headers"`
	Bodies  MemoryLoad   `json:"bodies"`
}

// MemoryLimits are the limits the intake ran with.
type MemoryLimits struct {
	HeaderBytes       int `json:"header_bytes"`
	Connections       int `json:"connections"`
	BodyBytes         int `json:"body_bytes"`
	BodyBytesInFlight int `json:"body_bytes_in_flight"`
}

// MemoryLoad is one load's effect on the intake's memory.
type MemoryLoad struct {
	Load      string         `json:"load"`
	BeforeMiB float64        `json:"rss_before_mib"`
	PeakMiB   float64        `json:"rss_peak_mib"`
	AfterMiB  float64        `json:"rss_after_mib"`
	Answers   map[string]int `json:"answers"`
	Seconds   float64        `json:"seconds"`
}

// memoryScenario runs both loads against af.
func (b *bench) memoryScenario(ctx context.Context, name string, af *alertflowProc) (*Scenario, error) {
	u, err := url.Parse(af.url)
	if err != nil {
		return nil, err
	}
	m := &Memory{Limits: MemoryLimits{limitHeaderBytes, limitConnections, limitBodyBytes, limitInFlight}}
	pid := af.intake.pid()
	b.logf("%s: %d connections with unfinished %d-byte header blocks", name, headerConns, headerBlock)
	if m.Headers, err = measureMemory(ctx, pid, fmt.Sprintf("%d connections × unfinished %d KiB header block", headerConns, headerBlock>>10),
		func() map[string]int { return headerFlood(ctx, u.Host) }); err != nil {
		return nil, err
	}
	body, err := b.paddedWebhook(bodyBytes)
	if err != nil {
		return nil, err
	}
	b.logf("%s: %d webhooks of %d MiB at once", name, bodyHooks, bodyBytes>>20)
	if m.Bodies, err = measureMemory(ctx, pid, fmt.Sprintf("%d concurrent webhooks × %d MiB", bodyHooks, bodyBytes>>20),
		func() map[string]int { return bodyFlood(ctx, af.url+"?token="+b.token, body) }); err != nil {
		return nil, err
	}
	return &Scenario{Name: name, Memory: m}, nil
}

// measureMemory runs load while sampling pid's VmRSS, then reads it again
// a while after.
func measureMemory(ctx context.Context, pid int, name string, load func() map[string]int) (MemoryLoad, error) {
	before, _, err := memory(pid)
	if err != nil {
		return MemoryLoad{}, err
	}
	var peak atomic.Int64
	peak.Store(before)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if rss, _, err := memory(pid); err == nil && rss > peak.Load() {
				peak.Store(rss)
			}
			select {
			case <-stop:
				return
			case <-time.After(rssSampleEvery):
			}
		}
	}()
	start := time.Now()
	answers := load()
	took := time.Since(start)
	close(stop)
	<-sampled
	select {
	case <-ctx.Done():
		return MemoryLoad{}, ctx.Err()
	case <-time.After(afterwards):
	}
	after, _, err := memory(pid)
	if err != nil {
		return MemoryLoad{}, err
	}
	return MemoryLoad{Load: name, BeforeMiB: mib(before), PeakMiB: mib(peak.Load()), AfterMiB: mib(after), Answers: answers, Seconds: took.Seconds()}, nil
}

// headerFlood opens headerConns connections to addr at once, each sending
// a request line and headerBlock bytes of header lines that never end, and
// counts how each was answered.
func headerFlood(ctx context.Context, addr string) map[string]int {
	line := "X-Filler: " + strings.Repeat("h", 1000) + "\r\n"
	block := []byte("POST /webhooks/gitlab HTTP/1.1\r\nHost: bench\r\n" + strings.Repeat(line, headerBlock/len(line)))
	var mu sync.Mutex
	answers := map[string]int{}
	count := func(k string) {
		mu.Lock()
		answers[k]++
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for range headerConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{Timeout: 30 * time.Second}
			conn, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				count("dial error")
				return
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
			// Written in the background: the server may answer and close
			// before the block is through.
			go func() { _, _ = conn.Write(block) }()
			head := make([]byte, 12)
			if _, err := io.ReadFull(conn, head); err != nil {
				count("closed without an answer")
				return
			}
			count(strings.TrimSpace(string(head[9:12])))
		}()
	}
	wg.Wait()
	return answers
}

// bodyFlood posts body bodyHooks times at once and counts the answers.
func bodyFlood(ctx context.Context, target string, body []byte) map[string]int {
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxConnsPerHost: bodyHooks, MaxIdleConnsPerHost: bodyHooks}}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	answers := map[string]int{}
	var wg sync.WaitGroup
	for range bodyHooks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
			req.Header.Set("X-Gitlab-Event", "Pipeline Hook")
			req.Header.Set("Content-Type", "application/json")
			k := "error"
			if resp, err := client.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				k = fmt.Sprint(resp.StatusCode)
			}
			mu.Lock()
			answers[k]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return answers
}

// paddedWebhook is a failed pipeline's webhook padded to size bytes with a
// member alertflow does not keep.
func (b *bench) paddedWebhook(size int) ([]byte, error) {
	r, err := b.gen.webhook(b.offset+99_000_000, "memory", "failed", false)
	if err != nil {
		return nil, err
	}
	head := `{"padding":"`
	pad := size - len(r.body) - len(head) - len(`",`)
	if pad < 0 {
		return nil, fmt.Errorf("a webhook is already %d bytes, over %d", len(r.body), size)
	}
	out := make([]byte, 0, size)
	out = append(out, head...)
	out = append(out, bytes.Repeat([]byte("p"), pad)...)
	out = append(out, `",`...)
	return append(out, r.body[1:]...), nil
}

// printMemory prints the memory scenario's table.
func printMemory(w io.Writer, m *Memory) {
	fmt.Fprintf(w, "memory (limits: headers %d KiB per connection, %d connections, bodies %d MiB each and %d MiB in flight)\n",
		m.Limits.HeaderBytes>>10, m.Limits.Connections, m.Limits.BodyBytes>>20, m.Limits.BodyBytesInFlight>>20)
	for _, l := range []MemoryLoad{m.Headers, m.Bodies} {
		fmt.Fprintf(w, "  %-52s RSS %6.1f MiB before, %6.1f peak, %6.1f %s after; %.1fs; answers %v\n",
			l.Load, l.BeforeMiB, l.PeakMiB, l.AfterMiB, afterwards, l.Seconds, l.Answers)
	}
}

// memoryBoundMiB is the intake's documented RSS bound under both loads.
const memoryBoundMiB = 256

// memoryTargets: under both loads the intake stays under the bound.
func memoryTargets(m *Memory) []Target {
	var out []Target
	for i, l := range []MemoryLoad{m.Headers, m.Bodies} {
		out = append(out, Target{[]string{"memory headers", "memory bodies"}[i], fmt.Sprintf("intake peak RSS < %d MiB under %s", memoryBoundMiB, l.Load),
			fmt.Sprintf("%.0f MiB (from %.0f MiB)", l.PeakMiB, l.BeforeMiB), l.PeakMiB < memoryBoundMiB})
	}
	return out
}
