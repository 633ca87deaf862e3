package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/workflows"
)

// History is what one alert ID recorded within the replayed window: its
// runs, oldest first.
type History struct {
	ID      string
	Project string
	Ref     string
	Runs    []Run
}

// Run is one recorded run of AlertWorkflow.
type Run struct {
	RunID string
	Start time.Time
	// Input is what the run was started with.
	Input workflows.Input
	// Continued says the run was started by continue-as-new, not by the
	// intake.
	Continued bool
	// Recalled is what the run's recall of its ID's memory answered, when
	// it recalled (a fresh alert does).
	Recalled *alert.Memory
	// Events are the signals and accepted updates, in history order.
	Events []Event
	// Deliveries are the notifications scheduled to a receiver.
	Deliveries []Delivery
}

// Event is a recorded signal or accepted update. Its argument is kept as
// the JSON it was sent as, so that a signal added later replays without
// this package knowing its type.
type Event struct {
	At       time.Time
	Update   bool
	Name     string
	UpdateID string
	Arg      json.RawMessage
}

// Delivery is one notification scheduled to one receiver. A notification
// counts as sent once it was scheduled: a receiver that was down may not
// have got it.
type Delivery struct {
	Notification string
	Kind         string
	Receiver     string
}

// Filter picks the alerts to replay.
type Filter struct {
	// Since is the earliest start time of a run read.
	Since time.Time
	// Project is a glob on the project path, as the routing's project
	// matcher reads it; "" takes every project.
	Project string
}

// ValidProjectGlob says whether glob is a pattern Filter.Project takes.
func ValidProjectGlob(glob string) bool {
	return doublestar.ValidatePattern(glob)
}

// Reader reads alert histories from Temporal.
type Reader struct {
	Client    client.Client
	Namespace string
	// LegacyReceiver is the receiver that alerts recorded before routing
	// (which send to "the" webhook and Slack) count as having sent to:
	// the routing's root receiver, as the worker sends them.
	LegacyReceiver string
}

// Read lists the AlertWorkflow runs started since f.Since, open and
// closed, keeps those of the projects f.Project matches, and reads each
// run's history, grouped by alert ID, IDs in order, runs oldest first.
func (r Reader) Read(ctx context.Context, f Filter) ([]History, error) {
	query := fmt.Sprintf("WorkflowType = '%s' AND StartTime >= '%s'", workflows.WorkflowType, f.Since.UTC().Format(time.RFC3339))
	byID := map[string]*History{}
	var token []byte
	for {
		resp, err := r.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: r.Namespace, Query: query, NextPageToken: token, PageSize: 500,
		})
		if err != nil {
			return nil, fmt.Errorf("list alert runs started since %s: %w", f.Since.UTC().Format(time.RFC3339), err)
		}
		for _, info := range resp.GetExecutions() {
			project := keyword(info.GetSearchAttributes(), workflows.AttrProject.GetName())
			if f.Project != "" && !doublestar.MatchUnvalidated(f.Project, project) {
				continue
			}
			id, runID := info.GetExecution().GetWorkflowId(), info.GetExecution().GetRunId()
			run, err := r.readRun(ctx, id, runID)
			if err != nil {
				return nil, err
			}
			h := byID[id]
			if h == nil {
				h = &History{ID: id}
				byID[id] = h
			}
			h.Runs = append(h.Runs, run)
			if project != "" {
				h.Project = project
			}
			if ref := keyword(info.GetSearchAttributes(), workflows.AttrRef.GetName()); ref != "" {
				h.Ref = ref
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	out := make([]History, 0, len(byID))
	for _, h := range byID {
		slices.SortStableFunc(h.Runs, func(a, b Run) int { return a.Start.Compare(b.Start) })
		out = append(out, *h)
	}
	slices.SortFunc(out, func(a, b History) int {
		if c := a.Runs[0].Start.Compare(b.Runs[0].Start); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// keyword reads a keyword search attribute, "" when absent.
func keyword(sa *commonpb.SearchAttributes, name string) string {
	p := sa.GetIndexedFields()[name]
	if p == nil {
		return ""
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &s); err != nil {
		return ""
	}
	return s
}

func (r Reader) readRun(ctx context.Context, id, runID string) (Run, error) {
	var events []*historypb.HistoryEvent
	it := r.Client.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return Run{}, fmt.Errorf("read the history of run %s of %s: %w", runID, id, err)
		}
		events = append(events, ev)
	}
	run, err := ParseRun(events, r.LegacyReceiver)
	if err != nil {
		return Run{}, fmt.Errorf("read the history of run %s of %s: %w", runID, id, err)
	}
	run.RunID = runID
	return run, nil
}

// Local activity markers, as the Go SDK records them: the marker's
// "data" names the activity, its "result" holds the answer.
const (
	localActivityMarker = "LocalActivity"
	markerData          = "data"
	markerResult        = "result"
)

// ParseRun reads one run's history: its input, signals, accepted updates,
// recall answer and scheduled notifications. Deliveries of revisions
// before routing go to legacyReceiver.
func ParseRun(events []*historypb.HistoryEvent, legacyReceiver string) (Run, error) {
	dc := converter.GetDefaultDataConverter()
	var run Run
	for _, ev := range events {
		at := ev.GetEventTime().AsTime()
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			a := ev.GetWorkflowExecutionStartedEventAttributes()
			run.Start = at
			run.Continued = a.GetInitiator() == enumspb.CONTINUE_AS_NEW_INITIATOR_WORKFLOW || a.GetContinuedExecutionRunId() != ""
			if err := dc.FromPayloads(a.GetInput(), &run.Input); err != nil {
				return Run{}, fmt.Errorf("decode the input: %w", err)
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			a := ev.GetWorkflowExecutionSignaledEventAttributes()
			arg, err := rawArg(a.GetInput())
			if err != nil {
				return Run{}, fmt.Errorf("decode signal %s: %w", a.GetSignalName(), err)
			}
			run.Events = append(run.Events, Event{At: at, Name: a.GetSignalName(), Arg: arg})
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			req := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest()
			arg, err := rawArg(req.GetInput().GetArgs())
			if err != nil {
				return Run{}, fmt.Errorf("decode update %s: %w", req.GetInput().GetName(), err)
			}
			run.Events = append(run.Events, Event{At: at, Update: true, Name: req.GetInput().GetName(), UpdateID: req.GetMeta().GetUpdateId(), Arg: arg})
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			a := ev.GetActivityTaskScheduledEventAttributes()
			d, ok, err := delivery(a.GetActivityType().GetName(), a.GetInput(), legacyReceiver)
			if err != nil {
				return Run{}, err
			}
			if ok {
				run.Deliveries = append(run.Deliveries, d)
			}
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			a := ev.GetMarkerRecordedEventAttributes()
			if a.GetMarkerName() != localActivityMarker {
				continue
			}
			var data struct{ ActivityType string }
			if err := dc.FromPayloads(a.GetDetails()[markerData], &data); err != nil || data.ActivityType != activities.ActivityRecall {
				continue
			}
			var mem *alert.Memory
			if res := a.GetDetails()[markerResult]; res != nil {
				if err := dc.FromPayloads(res, &mem); err != nil {
					return Run{}, fmt.Errorf("decode the recalled memory: %w", err)
				}
			}
			run.Recalled = mem
		}
	}
	return run, nil
}

// rawArg is the first argument of a signal or update as JSON; null when
// it had none.
func rawArg(p *commonpb.Payloads) (json.RawMessage, error) {
	if len(p.GetPayloads()) == 0 {
		return json.RawMessage("null"), nil
	}
	var raw json.RawMessage
	if err := converter.GetDefaultDataConverter().FromPayload(p.GetPayloads()[0], &raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// delivery reads a scheduled notification activity: NotifyReceiver names
// its receiver; NotifyWebhook and NotifySlack, of alerts recorded before
// routing, went to legacyReceiver. Other activities are no delivery.
func delivery(activity string, input *commonpb.Payloads, legacyReceiver string) (Delivery, bool, error) {
	dc := converter.GetDefaultDataConverter()
	switch activity {
	case activities.ActivityNotifyReceiver:
		var d activities.Delivery
		if err := dc.FromPayloads(input, &d); err != nil {
			return Delivery{}, false, fmt.Errorf("decode a %s input: %w", activity, err)
		}
		if d.Notification.Kind == notify.KindUpdated {
			// It pages nobody: only a kept message changes.
			return Delivery{}, false, nil
		}
		return Delivery{Notification: d.Notification.ID, Kind: string(d.Notification.Kind), Receiver: d.Target.Receiver}, true, nil
	case activities.ActivityNotifyWebhook, activities.ActivityNotifySlack:
		var n notify.Notification
		if err := dc.FromPayloads(input, &n); err != nil {
			return Delivery{}, false, fmt.Errorf("decode a %s input: %w", activity, err)
		}
		return Delivery{Notification: n.ID, Kind: string(n.Kind), Receiver: legacyReceiver}, true, nil
	}
	return Delivery{}, false, nil
}

// Notices groups deliveries into notifications, in the order each was
// first scheduled. A notification handed over by continue-as-new and
// scheduled again keeps its id, so it counts once. Its kind is the
// notification's own: a receiver a severity change adds hears that change
// as "opened" (it never heard the alert before), and its delivery may be
// scheduled before those of the receivers that did, which wait for their
// previous notification; the replay names the kind the alert routed.
func Notices(deliveries []Delivery) []Notice {
	var out []Notice
	at := map[string]int{}
	for _, d := range deliveries {
		i, ok := at[d.Notification]
		if !ok {
			i = len(out)
			at[d.Notification] = i
			out = append(out, Notice{Kind: d.Kind})
		}
		if d.Kind == string(notify.KindSeverityChanged) {
			out[i].Kind = d.Kind
		}
		if !slices.Contains(out[i].Receivers, d.Receiver) {
			out[i].Receivers = append(out[i].Receivers, d.Receiver)
		}
	}
	return out
}

// Sent are the notifications the history sent, across its runs.
func (h History) Sent() []Notice {
	var all []Delivery
	for _, r := range h.Runs {
		all = append(all, r.Deliveries...)
	}
	return Notices(all)
}
