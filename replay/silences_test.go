package replay

import (
	"strings"
	"testing"
	"time"
)

func TestCandidateSilencesAreReadWithTheirOwnTimesAndNamedWhenWrong(t *testing.T) {
	set, err := CandidateSilences([]byte(`[
		{"matchers":{"project":"team-a/*"},"starts_at":"2026-11-01T00:00:00Z","ends_at":"2026-11-02T00:00:00Z","created_by":"alice","comment":"migration"},
		{"matchers":{"severity":"LOW"},"starts_at":"2026-11-03T00:00:00Z","ends_at":"2026-11-03T06:00:00Z","created_by":"bob"}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(set) != 2 || set[0].ID != "silence-candidate-1" || !set[0].StartsAt.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("read %+v", set)
	}
	during := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	if s := set[0].StateAt(during); s != "active" {
		t.Fatalf("during its span the first silence is %s", s)
	}
	for body, want := range map[string]string{
		`{"matchers":{}}`: "want a JSON list",
		`[{"matchers":{"ref":"main"},"duration":"1h","created_by":"a"}]`:                                                      "silence 1: give starts_at and ends_at",
		`[{"matchers":{"ref":"main"},"starts_at":"2026-11-01T00:00:00Z","ends_at":"2026-10-01T00:00:00Z","created_by":"a"}]`:  "silence 1: invalid silence",
		`[{"matchers":{"projekt":"x"},"starts_at":"2026-11-01T00:00:00Z","ends_at":"2026-11-02T00:00:00Z","created_by":"a"}]`: `unknown key "projekt"`,
		`[{"matchers":{"ref":"main"},"starts_at":"2026-11-01T00:00:00Z","ends_at":"2026-11-02T00:00:00Z"}]`:                   `"created_by" is required`,
	} {
		if _, err := CandidateSilences([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", body, err, want)
		}
	}
}
