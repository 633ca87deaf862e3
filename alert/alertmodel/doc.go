// Package alertmodel is test support: the reference model of the rules
// every new alert follows (docs/design.md), written out plainly and apart
// from the alert package's own logic, for tests to compare alert.State and
// the running system with, and what the reference model of the older rules
// shares with it. Only tests import it.
//
// There are three rule sets because alerts keep the rules they were
// created with, so that a recorded run replays as it ran:
//
//   - alert.RulesFinished (rules 1 to 5 and 8 to 12, rule 4 waiting for
//     the newest finished pipeline) is what every new alert runs, and
//     alert.RulesGitLab (the same but for that) what alerts recorded
//     before it still run. GitLab, in this package, is the one reference
//     model of both (NewFor picks the version; NewGitLab is RulesGitLab):
//     the domain's model test (alert's
//     TestGitLabRulesAgreeWithAReferenceModel) checks alert.State against
//     it step by step under each, and the integration tests ask it, under
//     the rules the intake starts alerts with, every rule decision (what
//     an event opens, raises, resolves, or counts as stale, duplicate,
//     held, superseded...) when they predict where the running system
//     ends up.
//   - alert.RulesFirst (rules 1 to 5) is what alerts recorded before still
//     run. Its reference model lives beside its only test
//     (TestStateAgreesWithAReferenceModel in alert's model_test.go), and
//     takes what the rule sets share from here: the severity of a
//     status and their order (rule 1), the dedup keys (rule 3), the check
//     of a manual action (rule 5), the bucket each outcome is counted in
//     (rule 12), and shrinking a failing sequence.
package alertmodel
