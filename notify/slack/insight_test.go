package slack_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/notifytest"
	"github.com/alertflow/alertflow/notify/slack"
)

// A resolved alert that keeps its recovery says how long the branch was
// red once, in the recovery line, in the console as in the plain message;
// one from before says it in the console's state line as it always did.
func TestTheConsoleSaysHowLongTheBranchWasRedOnce(t *testing.T) {
	insight := notifytest.Notification(notify.KindResolved)
	insight.Alert.Rules.Version = alert.RulesInsight
	insight.Alert.Culprit = &alert.Culprit{PipelineID: insight.Alert.Pipeline.ID, Status: alert.PipelineFailed}
	before := notifytest.Notification(notify.KindResolved)
	for _, c := range []struct {
		name     string
		msg      slack.Message
		recovery bool
	}{
		{"console, recovery kept", slack.Console(insight), true},
		{"plain message, recovery kept", slack.Format(insight), true},
		{"console, from before", slack.Console(before), false},
	} {
		raw, err := json.Marshal(c.msg)
		if err != nil {
			t.Fatal(err)
		}
		text := string(raw)
		if n := strings.Count(text, "red for"); n != 1 || strings.Contains(text, "*Recovery*") != c.recovery {
			t.Errorf("%s: says red for %d times, recovery line %v: %s", c.name, n, strings.Contains(text, "*Recovery*"), text)
		}
	}
}
