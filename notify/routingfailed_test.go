package notify_test

import (
	"strings"
	"testing"

	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/notifytest"
	"github.com/alertflow/alertflow/notify/pagerduty"
	"github.com/alertflow/alertflow/notify/slack"
	"github.com/alertflow/alertflow/notify/webhook"
)

// A notification whose routing failed reaches the root receiver marked so
// in every receiver's format, so whoever gets it knows to pass it on; one
// routed as usual carries no mark.
func TestEveryReceiverMarksANotificationWhoseRoutingFailed(t *testing.T) {
	for _, failed := range []bool{false, true} {
		n := notifytest.Notification(notify.KindOpened)
		n.RoutingFailed = failed
		p, err := webhook.NewPayload(n)
		if err != nil {
			t.Fatal(err)
		}
		ev, ok := pagerduty.NewEvent(n)
		if !ok {
			t.Fatal("no PagerDuty event for an opening")
		}
		msg := slack.Format(n)
		var text strings.Builder
		for _, b := range msg.Blocks {
			if b.Text != nil {
				text.WriteString(b.Text.Text)
			}
		}
		said := strings.Contains(text.String(), "Routing failed")
		if p.RoutingFailed != failed || ev.Payload.CustomDetails.RoutingFailed != failed || said != failed {
			t.Errorf("routing failed %v: webhook %v, PagerDuty %v, Slack says so %v", failed, p.RoutingFailed, ev.Payload.CustomDetails.RoutingFailed, said)
		}
	}
}
