package alert

import "slices"

// FailureClass says who can fix a failed pipeline: the platform team
// (infra), whoever owns the CI configuration (config), or the developers
// (code). Routes and silences match on it, so that each hears its own.
type FailureClass string

// The failure classes.
const (
	// ClassInfra: the runners or GitLab failed, not the change (a runner
	// system failure, a stuck or timed-out job, the scheduler, the API).
	ClassInfra FailureClass = "infra"
	// ClassConfig: the pipeline could not run as written (a YAML error, a
	// pipeline that failed without a single job, a trigger it may not run).
	ClassConfig FailureClass = "config"
	// ClassCode: a job's script failed, or GitLab gave no reason: the
	// change is the first suspect.
	ClassCode FailureClass = "code"
)

// FailureClasses lists the classes, for configuration errors and docs.
var FailureClasses = []FailureClass{ClassInfra, ClassConfig, ClassCode}

// infraReasons are GitLab's job failure reasons (commit_status's enum)
// that say the machinery failed: retrying on a healthy runner would pass.
var infraReasons = []string{
	"api_failure", "stuck_or_timeout_failure", "runner_system_failure", "missing_dependency_failure",
	"runner_unsupported", "stale_schedule", "job_execution_timeout", "archived_failure",
	"unmet_prerequisites", "scheduler_failure", "data_integrity_failure", "no_matching_runner",
	"ci_quota_exceeded", "trace_size_exceeded", "ip_restriction_failure",
	"reached_downstream_pipeline_trigger_rate_limit",
}

// configReasons are the reasons that say the pipeline's definition, or
// what it is allowed to do, is wrong: only a change to the CI
// configuration or the project's settings fixes them.
var configReasons = []string{
	"config_error", "yaml_error", "pipeline_loop_detected", "builds_disabled", "user_blocked", "project_deleted",
	"insufficient_bridge_permissions", "downstream_bridge_project_not_found", "invalid_bridge_trigger",
	"upstream_bridge_project_not_found", "insufficient_upstream_permissions", "bridge_pipeline_is_child_pipeline",
	"downstream_pipeline_creation_failed", "secrets_provider_not_found", "reached_max_descendant_pipelines_depth",
	"reached_max_pipeline_hierarchy_size", "protected_environment_failure", "environment_creation_failure",
	"deployment_rejected", "forward_deployment_failure", "failed_outdated_deployment_job",
}

// ClassOf classifies a failed pipeline from its failed jobs, given how
// many jobs it has in all. A pipeline with no job at all failed before it
// could run one: its configuration. Jobs allowed to fail did not fail the
// pipeline and are looked at only when no other job failed. Of the jobs
// that count, any code failure makes the pipeline code's (developers
// must look even if a runner also failed), then any config failure
// config's; only a pipeline failed by infra alone is infra's.
func ClassOf(failed []Job, jobs int) FailureClass {
	if jobs == 0 {
		return ClassConfig
	}
	counted := make([]Job, 0, len(failed))
	for _, j := range failed {
		if !j.AllowFailure {
			counted = append(counted, j)
		}
	}
	if len(counted) == 0 {
		counted = failed
	}
	if len(counted) == 0 {
		// Jobs, none failed, yet the pipeline failed: builds lists no
		// trigger jobs, so most often a downstream pipeline failed, and
		// its code is the suspect (it alerts on its own too).
		return ClassCode
	}
	class := ClassInfra
	for _, j := range counted {
		switch c := reasonClass(j.FailureReason); {
		case c == ClassCode:
			return ClassCode
		case c == ClassConfig:
			class = ClassConfig
		}
	}
	return class
}

// reasonClass is the class of one job failure reason; an unknown or
// missing reason is code's, as GitLab's own "unknown_failure" is.
func reasonClass(reason string) FailureClass {
	switch {
	case slices.Contains(infraReasons, reason):
		return ClassInfra
	case slices.Contains(configReasons, reason):
		return ClassConfig
	}
	return ClassCode
}

// ParseFailureClass reads a class from configuration or a matcher.
func ParseFailureClass(s string) (FailureClass, bool) {
	c := FailureClass(s)
	return c, slices.Contains(FailureClasses, c)
}
