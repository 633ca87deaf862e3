package activities_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/notify"
)

// The notification activities' input is recorded in every alert's history
// and read back by workers of later versions: each recorded input must
// decode into today's notify.Notification with no field left over and
// encode back to the same JSON.
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
				var n notify.Notification
				dec := json.NewDecoder(bytes.NewReader(p.GetData()))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&n); err != nil {
					t.Errorf("%s event %d: the recorded input does not decode into notify.Notification: %v", f, ev.GetEventId(), err)
					continue
				}
				again, err := json.Marshal(n)
				if err != nil {
					t.Fatal(err)
				}
				var was, is any
				if err := json.Unmarshal(p.GetData(), &was); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(again, &is); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(was, is) {
					t.Errorf("%s event %d: input re-encodes differently:\n was %s\n  is %s", f, ev.GetEventId(), p.GetData(), again)
				}
			}
		}
	}
	if inputs == 0 {
		t.Fatal("no notification activity input found in the recorded histories")
	}
	t.Logf("%d recorded inputs checked", inputs)
}
