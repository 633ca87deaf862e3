package route

import "github.com/alertflow/alertflow/alertview"

// LabelsOf are the labels of an alert as it is now: its project and ref,
// the source and protected_ref of its newest pipeline, and its failure
// class.
func LabelsOf(s alertview.Alert) Labels {
	l := Labels{
		ProjectID:     s.Project.ID,
		Project:       s.Project.Path,
		Ref:           s.Ref,
		Tag:           s.Tag,
		Severity:      s.Severity,
		DefaultBranch: s.Project.DefaultBranch,
		FailureClass:  s.FailureClass,
	}
	if s.Pipeline != nil {
		l.Source, l.Protected = s.Pipeline.Source, s.Pipeline.Protected
	}
	return l
}
