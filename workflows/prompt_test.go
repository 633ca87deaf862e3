package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/route"
)

// downPager is a routing whose HIGH alerts reach "pager" and "chat"; the
// pager refuses everything once down is set, and each receiver records
// what it took, in order.
type downPager struct {
	mu    sync.Mutex
	down  bool
	heard map[string][]string // receiver → "kind#pipeline", in order
}

func (p *downPager) receiver(name string) notify.Notifier {
	return notifierFunc(func(_ context.Context, n notify.Notification) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		if name == "pager" && p.down {
			return errors.New("pager down")
		}
		p.heard[name] = append(p.heard[name], fmt.Sprintf("%s#%d", n.Kind, n.Alert.Pipeline.ID))
		return nil
	})
}

func (p *downPager) of(name string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.heard[name])
}

func newDownPagerEnv(t *testing.T, p *downPager) *alertEnv {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	e := &alertEnv{TestWorkflowEnvironment: s.NewTestWorkflowEnvironment()}
	e.RegisterWorkflow(AlertWorkflow)
	recallNothing(e.TestWorkflowEnvironment)
	routing := activities.Routing{
		Route: func(route.Labels) []string { return []string{"pager", "chat"} },
		Receivers: map[string]activities.Receiver{
			"pager": {activities.IntegrationPagerDuty: p.receiver("pager")},
			"chat":  {activities.IntegrationSlack: p.receiver("chat")},
		},
	}
	e.RegisterActivity(activities.NewRoutedSinks(slog.New(slog.DiscardHandler), nil, nil, routing))
	return e
}

// A failure after the resolve, while the pager has not taken the resolve:
// revision rev continues into the new alert at end, handing over what.
func failureWhileThePagerIsDown(t *testing.T, rev Revision) (next *Input, end time.Duration, p *downPager) {
	t.Helper()
	p = &downPager{heard: map[string][]string{}}
	e := newDownPagerEnv(t, p)
	start := e.Now()
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.RegisterDelayedCallback(func() {
		p.mu.Lock()
		p.down = true
		p.mu.Unlock()
	}, 30*time.Second)
	e.signalAt(time.Minute, pipelineEvent(32, "success"))
	e.signalAt(2*time.Minute, pipelineEvent(33, "failed"))
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: rev})
	return continued(t, e), e.Now().Sub(start), p
}

func TestAFailureAfterTheResolveOpensTheNextAlertWithoutWaitingForADownReceiver(t *testing.T) {
	next, end, p := failureWhileThePagerIsDown(t, RevisionPrompt)
	if end > 3*time.Minute {
		t.Errorf("the run continued into the new alert %s in, want as soon as the failure came (2m)", end)
	}
	if len(next.Pending) != 1 || next.Pending[0].Pipeline.ID != 33 || next.State != nil {
		t.Fatalf("next input: pending %d, state %v; want a fresh alert with #33 pending", len(next.Pending), next.State)
	}
	if len(next.Handed) != 1 || next.Handed[0].Target.Receiver != "pager" || next.Handed[0].Notification.Kind != notify.KindResolved {
		t.Fatalf("handed %+v, want the resolve the pager has not taken", next.Handed)
	}
	if got := p.of("chat"); !slices.Equal(got, []string{"opened#31", "resolved#32"}) {
		t.Fatalf("chat heard %v, want the opened and resolved of #31's alert", got)
	}

	// The new alert, with the pager back: it hears the old resolve first,
	// then the new alert; the chat hears the new alert only.
	p2 := &downPager{heard: map[string][]string{}}
	e := newDownPagerEnv(t, p2)
	e.RegisterDelayedCallback(func() {
		if pager, chat := p2.of("pager"), p2.of("chat"); !slices.Equal(pager, []string{"resolved#32", "opened#33"}) || !slices.Equal(chat, []string{"opened#33"}) {
			t.Errorf("pager heard %v, chat %v; want the pager to hear the old alert's resolved, then the new one's opened, and the chat the new opened only", pager, chat)
		}
	}, time.Minute)
	e.ExecuteWorkflow(AlertWorkflow, *next)
	e.stillOpen(t)
}

func TestBeforeRevisionPromptTheNextAlertWaitedForTheDownReceiver(t *testing.T) {
	// Recorded runs keep their behaviour: the run waits until the pager
	// took the resolve or gave up before the failure opens the next
	// alert, minutes after the failure came (2m).
	next, end, _ := failureWhileThePagerIsDown(t, RevisionFinished)
	if end < 4*time.Minute {
		t.Errorf("a RevisionFinished run continued %s in, want only after the pager gave up", end)
	}
	if len(next.Handed) != 0 || len(next.Pending) != 1 {
		t.Fatalf("next input: handed %d, pending %d; want nothing handed and #33 pending", len(next.Handed), len(next.Pending))
	}
}
