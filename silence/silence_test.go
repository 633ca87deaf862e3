package silence

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/route"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time {
	t := now.Add(d)
	return &t
}

func TestNewTakesADurationOrAnEndAndStartsNowByDefault(t *testing.T) {
	s, err := New("silence-1", Request{Matchers: json.RawMessage(`{ "project": "team-a/*", "ref": "main" }`),
		Duration: "2h", CreatedBy: " alice ", Comment: "migrating runners"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !s.StartsAt.Equal(now) || !s.EndsAt.Equal(now.Add(2*time.Hour)) || s.CreatedBy != "alice" ||
		string(s.Matchers) != `{"project":"team-a/*","ref":"main"}` {
		t.Fatalf("silence %+v", s)
	}
	s, err = New("silence-2", Request{Matchers: json.RawMessage(`{"severity":"LOW"}`),
		StartsAt: at(time.Hour), EndsAt: at(3 * time.Hour), CreatedBy: "bob"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !s.StartsAt.Equal(now.Add(time.Hour)) || s.StateAt(now) != StatePending || s.StateAt(now.Add(2*time.Hour)) != StateActive ||
		s.StateAt(now.Add(3*time.Hour)) != StateExpired {
		t.Fatalf("silence %+v: states %s %s %s", s, s.StateAt(now), s.StateAt(now.Add(2*time.Hour)), s.StateAt(now.Add(3*time.Hour)))
	}
	s, err = New("silence-3", Request{Matchers: json.RawMessage(`{"ref":"main"}`), Duration: "2d", CreatedBy: "bob"}, now)
	if err != nil || !s.EndsAt.Equal(now.Add(48*time.Hour)) {
		t.Fatalf("2d: %+v, %v", s, err)
	}
}

func TestNewNamesWhatIsWrongWithARequest(t *testing.T) {
	ok := json.RawMessage(`{"project":"team-a/*"}`)
	for _, tt := range []struct {
		name string
		req  Request
		want string
	}{
		{"no matchers", Request{Duration: "1h", CreatedBy: "a"}, `"matchers" is required`},
		{"empty matchers", Request{Matchers: json.RawMessage(`{}`), Duration: "1h", CreatedBy: "a"}, "at least one matcher"},
		{"unknown key", Request{Matchers: json.RawMessage(`{"projekt":"x"}`), Duration: "1h", CreatedBy: "a"}, `unknown key "projekt"`},
		{"bad glob", Request{Matchers: json.RawMessage(`{"project":"team-a/[x"}`), Duration: "1h", CreatedBy: "a"}, "matchers.project: bad glob"},
		{"bad regex", Request{Matchers: json.RawMessage(`{"ref_regex":"release-("}`), Duration: "1h", CreatedBy: "a"}, "matchers.ref_regex"},
		{"bad severity", Request{Matchers: json.RawMessage(`{"severity":"URGENT"}`), Duration: "1h", CreatedBy: "a"}, `unknown severity "URGENT"`},
		{"not JSON", Request{Matchers: json.RawMessage(`[`), Duration: "1h", CreatedBy: "a"}, "not valid YAML"},
		{"nobody", Request{Matchers: ok, Duration: "1h"}, `"created_by" is required`},
		{"no end", Request{Matchers: ok, CreatedBy: "a"}, `"duration" (such as "2h") or "ends_at"`},
		{"both ends", Request{Matchers: ok, CreatedBy: "a", Duration: "1h", EndsAt: at(time.Hour)}, "not both"},
		{"bad duration", Request{Matchers: ok, CreatedBy: "a", Duration: "soon"}, `"soon" is not a duration`},
		{"negative", Request{Matchers: ok, CreatedBy: "a", Duration: "-1h"}, "must be positive"},
		{"too long", Request{Matchers: ok, CreatedBy: "a", Duration: "91d"}, "at most"},
		{"ends before it starts", Request{Matchers: ok, CreatedBy: "a", StartsAt: at(2 * time.Hour), EndsAt: at(time.Hour)}, "is not after the start"},
		{"ended already", Request{Matchers: ok, CreatedBy: "a", EndsAt: at(-time.Hour)}, "is not after the start"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New("silence-x", tt.req, now)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want ErrInvalid naming %q", err, tt.want)
			}
		})
	}
}

func active(t *testing.T, id, matchers string, from, to time.Duration) Active {
	t.Helper()
	s, err := New(id, Request{Matchers: json.RawMessage(matchers), StartsAt: at(from), EndsAt: at(to), CreatedBy: "a"}, now)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Activate(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSilencingMatchesActiveSilencesAndPrefersTheLongest(t *testing.T) {
	set := []Active{
		active(t, "silence-short", `{"project":"team-a/*","ref":"main"}`, 0, time.Hour),
		active(t, "silence-long", `{"project":"team-a/**"}`, 0, 5*time.Hour),
		active(t, "silence-later", `{"project":"team-a/api"}`, 2*time.Hour, 10*time.Hour),
		active(t, "silence-low", `{"severity":"LOW","branches":"default"}`, 0, time.Hour),
	}
	api := route.Labels{Project: "team-a/api", Ref: "main", Severity: alert.SeverityHigh, DefaultBranch: "main"}
	if got, ok := Silencing(set, api, now.Add(time.Minute)); !ok || got.ID != "silence-long" {
		t.Fatalf("team-a/api@main: %v %v, want the longest active one", got.ID, ok)
	}
	if got, ok := Silencing(set, api, now.Add(3*time.Hour)); !ok || got.ID != "silence-later" {
		t.Fatalf("later: %v %v, want the one that started meanwhile and lasts longest", got.ID, ok)
	}
	if _, ok := Silencing(set, api, now.Add(10*time.Hour)); ok {
		t.Fatal("every silence is over, yet one silences")
	}
	other := route.Labels{Project: "team-b/web", Ref: "main", Severity: alert.SeverityLow, DefaultBranch: "main"}
	if got, ok := Silencing(set, other, now); !ok || got.ID != "silence-low" {
		t.Fatalf("team-b LOW on the default branch: %v %v", got.ID, ok)
	}
	other.Severity = alert.SeverityHigh
	if got, ok := Silencing(set, other, now); ok {
		t.Fatalf("team-b HIGH silenced by %s", got.ID)
	}
}

func TestAnExpiredSilenceSilencesNothing(t *testing.T) {
	a := active(t, "silence-x", `{"ref":"main"}`, 0, time.Hour)
	a.ExpiredAt = now.Add(time.Minute)
	if a.StateAt(now.Add(2*time.Minute)) != StateExpired {
		t.Fatal("expired early, yet not expired")
	}
	if _, ok := Silencing([]Active{a}, route.Labels{Ref: "main"}, now.Add(2*time.Minute)); ok {
		t.Fatal("an expired silence silences")
	}
	if _, ok := Silencing([]Active{a}, route.Labels{Ref: "main"}, now.Add(30*time.Second)); !ok {
		t.Fatal("before its early expiry, the silence silenced nothing")
	}
}

func TestCheckRefusesASilenceStartedWithoutItsFields(t *testing.T) {
	good, err := New("silence-ok", Request{Matchers: json.RawMessage(`{"ref":"main"}`), Duration: "1h", CreatedBy: "a"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := good.Check(); err != nil {
		t.Fatalf("a valid silence: %v", err)
	}
	for name, s := range map[string]Silence{
		"no prefix":   {ID: "mine", Matchers: good.Matchers, CreatedBy: "a", StartsAt: now, EndsAt: now.Add(time.Hour)},
		"no matchers": {ID: "silence-1", CreatedBy: "a", StartsAt: now, EndsAt: now.Add(time.Hour)},
		"no end":      {ID: "silence-1", Matchers: good.Matchers, CreatedBy: "a", StartsAt: now},
		"nobody":      {ID: "silence-1", Matchers: good.Matchers, StartsAt: now, EndsAt: now.Add(time.Hour)},
	} {
		if err := s.Check(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestNewAndCheckRefuseControlCharactersNamingTheField(t *testing.T) {
	ok := json.RawMessage(`{"project":"team-a/*"}`)
	for _, tt := range []struct {
		name, by, comment, want string
	}{
		{"NUL in created_by", "al\x00ice", "", `"created_by" holds the control character U+0000 at byte 2: no control characters`},
		{"a newline in created_by", "alice\nadmin", "", `"created_by" holds the control character U+000A at byte 5`},
		{"an escape in comment", "alice", "\x1b[31mred", `"comment" holds the control character U+001B at byte 0: no control characters but newlines and tabs`},
		{"a carriage return in comment", "alice", "one\rtwo", `"comment" holds the control character U+000D`},
		{"a C1 control in comment", "alice", "x\u0085y", `"comment" holds the control character U+0085`},
		{"a right-to-left override in comment", "alice", "expires \u202e7202", `"comment" holds the bidirectional control U+202E at byte 8`},
		{"a right-to-left isolate in created_by", "ali\u2067ce", "", `"created_by" holds the bidirectional control U+2067 at byte 3`},
		{"a right-to-left mark in comment", "alice", "a\u200fb", `"comment" holds the bidirectional control U+200F at byte 1`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New("silence-x", Request{Matchers: ok, Duration: "1h", CreatedBy: tt.by, Comment: tt.comment}, now)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want ErrInvalid naming %q", err, tt.want)
			}
			s := Silence{ID: "silence-x", Matchers: ok, CreatedBy: tt.by, Comment: tt.comment, StartsAt: now, EndsAt: now.Add(time.Hour)}
			if err := s.Check(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Check: %v, want ErrInvalid naming %q", err, tt.want)
			}
		})
	}
	s, err := New("silence-x", Request{Matchers: ok, Duration: "1h", CreatedBy: "alice", Comment: "runners:\n\t- old\n\t- new"}, now)
	if err != nil || s.Check() != nil {
		t.Errorf("a comment of lines and tabs: %v, %v", err, s.Check())
	}
}

func TestNewAndCheckRefuseAStartMoreThanMaxStartAhead(t *testing.T) {
	ok := json.RawMessage(`{"project":"team-a/*"}`)
	year9999 := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, start := range map[string]*time.Time{"a second over": at(MaxStartAhead + time.Second), "in 9999": &year9999} {
		_, err := New("silence-x", Request{Matchers: ok, Duration: "1h", StartsAt: start, CreatedBy: "a"}, now)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "more than 8760h0m0s (365 days, MaxStartAhead)") {
			t.Errorf("%s: %v, want ErrInvalid naming MaxStartAhead", name, err)
		}
	}
	s, err := New("silence-x", Request{Matchers: ok, Duration: "1h", StartsAt: at(MaxStartAhead), CreatedBy: "a"}, now)
	if err != nil {
		t.Fatalf("a start MaxStartAhead ahead: %v", err)
	}
	if err := s.Check(); err != nil {
		t.Errorf("Check of a start MaxStartAhead ahead: %v", err)
	}
	s.StartsAt, s.EndsAt = year9999, year9999.Add(time.Hour)
	if err := s.Check(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "MaxStartAhead") {
		t.Errorf("Check of a start in 9999: %v, want ErrInvalid naming MaxStartAhead", err)
	}
	// Started from the temporal CLI, a silence may have no created_at to
	// measure from: Check has no clock, and lets it through.
	s.CreatedAt = time.Time{}
	if err := s.Check(); err != nil {
		t.Errorf("Check without created_at: %v", err)
	}
}

func TestNewReadsMatchersWrittenWithAnyJSONEscape(t *testing.T) {
	s, err := New("silence-x", Request{Matchers: json.RawMessage(`{"project":"team-a\/api","ref":"feat-\ud83d\ude00"}`), Duration: "1h", CreatedBy: "a"}, now)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Activate(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := Silencing([]Active{a}, route.Labels{Project: "team-a/api", Ref: "feat-\U0001F600"}, now); !ok {
		t.Errorf("silence %s does not silence team-a/api@feat-\U0001F600", s.Matchers)
	}
}

func TestNewRefusesMatchersOverTheMatcherLimits(t *testing.T) {
	for _, tt := range []struct{ matchers, want string }{
		{`{"project":"` + strings.Repeat("{", 15000) + strings.Repeat("}", 15000) + `"}`, "matchers.project: glob too long: 30000 bytes, at most 256 (MaxGlobLength)"},
		{`{"project":"` + strings.Repeat("{*,**}/", 8) + `c"}`, "at most 32 (MaxGlobAlternatives)"},
		{`{"ref_regex":"` + strings.Repeat("a", 513) + `"}`, "matchers.ref_regex: regular expression too long: 513 bytes, at most 512 (MaxRefRegexLength)"},
		{`{"project_id":[` + strings.TrimSuffix(strings.Repeat("1,", 65), ",") + `]}`, "matchers: 65 values in one set of matchers: at most 64 (MaxMatcherValues)"},
	} {
		_, err := New("silence-x", Request{Matchers: json.RawMessage(tt.matchers), Duration: "1h", CreatedBy: "a"}, now)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%.60s: %.300v, want ErrInvalid naming %q", tt.matchers, err, tt.want)
		}
	}
}
