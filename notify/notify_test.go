package notify_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/notifytest"
)

// Every outcome alertflow has. A new one must be added here, and this test
// then says whether it notifies.
var allOutcomes = []alert.Outcome{
	alert.OutcomeOpened, alert.OutcomeSeverityChanged, alert.OutcomeUpdated,
	alert.OutcomeResolved, alert.OutcomeStale, alert.OutcomeDuplicate,
	alert.OutcomeIgnored, alert.OutcomeReopen, alert.OutcomeAcknowledged,
	alert.OutcomeReminder, alert.OutcomeRejected, alert.OutcomeEscalated,
	alert.OutcomeFlapping, alert.OutcomeFlipped, alert.OutcomeStable,
}

func TestKindOfNamesEachNotifyingOutcomeWithItsFixedKind(t *testing.T) {
	// The kinds are spelled as receivers see them: renaming an outcome must
	// not change these.
	want := map[alert.Outcome]notify.Kind{
		alert.OutcomeOpened:          "opened",
		alert.OutcomeSeverityChanged: "severity_changed",
		alert.OutcomeReminder:        "reminder",
		alert.OutcomeAcknowledged:    "acknowledged",
		alert.OutcomeResolved:        "resolved",
		alert.OutcomeEscalated:       "escalated",
		alert.OutcomeFlapping:        "flapping",
		alert.OutcomeStable:          "stable",
	}
	for _, out := range allOutcomes {
		got := notify.KindOf(out)
		if got != want[out] {
			t.Errorf("KindOf(%q) = %q, want %q", out, got, want[out])
		}
		if (got != "") != out.Notifies() {
			t.Errorf("KindOf(%q) = %q but Notifies() = %v", out, got, out.Notifies())
		}
	}
}

func TestLinksComeFromTheAlert(t *testing.T) {
	n := notifytest.Notification(notify.KindOpened)
	n.Alert.MergeRequest = &alert.MergeRequest{IID: 7, URL: "https://gitlab.example/p/-/merge_requests/7"}
	want := notify.Links{
		Pipeline:     n.Alert.Pipeline.URL,
		Project:      n.Alert.Project.URL,
		MergeRequest: "https://gitlab.example/p/-/merge_requests/7",
		Commit:       n.Alert.Pipeline.CommitURL,
	}
	if got := n.Links(); got != want {
		t.Errorf("Links() = %+v, want %+v", got, want)
	}
	if want.Pipeline == "" || want.Project == "" || want.Commit == "" {
		t.Errorf("the example alert lacks links: %+v", want)
	}
	n.Alert.Pipeline, n.Alert.MergeRequest = nil, nil
	if got := n.Links(); got != (notify.Links{Project: n.Alert.Project.URL}) {
		t.Errorf("Links() without a pipeline = %+v, want the project only", got)
	}
}

// Delivery is plain Go: the notify tree must build, and be testable,
// without the Temporal SDK, which only the activities adapter imports.
func TestTheNotifyTreeDoesNotImportTemporal(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("this test runs go list and needs the go command on PATH: %v", err)
	}
	out, err := exec.CommandContext(t.Context(), goTool, "list", "-deps", "-test",
		"-f", "{{.ImportPath}}", "github.com/alertflow/alertflow/notify/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	pkgs := strings.Fields(string(out))
	if !strings.Contains(string(out), "github.com/alertflow/alertflow/notify/slack") {
		t.Fatalf("go list -deps did not list the notify tree; output:\n%s", out)
	}
	for _, pkg := range pkgs {
		if strings.HasPrefix(pkg, "go.temporal.io/") || strings.HasPrefix(pkg, "github.com/alertflow/alertflow/activities") {
			t.Errorf("the notify tree depends on %s", pkg)
		}
	}
}
