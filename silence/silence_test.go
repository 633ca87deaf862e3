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
