package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertflow/alertflow/notify/teams"
	"github.com/alertflow/alertflow/workflows"
)

// teamsRoom is a fake Teams Workflows webhook: it keeps the cards posted
// to it and answers 202 Accepted, as Teams does.
type teamsRoom struct {
	mu    sync.Mutex
	cards []teams.Message
}

func (r *teamsRoom) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	var m teams.Message
	if err != nil || req.Method != http.MethodPost || json.Unmarshal(body, &m) != nil {
		http.Error(w, "not a Teams message", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.cards = append(r.cards, m)
	r.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// lines are the first two text blocks of each card: the title and the
// action ("**Opened** ...").
func (r *teamsRoom) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.cards {
		if len(m.Attachments) != 1 || len(m.Attachments[0].Content.Body) < 2 {
			out = append(out, "malformed card")
			continue
		}
		b := m.Attachments[0].Content.Body
		out = append(out, b[0].Text+" | "+b[1].Text)
	}
	return out
}

const teamsRouting = `receivers:
  - name: room
    teams:
      url: ${TEAMS_URL}
route:
  receiver: room
`

// A receiver of the routing file with a teams integration hears an alert's
// lifecycle as Adaptive Cards, through the real worker and intake: the
// registry builds it and the delivery activity targets it.
func TestATeamsReceiverHearsTheAlertOpenAndResolve(t *testing.T) {
	t.Parallel() // own task queue and project ids
	room := &teamsRoom{}
	srv := httptest.NewServer(room)
	t.Cleanup(srv.Close)
	sinks, _ := routedSinks(t, teamsRouting, map[string]string{"TEAMS_URL": srv.URL + "/workflows/hook?sig=secret"})
	s := newStackOf(t, &stack{sinks: sinks}, workflows.Input{})

	a := s.mustSignal(payload(t, 4791, "main", 47910, "failed"))
	s.mustSignal(payload(t, 4791, "main", 47911, "success"))
	s.waitClosed(a.AlertID)
	deadline := time.Now().Add(settleWithin)
	for len(room.lines()) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	got := room.lines()
	if len(got) != 2 || !strings.Contains(got[0], "Pipeline #47910 failed") || !strings.Contains(got[0], "**Opened**") ||
		!strings.Contains(got[1], "Pipeline #47911 succeeded") || !strings.Contains(got[1], "**Resolved**") {
		t.Fatalf("the room got %d cards:\n%s", len(got), strings.Join(got, "\n"))
	}
}
