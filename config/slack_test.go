package config

import (
	"strings"
	"testing"
)

const slackToken = "xoxb-slack-app-token-secret"

func TestParseReadsASlackAppAndThePeopleItNames(t *testing.T) {
	testFiles["/run/secrets/slack-token"] = slackToken + "\n"
	defer delete(testFiles, "/run/secrets/slack-token")
	src := "receivers:\n" +
		"  - name: oncall\n" +
		"    slack:\n" +
		"      token_file: /run/secrets/slack-token\n" +
		"      channel: '#ci-alerts'\n" +
		"      api_url: http://127.0.0.1:9/api\n" +
		"  - name: chat\n" +
		"    slack:\n" +
		"      url: ${SLACK_TEAM_A}\n" +
		"route:\n  receiver: oncall\n" +
		"people:\n  U0ALICE: Alice Smith\n  bob.j: Bob Jones\n"
	c, err := parse(src)
	if err != nil {
		t.Fatal(err)
	}
	app := c.Receivers[0].Slack
	if !app.App() || app.Token.Value() != slackToken || app.Channel != "#ci-alerts" || app.APIURL != "http://127.0.0.1:9/api" {
		t.Errorf("the app reads as %+v", app)
	}
	if hook := c.Receivers[1].Slack; hook.App() || hook.URL.Value() != slackURL {
		t.Errorf("the incoming webhook reads as %+v", hook)
	}
	if c.People["U0ALICE"] != "Alice Smith" || c.People["bob.j"] != "Bob Jones" || len(c.People) != 2 {
		t.Errorf("people = %v", c.People)
	}
}

func TestParseRefusesABadSlackAppOrPeople(t *testing.T) {
	testEnv["SLACK_TOKEN"] = slackToken
	defer delete(testEnv, "SLACK_TOKEN")
	recv := func(slack string) string {
		return "receivers:\n  - name: oncall\n    slack:\n" + slack + "route:\n  receiver: oncall\n"
	}
	tests := []struct{ name, src, want string }{
		{"a token without a channel", recv("      token: ${SLACK_TOKEN}\n"),
			`alertflow.yaml:3: receivers[0].slack.channel: required with token: the channel the app posts to, #name or ID`},
		{"a token and a URL", recv("      token: ${SLACK_TOKEN}\n      url: ${SLACK_TEAM_A}\n      channel: '#ci'\n"),
			`alertflow.yaml:3: receivers[0].slack: give url (an incoming webhook) or token (a Slack app), not both`},
		{"a channel without a token", recv("      url: ${SLACK_TEAM_A}\n      channel: '#ci'\n"),
			`alertflow.yaml:5: receivers[0].slack.channel: belongs to a Slack app: give token or token_file with it`},
		{"a channel with a space", recv("      token: ${SLACK_TOKEN}\n      channel: '#ci alerts'\n"),
			`alertflow.yaml:5: receivers[0].slack.channel: "#ci alerts": want #name or a channel ID such as C0123ABCD`},
		{"people as a list", recv("      token: ${SLACK_TOKEN}\n      channel: C0123ABCD\n") + "people:\n  - alice\n",
			`alertflow.yaml:9: people: want a mapping of Slack user ID or name to a person, not a list`},
		{"a person with a control character", recv("      token: ${SLACK_TOKEN}\n      channel: C0123ABCD\n") + "people:\n  U0ALICE: \"Alice\\u0007\"\n",
			`alertflow.yaml:9: people.U0ALICE: want a name of 1 to 200 bytes without control characters`},
		{"a user that is no Slack user", recv("      token: ${SLACK_TOKEN}\n      channel: C0123ABCD\n") + "people:\n  \"<@U0>\": Alice\n",
			`alertflow.yaml:9: people: "<@U0>": want a Slack user ID (U0123ABCD) or user name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(tt.src)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err:\n%v\nwant:\n%s", err, tt.want)
			}
			if strings.Contains(err.Error(), slackToken) {
				t.Errorf("the error names the token")
			}
		})
	}
}
