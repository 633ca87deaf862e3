package config

import (
	"strings"
	"testing"
)

// pager is a file with one PagerDuty receiver whose integration holds keys.
func pager(keys string) string {
	return "receivers:\n  - name: pager\n    pagerduty:\n      routing_key: ${PD_TEAM_A}\n" + keys + "route:\n  receiver: pager\n"
}

func TestParseReadsChangeEvents(t *testing.T) {
	tests := []struct {
		name, keys  string
		on          bool
		changeURL   string
		eventsURLIs string
	}{
		{"off unless asked", "", false, "https://events.pagerduty.com/v2/change/enqueue", DefaultPagerDutyURL},
		{"on, beside the default URL", "      change_events: true\n", true, "https://events.pagerduty.com/v2/change/enqueue", DefaultPagerDutyURL},
		{"on, beside the EU URL", "      url: https://events.eu.pagerduty.com/v2/enqueue\n      change_events: true\n", true,
			"https://events.eu.pagerduty.com/v2/change/enqueue", "https://events.eu.pagerduty.com/v2/enqueue"},
		{"on, with a URL of its own", "      url: http://127.0.0.1:9/events\n      change_events: true\n      change_url: http://127.0.0.1:9/changes\n", true,
			"http://127.0.0.1:9/changes", "http://127.0.0.1:9/events"},
		{"off explicitly", "      change_events: false\n", false, "https://events.pagerduty.com/v2/change/enqueue", DefaultPagerDutyURL},
		{"off, with a URL nothing derives from", "      url: http://127.0.0.1:9/events\n", false, "", "http://127.0.0.1:9/events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(pager(tt.keys))
			if err != nil {
				t.Fatal(err)
			}
			pd := c.Receivers[0].PagerDuty
			if pd.ChangeEvents != tt.on || pd.ChangeURL != tt.changeURL || pd.URL != tt.eventsURLIs {
				t.Errorf("read as change_events %v, change_url %q, url %q; want %v, %q, %q",
					pd.ChangeEvents, pd.ChangeURL, pd.URL, tt.on, tt.changeURL, tt.eventsURLIs)
			}
		})
	}
}

func TestParseRefusesBadChangeEvents(t *testing.T) {
	tests := []struct{ name, keys, want string }{
		{"no change URL to derive", "      url: http://127.0.0.1:9/events\n      change_events: true\n",
			`alertflow.yaml:6: receivers[0].pagerduty.change_url: required with change_events: true when url does not end in /v2/enqueue: the Change Events endpoint, such as https://events.pagerduty.com/v2/change/enqueue`},
		{"not a boolean", "      change_events: yes please\n",
			`alertflow.yaml:5: receivers[0].pagerduty.change_events: want true or false`},
		{"a change URL that is no URL", "      change_events: true\n      change_url: events.pagerduty.com/v2/change/enqueue\n",
			`alertflow.yaml:6: receivers[0].pagerduty.change_url: the URL must start with https:// or http://`},
		{"a change URL from an unset variable", "      change_events: true\n      change_url: ${PD_CHANGES}\n",
			`alertflow.yaml:6: receivers[0].pagerduty.change_url: ${PD_CHANGES} is not set (or empty) in the environment`},
		{"a misspelt key", "      change_event: true\n",
			`alertflow.yaml:5: receivers[0].pagerduty.change_event: unknown key "change_event": want one of routing_key, routing_key_file, url, change_events, change_url`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(pager(tt.keys))
			if err == nil {
				t.Fatalf("accepted as %+v", c.Receivers[0].PagerDuty)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, tt.want)
			}
			noSecrets(t, "the error", err.Error())
		})
	}
}

func TestChangeURLOf(t *testing.T) {
	for url, want := range map[string]string{
		"https://events.pagerduty.com/v2/enqueue":    "https://events.pagerduty.com/v2/change/enqueue",
		"https://events.eu.pagerduty.com/v2/enqueue": "https://events.eu.pagerduty.com/v2/change/enqueue",
		"http://127.0.0.1:8080/v2/enqueue":           "http://127.0.0.1:8080/v2/change/enqueue",
		"https://proxy.example.com/pagerduty":        "",
		"https://events.pagerduty.com/v2/enqueue/":   "",
	} {
		if got := ChangeURLOf(url); got != want {
			t.Errorf("ChangeURLOf(%q) = %q, want %q", url, got, want)
		}
	}
	if strings.Contains(ChangeURLOf(DefaultPagerDutyURL), "/v2/enqueue") {
		t.Errorf("the default's change URL still ends in /v2/enqueue")
	}
}
