package activities_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/alertview"
	"github.com/alertflow/alertflow/notify"
)

// stateOwn are the fields of alert.State that a notification recorded
// before the view carried, and that the view leaves to the workflow:
// nothing a receiver reads.
var stateOwn = map[string]bool{
	"limits": true, "memory": true, "recent_keys": true, "cause": true, "hold_until": true,
	"quiet": true, "silences_ended": true, "last_failed_id": true, "timeline": true,
}

// The notification activities' input is recorded in every alert's history
// and read back by workers of later versions: each recorded input must
// decode into today's notify.Notification, every field outside the alert
// encoding back the same, and the alert, which was the whole state before
// it was a view, must become exactly the view the workflow takes of that
// state, with no field renamed or lost on the way.
func TestRecordedActivityInputsKeepTheirJSONShape(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "histories", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	older, err := filepath.Glob(filepath.Join("..", "testdata", "histories", "v0", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, older...)
	names := map[string]bool{activities.ActivityNotifyLog: true, activities.ActivityNotifyWebhook: true, activities.ActivityNotifySlack: true}
	viewFields := jsonFields(reflect.TypeFor[alertview.Alert]())
	inputs := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		h, err := client.HistoryFromJSON(bytes.NewReader(raw), client.HistoryJSONOptions{})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, ev := range h.GetEvents() {
			a := ev.GetActivityTaskScheduledEventAttributes()
			if a == nil || !names[a.GetActivityType().GetName()] {
				continue
			}
			for _, p := range a.GetInput().GetPayloads() {
				inputs++
				where := fmt.Sprintf("%s event %d", f, ev.GetEventId())
				checkRecordedInput(t, where, p.GetData(), viewFields)
			}
		}
	}
	if inputs == 0 {
		t.Fatal("no notification activity input found in the recorded histories")
	}
	t.Logf("%d recorded inputs checked", inputs)
}

func checkRecordedInput(t *testing.T, where string, data []byte, viewFields map[string]bool) {
	t.Helper()
	// As the SDK decodes it: unknown fields are left out.
	var n notify.Notification
	if err := json.Unmarshal(data, &n); err != nil {
		t.Errorf("%s: the recorded input does not decode into notify.Notification: %v", where, err)
		return
	}
	var was, is map[string]any
	again, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &was); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again, &is); err != nil {
		t.Fatal(err)
	}
	wasAlert, _ := was["alert"].(map[string]any)
	delete(was, "alert")
	delete(is, "alert")
	if !reflect.DeepEqual(was, is) {
		t.Errorf("%s: the notification re-encodes differently:\n was %v\n  is %v", where, was, is)
	}
	for k := range wasAlert {
		if !viewFields[k] && !stateOwn[k] {
			t.Errorf("%s: the recorded alert's %q is neither in the view nor the workflow's own: renamed or lost", where, k)
		}
	}
	var st alert.State
	if err := json.Unmarshal(data, &struct {
		Alert *alert.State `json:"alert"`
	}{&st}); err != nil {
		t.Fatalf("%s: the recorded alert is no alert.State: %v", where, err)
	}
	if want := alertview.Notified(&st); !reflect.DeepEqual(n.Alert, want) {
		t.Errorf("%s: the recorded alert decodes as\n%+v\nnot as the view of its state\n%+v", where, n.Alert, want)
	}
}

// jsonFields are the JSON names of a struct's fields.
func jsonFields(typ reflect.Type) map[string]bool {
	out := map[string]bool{}
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out[name] = true
	}
	return out
}
