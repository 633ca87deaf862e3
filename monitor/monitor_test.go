package monitor

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
)

// good passes Check; each case of TestCheckRefuses breaks one rule of it.
func good() Spec {
	return Spec{Name: "nightly", Project: 42, Path: "team-a/app", Ref: "main", Every: 24 * time.Hour, Grace: time.Hour, Severity: alert.SeverityHigh}
}

func TestCheckAccepts(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*Spec)
	}{
		{"every", func(*Spec) {}},
		{"the shortest every", func(s *Spec) { s.Every = time.Minute }},
		{"the longest every", func(s *Spec) { s.Every = 31 * 24 * time.Hour }},
		{"two minutes", func(s *Spec) { s.Every = 2 * time.Minute }},
		{"a cron", func(s *Spec) { s.Every, s.Cron = 0, "0 2 * * *" }},
		{"a cron on weekdays", func(s *Spec) { s.Every, s.Cron = 0, "30 6 * * 1-5" }},
		{"a yearly cron", func(s *Spec) { s.Every, s.Cron = 0, "0 0 31 12 *" }},
		{"a cron on the last day of February, leap or not", func(s *Spec) { s.Every, s.Cron = 0, "0 0 28,29 2 *" }},
		{"a descriptor", func(s *Spec) { s.Every, s.Cron = 0, "@daily" }},
		{"a cron in a time zone", func(s *Spec) { s.Every, s.Cron = 0, "CRON_TZ=UTC 0 2 * * *" }},
		{"no grace", func(s *Spec) { s.Grace = 0 }},
		{"the longest grace", func(s *Spec) { s.Grace = 7 * 24 * time.Hour }},
		{"LOW", func(s *Spec) { s.Severity = alert.SeverityLow }},
		{"MEDIUM", func(s *Spec) { s.Severity = alert.SeverityMedium }},
		{"an instance", func(s *Spec) { s.Instance = "gitlab-b" }},
		{"no path", func(s *Spec) { s.Path = "" }},
		{"a ref of 255 bytes", func(s *Spec) { s.Ref = strings.Repeat("r", 255) }},
		{"a ref outside ASCII", func(s *Spec) { s.Ref = "feature/ümlaut" }},
		{"a name of 200 bytes", func(s *Spec) { s.Name = strings.Repeat("n", 200) }},
		{"a name that is an alert ID", func(s *Spec) { s.Name = "gitlab-b:42-release/1.0" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := good()
			tt.edit(&s)
			if err := s.Check(); err != nil {
				t.Errorf("%+v refused: %v", s, err)
			}
		})
	}
}

func TestCheckRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*Spec)
		want string // the error, one line per rule broken
	}{
		{"no name", func(s *Spec) { s.Name = "" }, "name: required: up to 200 bytes of printable ASCII without spaces"},
		{"a long name", func(s *Spec) { s.Name = strings.Repeat("n", 201) }, "name: 201 bytes: want at most 200"},
		{"a name with a space", func(s *Spec) { s.Name = "night ly" }, `name: "night ly": want printable ASCII without spaces`},
		{"a name outside ASCII", func(s *Spec) { s.Name = "nächtlich" }, `name: "nächtlich": want printable ASCII without spaces`},
		{"a name with a control character", func(s *Spec) { s.Name = "a\x7f" }, `name: "a\x7f": want printable ASCII without spaces`},
		{"a bad instance", func(s *Spec) { s.Instance = "GitLab" }, `instance: "GitLab": want a lower-case letter, then up to 31 lower-case letters, digits and '-'`},
		{"no project", func(s *Spec) { s.Project = 0 }, "project: 0: want a GitLab project ID, a positive integer"},
		{"a negative project", func(s *Spec) { s.Project = -4 }, "project: -4: want a GitLab project ID, a positive integer"},
		{"a path with a newline", func(s *Spec) { s.Path = "team-a/\napp" }, `path: "team-a/\napp": want no control characters`},
		{"a long path", func(s *Spec) { s.Path = strings.Repeat("p", 1025) }, "path: 1025 bytes: want at most 1024"},
		{"no ref", func(s *Spec) { s.Ref = "" }, "ref: required: the branch or tag the schedule runs on"},
		{"a long ref", func(s *Spec) { s.Ref = strings.Repeat("r", 256) }, "ref: 256 bytes: want at most 255"},
		{"a ref with a control character", func(s *Spec) { s.Ref = "main\t" }, `ref: "main\t": want no control characters`},
		{"neither every nor cron", func(s *Spec) { s.Every = 0 }, "every: want an interval from 1m to 744h (31 days), or cron instead"},
		{"both every and cron", func(s *Spec) { s.Cron = "0 2 * * *" }, "cron: give every or cron, not both"},
		{"a short every", func(s *Spec) { s.Every = 30 * time.Second }, "every: 30s: want an interval from 1m to 744h (31 days)"},
		{"a negative every", func(s *Spec) { s.Every = -time.Hour }, "every: -1h: want an interval from 1m to 744h (31 days)"},
		{"a long every", func(s *Spec) { s.Every = 32 * 24 * time.Hour }, "every: 768h: want an interval from 1m to 744h (31 days)"},
		{"a cron of four fields", func(s *Spec) { s.Every, s.Cron = 0, "0 2 * *" },
			`cron: "0 2 * *": expected exactly 5 fields, found 4: [0 2 * *]: want five fields (minute hour day-of-month month day-of-week), such as "0 2 * * *"`},
		{"a cron with seconds", func(s *Spec) { s.Every, s.Cron = 0, "0 0 2 * * *" },
			`cron: "0 0 2 * * *": expected exactly 5 fields, found 6: [0 0 2 * * *]: want five fields (minute hour day-of-month month day-of-week), such as "0 2 * * *"`},
		{"a cron out of range", func(s *Spec) { s.Every, s.Cron = 0, "0 25 * * *" },
			`cron: "0 25 * * *": end of range (25) above maximum (23): 25: want five fields (minute hour day-of-month month day-of-week), such as "0 2 * * *"`},
		{"a cron that never fires", func(s *Spec) { s.Every, s.Cron = 0, "0 0 30 2 *" },
			`cron: "0 0 30 2 *" never fires, or not every year: want a schedule that fires at least once in 366 days`},
		{"a cron on 29 February only", func(s *Spec) { s.Every, s.Cron = 0, "0 0 29 2 *" },
			`cron: "0 0 29 2 *" never fires, or not every year: want a schedule that fires at least once in 366 days`},
		{"a cron with an empty field", func(s *Spec) { s.Every, s.Cron = 0, "0 , * * *" },
			`cron: "0 , * * *" never fires: want a schedule that fires at least once in 366 days`},
		{"@every", func(s *Spec) { s.Every, s.Cron = 0, "@every 1h" }, `cron: "@every 1h": an interval is every, not cron`},
		{"@every in a time zone", func(s *Spec) { s.Every, s.Cron = 0, "CRON_TZ=UTC @every 1h" }, `cron: "CRON_TZ=UTC @every 1h": an interval is every, not cron`},
		{"an unknown descriptor", func(s *Spec) { s.Every, s.Cron = 0, "@reboot" },
			`cron: "@reboot": unrecognized descriptor: @reboot: want five fields (minute hour day-of-month month day-of-week), such as "0 2 * * *"`},
		// The library panics on this one.
		{"a time zone without a schedule", func(s *Spec) { s.Every, s.Cron = 0, "CRON_TZ=UTC" },
			`cron: "CRON_TZ=UTC": want CRON_TZ=<zone> followed by a space and the schedule`},
		{"an unknown time zone", func(s *Spec) { s.Every, s.Cron = 0, "CRON_TZ=Mars/Olympus 0 2 * * *" },
			`cron: "CRON_TZ=Mars/Olympus 0 2 * * *": provided bad location Mars/Olympus: unknown time zone Mars/Olympus: want five fields (minute hour day-of-month month day-of-week), such as "0 2 * * *"`},
		{"a negative grace", func(s *Spec) { s.Grace = -5 * time.Minute }, "grace: -5m: want from 0 to 168h (7 days)"},
		{"a long grace", func(s *Spec) { s.Grace = 7*24*time.Hour + time.Second }, "grace: 168h0m1s: want from 0 to 168h (7 days)"},
		{"no severity", func(s *Spec) { s.Severity = "" }, "severity: required: HIGH, MEDIUM or LOW"},
		{"an unknown severity", func(s *Spec) { s.Severity = "CRITICAL" }, `severity: unknown severity "CRITICAL": want HIGH, MEDIUM or LOW`},
		{"a lower-case severity", func(s *Spec) { s.Severity = "high" }, `severity: unknown severity "high": want HIGH, MEDIUM or LOW`},
		{"everything at once, in field order", func(s *Spec) { *s = Spec{Grace: -time.Second} }, strings.Join([]string{
			"name: required: up to 200 bytes of printable ASCII without spaces",
			"project: 0: want a GitLab project ID, a positive integer",
			"ref: required: the branch or tag the schedule runs on",
			"every: want an interval from 1m to 744h (31 days), or cron instead",
			"grace: -1s: want from 0 to 168h (7 days)",
			"severity: required: HIGH, MEDIUM or LOW",
		}, "\n")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := good()
			tt.edit(&s)
			err := s.Check()
			if err == nil {
				t.Fatalf("%+v accepted", s)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, tt.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !strings.HasPrefix(tt.want, fe.Field+": ") {
				t.Errorf("the error holds no *FieldError of the field, or the wrong one: %#v", fe)
			}
		})
	}
}

func TestDefaultGrace(t *testing.T) {
	for _, tt := range []struct {
		s    Spec
		want time.Duration
	}{
		{Spec{Every: 24 * time.Hour}, time.Hour},
		{Spec{Every: time.Hour}, time.Hour},
		{Spec{Every: 2 * time.Minute}, 2 * time.Minute},
		{Spec{Cron: "*/5 * * * *"}, time.Hour},
	} {
		if got := tt.s.DefaultGrace(); got != tt.want {
			t.Errorf("%+v: DefaultGrace() = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDeadline(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	nightly := Spec{Cron: "0 2 * * *", Grace: time.Hour}
	for _, tt := range []struct {
		name  string
		s     Spec
		after time.Time
		want  time.Time
	}{
		{"every: the interval and the grace", Spec{Every: 24 * time.Hour, Grace: 30 * time.Minute}, at("2026-03-10T02:10:00Z"), at("2026-03-11T02:40:00Z")},
		{"every two minutes without grace", Spec{Every: 2 * time.Minute}, at("2026-03-10T10:00:30Z"), at("2026-03-10T10:02:30Z")},
		{"cron: after the day's time", nightly, at("2026-03-10T10:00:00Z"), at("2026-03-11T03:00:00Z")},
		{"cron: within the day's grace", nightly, at("2026-03-10T02:30:00Z"), at("2026-03-11T03:00:00Z")},
		{"cron: before the day's time", nightly, at("2026-03-10T01:59:00Z"), at("2026-03-10T03:00:00Z")},
		{"cron: strictly after", nightly, at("2026-03-10T02:00:00Z"), at("2026-03-11T03:00:00Z")},
		{"cron: a second before", nightly, at("2026-03-10T01:59:59.5Z"), at("2026-03-10T03:00:00Z")},
		{"cron: over the end of the year", nightly, at("2026-12-31T23:00:00Z"), at("2027-01-01T03:00:00Z")},
		{"cron: weekdays, from a Friday evening", Spec{Cron: "30 6 * * 1-5", Grace: 2 * time.Hour}, at("2026-03-13T18:00:00Z"), at("2026-03-16T08:30:00Z")},
		{"cron: read in UTC whatever after's location", nightly, at("2026-03-10T10:00:00Z").In(paris), at("2026-03-11T03:00:00Z")},
		{"cron: CRON_TZ", Spec{Cron: "CRON_TZ=Europe/Paris 0 2 * * *", Grace: time.Hour}, at("2026-03-10T10:00:00Z"), at("2026-03-11T02:00:00Z")},
		{"cron: a descriptor", Spec{Cron: "@weekly"}, at("2026-03-10T10:00:00Z"), at("2026-03-15T00:00:00Z")},
		{"no schedule: a day", Spec{}, at("2026-03-10T10:00:00Z"), at("2026-03-11T10:00:00Z")},
		{"a cron that does not parse: a day", Spec{Cron: "CRON_TZ=UTC", Grace: time.Hour}, at("2026-03-10T10:00:00Z"), at("2026-03-11T10:00:00Z")},
		{"a cron that never fires: a day", Spec{Cron: "0 0 30 2 *"}, at("2026-03-10T10:00:00Z"), at("2026-03-11T10:00:00Z")},
		{"a negative grace counts as none", Spec{Every: time.Hour, Grace: -time.Hour}, at("2026-03-10T10:00:00Z"), at("2026-03-10T11:00:00Z")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.s.Deadline(tt.after)
			if !got.Equal(tt.want) {
				t.Errorf("Deadline(%v) = %v, want %v", tt.after, got.UTC(), tt.want)
			}
			if got.Location() != tt.after.Location() {
				t.Errorf("Deadline is in %v, want after's %v", got.Location(), tt.after.Location())
			}
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	for _, s := range []Spec{
		good(),
		{Name: "b:7-release/1.0", Instance: "b", Project: 7, Ref: "release/1.0", Cron: "CRON_TZ=Europe/Paris 0 2 * * 1-5", Grace: 90 * time.Minute, Severity: alert.SeverityLow},
		{Name: "x", Project: 1, Ref: "feature/ümlaut", Every: 2 * time.Minute, Severity: alert.SeverityMedium},
	} {
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Spec
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("unmarshal %s: %v", data, err)
		}
		if back != s {
			t.Errorf("round trip through %s:\n got %+v\nwant %+v", data, back, s)
		}
		if back.Deadline(at("2026-03-10T10:00:00Z")) != s.Deadline(at("2026-03-10T10:00:00Z")) {
			t.Errorf("%s: the deadline changed in the round trip", data)
		}
	}
	data, _ := json.Marshal(Spec{Name: "n", Project: 1, Ref: "main", Every: time.Hour, Severity: alert.SeverityHigh})
	if want := `{"name":"n","project":1,"ref":"main","every":3600000000000,"severity":"HIGH"}`; string(data) != want {
		t.Errorf("JSON %s, want %s", data, want)
	}
}

func TestIDs(t *testing.T) {
	home := Spec{Name: "nightly", Project: 42, Ref: "release/1.0"}
	if got, want := home.AlertID(), "42-release/1.0"; got != want {
		t.Errorf("AlertID() = %q, want %q", got, want)
	}
	other := Spec{Name: "b:42-main", Instance: "b", Project: 42, Ref: "main"}
	if got, want := other.AlertID(), "b:42-main"; got != want {
		t.Errorf("AlertID() = %q, want %q", got, want)
	}
	if got, want := (Spec{Project: 1, Ref: "feature/ümlaut"}).AlertID(), "1-feature/%C3%BCmlaut"; got != want {
		t.Errorf("AlertID() = %q, want %q", got, want)
	}
}

// FuzzCheck: whatever the cron expression, Check and Deadline do not
// panic, and an accepted one has a deadline after the time given.
func FuzzCheck(f *testing.F) {
	for _, c := range []string{"0 2 * * *", "CRON_TZ=UTC", "TZ=", "TZ= 0 2 * * *", "@every 1h", "*/0 * * * *", "0-59/7 1-3 L * *", "0 0 29 2 *", "60 * * * *", "? ? ? ? ?", ", * * * *", "0 , * * *", "0 0 , * *", "0 0 * , *", "0 0 , * ,"} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, c string) {
		s := Spec{Name: "n", Project: 1, Ref: "main", Cron: c, Severity: alert.SeverityHigh}
		after := at("2026-03-10T10:00:00Z")
		d := s.Deadline(after)
		if !d.After(after) {
			t.Fatalf("Deadline(%v) = %v for %q", after, d, c)
		}
		if s.Check() == nil && d.Sub(after) > 367*24*time.Hour {
			t.Fatalf("%q accepted, with a deadline %v after", c, d.Sub(after))
		}
	})
}
