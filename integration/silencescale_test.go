package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/webhook"
	"github.com/alertflow/alertflow/workflows"
)

// scaleSilences is past the one page of 1 000 silences a worker used to
// read: silences after it were not honoured.
const scaleSilences = 1100

// With 1 100 silences in the namespace, each holds its project (the first,
// one in the middle and the last), and a burst of 200 failures into a
// silenced group notifies nobody. A pathological glob is refused.
func TestEverySilenceHoldsWithElevenHundredAndABurstIntoASilencedGroupNotifiesNobody(t *testing.T) {
	t.Parallel() // a namespace of its own
	c, err := namespaceClient(scaleNamespace)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	const secret = "silence-secret"
	rc, receiver := newScriptedReceiver(t, secret)
	s := newStackOf(t, &stack{client: c, webhook: webhook.New(receiver.URL+rc.path, secret, notify.DefaultHTTPClient())}, workflows.Input{})

	// The project_id matchers name projects no other test uses; the last
	// holds the group of the burst (and its canary). They end on their own
	// soon after the test: expiring each would cost two visibility
	// queries more.
	ids := make([]string, scaleSilences)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				matchers := map[string]any{"project_id": []int{930000 + i}}
				if i == scaleSilences-1 {
					matchers = map[string]any{"project": "scale-burst/**"}
				}
				ids[i] = s.createSilence(map[string]any{"matchers": matchers, "duration": "5m", "created_by": "scale-test"}).ID
			}
		})
	}
	for i := range scaleSilences {
		work <- i
	}
	close(work)
	wg.Wait()
	s.waitSilenceRead(t, 931000, "scale-burst/canary", ids[scaleSilences-1])

	for _, i := range []int{0, scaleSilences / 2, scaleSilences - 2} {
		ans := s.mustSignal(teamPayload(t, int64(930000+i), fmt.Sprintf("scale-held/app-%d", i), 9300000+int64(i), "failed"))
		s.waitState(ans.AlertID, func(st *alert.State) error {
			if st.Silenced == nil || st.Silenced.ID != ids[i] {
				return fmt.Errorf("%s is held by %+v, want silence %d (%s)", ans.AlertID, st.Silenced, i, ids[i])
			}
			return nil
		})
	}

	// The burst: 200 projects of the group at about 40 a second.
	var burst []string
	pace := time.NewTicker(25 * time.Millisecond)
	defer pace.Stop()
	for i := range 200 {
		<-pace.C
		ans := s.mustSignal(teamPayload(t, int64(932000+i), fmt.Sprintf("scale-burst/app-%d", i), 9320000+int64(i), "failed"))
		burst = append(burst, ans.AlertID)
	}
	for _, id := range burst {
		s.waitState(id, func(st *alert.State) error {
			if st.Silenced == nil || st.Silenced.ID != ids[scaleSilences-1] {
				return fmt.Errorf("%s is held by %+v, want the group's silence", id, st.Silenced)
			}
			return nil
		})
	}
	// The canaries opened before the worker read the last silence are
	// heard, as they should be: only the held and the burst count.
	notified := 0
	for _, p := range accepted(rc) {
		if strings.HasPrefix(p.Alert.Project.Path, "scale-held/") || strings.HasPrefix(p.Alert.Project.Path, "scale-burst/app-") {
			notified++
		}
	}
	if notified != 0 {
		t.Fatalf("%d notifications of silenced alerts reached the receiver, want 0", notified)
	}

	// A glob whose matching would cost seconds is refused at creation.
	code, body := s.apiCall(http.MethodPost, "/api/v1/silences", map[string]any{
		"matchers": map[string]any{"project": strings.Repeat("{a,", 2000) + strings.Repeat("}", 2000)}, "duration": "1h", "created_by": "mallory"})
	var answer map[string]string
	if code != http.StatusBadRequest || json.Unmarshal(body, &answer) != nil || !strings.Contains(answer["error"], "matchers.project") {
		t.Fatalf("a pathological glob answered %d %s, want 400 naming matchers.project", code, body)
	}
}
