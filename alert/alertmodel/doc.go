// Package alertmodel is test support: the reference model of the rules
// every new alert follows (docs/design.md), written out plainly and apart
// from the alert package's own logic, for tests to compare alert.State and
// the running system with, and what the reference model of the older rules
// shares with it. Only tests import it.
//
// There are two rule sets because alerts keep the rules they were created
// with, so that a recorded run replays as it ran:
//
//   - alert.RulesGitLab (rules 1 to 5 and 8 to 12) is what every new alert
//     runs. GitLab, in this package, is its one reference model: the
//     domain's model test (alert's TestGitLabRulesAgreeWithAReferenceModel)
//     checks alert.State against it step by step, and the integration
//     tests ask it every rule decision (what an event opens, raises,
//     resolves, or counts as stale, duplicate, held, superseded...) when
//     they predict where the running system ends up.
//   - alert.RulesFirst (rules 1 to 5) is what alerts recorded before still
//     run. Its reference model lives beside its only test
//     (TestStateAgreesWithAReferenceModel in alert's model_test.go), and
//     takes what the two rule sets share from here: the severity of a
//     status and their order (rule 1), the dedup keys (rule 3), the check
//     of a manual action (rule 5), the bucket each outcome is counted in
//     (rule 12), and shrinking a failing sequence.
package alertmodel
