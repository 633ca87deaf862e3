package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/alertflow/alertflow/bench/baseline"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/workflows"
)

// sender delivers one webhook of a load; it reports whether it went out
// at all (the baseline sends nothing for a webhook to ignore).
type sender func(ctx context.Context, r *request, id string) (sent bool, err error)

// sample is one answered webhook.
type sample struct {
	want    string
	latency time.Duration
}

// outcome is what one load did in one round.
type outcome struct {
	samples  []sample
	requests int
	errors   int
	firstErr error
	elapsed  time.Duration // from the first webhook to the last answer
}

// drive sends w's phases with concurrency workers, each sending one
// script at a time.
func drive(ctx context.Context, w workload, concurrency int, tag string, send sender) outcome {
	var (
		mu  sync.Mutex
		out = outcome{requests: w.requests, samples: make([]sample, 0, w.requests)}
		seq atomic.Int64
	)
	start := time.Now()
	for _, ph := range w.phases {
		scripts := make(chan script)
		var wg sync.WaitGroup
		for range concurrency {
			wg.Go(func() {
				for s := range scripts {
					for _, r := range s {
						id := fmt.Sprintf("%s-%d", tag, seq.Add(1))
						t := time.Now()
						sent, err := send(ctx, r, id)
						d := time.Since(t)
						mu.Lock()
						if err != nil {
							out.errors++
							if out.firstErr == nil {
								out.firstErr = err
							}
						} else if sent {
							out.samples = append(out.samples, sample{r.want, d})
						}
						mu.Unlock()
					}
				}
			})
		}
		for _, s := range ph {
			scripts <- s
		}
		close(scripts)
		wg.Wait()
	}
	out.elapsed = time.Since(start)
	return out
}

// webhookSender posts to alertflow's real intake as GitLab does, over
// kept-alive connections, and checks the answer.
func webhookSender(url, token string, concurrency int) sender {
	hc := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: concurrency,
			MaxConnsPerHost:     concurrency,
			// A whole webhook in one write, as it leaves GitLab: the intake
			// does not wait for the rest of a body the bench is slow to send.
			WriteBufferSize: 64 << 10,
		},
	}
	return func(ctx context.Context, r *request, id string) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(r.body))
		if err != nil {
			return false, fmt.Errorf("build webhook request: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Gitlab-Event", "Pipeline Hook")
		req.Header.Set("X-Gitlab-Token", token)
		req.Header.Set("X-Request-ID", id)
		resp, err := hc.Do(req)
		if err != nil {
			return false, fmt.Errorf("post webhook: %w", err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return false, fmt.Errorf("read answer to webhook: %w", err)
		}
		var answer ingress.WebhookAnswer
		if resp.StatusCode != http.StatusAccepted || json.Unmarshal(body, &answer) != nil || !answers(r.want, answer.Action) {
			return false, fmt.Errorf("webhook for %s answered %d %s, want %s", r.alertID, resp.StatusCode, bytes.TrimSpace(body), r.want)
		}
		return true, nil
	}
}

// answers says whether the intake's action fits a webhook that wants
// want. A pipeline still under way (pending, running) is ignored by an
// intake that does not forward progress; one that does signals it to an
// alert that exists and answers none where there is no alert.
func answers(want, action string) bool {
	if want == ignored {
		return action == ignored || action == ingress.ActionNone || action == signaled
	}
	return action == want
}

// baselineSender makes the raw SDK call for each webhook alertflow would
// signal: SignalWithStartWorkflow of baseline.Workflow with the event
// alertflow would send. With sameOptions it starts workflows with the
// options alertflow starts alerts with (search attributes, memo, summary);
// otherwise with an ID and a task queue only.
func baselineSender(c client.Client, taskQueue string, sameOptions bool) sender {
	return func(ctx context.Context, r *request, _ string) (bool, error) {
		if r.want == ignored {
			return false, nil
		}
		opts := client.StartWorkflowOptions{ID: r.alertID, TaskQueue: taskQueue}
		if sameOptions {
			opts = workflows.StartOptions(taskQueue, workflows.Input{Revision: workflows.CurrentRevision}, r.event)
		}
		if _, err := c.SignalWithStartWorkflow(ctx, r.alertID, workflows.SignalPipeline, r.event, opts, baseline.Workflow); err != nil {
			return false, fmt.Errorf("signal-with-start %s: %w", r.alertID, err)
		}
		return true, nil
	}
}

// settle waits until the last run of every alert in ids has closed, and
// fails after timeout.
func settle(ctx context.Context, c client.Client, ids []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	work := make(chan string)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for id := range work {
				if err := waitClosed(ctx, c, id); err != nil {
					select {
					case errc <- err:
					default:
					}
					cancel()
				}
			}
		})
	}
	for _, id := range ids {
		select {
		case work <- id:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errc:
		return fmt.Errorf("wait for the alerts to close: %w", err)
	default:
		return nil
	}
}

func waitClosed(ctx context.Context, c client.Client, id string) error {
	for {
		d, err := c.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			return fmt.Errorf("describe %s: %w", id, err)
		}
		if d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s still running: %w", id, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted, by
// the nearest-rank method.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// latencies returns the sorted latencies of the samples that want want.
func latencies(samples []sample, want string) []time.Duration {
	var ds []time.Duration
	for _, s := range samples {
		if s.want == want {
			ds = append(ds, s.latency)
		}
	}
	slices.Sort(ds)
	return ds
}

// accessLog reads what alertflow's access log says of the bench's
// webhooks: their duration inside the intake, by outcome.
type accessLog struct {
	path   string
	offset int64
}

// since returns the intake's durations of the webhooks whose request ID
// starts with tag, logged since the last call, by outcome: whole, and
// without the time the bench took to send the body (body_ms).
func (l *accessLog) since(tag string) (whole, afterBody map[string][]time.Duration, err error) {
	b, err := readFrom(l.path, l.offset)
	if err != nil {
		return nil, nil, err
	}
	l.offset += int64(len(b))
	whole, afterBody = map[string][]time.Duration{}, map[string][]time.Duration{}
	for line := range bytes.Lines(b) {
		var e struct {
			Msg        string  `json:"msg"`
			RequestID  string  `json:"request_id"`
			Outcome    string  `json:"outcome"`
			DurationMs float64 `json:"duration_ms"`
			BodyMs     float64 `json:"body_ms"`
		}
		if !bytes.Contains(line, []byte(tag)) || json.Unmarshal(line, &e) != nil || e.Msg != "http request" {
			continue
		}
		if len(e.RequestID) > len(tag) && e.RequestID[:len(tag)+1] == tag+"-" {
			whole[e.Outcome] = append(whole[e.Outcome], time.Duration(e.DurationMs*float64(time.Millisecond)))
			afterBody[e.Outcome] = append(afterBody[e.Outcome], time.Duration((e.DurationMs-e.BodyMs)*float64(time.Millisecond)))
		}
	}
	return whole, afterBody, nil
}

// readFrom returns the whole lines of the file at path from offset on; a
// line still being written is read the next time.
func readFrom(path string, offset int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read alertflow's log: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, offset, 1<<62))
	if err != nil {
		return nil, fmt.Errorf("read alertflow's log: %w", err)
	}
	return b[:bytes.LastIndexByte(b, '\n')+1], nil
}
