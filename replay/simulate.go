package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/config"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/route"
	"github.com/alertflow/alertflow/silence"
	"github.com/alertflow/alertflow/workflows"
)

// Policy is the candidate policy: where notifications go, and the alert
// settings that replace those the alerts were recorded with. A nil
// setting keeps the recorded value, so that replaying with the running
// configuration changes nothing.
type Policy struct {
	// Route names the receivers an alert with these labels reaches, in
	// order.
	Route func(route.Labels) []string
	// Escalate is where an alert escalates, nil when nowhere.
	Escalate func(route.Labels) *route.Escalation
	// Receivers are the integrations of each configured receiver.
	Receivers        map[string][]string
	Hold             *time.Duration
	ReminderInterval *time.Duration
	AutoResolveAfter *time.Duration
	Children         *alert.ChildMode
	FlapThreshold    *int
	FlapWindow       *time.Duration
	// Silences are the silences the notifications are checked against:
	// those the server kept, as they were (Reader.Silences).
	Silences []silence.Active
}

// PolicyOf is the routing of a configuration file, with the recorded
// alert settings.
func PolicyOf(rc *config.Config) Policy {
	tree := rc.Route
	p := Policy{
		Route:     tree.Receivers,
		Escalate:  tree.EscalationOf,
		Receivers: map[string][]string{},
	}
	for _, r := range rc.Receivers {
		p.Receivers[r.Name] = r.Integrations()
	}
	return p
}

// recordingRouting is the policy's routing as the worker's activities
// take it, with every integration of every receiver recording what it is
// sent to log instead of sending it.
func (p Policy) recordingRouting(log *simLog) activities.Routing {
	receivers := make(map[string]activities.Receiver, len(p.Receivers))
	for name, integrations := range p.Receivers {
		rcv := activities.Receiver{}
		for _, i := range integrations {
			rcv[i] = recorder{name, log}
		}
		receivers[name] = rcv
	}
	return activities.Routing{Route: p.Route, Escalate: p.Escalate, Receivers: receivers}
}

// recorder is a receiver's integration that notes the notification.
type recorder struct {
	receiver string
	log      *simLog
}

func (r recorder) Notify(_ context.Context, n notify.Notification) error {
	r.log.deliver(r.receiver, n)
	return nil
}

// InputFor is the Input a replayed run starts with: the recorded one,
// under the candidate policy, at the current revision (the replay asks
// what today's rules would do). Routing decisions and notifications in
// flight are the recording's, not the candidate's: they are left out. Every
// setting of the policy is applied here and nowhere else.
func (p Policy) InputFor(recorded workflows.Input) workflows.Input {
	in := recorded
	in.Revision = workflows.CurrentRevision
	in.Routed, in.Undelivered = nil, nil
	if p.ReminderInterval != nil {
		in.ReminderInterval = *p.ReminderInterval
	}
	if p.AutoResolveAfter != nil {
		in.AutoResolveAfter = *p.AutoResolveAfter
	}
	rules := func(r *alert.Rules) {
		if p.Hold != nil {
			r.Hold = *p.Hold
		}
		if p.Children != nil {
			r.Children = *p.Children
		}
		if p.FlapThreshold != nil {
			r.FlapThreshold = *p.FlapThreshold
		}
		if p.FlapWindow != nil {
			r.FlapWindow = *p.FlapWindow
		}
	}
	rules(&in.Rules)
	if in.State != nil {
		// An alert carried into the window keeps its rules in its state.
		st := *in.State
		rules(&st.Rules)
		in.State = &st
	}
	return in
}

// Simulation re-runs recorded alerts under a policy.
type Simulation struct {
	Policy Policy
	// Until is when the recording was read: no replayed run goes past it,
	// as no recorded one did.
	Until time.Time
	// Logger gets the workflow's and the routing's log; nil discards it.
	Logger *slog.Logger
}

// Simulate replays one alert ID: the recorded signals and accepted
// updates of all its runs, at their recorded times, through the real
// AlertWorkflow in the SDK's test environment (time skipping), with the
// candidate routing answering RouteNotification and NotifyReceiver
// recording instead of delivering. Runs follow each other as they would
// have under the candidate: continue-as-new carries on, and after a run
// completes the next pipeline event starts a new one, as the intake's
// signal-with-start does; a manual action that finds no open run is
// dropped, as the intake would refuse it, and noted.
func (s Simulation) Simulate(h History) (would []Notice, notes []string, _ error) {
	if len(h.Runs) == 0 {
		return nil, nil, nil
	}
	// events are the recorded signals and updates of every run; intake[i]
	// is the Input the intake started the run of events[i] with, when
	// events[i] is the signal that started it.
	var events []Event
	var intake []*workflows.Input
	for _, r := range h.Runs {
		for i, ev := range r.Events {
			events = append(events, ev)
			if i == 0 && !r.Continued {
				intake = append(intake, &r.Input)
			} else {
				intake = append(intake, nil)
			}
		}
	}
	first := h.Runs[0]
	template := first.Input
	input := s.Policy.InputFor(first.Input)
	memory := first.Recalled
	start := first.Start
	log := &simLog{}
	for i := 0; ; {
		res, err := s.run(h.ID, input, start, events[i:], memory, log)
		if err != nil {
			return nil, notes, err
		}
		i += res.delivered
		if res.next != nil {
			// Deliveries of the alert that resolved, handed to the next
			// run (workflows.RevisionPrompt), are that alert's: the live
			// run sends them first, to the same receivers.
			for _, d := range res.next.Handed {
				log.deliver(d.Target.Receiver, d.Notification)
			}
			res.next.Handed = nil
			input, start = *res.next, res.end
			if input.State == nil {
				// It carried a failure that came after the resolve
				// into a new alert.
				log.newAlert()
			}
			continue
		}
		if res.final == nil {
			// Stopped at Until, still open.
			break
		}
		mem := res.final.Memory
		memory = &mem
		// The run completed: manual actions until the next pipeline
		// event find no alert.
		j := i
		for j < len(events) && (events[j].Update || events[j].Name != workflows.SignalPipeline) {
			notes = append(notes, fmt.Sprintf("%s %s at %s found no open alert in the replay: dropped",
				actionWord(events[j].Update), events[j].Name, events[j].At.UTC().Format(time.RFC3339)))
			j++
		}
		if j == len(events) {
			break
		}
		for k := 0; k <= j; k++ {
			if intake[k] != nil {
				template = *intake[k]
			}
		}
		input = s.Policy.InputFor(freshInput(template))
		start, i = events[j].At, j
		log.newAlert()
	}
	return log.notices(), notes, nil
}

func actionWord(update bool) string {
	if update {
		return "update"
	}
	return "signal"
}

// freshInput is the Input the intake would start a new alert on the ID
// with: the settings of in, nothing carried.
func freshInput(in workflows.Input) workflows.Input {
	in.State, in.Pending, in.Memory, in.Routed, in.Undelivered = nil, nil, nil, nil, nil
	return in
}

// simLog records what a replayed alert routed and delivered.
type simLog struct {
	mu sync.Mutex
	// routed are the notifications in the order the workflow routed
	// them, which is the order it sent them in.
	routed []routedNotice
	// to are the receivers each notification was delivered to.
	to map[string][]string
	// alert counts the alerts started on the ID: the test environment
	// gives every run the same run ID, so a notification's id, made of
	// the run ID and the alert's timeline position, is only unique within
	// one alert. Within one alert it is kept across continue-as-new,
	// which hands notifications over with their ids: they count once.
	alert int
}

// key makes a notification id unique across the alerts of the replay.
func (l *simLog) key(id string) string {
	return fmt.Sprintf("%d/%s", l.alert, id)
}

// newAlert notes that a new alert starts on the ID.
func (l *simLog) newAlert() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.alert++
}

type routedNotice struct{ id, kind string }

func (l *simLog) route(n notify.Notification) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.routed = append(l.routed, routedNotice{l.key(n.ID), string(n.Kind)})
}

func (l *simLog) deliver(receiver string, n notify.Notification) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.to == nil {
		l.to = map[string][]string{}
	}
	k := l.key(n.ID)
	if !slices.Contains(l.to[k], receiver) {
		l.to[k] = append(l.to[k], receiver)
	}
}

// notices are the notifications that reached a receiver, in order, each
// once (one handed over by continue-as-new is routed again).
func (l *simLog) notices() []Notice {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Notice
	seen := map[string]bool{}
	for _, r := range l.routed {
		if seen[r.id] || len(l.to[r.id]) == 0 {
			continue
		}
		seen[r.id] = true
		out = append(out, Notice{Kind: r.kind, Receivers: slices.Clone(l.to[r.id])})
	}
	return out
}

// runResult is how one replayed run ended.
type runResult struct {
	// delivered is how many of the events it was given it took.
	delivered int
	// next is the Input it continued as new with, at end.
	next *workflows.Input
	end  time.Time
	// final is the state it completed with; nil when it was still open
	// at Until.
	final *alert.State
}

// simTimeout bounds one replayed run in wall time; time skipping makes a
// month of an alert take milliseconds.
const simTimeout = time.Minute

// run replays one run of workflow id from start: events at their
// recorded times, until it completes, continues as new or reaches Until.
func (s Simulation) run(id string, input workflows.Input, start time.Time, events []Event, memory *alert.Memory, log *simLog) (runResult, error) {
	if !s.Until.After(start) {
		return runResult{}, nil
	}
	logger := s.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(tlog.NewStructuredLogger(logger))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	env.SetTestTimeout(simTimeout)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: id, TaskQueue: "replay"})
	env.SetWorkflowRunTimeout(s.Until.Sub(start))
	env.RegisterWorkflow(workflows.AlertWorkflow)

	sinks := activities.NewRoutedSinks(logger, nil, nil, s.Policy.recordingRouting(log))
	silences := silence.NewSet(s.Policy.Silences)
	activities.SilenceWith(sinks, func(context.Context) (*silence.Set, error) { return silences, nil })
	env.RegisterActivityWithOptions(func(ctx context.Context, req activities.RouteRequest) (activities.RouteAnswer, error) {
		// The order notifications are routed in is the order the alert
		// sent them in; deliveries to several receivers run in parallel.
		log.route(req.Notification)
		return sinks.RouteNotification(ctx, req)
	}, activity.RegisterOptions{Name: activities.ActivityRouteNotification})
	env.RegisterActivityWithOptions(sinks.NotifyReceiver, activity.RegisterOptions{Name: activities.ActivityNotifyReceiver})
	env.RegisterActivityWithOptions(func(context.Context, string, string) (*alert.Memory, error) {
		return memory, nil
	}, activity.RegisterOptions{Name: activities.ActivityRecall})

	var mu sync.Mutex
	delivered := 0
	for _, ev := range events {
		env.RegisterDelayedCallback(func() {
			mu.Lock()
			delivered++
			mu.Unlock()
			if ev.Update {
				env.UpdateWorkflow(ev.Name, ev.UpdateID, &testsuite.TestUpdateCallback{
					OnAccept: func() {}, OnReject: func(error) {}, OnComplete: func(any, error) {},
				}, ev.Arg)
				return
			}
			env.SignalWorkflow(ev.Name, ev.Arg)
		}, max(ev.At.Sub(start), 0))
	}
	env.ExecuteWorkflow(workflows.AlertWorkflow, input)
	res := runResult{end: env.Now()}
	mu.Lock()
	res.delivered = delivered
	mu.Unlock()
	err := env.GetWorkflowError()
	var cont *workflow.ContinueAsNewError
	switch {
	case err == nil:
		var st alert.State
		if err := env.GetWorkflowResult(&st); err != nil {
			return runResult{}, fmt.Errorf("replay %s: read its final state: %w", id, err)
		}
		res.final = &st
	case errors.As(err, &cont):
		var next workflows.Input
		if err := converter.GetDefaultDataConverter().FromPayloads(cont.Input, &next); err != nil {
			return runResult{}, fmt.Errorf("replay %s: read the input it continued with: %w", id, err)
		}
		res.next = &next
	case isTimeout(err):
		// Reached Until with the alert still open.
	default:
		return runResult{}, fmt.Errorf("replay %s from %s: %w", id, start.UTC().Format(time.RFC3339), err)
	}
	return res, nil
}

// isTimeout says the run reached its run timeout: Until.
func isTimeout(err error) bool {
	var te *temporal.TimeoutError
	return errors.As(err, &te)
}
