package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseReplayKeepsRecordedSettingsUnlessAFlagSetsThem(t *testing.T) {
	a, err := parseReplay([]string{"--config", "candidate.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	if a.policy.Hold != nil || a.policy.ReminderInterval != nil || a.policy.AutoResolveAfter != nil || a.policy.Children != nil ||
		a.policy.FlapThreshold != nil || a.policy.FlapWindow != nil {
		t.Fatalf("no flag, yet the policy overrides: %+v", a.policy)
	}
	if a.since != 720*time.Hour || a.fileFlag != "candidate.yaml" {
		t.Fatalf("since %s, file %q: want 720h and candidate.yaml", a.since, a.fileFlag)
	}
	a, err = parseReplay([]string{"candidate.yaml", "--hold", "0", "--reminder-interval", "8h", "--since", "24h", "--project", "team-a/*", "--json",
		"--flap-threshold", "5", "--flap-window", "2h"})
	if err != nil {
		t.Fatal(err)
	}
	if a.policy.Hold == nil || *a.policy.Hold != 0 || a.policy.ReminderInterval == nil || *a.policy.ReminderInterval != 8*time.Hour {
		t.Fatalf("policy %+v: want hold 0 and reminders every 8h", a.policy)
	}
	if a.policy.FlapThreshold == nil || *a.policy.FlapThreshold != 5 || a.policy.FlapWindow == nil || *a.policy.FlapWindow != 2*time.Hour {
		t.Fatalf("policy %+v: want flapping at 5 within 2h", a.policy)
	}
	if a.file != "candidate.yaml" || a.since != 24*time.Hour || a.project != "team-a/*" || !a.json {
		t.Fatalf("parsed %+v", a)
	}
}

func TestReplayCommandRefusesBadArgumentsNamingTheFlag(t *testing.T) {
	badSilences := filepath.Join(t.TempDir(), "silences.json")
	if err := os.WriteFile(badSilences, []byte(`[{"matchers":{"ref":"main"},"duration":"1h","created_by":"a"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", "c.yaml", "--hold", "2h"}, "-hold: want a duration from 0 to 1h"},
		{[]string{"--config", "c.yaml", "--reminder-interval", "10s"}, "-reminder-interval: want 0 or a duration of at least 1m"},
		{[]string{"--config", "c.yaml", "--child-pipelines", "all"}, "-child-pipelines:"},
		{[]string{"--config", "c.yaml", "--since", "0"}, `-since "0": want a positive duration`},
		{[]string{"--config", "c.yaml", "--project", "team-a/["}, `-project "team-a/[": not a valid glob`},
		{nil, "no candidate: give --config FILE or set ALERTFLOW_CONFIG"},
		{[]string{"--config", "c.yaml", "--temporal-address", "nohost"}, "-temporal-address: want host:port"},
		{[]string{"--config", "c.yaml", "--flap-threshold", "-1"}, "-flap-threshold: want a number of alerts from 0"},
		{[]string{"--config", "c.yaml", "--silences", "no-such-file.json"}, "-silences: open no-such-file.json"},
		{[]string{"--config", "c.yaml", "--silences", badSilences}, "silence 1: give starts_at and ends_at"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"replay"}, tc.args...), func(string) string { return "" }, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("replay %v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}
