package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/webhook"
	"github.com/alertflow/alertflow/visibility"
	"github.com/alertflow/alertflow/workflows"
)

// Delivery sequences as GitLab's own code produces them, replayed end to end
// through the HTTP intake with GitLab's real header set, on the dev server,
// with a receiver that counts what each alert sent.

const trafficHold = 2 * time.Second

// gitlab sends deliveries as GitLab does.
type gitlab struct {
	t *testing.T
	s *stack
	// project is the project every delivery is about; each sequence has a
	// ref of its own.
	project int64
}

// delivery is one webhook: a payload from testdata/sequences (or the base
// failed pipeline) with the pipeline id, ref, status and finished time set.
type delivery struct {
	file     string
	ref      string
	id       int64
	status   string
	finished time.Time // zero: null
	// parent makes it a child pipeline of that pipeline.
	parent int64
	// key is the Idempotency-Key; empty makes a fresh one, as GitLab does
	// for every new event.
	key string
}

var trafficT0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return trafficT0.Add(time.Duration(minutes) * time.Minute) }

func (g *gitlab) body(d delivery) []byte {
	g.t.Helper()
	file := d.file
	if file == "" {
		file = filepath.Join("..", "testdata", "pipeline-failed-branch.json")
	} else {
		file = filepath.Join("..", "testdata", "sequences", file)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		g.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		g.t.Fatal(err)
	}
	m["project"].(map[string]any)["id"] = g.project
	oa := m["object_attributes"].(map[string]any)
	oa["id"], oa["ref"], oa["status"] = d.id, d.ref, d.status
	oa["finished_at"] = nil
	if !d.finished.IsZero() {
		oa["finished_at"] = d.finished.Format("2006-01-02 15:04:05 UTC")
	}
	if d.parent != 0 {
		oa["source"] = alert.SourceParentPipeline
		m["source_pipeline"] = map[string]any{"project": map[string]any{"id": g.project}, "job_id": 1, "pipeline_id": d.parent}
	}
	out, err := json.Marshal(m)
	if err != nil {
		g.t.Fatal(err)
	}
	return out
}

// send posts one delivery with the headers a GitLab 17 webhook carries.
func (g *gitlab) send(event string, body []byte, key string) answer {
	g.t.Helper()
	if key == "" {
		key = uuid.NewString()
	}
	req, err := http.NewRequest(http.MethodPost, g.s.http.URL+"/webhooks/gitlab", bytes.NewReader(body))
	if err != nil {
		g.t.Fatal(err)
	}
	for k, v := range map[string]string{
		"Content-Type":          "application/json",
		"User-Agent":            "GitLab/17.8.1",
		"X-Gitlab-Event":        event,
		"X-Gitlab-Instance":     "https://gitlab.example.com",
		"X-Gitlab-Webhook-UUID": uuid.NewString(),
		"X-Gitlab-Event-UUID":   uuid.NewString(),
		"Idempotency-Key":       key,
		"X-Gitlab-Token":        sourceToken,
	} {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatalf("post webhook: %v", err)
	}
	defer resp.Body.Close()
	a := answer{code: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		g.t.Fatalf("decode answer (%d): %v", resp.StatusCode, err)
	}
	if a.code != http.StatusAccepted {
		g.t.Fatalf("webhook answered %d %+v", a.code, a)
	}
	return a
}

func (g *gitlab) pipeline(d delivery) answer {
	g.t.Helper()
	return g.send("Pipeline Hook", g.body(d), d.key)
}

// notified returns the kinds of notification the receiver accepted for
// one alert, in order, with the severity each showed.
func notified(rc *scriptedReceiver, alertID string) []string {
	var got []string
	for _, p := range rc.seen().accepted {
		if p.Alert.ID == alertID {
			got = append(got, fmt.Sprintf("%s %s", p.Kind, p.Alert.Severity))
		}
	}
	return got
}

// lastRun is the state the newest run of an alert ID ended or stands in.
func (g *gitlab) lastRun(id string) (*alert.State, enumspb.WorkflowExecutionStatus) {
	g.t.Helper()
	desc, err := g.s.client.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		g.t.Fatalf("describe %s: %v", id, err)
	}
	status := desc.GetWorkflowExecutionInfo().GetStatus()
	if status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		st, err := g.s.state(context.Background(), id)
		if err != nil {
			g.t.Fatalf("query %s: %v", id, err)
		}
		return st, status
	}
	var st alert.State
	if err := g.s.client.GetWorkflow(context.Background(), id, "").Get(context.Background(), &st); err != nil {
		g.t.Fatalf("result of %s: %v", id, err)
	}
	return &st, status
}

func TestRealGitLabDeliverySequences(t *testing.T) {
	t.Parallel() // own task queue and project ids
	requireServer(t)
	rc, receiver := newScriptedReceiver(t, "traffic-secret")
	in := workflows.Input{Rules: alert.Rules{Hold: trafficHold}}
	s := newStackConfig(t, webhook.New(receiver.URL+rc.path, rc.secret, notify.DefaultHTTPClient()), in)
	g := &gitlab{t: t, s: s, project: 31}

	type want struct {
		status   alert.Status
		severity alert.Severity
		heard    []string
		// answers are the intake's actions, one per delivery.
		answers []string
		// stale: the newest run on the ID got only a stale delivery and
		// ended with nothing opened.
		stale bool
	}
	tests := []struct {
		ref  string
		send func(ref string) []answer
		want want
	}{
		{
			ref: "retry-resolves",
			send: func(ref string) []answer {
				return []answer{
					g.pipeline(delivery{ref: ref, id: 100, status: "failed", finished: at(10)}),
					g.pipeline(delivery{file: "pipeline-running-retried.json", ref: ref, id: 100, status: "running", finished: at(10)}),
					g.pipeline(delivery{ref: ref, id: 100, status: "success", finished: at(20)}),
				}
			},
			want: want{alert.StatusResolved, alert.SeverityHigh, []string{"opened HIGH", "resolved HIGH"}, []string{"signaled", "signaled", "signaled"}, false},
		},
		{
			ref: "retry-fails-again",
			send: func(ref string) []answer {
				return []answer{
					g.pipeline(delivery{ref: ref, id: 110, status: "failed", finished: at(10)}),
					g.pipeline(delivery{file: "pipeline-running-retried.json", ref: ref, id: 110, status: "running", finished: at(10)}),
					g.pipeline(delivery{ref: ref, id: 110, status: "failed", finished: at(20)}),
				}
			},
			want: want{alert.StatusOpen, alert.SeverityHigh, []string{"opened HIGH"}, []string{"signaled", "signaled", "signaled"}, false},
		},
		{
			ref: "auto-cancel-then-success",
			send: func(ref string) []answer {
				return []answer{
					// The successor's first hook arrives before any alert exists.
					g.pipeline(delivery{file: "pipeline-running-retried.json", ref: ref, id: 121, status: "pending"}),
					g.pipeline(delivery{file: "pipeline-auto-canceled.json", ref: ref, id: 120, status: "canceled", finished: at(5)}),
					g.pipeline(delivery{file: "pipeline-running-retried.json", ref: ref, id: 121, status: "running"}),
					g.holdPassed(ref),
					g.pipeline(delivery{ref: ref, id: 121, status: "success", finished: at(15)}),
				}
			},
			want: want{alert.StatusResolved, alert.SeverityMedium, nil, []string{"none", "signaled", "signaled", "clock", "signaled"}, false},
		},
		{
			ref: "auto-cancel-then-failure",
			send: func(ref string) []answer {
				return []answer{
					g.pipeline(delivery{file: "pipeline-auto-canceled.json", ref: ref, id: 130, status: "canceled", finished: at(5)}),
					g.pipeline(delivery{file: "pipeline-running-retried.json", ref: ref, id: 131, status: "running"}),
					g.holdPassed(ref),
					g.pipeline(delivery{ref: ref, id: 131, status: "failed", finished: at(15)}),
				}
			},
			want: want{alert.StatusOpen, alert.SeverityHigh, []string{"opened HIGH"}, []string{"signaled", "signaled", "clock", "signaled"}, false},
		},
		{
			ref: "cancel-with-no-successor",
			send: func(ref string) []answer {
				return []answer{g.pipeline(delivery{file: "pipeline-auto-canceled.json", ref: ref, id: 140, status: "canceled", finished: at(5)})}
			},
			want: want{alert.StatusOpen, alert.SeverityMedium, []string{"opened MEDIUM"}, []string{"signaled"}, false},
		},
		{
			ref: "skip-ci-while-high",
			send: func(ref string) []answer {
				return []answer{
					g.pipeline(delivery{ref: ref, id: 150, status: "failed", finished: at(5)}),
					g.pipeline(delivery{file: "pipeline-skip-ci.json", ref: ref, id: 151, status: "skipped"}),
				}
			},
			want: want{alert.StatusOpen, alert.SeverityHigh, []string{"opened HIGH"}, []string{"signaled", "signaled"}, false},
		},
		{
			ref: "retry-after-a-newer-cancel",
			send: func(ref string) []answer {
				a := []answer{
					g.pipeline(delivery{ref: ref, id: 230, status: "failed", finished: at(10)}),
					// Someone cancels the newer pipeline, then retries the older one.
					g.pipeline(delivery{ref: ref, id: 231, status: "canceled", finished: at(12)}),
					g.pipeline(delivery{file: "pipeline-running-retried.json", ref: ref, id: 230, status: "running", finished: at(10)}),
					g.pipeline(delivery{ref: ref, id: 230, status: "success", finished: at(20)}),
				}
				// Only the newest finished pipeline speaks for the branch: #231,
				// canceled, says nothing, and the retry of #230 resolves nothing.
				g.s.waitState(alert.ID(g.project, ref), func(st *alert.State) error {
					if st.Counts.Events != len(a) || st.Counts.Stale != 1 || st.Status != alert.StatusOpen || st.Severity != alert.SeverityHigh {
						return fmt.Errorf("%s %s with counts %+v, want open HIGH with the retry's success stale", st.Status, st.Severity, st.Counts)
					}
					return nil
				})
				return append(a, g.pipeline(delivery{ref: ref, id: 232, status: "success", finished: at(30)}))
			},
			want: want{alert.StatusResolved, alert.SeverityHigh, []string{"opened HIGH", "resolved HIGH"},
				[]string{"signaled", "signaled", "signaled", "signaled", "signaled"}, false},
		},
		{
			ref: "project-and-group-hook",
			send: func(ref string) []answer {
				d := delivery{ref: ref, id: 160, status: "failed", finished: at(5)}
				return []answer{g.pipeline(d), g.pipeline(d)} // each with its own Idempotency-Key
			},
			want: want{alert.StatusOpen, alert.SeverityHigh, []string{"opened HIGH"}, []string{"signaled", "signaled"}, false},
		},
		{
			ref: "success-before-the-older-failure",
			send: func(ref string) []answer {
				a := []answer{
					g.pipeline(delivery{ref: ref, id: 180, status: "failed", finished: at(5)}),
					g.pipeline(delivery{ref: ref, id: 182, status: "success", finished: at(20)}),
				}
				// The older failure arrives once that alert's run has completed.
				g.waitCompleted(alert.ID(g.project, ref))
				return append(a, g.pipeline(delivery{ref: ref, id: 181, status: "failed", finished: at(15)}))
			},
			want: want{alert.StatusNone, "", []string{"opened HIGH", "resolved HIGH"}, []string{"signaled", "signaled", "signaled"}, true},
		},
		{
			ref: "resend-after-resolve",
			send: func(ref string) []answer {
				failure := delivery{ref: ref, id: 170, status: "failed", finished: at(5), key: uuid.NewString()}
				a := []answer{g.pipeline(failure), g.pipeline(delivery{ref: ref, id: 171, status: "success", finished: at(20)})}
				g.waitCompleted(alert.ID(g.project, ref))
				// "Resend request": the stored body, the same Idempotency-Key.
				return append(a, g.pipeline(failure))
			},
			want: want{alert.StatusNone, "", []string{"opened HIGH", "resolved HIGH"}, []string{"signaled", "signaled", "signaled"}, true},
		},
		{
			ref: "feature/retire-v1",
			send: func(ref string) []answer {
				a := g.pipeline(delivery{ref: ref, id: 220, status: "failed", finished: at(5)})
				g.s.waitState(alert.ID(g.project, ref), isOpen)
				return []answer{a, g.deleteBranch()}
			},
			want: want{alert.StatusResolved, alert.SeverityHigh, []string{"opened HIGH", "resolved HIGH"}, []string{"signaled", "signaled"}, false},
		},
		{
			ref: "child-without-depend",
			send: func(ref string) []answer {
				// The parent passes as soon as it triggered the child, which fails.
				return []answer{
					g.pipeline(delivery{ref: ref, id: 190, status: "success", finished: at(5)}),
					g.pipeline(delivery{file: "pipeline-child-failed.json", ref: ref, id: 191, status: "failed", finished: at(9), parent: 190}),
				}
			},
			want: want{alert.StatusNone, "", nil, []string{"none", "none"}, false},
		},
		{
			ref: "child-with-depend",
			send: func(ref string) []answer {
				return []answer{
					g.pipeline(delivery{file: "pipeline-child-failed.json", ref: ref, id: 201, status: "failed", finished: at(9), parent: 200}),
					g.pipeline(delivery{ref: ref, id: 200, status: "failed", finished: at(10)}),
					g.pipeline(delivery{file: "pipeline-child-failed.json", ref: ref, id: 203, status: "success", finished: at(19), parent: 202}),
					g.pipeline(delivery{ref: ref, id: 202, status: "success", finished: at(20)}),
				}
			},
			want: want{alert.StatusResolved, alert.SeverityHigh, []string{"opened HIGH", "resolved HIGH"}, []string{"none", "signaled", "signaled", "signaled"}, false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			g.t = t
			answers := tt.send(tt.ref)
			var actions []string
			for _, a := range answers {
				actions = append(actions, a.Action)
			}
			if !slices.Equal(actions, tt.want.answers) {
				t.Errorf("the intake answered %v, want %v", actions, tt.want.answers)
			}
		})
	}
	// Every hold has ended and every notification has gone out by the time
	// each alert is where its sequence leaves it.
	for _, tt := range tests {
		t.Run(tt.ref+"/ends", func(t *testing.T) {
			g.t = t
			id := alert.ID(g.project, tt.ref)
			var st *alert.State
			err := poll(context.Background(), 30*time.Second, func() error {
				if tt.want.status == alert.StatusNone && !tt.want.stale {
					if _, err := s.client.DescribeWorkflowExecution(context.Background(), id, ""); !visibility.NotFound(err) {
						return fmt.Errorf("an alert exists: %v", err)
					}
					return nil
				}
				var status enumspb.WorkflowExecutionStatus
				st, status = g.lastRun(id)
				if tt.want.stale && (status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED || st.Counts.Stale != 1) {
					return fmt.Errorf("newest run %s with counts %+v, want a completed run with one stale delivery", status, st.Counts)
				}
				// A pending alert could still speak: only one whose hold is
				// over, or superseded, has said all it will.
				if st.Status != tt.want.status || st.Severity != tt.want.severity || !st.HoldUntil.IsZero() || len(notified(rc, id)) < len(tt.want.heard) {
					return fmt.Errorf("%s %s held until %v, heard %v", st.Status, st.Severity, st.HoldUntil, notified(rc, id))
				}
				return nil
			})
			if err != nil {
				t.Fatalf("want %s %s with %v: %v", tt.want.status, tt.want.severity, tt.want.heard, err)
			}
			if got := notified(rc, id); !slices.Equal(got, tt.want.heard) {
				t.Errorf("people heard %v, want %v", got, tt.want.heard)
			}
			if st != nil && !tt.want.stale && st.Counts.Events != len(tt.want.answers)-countOf(tt.want.answers, "none")-countOf(tt.want.answers, "clock") {
				t.Errorf("the alert counts %+v, want every delivery it was sent", st.Counts)
			}
			if name, ok := recorded[tt.ref]; ok {
				recordHistory(t, name, id)
			}
		})
	}
}

// recorded are the sequences whose histories the replay test in workflows/
// replays (make histories), by the file name they are kept under.
var recorded = map[string]string{
	"auto-cancel-then-success":   "held-cancel-superseded-then-success",
	"cancel-with-no-successor":   "held-cancel-opens-after-the-hold",
	"child-with-depend":          "child-and-parent-fail-then-resolve",
	"feature/retire-v1":          "branch-deleted",
	"resend-after-resolve":       "stale-resend-after-resolve",
	"retry-after-a-newer-cancel": "stale-retry-after-a-newer-cancel",
}

// holdPassed returns once a hold that began now would have ended: it holds
// a cancel of its own on another ref and waits for that alert to open, so
// any hold begun before it is over too. Its answer reads "clock".
func (g *gitlab) holdPassed(ref string) answer {
	g.t.Helper()
	clock := ref + "/clock"
	g.pipeline(delivery{file: "pipeline-auto-canceled.json", ref: clock, id: 1, status: "canceled", finished: at(1)})
	g.s.waitState(alert.ID(g.project, clock), isOpen)
	return answer{WebhookAnswer: ingress.WebhookAnswer{Action: "clock"}}
}

// waitCompleted waits until the newest run of an alert ID has completed.
func (g *gitlab) waitCompleted(id string) {
	g.t.Helper()
	err := poll(context.Background(), 30*time.Second, func() error {
		desc, err := g.s.client.DescribeWorkflowExecution(context.Background(), id, "")
		if err != nil {
			return err
		}
		if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			return fmt.Errorf("run is %s", st)
		}
		return nil
	})
	if err != nil {
		g.t.Fatalf("%s never completed: %v", id, err)
	}
}

// deleteBranch sends the push that deletes refs/heads/feature/retire-v1.
func (g *gitlab) deleteBranch() answer {
	g.t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "sequences", "push-branch-deleted.json"))
	if err != nil {
		g.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		g.t.Fatal(err)
	}
	m["project_id"] = g.project
	m["project"].(map[string]any)["id"] = g.project
	body, err := json.Marshal(m)
	if err != nil {
		g.t.Fatal(err)
	}
	return g.send("Push Hook", body, "")
}

func TestAnAlertWithNoEventForTheIntervalResolvesItselfEndToEnd(t *testing.T) {
	t.Parallel() // own task queue and project ids
	requireServer(t)
	rc, receiver := newScriptedReceiver(t, "auto-resolve-secret")
	s := newStackConfig(t, webhook.New(receiver.URL+rc.path, rc.secret, notify.DefaultHTTPClient()),
		workflows.Input{AutoResolveAfter: 3 * time.Second})
	g := &gitlab{t: t, s: s, project: 32}
	// A failed tag pipeline usually never gets a successor.
	g.pipeline(delivery{ref: "v1.0.0", id: 300, status: "failed", finished: at(5)})
	status, final := s.waitClosed(alert.ID(g.project, "v1.0.0"))
	if status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED || final.ResolvedBy != alert.ResolvedByAlertflow {
		t.Fatalf("closed %s, resolved by %q (%s)", status, final.ResolvedBy, final.Resolution)
	}
	if got := notified(rc, final.ID); !slices.Equal(got, []string{"opened HIGH", "resolved HIGH"}) {
		t.Fatalf("people heard %v", got)
	}
	recordHistory(t, "auto-resolved", final.ID)
}

func countOf(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}
