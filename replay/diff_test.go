package replay

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func notice(kind string, receivers ...string) Notice {
	return Notice{Kind: kind, Receivers: receivers}
}

func TestDiffOfTheSameNotificationsIsEmpty(t *testing.T) {
	list := []Notice{notice("opened", "pager", "chat"), notice("reminder", "pager"), notice("resolved", "chat", "pager")}
	if got := Diff(list, list); len(got) != 0 {
		t.Fatalf("Diff of a list with itself = %v, want none", got)
	}
	// The order of a notification's receivers is the order deliveries
	// ran in, which says nothing.
	swapped := []Notice{notice("opened", "chat", "pager"), notice("reminder", "pager"), notice("resolved", "pager", "chat")}
	if got := Diff(list, swapped); len(got) != 0 {
		t.Fatalf("Diff with receivers in another order = %v, want none", got)
	}
}

func TestDiffNamesAddedRemovedAndReroutedNotifications(t *testing.T) {
	sent := []Notice{
		notice("opened", "team-a-pager"),
		notice("reminder", "team-a-pager"),
		notice("reminder", "team-a-pager"),
		notice("resolved", "team-a-pager", "audit"),
	}
	would := []Notice{
		notice("opened", "team-b"),
		notice("reminder", "team-b"),
		notice("escalated", "managers"),
		notice("resolved", "team-b", "audit", "chat"),
	}
	want := []Change{
		{Op: Rerouted, Kind: "opened", N: 1, From: "team-a-pager", Receiver: "team-b"},
		{Op: Rerouted, Kind: "reminder", N: 1, From: "team-a-pager", Receiver: "team-b"},
		{Op: Removed, Kind: "reminder", N: 2, Receiver: "team-a-pager"},
		// team-a-pager -> chat pairs first, in name order.
		{Op: Rerouted, Kind: "resolved", N: 1, From: "team-a-pager", Receiver: "chat"},
		{Op: Added, Kind: "resolved", N: 1, Receiver: "team-b"},
		{Op: Added, Kind: "escalated", N: 1, Receiver: "managers"},
	}
	if got := Diff(sent, would); !reflect.DeepEqual(got, want) {
		t.Fatalf("Diff =\n%v\nwant\n%v", got, want)
	}
}

func TestDiffOfAHeldCancelThatNeverOpenedRemovesItsNotifications(t *testing.T) {
	sent := []Notice{notice("opened", "chat"), notice("resolved", "chat")}
	want := []Change{
		{Op: Removed, Kind: "opened", N: 1, Receiver: "chat"},
		{Op: Removed, Kind: "resolved", N: 1, Receiver: "chat"},
	}
	if got := Diff(sent, nil); !reflect.DeepEqual(got, want) {
		t.Fatalf("Diff = %v, want %v", got, want)
	}
}

func TestTotalsCountEachNotificationOncePerReceiver(t *testing.T) {
	alerts := []AlertDiff{
		{Sent: []Notice{notice("opened", "pager", "pager", "chat"), notice("reminder", "pager")},
			Would: []Notice{notice("opened", "chat")}},
		{Sent: []Notice{notice("opened", "pager")}, Would: []Notice{notice("opened", "pager"), notice("resolved", "audit")}},
	}
	want := []Total{{"audit", 0, 1}, {"chat", 1, 1}, {"pager", 3, 1}}
	if got := Totals(alerts); !reflect.DeepEqual(got, want) {
		t.Fatalf("Totals = %v, want %v", got, want)
	}
}

func TestNoticesGroupDeliveriesByNotificationInTheOrderScheduled(t *testing.T) {
	got := Notices([]Delivery{
		{"n1", "opened", "pager"}, {"n1", "opened", "chat"}, {"n2", "reminder", "pager"},
		// Handed over by continue-as-new and scheduled again.
		{"n2", "reminder", "pager"}, {"n1", "opened", "pager"},
	})
	want := []Notice{notice("opened", "pager", "chat"), notice("reminder", "pager")}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Notices = %v, want %v", got, want)
	}
}

func TestNoticesNameASeverityChangeByItsKindWhateverReceiverWasScheduledFirst(t *testing.T) {
	// The pager was added by the change and hears it as opened; the chat
	// heard the alert open and waited for that delivery to finish.
	got := Notices([]Delivery{
		{"n1", "opened", "chat"},
		{"n2", "opened", "pager"}, {"n2", "severity_changed", "chat"},
	})
	want := []Notice{notice("opened", "chat"), notice("severity_changed", "pager", "chat")}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Notices = %v, want %v", got, want)
	}
}

func TestWriteTextListsChangesAndTotals(t *testing.T) {
	d := AlertDiff{ID: "gitlab-7-main", Project: "team-a/api", Ref: "main",
		Sent: []Notice{notice("opened", "team-a-pager")}, Would: []Notice{notice("opened", "team-b")}}
	d.Changes = Diff(d.Sent, d.Would)
	rep := Report{Alerts: 1, Runs: 1, Changed: 1, Differences: []AlertDiff{d}, Totals: Totals([]AlertDiff{d})}
	var b bytes.Buffer
	if err := WriteText(&b, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"1 of 1 alerts would have notified differently",
		"gitlab-7-main  team-a/api@main",
		"~ rerouted  opened #1: team-a-pager -> team-b",
		"team-a-pager:  1 -> 0  (-1)",
		"team-b:        0 -> 1  (+1)",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
