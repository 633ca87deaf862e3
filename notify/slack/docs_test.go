package slack_test

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/notifytest"
	"github.com/alertflow/alertflow/notify/slack"
)

// DocMessages are the messages docs/slack.md shows, one alert's life: the
// file name each is kept under in docs/slack/, and the message.
func docMessages() []struct {
	name string
	msg  slack.Message
} {
	snoozed := notifytest.Notification(notify.KindOpened)
	snoozed.Kind = notify.KindUpdated
	snoozed.Alert.Snoozed = &alert.Snooze{Until: notifytest.LaterAt().Add(time.Hour), By: "Alice Smith", Note: "from Slack"}
	escalated := notifytest.Notification(notify.KindEscalated)
	escalated.Alert.EscalatedTo, escalated.Alert.EscalatedAt = "team-a-lead", notifytest.LaterAt()
	return []struct {
		name string
		msg  slack.Message
	}{
		{"opened", slack.Console(notifytest.Notification(notify.KindOpened))},
		{"reminder-reply", slack.Reply(notifytest.Notification(notify.KindReminder))},
		{"snoozed", slack.Console(snoozed)},
		{"escalated-reply", slack.Reply(escalated)},
		{"acknowledged", slack.Console(notifytest.Notification(notify.KindAcknowledged))},
		{"resolved", slack.Console(notifytest.Notification(notify.KindResolved))},
	}
}

// TestTheDocsShowTheMessagesAsSent keeps docs/slack/*.json, which
// docs/slack.md shows and links to Block Kit Builder, the very messages
// the app sends (ALERTFLOW_UPDATE_GOLDEN=1 rewrites them).
func TestTheDocsShowTheMessagesAsSent(t *testing.T) {
	for _, m := range docMessages() {
		t.Run(m.name, func(t *testing.T) {
			got, err := json.MarshalIndent(m.msg, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			notifytest.MatchGolden(t, m.name, append(got, '\n'), filepath.Join("..", "..", "docs", "slack", m.name+".json"))
		})
	}
}
