package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/alert/alertmodel"
	"github.com/alertflow/alertflow/bench/gitlabday"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/replay"
	"github.com/alertflow/alertflow/workflows"
)

// The soak: a compressed GitLab day against alertflow's intake and worker,
// each in a process of its own, with people at work, silences, a receiver
// that fails for a while and the worker killed once; then every invariant
// of docs/reliability.md checked against the reference model of the rules.

// soakOptions are the soak's flags.
type soakOptions struct {
	deliveries int
	projects   int
	senders    int
	rate       float64
	settle     time.Duration
	seed       uint64
}

// SoakResults are what a soak measured and found.
type SoakResults struct {
	Date        time.Time `json:"date"`
	Machine     Machine   `json:"machine"`
	LoadAverage [2]string `json:"load_average"`
	Deliveries  int       `json:"deliveries"`
	Branches    int       `json:"branches"`
	Alerts      int       `json:"alerts"`
	Operations  int       `json:"operations"`
	Silences    int       `json:"silences"`
	// Seconds is how long the deliveries took; PerSecond the rate kept.
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"deliveries_per_second"`
	// Retried are deliveries answered 429 or 503 and sent again, as
	// GitLab would.
	Retried int64 `json:"retried"`
	// NotifyP50 and NotifyP99 are the times from sending a failure that
	// opened an alert to its first receiver getting "opened", in seconds.
	NotifyP50 float64 `json:"notify_p50_seconds"`
	NotifyP99 float64 `json:"notify_p99_seconds"`
	// CPUPer1000 is the intake's and the worker's CPU per 1 000 deliveries.
	CPUPer1000 float64       `json:"cpu_seconds_per_1000_deliveries"`
	Samples    []SoakSample  `json:"samples"`
	Invariants []SoakVerdict `json:"invariants"`
	Passed     bool          `json:"passed"`
}

// SoakSample is the processes' memory and goroutines at one moment.
type SoakSample struct {
	Seconds          float64 `json:"seconds"`
	Sent             int64   `json:"sent"`
	IntakeRSS        int64   `json:"intake_rss_bytes"`
	WorkerRSS        int64   `json:"worker_rss_bytes"`
	IntakeGoroutines float64 `json:"intake_goroutines"`
	WorkerGoroutines float64 `json:"worker_goroutines"`
	WorkerPID        int     `json:"worker_pid"`
}

// SoakVerdict is one invariant and whether it held.
type SoakVerdict struct {
	Name   string `json:"name"`
	Held   bool   `json:"held"`
	Detail string `json:"detail"`
}

// soakRun is one soak's state.
type soakRun struct {
	b        *bench
	o        soakOptions
	apiToken string
	intake   *proc
	worker   *proc
	intakeAt string
	workerAt string
	env      []string
	primary  *soakReceiver
	flaky    *soakReceiver
	sent     atomic.Int64
	retried  atomic.Int64
	silences atomic.Int64
	// refusedSince is when the intake began refusing (429 or 503) every
	// delivery, 0 while it takes them; halted is set once that lasted longer
	// than the settle time, and stops the senders: a leaked budget then
	// fails the run instead of hanging it in retries.
	refusedSince atomic.Int64
	halted       atomic.Bool

	mu       sync.Mutex
	problems []string
	// opened is when the failure that opened each alert run was sent,
	// by alert ID, for the time to notify.
	opened map[string]time.Time
	ops    int
	// faults are when the worker or the server was down, to tell a
	// duplicate delivery a fault explains from one nothing does.
	faults []fault
}

// fault is a span during which the worker or the server was down.
type fault struct {
	name       string
	start, end time.Time
}

func (s *soakRun) noteFault(name string, start time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{name, start, time.Now()})
}

// faultNear names the fault that explains a notification accepted at
// first and again at again: the first copy came at most 30 s before the
// fault began (a delivery in flight then) or during it, and the second
// after it began; "" when none does.
func (s *soakRun) faultNear(first, again time.Time) string {
	const slack = 30 * time.Second
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if !first.Before(f.start.Add(-slack)) && !first.After(f.end) && again.After(f.start) {
			return f.name
		}
	}
	return ""
}

func (s *soakRun) problem(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.problems) < 50 {
		s.problems = append(s.problems, fmt.Sprintf(format, args...))
	}
}

// soak runs the soak and writes its results; it fails when an invariant
// does not hold.
func (b *bench) soak(ctx context.Context, o soakOptions) error {
	s := &soakRun{b: b, o: o, apiToken: b.token + "-api", opened: map[string]time.Time{}}
	res := &SoakResults{Date: time.Now().UTC().Truncate(time.Second), Machine: machine()}
	res.LoadAverage[0] = loadAverage()
	res.Machine.Server = b.serverName
	var err error
	if s.primary, err = newSoakReceiver("primary"); err != nil {
		return err
	}
	defer s.primary.close()
	if s.flaky, err = newSoakReceiver("flaky"); err != nil {
		return err
	}
	defer s.flaky.close()
	if err := s.start(ctx); err != nil {
		return err
	}
	defer s.stop()

	group := fmt.Sprintf("soak-%d", b.offset/100_000_000)
	builder := b.gen.builder
	b.logf("soak: generating a day of about %d deliveries to %d projects", o.deliveries, o.projects)
	branches, err := gitlabday.Generate(gitlabday.Options{Seed: o.seed, Projects: o.projects, Group: group,
		IDBase: b.offset/100 + 1_000_000, Deliveries: o.deliveries, FailRate: 0.05, Now: time.Now(), Template: builder})
	if err != nil {
		return err
	}
	total := 0
	for _, br := range branches {
		for _, st := range br.Steps {
			if st.Op == "" {
				total++
			}
		}
	}
	res.Deliveries, res.Branches = total, len(branches)

	// Samples of memory and goroutines, every two seconds.
	sampling, stopSampling := context.WithCancel(ctx)
	samplesDone := make(chan []SoakSample)
	go func() { samplesDone <- s.sample(sampling) }()

	cpu0 := s.cpu()
	b.logf("soak: sending %d deliveries on %d branches, %d senders at up to %g/s", total, len(branches), o.senders, o.rate)
	start := time.Now()
	models := s.drive(ctx, branches, total)
	res.Seconds = time.Since(start).Seconds()
	res.PerSecond = float64(total) / res.Seconds
	res.Retried = s.retried.Load()
	b.logf("soak: %d deliveries in %.0fs (%.0f/s), %d sent again after 429/503", total, res.Seconds, res.PerSecond, res.Retried)

	for _, m := range models {
		res.Alerts += m.Alerts
	}
	res.Operations, res.Silences = s.ops, s.silencesMade()

	verdicts := []SoakVerdict{s.answersHeld()}
	verdicts = append(verdicts, s.settle(ctx, branches, models))
	res.CPUPer1000 = (s.cpu() - cpu0).Seconds() / float64(total) * 1000
	verdicts = append(verdicts, s.noRunFailed(ctx, group), s.historiesBounded(ctx, group))
	deliveredV, again, p50, p99 := s.deliveredOnce(ctx, group)
	res.NotifyP50, res.NotifyP99 = p50, p99
	onceV := s.exactlyOnce(again)
	verdicts = append(verdicts, deliveredV, onceV, s.replayClean(ctx, group))
	verdicts = append(verdicts, s.idle(ctx)...)
	stopSampling()
	res.Samples = <-samplesDone
	verdicts = append(verdicts, goroutinesBack(res.Samples, s.running(ctx, group)), rssFlat("intake", res.Samples, func(x SoakSample) int64 { return x.IntakeRSS }),
		rssFlat("worker", sinceRestart(res.Samples), func(x SoakSample) int64 { return x.WorkerRSS }))
	res.Invariants, res.Passed = verdicts, true
	for _, v := range verdicts {
		res.Passed = res.Passed && v.Held
	}
	res.LoadAverage[1] = loadAverage()
	res.print(os.Stdout)
	if err := writeJSON(b.o.out, res); err != nil {
		return err
	}
	if err := writeSoakPlot(b.o.out, res.Samples); err != nil {
		return err
	}
	if !res.Passed {
		return errors.New("soak: an invariant did not hold (above)")
	}
	return nil
}

// start runs the worker and the intake in processes of their own, with a
// routing file of two receivers, no hold (so that every outcome is the
// rules', not a race with a timer) and the REST API on.
func (s *soakRun) start(ctx context.Context) error {
	cfg := filepath.Join(s.b.tmp, "soak-routing.yaml")
	yaml := fmt.Sprintf(`receivers:
  - name: primary
    webhook:
      url: %s
  - name: flaky
    webhook:
      url: %s
route:
  receiver: primary
  routes:
    - match: {severity: HIGH}
      receiver: flaky
      continue: true
    - match: {}
      receiver: primary
`, s.primary.url, s.flaky.url)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		return fmt.Errorf("write the soak's routing file: %w", err)
	}
	s.env = []string{
		"TEMPORAL_ADDRESS=" + s.b.address, "TEMPORAL_NAMESPACE=" + s.b.namespace,
		"ALERTFLOW_TASK_QUEUE=" + fmt.Sprintf("afbench-soak-%d", s.b.offset/100_000_000),
		"ALERTFLOW_SOURCE_TOKENS=bench=" + s.b.token, "ALERTFLOW_API_TOKEN=" + s.apiToken,
		"ALERTFLOW_CONFIG=" + cfg, "ALERTFLOW_HOLD=0s",
	}
	var err error
	if s.worker, s.workerAt, err = s.startOne(ctx, "worker"); err != nil {
		return err
	}
	if s.intake, s.intakeAt, err = s.startOne(ctx, "ingress"); err != nil {
		return err
	}
	return nil
}

func (s *soakRun) startOne(ctx context.Context, command string) (*proc, string, error) {
	listen, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	logPath := filepath.Join(s.b.tmp, "soak-"+command+".log")
	p, err := startProc("alertflow "+command, logPath, append(s.env, "ALERTFLOW_LISTEN="+listen), s.b.o.alertflowBin, command)
	if err != nil {
		return nil, "", err
	}
	if err := waitHealthy(ctx, p, "http://"+listen+"/healthz", time.Minute); err != nil {
		p.stop(15 * time.Second)
		return nil, "", err
	}
	return p, listen, nil
}

func (s *soakRun) stop() {
	if s.intake != nil {
		s.intake.stop(15 * time.Second)
	}
	if s.worker != nil {
		s.worker.stop(15 * time.Second)
	}
}

// killWorker kills the worker as the kernel's OOM killer would, and starts
// another.
func (s *soakRun) killWorker(ctx context.Context) {
	s.b.logf("soak: killing the worker (SIGKILL, PID %d) and starting another", s.worker.pid())
	killed := time.Now()
	_ = s.worker.cmd.Process.Signal(syscall.SIGKILL)
	<-s.worker.done
	w, at, err := s.startOne(ctx, "worker")
	s.noteFault("the worker kill", killed)
	if err != nil {
		s.problem("restart the worker: %v", err)
		return
	}
	s.mu.Lock()
	s.worker, s.workerAt = w, at
	s.mu.Unlock()
}

// restartServer stops the cluster's Temporal server and starts it again,
// while the senders go on (and are answered 503 meanwhile).
func (s *soakRun) restartServer(ctx context.Context) {
	s.b.logf("soak: stopping the Temporal server")
	stopped := time.Now()
	defer s.noteFault("the server restart", stopped)
	if err := s.b.clusterDo(ctx, "stop-one", "temporal"); err != nil {
		s.problem("stop the Temporal server: %v", err)
		return
	}
	if err := s.b.clusterDo(ctx, "start-one", "temporal"); err != nil {
		s.problem("start the Temporal server again: %v", err)
		return
	}
	s.b.logf("soak: the Temporal server is back")
}

func (s *soakRun) cpu() time.Duration {
	var total time.Duration
	for _, p := range []*proc{s.intake, s.worker} {
		if d, err := cpuTime(p.pid()); err == nil {
			total += d
		}
	}
	return total
}

// drive plays every branch's script: each sender takes its share of the
// branches and plays one step of each in turn, so a branch's traffic is
// spread over the whole run, in order. The worker is killed once, 40 %
// in; the flaky receiver fails from 20 % to 35 %; silences come and go.
func (s *soakRun) drive(ctx context.Context, branches []*gitlabday.Branch, total int) []*alertmodel.Branch {
	models := make([]*alertmodel.Branch, len(branches))
	for i := range models {
		models[i] = &alertmodel.Branch{}
	}
	tick := time.Duration(0)
	if s.o.rate > 0 {
		tick = time.Duration(float64(time.Second) / s.o.rate)
	}
	pace := make(chan struct{})
	paceCtx, stopPace := context.WithCancel(ctx)
	defer stopPace()
	go func() {
		next := time.Now()
		for {
			if tick > 0 {
				next = next.Add(tick)
				if d := time.Until(next); d > 0 {
					select {
					case <-time.After(d):
					case <-paceCtx.Done():
						return
					}
				}
			}
			select {
			case pace <- struct{}{}:
			case <-paceCtx.Done():
				return
			}
		}
	}()
	silences := make(chan struct{})
	go func() { s.silenceWork(paceCtx, branches); close(silences) }()
	var killed, flakyOn, flakyOff, restarted sync.Once
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: s.o.senders}}
	var wg sync.WaitGroup
	for w := range s.o.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []int
			for i := w; i < len(branches); i += s.o.senders {
				mine = append(mine, i)
			}
			next := make([]int, len(mine))
			for left := len(mine); left > 0; {
				left = 0
				for k, i := range mine {
					if next[k] >= len(branches[i].Steps) {
						continue
					}
					if s.halted.Load() {
						return
					}
					st := branches[i].Steps[next[k]]
					next[k]++
					left++
					if st.Op != "" {
						s.operate(ctx, client, branches[i], models[i], st.Op)
						continue
					}
					select {
					case <-pace:
					case <-ctx.Done():
						return
					}
					s.deliver(ctx, client, branches[i], models[i], st)
					switch n := s.sent.Add(1); {
					case n == int64(total)*20/100:
						flakyOn.Do(func() { s.b.logf("soak: the flaky receiver starts failing"); s.flaky.failing.Store(true) })
					case n == int64(total)*35/100:
						flakyOff.Do(func() { s.b.logf("soak: the flaky receiver is back"); s.flaky.failing.Store(false) })
					case n == int64(total)*40/100:
						killed.Do(func() { s.killWorker(ctx) })
					case n == int64(total)*60/100 && s.b.clusterDo != nil:
						restarted.Do(func() { go s.restartServer(ctx) })
					}
				}
			}
		}()
	}
	wg.Wait()
	stopPace()
	<-silences
	client.CloseIdleConnections()
	return models
}

// post sends one request, again after a 429 or 503 as GitLab would
// (honouring Retry-After, a second at least), and returns the answer.
func (s *soakRun) post(ctx context.Context, client *http.Client, method, url string, header map[string]string, body []byte) (int, []byte, error) {
	code, raw, _, err := s.postCounting(ctx, client, method, url, header, body, false)
	return code, raw, err
}

// postCounting is post that also counts the 503s before the answer: each
// may have reached Temporal before the intake gave up waiting. A delivery
// (webhook true) also counts towards the intake refusing every delivery.
func (s *soakRun) postCounting(ctx context.Context, client *http.Client, method, url string, header map[string]string, body []byte, webhook bool) (code int, raw []byte, unavailable int, err error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if err != nil {
			return 0, nil, unavailable, err
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, unavailable, err
		}
		raw, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
			if webhook {
				s.refusedSince.Store(0)
			}
			return resp.StatusCode, raw, unavailable, nil
		}
		if attempt == 40 || webhook && s.refusing(resp.StatusCode, raw) {
			return resp.StatusCode, raw, unavailable, nil
		}
		if resp.StatusCode == http.StatusServiceUnavailable {
			unavailable++
		}
		s.retried.Add(1)
		wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		select {
		case <-time.After(time.Duration(max(wait, 1)) * time.Second):
		case <-ctx.Done():
			return 0, nil, unavailable, ctx.Err()
		}
	}
}

// refusing notes a refused delivery and tells whether the intake has
// refused every delivery for longer than the settle time; the first time it has,
// it halts the senders and records the problem.
func (s *soakRun) refusing(code int, answer []byte) bool {
	now := time.Now()
	s.refusedSince.CompareAndSwap(0, now.UnixNano())
	first := s.refusedSince.Load()
	since := time.Unix(0, first)
	if first == 0 || now.Sub(since) <= s.o.settle {
		return s.halted.Load()
	}
	if s.halted.CompareAndSwap(false, true) {
		s.problem("the intake refused every delivery for %s (the last answer %d %s): the soak stopped sending", now.Sub(since).Round(time.Second), code, bytes.TrimSpace(answer))
		s.b.logf("soak: the intake has refused every delivery since %s; stopping the senders", since.Format(time.TimeOnly))
	}
	return true
}

// deliver sends one delivery and checks the intake's answer against the
// model's.
func (s *soakRun) deliver(ctx context.Context, client *http.Client, br *gitlabday.Branch, m *alertmodel.Branch, st gitlabday.Step) {
	want := alertmodel.AnswerNone
	ignored := true
	alertID := alert.ID(br.ProjectID, br.Ref)
	var ev alert.Event
	switch {
	case st.Pipeline:
		var err error
		if ev, _, err = ingress.ParsePipelineEvent(st.Body); err != nil {
			s.problem("%s: a generated body the intake refuses: %v", alertID, err)
			return
		}
		ev.IdempotencyKey = st.Key
		opensNew := !m.Open()
		want, ignored = m.Deliver(ev), false
		if opensNew && m.Open() {
			s.mu.Lock()
			s.opened[alertID] = time.Now()
			s.mu.Unlock()
		}
	case st.Deletion:
		want, ignored = m.DeleteBranch("Dana Developer"), false
	}
	code, raw, unavailable, err := s.postCounting(ctx, client, http.MethodPost, "http://"+s.intakeAt+"/webhooks/gitlab?token="+s.b.token,
		map[string]string{"X-Gitlab-Event": st.Event, "Idempotency-Key": st.Key, "Content-Type": "application/json"}, st.Body, true)
	if !ignored {
		m.Resent += unavailable
	}
	if err != nil {
		s.problem("%s: post %s: %v", alertID, st.Event, err)
		return
	}
	var a ingress.WebhookAnswer
	_ = json.Unmarshal(raw, &a)
	ok := code == http.StatusAccepted
	switch {
	case !ok:
	case ignored:
		ok = a.Action == ingress.ActionIgnored || a.Action == ingress.ActionNone
	case want == alertmodel.AnswerSignaled:
		ok = a.Action == ingress.ActionSignaled
	case want == alertmodel.AnswerNone:
		ok = a.Action == ingress.ActionNone
	default:
		ok = a.Action == ingress.ActionSignaled || a.Action == ingress.ActionNone
	}
	if !ok {
		s.problem("%s: %s (pipeline #%d %s) answered %d %s, the model says %v", alertID, st.Event, ev.Pipeline.ID, ev.Pipeline.Status, code, raw, want)
	}
}

// operate has a person act on the branch's alert through the REST API,
// when the model says it is open.
func (s *soakRun) operate(ctx context.Context, client *http.Client, br *gitlabday.Branch, m *alertmodel.Branch, op string) {
	if !m.Open() {
		return
	}
	id := alert.ID(br.ProjectID, br.Ref)
	// A person acts once they have heard of the alert: when its run has
	// taken the failure that opened it.
	heard := time.Now().Add(s.o.settle)
	for {
		if st, err := s.state(ctx, id); err == nil && st.Status.Active() {
			break
		}
		if time.Now().After(heard) || ctx.Err() != nil {
			s.problem("%s: the model's open alert was not open %s after its failure", id, s.o.settle)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	body := map[string]string{"by": gitlabday.Operator}
	switch op {
	case gitlabday.OpAcknowledge:
		body["note"] = "on it"
		if err := m.Acknowledge(gitlabday.Operator, "on it"); err != nil {
			return
		}
	case gitlabday.OpSnooze:
		body["for"] = "1h"
	case gitlabday.OpResolve:
		body["reason"] = "fixed by hand"
		if err := m.Resolve(gitlabday.Operator, "fixed by hand"); err != nil {
			return
		}
	}
	raw, _ := json.Marshal(body)
	code, answer, unavailable, err := s.postCounting(ctx, client, http.MethodPost, "http://"+s.intakeAt+"/api/v1/alerts/"+id+"/"+op,
		map[string]string{"Authorization": "Bearer " + s.apiToken, "Content-Type": "application/json"}, raw, false)
	s.mu.Lock()
	s.ops++
	s.mu.Unlock()
	// An action sent again after a 503 may have been applied the first
	// time: then it finds the alert acknowledged (409) or resolved (404).
	if unavailable > 0 && (code == http.StatusConflict || code == http.StatusNotFound) {
		return
	}
	if err != nil || code != http.StatusOK {
		s.problem("%s: %s answered %d %s (%v)", id, op, code, answer, err)
	}
}

// answersHeld is the first invariant: every answer was the model's.
func (s *soakRun) answersHeld() SoakVerdict {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := SoakVerdict{Name: "every delivery and action answered as the model of the rules says", Held: len(s.problems) == 0}
	v.Detail = fmt.Sprintf("%d deliveries, %d actions", s.sent.Load(), s.ops)
	if !v.Held {
		v.Detail = strings.Join(s.problems, "; ")
	}
	return v
}

// settle waits until every branch's newest alert stands where the model
// says, and reports those that never did.
func (s *soakRun) settle(ctx context.Context, branches []*gitlabday.Branch, models []*alertmodel.Branch) SoakVerdict {
	v := SoakVerdict{Name: "every alert's final state is the model's (nothing accepted lost)"}
	pending := map[int]bool{}
	for i, m := range models {
		if m.Started() {
			pending[i] = true
		}
	}
	deadline := time.Now().Add(s.o.settle)
	var last []string
	for len(pending) > 0 {
		last = last[:0]
		for i := range pending {
			if err := s.check(ctx, branches[i], models[i]); err != nil {
				last = append(last, err.Error())
				continue
			}
			delete(pending, i)
		}
		if len(pending) == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return SoakVerdict{Name: v.Name, Detail: ctx.Err().Error()}
		}
	}
	sort.Strings(last)
	v.Held = len(pending) == 0
	v.Detail = fmt.Sprintf("%d alert IDs checked", len(models))
	if !v.Held {
		v.Detail = fmt.Sprintf("%d of them not as the model says after %s: %s", len(pending), s.o.settle, strings.Join(last[:min(len(last), 10)], "; "))
	}
	return v
}

// check compares the newest run of a branch's alert ID with its model.
func (s *soakRun) check(ctx context.Context, br *gitlabday.Branch, m *alertmodel.Branch) error {
	id := alert.ID(br.ProjectID, br.Ref)
	c := s.b.client
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return fmt.Errorf("%s: describe: %w", id, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	switch info.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		if !m.Open() {
			return fmt.Errorf("%s: still running, the model's alert is %s", id, m.Alert.Status())
		}
		st, err := s.state(ctx, id)
		if err != nil {
			return err
		}
		if err := m.Check(st); err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		return nil
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		if m.Open() {
			return fmt.Errorf("%s: completed, the model's alert is %s", id, m.Alert.Status())
		}
		var st alert.State
		if err := c.GetWorkflow(ctx, id, info.GetExecution().GetRunId()).Get(ctx, &st); err != nil {
			return fmt.Errorf("%s: result: %w", id, err)
		}
		if err := m.CheckResolved(&st); err != nil {
			return fmt.Errorf("%s: %w (%d runs; the model opened %d alerts)", id, err, s.runs(ctx, id), m.Alerts)
		}
		return nil
	}
	return fmt.Errorf("%s: run %s", id, info.GetStatus())
}

// state queries the state of an alert ID's running run.
func (s *soakRun) state(ctx context.Context, id string) (*alert.State, error) {
	st, err := workflows.QueryAlert(ctx, s.b.client, id, "")
	if err != nil {
		return nil, fmt.Errorf("%s: query: %w", id, err)
	}
	return st, nil
}

// running counts the soak's alerts still running.
func (s *soakRun) running(ctx context.Context, group string) int {
	resp, err := s.b.client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowType = '%s' AND GitLabProject STARTS_WITH '%s/' AND ExecutionStatus = 'Running'", workflows.WorkflowType, group)})
	if err != nil {
		return 0
	}
	return int(resp.GetCount())
}

// runs counts the runs of an alert ID.
func (s *soakRun) runs(ctx context.Context, id string) int {
	resp, err := s.b.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowId = '" + id + "'"})
	if err != nil {
		return -1
	}
	return len(resp.GetExecutions())
}

// noRunFailed: no alert run failed, was terminated or timed out.
func (s *soakRun) noRunFailed(ctx context.Context, group string) SoakVerdict {
	v := SoakVerdict{Name: "no run failed, terminated or timed out; no workflow task kept failing"}
	q := fmt.Sprintf("WorkflowType = '%s' AND GitLabProject STARTS_WITH '%s/' AND ExecutionStatus IN ('Failed','Terminated','TimedOut')", workflows.WorkflowType, group)
	resp, err := s.b.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q})
	if err != nil {
		v.Detail = err.Error()
		return v
	}
	failures := s.metric(s.workerAt, "temporal_workflow_task_execution_failed")
	v.Held = len(resp.GetExecutions()) == 0 && failures == 0
	v.Detail = fmt.Sprintf("%d such runs; %g workflow task failures on the worker since its restart", len(resp.GetExecutions()), failures)
	return v
}

// historiesBounded: no run's history came near the server's limits.
func (s *soakRun) historiesBounded(ctx context.Context, group string) SoakVerdict {
	v := SoakVerdict{Name: "history sizes bounded (every run under 2 000 events and 2 MiB)"}
	var token []byte
	var longest, largest int64
	runs := 0
	for {
		resp, err := s.b.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{NextPageToken: token,
			Query: fmt.Sprintf("WorkflowType = '%s' AND GitLabProject STARTS_WITH '%s/'", workflows.WorkflowType, group)})
		if err != nil {
			v.Detail = err.Error()
			return v
		}
		for _, e := range resp.GetExecutions() {
			runs++
			longest, largest = max(longest, e.GetHistoryLength()), max(largest, e.GetHistorySizeBytes())
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	v.Held = longest < 2000 && largest < 2<<20
	v.Detail = fmt.Sprintf("%d runs; the longest %d events, the largest %d bytes", runs, longest, largest)
	return v
}

// deliveredOnce: every notification a run scheduled to a receiver reached
// it, and it got nothing else; again counts those it got more than once.
// It also returns the time to notify of the alerts the soak opened.
func (s *soakRun) deliveredOnce(ctx context.Context, group string) (v SoakVerdict, again []repeat, p50, p99 float64) {
	v = SoakVerdict{Name: "every scheduled notification reached its receiver, and nothing else did"}
	histories, err := replay.Reader{Client: s.b.client, Namespace: s.b.namespace, LegacyReceiver: "primary"}.Read(ctx,
		replay.Filter{Since: s.b.started.Add(-time.Minute), Project: group + "/**"})
	if err != nil {
		v.Detail = err.Error()
		return v, nil, 0, 0
	}
	want := map[string]map[string]bool{"primary": {}, "flaky": {}}
	for _, h := range histories {
		for _, r := range h.Runs {
			for _, d := range r.Deliveries {
				if want[d.Receiver] == nil {
					want[d.Receiver] = map[string]bool{}
				}
				want[d.Receiver][d.Notification] = true
			}
		}
	}
	var problems []string
	scheduled := 0
	// The receivers may still be getting the last retries: poll.
	deadline := time.Now().Add(s.o.settle)
	for {
		problems = problems[:0]
		scheduled, again = 0, nil
		for name, rc := range map[string]*soakReceiver{"primary": s.primary, "flaky": s.flaky} {
			got := rc.accepted()
			for id := range want[name] {
				scheduled++
				switch n := got[id]; {
				case n == 0:
					problems = append(problems, fmt.Sprintf("%s never got %s", name, id))
				case n > 1:
					// Delivered, then retried because its answer came too
					// late: the receiver dedupes by the id (the contract).
					again = append(again, repeat{receiver: name, id: id, at: rc.times(id)})
				}
			}
			for id := range got {
				if !want[name][id] {
					problems = append(problems, fmt.Sprintf("%s got %s, which no run scheduled to it", name, id))
				}
			}
		}
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	sort.Strings(problems)
	v.Held = len(problems) == 0
	v.Detail = fmt.Sprintf("%d notifications to receivers, from %d alert IDs", scheduled, len(histories))
	if !v.Held {
		v.Detail = fmt.Sprintf("%d problems: %s", len(problems), strings.Join(problems[:min(10, len(problems))], "; "))
	}
	// Time to notify: the first opened each alert ID got at the primary
	// receiver, against when its failure was sent.
	var waits []time.Duration
	firsts := s.primary.firstOpened()
	s.mu.Lock()
	for id, sent := range s.opened {
		if at, ok := firsts[id]; ok && at.After(sent) {
			waits = append(waits, at.Sub(sent))
		}
	}
	s.mu.Unlock()
	sort.Slice(waits, func(i, j int) bool { return waits[i] < waits[j] })
	if len(waits) == 0 {
		return v, again, 0, 0
	}
	return v, again, waits[len(waits)/2].Seconds(), waits[(len(waits)*99)/100].Seconds()
}

// repeat is a notification a receiver accepted more than once, and when.
type repeat struct {
	receiver, id string
	at           []time.Time
}

// exactlyOnce: no receiver accepted a notification twice. Over HTTP a
// delivery whose answer a fault swallowed (the worker killed before it
// reported, the server down when it did) is sent again under the same id,
// which the receiver drops (the webhook contract); each repeat is named
// with the fault that explains it, or with none.
func (s *soakRun) exactlyOnce(again []repeat) SoakVerdict {
	v := SoakVerdict{Name: "no notification delivered twice to a receiver (exactly once, before the receiver's dedup by id)", Held: len(again) == 0}
	byFault := map[string]int{}
	var unexplained []string
	for _, r := range again {
		why := ""
		if len(r.at) > 1 {
			why = s.faultNear(r.at[0], r.at[1])
		}
		if why == "" {
			unexplained = append(unexplained, fmt.Sprintf("%s got %s %d times", r.receiver, r.id, len(r.at)))
			continue
		}
		byFault[why]++
	}
	v.Detail = fmt.Sprintf("%d delivered again under the same id", len(again))
	for _, name := range slices.Sorted(maps.Keys(byFault)) {
		v.Detail += fmt.Sprintf("; %d sent before %s and again after it (its answer was lost)", byFault[name], name)
	}
	if len(unexplained) > 0 {
		sort.Strings(unexplained)
		v.Detail += fmt.Sprintf("; %d outside any fault: %s", len(unexplained), strings.Join(unexplained[:min(10, len(unexplained))], "; "))
	}
	return v
}

// replayClean: alertflow replay with the running configuration over the
// soak's alerts reports no differences.
func (s *soakRun) replayClean(ctx context.Context, group string) SoakVerdict {
	v := SoakVerdict{Name: "alertflow replay with the running configuration shows no differences"}
	cmd := exec.CommandContext(ctx, s.b.o.alertflowBin, "replay", "-since", time.Since(s.b.started.Add(-time.Minute)).Round(time.Minute).String(),
		"-project", group+"/**", "-json")
	cmd.Env = append(os.Environ(), s.env...)
	out, err := cmd.Output()
	if err != nil {
		v.Detail = fmt.Sprintf("alertflow replay: %v", err)
		return v
	}
	var rep replay.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		v.Detail = fmt.Sprintf("alertflow replay printed no report: %v", err)
		return v
	}
	v.Held = rep.Changed == 0 && len(rep.Failed) == 0 && rep.Alerts > 0
	v.Detail = fmt.Sprintf("%d alert IDs, %d runs replayed; %d changed, %d failed", rep.Alerts, rep.Runs, rep.Changed, len(rep.Failed))
	if !v.Held && len(rep.Differences) > 0 {
		raw, _ := json.Marshal(rep.Differences[:min(3, len(rep.Differences))])
		v.Detail += ": " + string(raw)
	}
	return v
}

// idle: once the traffic stopped, every gauge comes back to rest.
func (s *soakRun) idle(ctx context.Context) []SoakVerdict {
	gauges := []struct{ at, name string }{
		{s.intakeAt, "alertflow_webhook_body_bytes_in_flight"},
		{s.intakeAt, "alertflow_http_connections_open"},
		{s.intakeAt, "alertflow_webhook_alert_limiters_active"},
		{s.intakeAt, "alertflow_webhook_no_alert_entries"},
	}
	var out []SoakVerdict
	for _, g := range gauges {
		v := SoakVerdict{Name: "idle: " + g.name + " back to 0"}
		deadline := time.Now().Add(time.Minute)
		var val float64
		for {
			// The scrape itself holds one connection.
			val = s.metric(g.at, g.name)
			if g.name == "alertflow_http_connections_open" {
				val--
			}
			if val == 0 || time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		v.Held, v.Detail = val == 0, fmt.Sprintf("%g", val)
		out = append(out, v)
	}
	return out
}

// metric reads one unlabelled metric of a process's /metrics; NaN when
// it is not there.
func (s *soakRun) metric(at, name string) float64 {
	resp, err := http.Get("http://" + at + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	sum, found := 0.0, false
	for line := range strings.SplitSeq(string(raw), "\n") {
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			sum, found = sum+f, true
		}
	}
	if !found {
		return 0
	}
	return sum
}

// sample records the processes' memory and goroutines every two seconds.
func (s *soakRun) sample(ctx context.Context) []SoakSample {
	var out []SoakSample
	start := time.Now()
	for {
		s.mu.Lock()
		intake, worker, workerAt := s.intake, s.worker, s.workerAt
		s.mu.Unlock()
		x := SoakSample{Seconds: time.Since(start).Seconds(), Sent: s.sent.Load(), WorkerPID: worker.pid()}
		x.IntakeRSS, _, _ = memory(intake.pid())
		x.WorkerRSS, _, _ = memory(worker.pid())
		x.IntakeGoroutines = s.metric(s.intakeAt, "go_goroutines")
		x.WorkerGoroutines = s.metric(workerAt, "go_goroutines")
		out = append(out, x)
		select {
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
			return out
		}
	}
}

// goroutinesBack: at the end, once idle, each process runs about as many
// goroutines as when it started (the worker: when it was started again),
// but for the worker's cache of running workflows, whose coroutines stay
// (at most three for each running alert).
func goroutinesBack(samples []SoakSample, running int) SoakVerdict {
	v := SoakVerdict{Name: "goroutines back within 20 of the start (intake), and of the start plus 3 per running alert (worker)"}
	if len(samples) < 2 {
		v.Held, v.Detail = true, "too short a run to judge"
		return v
	}
	first, last := samples[0], samples[len(samples)-1]
	workerStart := sinceRestart(samples)[0].WorkerGoroutines
	v.Held = last.IntakeGoroutines <= first.IntakeGoroutines+20 && last.WorkerGoroutines <= workerStart+20+3*float64(running)
	v.Detail = fmt.Sprintf("intake %g → %g, worker %g → %g with %d alerts running", first.IntakeGoroutines, last.IntakeGoroutines, workerStart, last.WorkerGoroutines, running)
	return v
}

// sinceRestart are the samples of the worker that ran last: a process
// started again warms up again.
func sinceRestart(samples []SoakSample) []SoakSample {
	for i := len(samples) - 1; i > 0; i-- {
		if samples[i].WorkerPID != samples[i-1].WorkerPID {
			return samples[i:]
		}
	}
	return samples
}

// rssFlat: the mean RSS of the last third of the run is within 10 % of
// the first third's, after the first quarter (warm-up: heaps and caches
// growing to their working size) is left out.
func rssFlat(name string, samples []SoakSample, rss func(SoakSample) int64) SoakVerdict {
	v := SoakVerdict{Name: "RSS of the " + name + " flat (last third within 10 % of the first, after warm-up)"}
	var xs []int64
	for _, x := range samples {
		if r := rss(x); r > 0 {
			xs = append(xs, r)
		}
	}
	xs = xs[len(xs)/4:]
	if len(xs) < 9 {
		v.Held, v.Detail = true, fmt.Sprintf("%d samples: too short a run to judge", len(xs))
		return v
	}
	mean := func(p []int64) float64 {
		t := 0.0
		for _, r := range p {
			t += float64(r)
		}
		return t / float64(len(p))
	}
	first, last := mean(xs[:len(xs)/3]), mean(xs[len(xs)-len(xs)/3:])
	v.Held = last <= first*1.10
	v.Detail = fmt.Sprintf("first third %.0f MiB, last third %.0f MiB (%+.1f %%)", first/(1<<20), last/(1<<20), 100*(last/first-1))
	return v
}

func (r *SoakResults) print(w io.Writer) {
	fmt.Fprintf(w, "\nsoak of %s on %s: %d deliveries to %d branches in %.0f s (%.0f/s), %d alerts, %d actions, %d silences, %d sent again after 429/503\n",
		r.Date.Format(time.RFC3339), r.Machine.Server, r.Deliveries, r.Branches, r.Seconds, r.PerSecond, r.Alerts, r.Operations, r.Silences, r.Retried)
	fmt.Fprintf(w, "time to notify p50 %.3f s, p99 %.3f s; CPU %.2f s per 1 000 deliveries (intake and worker); load average %s → %s\n",
		r.NotifyP50, r.NotifyP99, r.CPUPer1000, r.LoadAverage[0], r.LoadAverage[1])
	if n := len(r.Samples); n > 0 {
		a, z := r.Samples[0], r.Samples[n-1]
		fmt.Fprintf(w, "RSS intake %.0f → %.0f MiB, worker %.0f → %.0f MiB; goroutines intake %g → %g, worker %g → %g\n",
			float64(a.IntakeRSS)/(1<<20), float64(z.IntakeRSS)/(1<<20), float64(a.WorkerRSS)/(1<<20), float64(z.WorkerRSS)/(1<<20),
			a.IntakeGoroutines, z.IntakeGoroutines, a.WorkerGoroutines, z.WorkerGoroutines)
	}
	for _, v := range r.Invariants {
		mark := "held  "
		if !v.Held {
			mark = "FAILED"
		}
		fmt.Fprintf(w, "  %s %s: %s\n", mark, v.Name, v.Detail)
	}
	if r.Passed {
		fmt.Fprintln(w, "soak: every invariant held")
	}
}

func writeJSON(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
