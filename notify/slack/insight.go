package slack

import (
	"fmt"
	"strings"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
)

// classMeaning tells the reader of a failure class whom it concerns.
var classMeaning = map[alert.FailureClass]string{
	alert.ClassInfra:  "the runners or GitLab failed, not the change",
	alert.ClassConfig: "the pipeline could not run as configured",
	alert.ClassCode:   "a job's script failed",
}

// insightText says who and what broke the branch while the alert is
// open (the culprit against the last green, the failure class, the
// flaky jobs) and how it recovered once it resolved; "" for an alert
// that keeps none of it.
func insightText(n notify.Notification, links notify.Links) string {
	s := n.Alert
	var lines []string
	if r := s.Recovery(); r != nil {
		line := "*Recovery* " + escape(s.RecoveryLine())
		if r.Fix != nil && r.Fix.URL != "" {
			line += " · " + link(r.Fix.URL, fmt.Sprintf("pipeline #%d", r.Fix.PipelineID))
		}
		lines = append(lines, line)
	}
	if c := s.Culprit; c != nil {
		line := "*Broken by* " + escape(notify.Clip(s.CulpritLine(), maxText))
		if links.Compare != "" {
			line += " · " + link(links.Compare, "changes since green")
		}
		lines = append(lines, line)
	}
	if c := s.FailureClass; c != "" && s.Status != alert.StatusResolved {
		lines = append(lines, fmt.Sprintf("*Failure class* %s: %s", escape(string(c)), classMeaning[c]))
	}
	if len(s.FlakyJobs) > 0 {
		names := make([]string, 0, min(len(s.FlakyJobs), maxJobs))
		for i, j := range s.FlakyJobs {
			if i == maxJobs {
				names = append(names, fmt.Sprintf("and %d more", len(s.FlakyJobs)-maxJobs))
				break
			}
			names = append(names, fmt.Sprintf("%s (#%d)", escape(notify.Clip(j.Name, maxJobText)), j.PipelineID))
		}
		lines = append(lines, "*Flaky* failed, then passed on retry: "+strings.Join(names, ", "))
	}
	return strings.Join(lines, "\n")
}
