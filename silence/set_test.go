package silence

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/route"
)

// randomSilences are n silences of every matcher shape the index treats
// differently: project IDs, literal groups, globs across groups, none.
func randomSilences(t testing.TB, rng *rand.Rand, n int) []Active {
	t.Helper()
	var out []Active
	for i := range n {
		var m string
		g := rng.IntN(50)
		switch rng.IntN(7) {
		case 0:
			m = fmt.Sprintf(`{"project_id":[%d,%d]}`, rng.IntN(400), rng.IntN(400))
		case 1:
			m = fmt.Sprintf(`{"project":"group-%d/**"}`, g)
		case 2:
			m = fmt.Sprintf(`{"project":"group-%d/sub-%d/*","ref":"main"}`, g, rng.IntN(5))
		case 3:
			m = fmt.Sprintf(`{"project":"group-%d*/**"}`, g)
		case 4:
			m = fmt.Sprintf(`{"project":"{group-%d,group-%d}/**"}`, g, rng.IntN(50))
		case 5:
			m = fmt.Sprintf(`{"project":"group-%d/app-%d"}`, g, rng.IntN(8))
		default:
			m = `{"severity":"LOW"}`
		}
		a, err := Activate(Silence{ID: fmt.Sprintf("silence-%d", i), Matchers: json.RawMessage(m),
			StartsAt: now.Add(-time.Hour), EndsAt: now.Add(time.Duration(1+rng.IntN(100)) * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func randomLabels(rng *rand.Rand) route.Labels {
	paths := []string{"group-%d/app-%d", "group-%d/sub-3/app-%d", "group-%d0/app-%d", "group-%d"}
	p := paths[rng.IntN(len(paths))]
	path := fmt.Sprintf(p, rng.IntN(50), rng.IntN(8))
	if p == "group-%d" {
		path = fmt.Sprintf(p, rng.IntN(50))
	}
	return route.Labels{ProjectID: int64(rng.IntN(400)), Project: path, Ref: []string{"main", "dev"}[rng.IntN(2)],
		Severity: []alert.Severity{alert.SeverityHigh, alert.SeverityLow}[rng.IntN(2)]}
}

// The index may only narrow the search: for any alert, the silence found
// among the candidates is the one found among all silences.
func TestSetCandidatesHoldEverySilenceThatMatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	all := randomSilences(t, rng, 1000)
	set := NewSet(all)
	narrowed := 0
	for range 5000 {
		l := randomLabels(rng)
		cands := set.Candidates(l)
		want, wok := Silencing(all, l, now)
		got, gok := Silencing(cands, l, now)
		if wok != gok || want.ID != got.ID {
			t.Fatalf("labels %+v: among all %q (%v), among %d candidates %q (%v)", l, want.ID, wok, len(cands), got.ID, gok)
		}
		seen := map[string]bool{}
		for _, c := range cands {
			if seen[c.ID] {
				t.Fatalf("labels %+v: %s is a candidate twice", l, c.ID)
			}
			seen[c.ID] = true
		}
		// Three shapes in seven may match any group: the rest is indexed.
		if len(cands) < len(all)/2 {
			narrowed++
		}
	}
	if narrowed < 4000 {
		t.Fatalf("the index narrowed the search to under a half for %d of 5000 alerts, want most", narrowed)
	}
}

func TestLiteralGroupIsTheTopGroupAGlobFixes(t *testing.T) {
	for glob, want := range map[string]string{
		"team-a/**": "team-a", "team-a/api": "team-a", "team-a": "team-a", "team-a/{x,y}": "team-a",
		"team-*/**": "", "{a,b}/x": "", "**": "", "": "", `te\am/x`: "", "te[a]m/x": "", "?/x": "",
	} {
		got, ok := literalGroup(glob)
		if got != want || ok != (want != "") {
			t.Errorf("literalGroup(%q) = %q, %v; want %q", glob, got, ok, want)
		}
	}
}

func TestANilSetHoldsNothing(t *testing.T) {
	var s *Set
	if s.Len() != 0 || s.All() != nil || s.Candidates(route.Labels{Project: "a/b"}) != nil {
		t.Fatal("a nil set is not empty")
	}
}

// BenchmarkSilencingAmongTenThousandSilences is the cost of a check with
// 10 000 silences of 500 groups present (the target: under 1 ms).
func BenchmarkSilencingAmongTenThousandSilences(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	var all []Active
	for i := range 10000 {
		m := fmt.Sprintf(`{"project":"group-%d/**","ref":"main"}`, rng.IntN(500))
		if i%10 == 0 {
			m = fmt.Sprintf(`{"project_id":[%d]}`, rng.IntN(5000))
		}
		a, err := Activate(Silence{ID: fmt.Sprintf("silence-%d", i), Matchers: json.RawMessage(m), StartsAt: now, EndsAt: now.Add(time.Hour)})
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, a)
	}
	set := NewSet(all)
	l := route.Labels{ProjectID: 77, Project: "group-42/api", Ref: "main", Severity: alert.SeverityHigh}
	b.ResetTimer()
	for range b.N {
		Silencing(set.Candidates(l), l, now)
	}
}
