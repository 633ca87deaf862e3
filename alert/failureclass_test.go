package alert

import "testing"

func TestClassOfTellsInfraConfigAndCodeApart(t *testing.T) {
	job := func(reason string, allowed bool) Job {
		return Job{Name: "j", FailureReason: reason, AllowFailure: allowed}
	}
	tests := []struct {
		name   string
		failed []Job
		jobs   int
		want   FailureClass
	}{
		{"a runner system failure", []Job{job("runner_system_failure", false)}, 3, ClassInfra},
		{"stuck or timed out", []Job{job("stuck_or_timeout_failure", false)}, 3, ClassInfra},
		{"the scheduler and the API", []Job{job("scheduler_failure", false), job("api_failure", false)}, 3, ClassInfra},
		{"a script failure", []Job{job("script_failure", false)}, 3, ClassCode},
		{"no reason given", []Job{job("", false)}, 1, ClassCode},
		{"GitLab's unknown failure", []Job{job("unknown_failure", false)}, 1, ClassCode},
		{"a reason this version does not know", []Job{job("some_future_failure", false)}, 1, ClassCode},
		{"code wins over infra: developers must look", []Job{job("runner_system_failure", false), job("script_failure", false)}, 4, ClassCode},
		{"config wins over infra", []Job{job("runner_system_failure", false), job("config_error", false)}, 4, ClassConfig},
		{"a pipeline that failed without a job", nil, 0, ClassConfig},
		{"a trigger it may not run", []Job{job("insufficient_bridge_permissions", false)}, 2, ClassConfig},
		{"a job allowed to fail does not count beside one that may not",
			[]Job{job("script_failure", true), job("runner_system_failure", false)}, 4, ClassInfra},
		{"only jobs allowed to fail failed: they are all there is", []Job{job("runner_system_failure", true)}, 4, ClassInfra},
		{"jobs, none failed: a downstream pipeline did", nil, 5, ClassCode},
	}
	for _, tt := range tests {
		if got := ClassOf(tt.failed, tt.jobs); got != tt.want {
			t.Errorf("%s: ClassOf = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseFailureClassKnowsTheThreeClasses(t *testing.T) {
	for _, c := range []string{"infra", "config", "code"} {
		if got, ok := ParseFailureClass(c); !ok || string(got) != c {
			t.Errorf("ParseFailureClass(%q) = %q, %v", c, got, ok)
		}
	}
	for _, c := range []string{"", "INFRA", "runner", "code "} {
		if _, ok := ParseFailureClass(c); ok {
			t.Errorf("ParseFailureClass(%q) accepted it", c)
		}
	}
}
