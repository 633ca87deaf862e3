package workflows

import "github.com/alertflow/alertflow/alert"

// behaviours are what a run of AlertWorkflow does that some revision
// added: the code asks a behaviour by its name and never compares
// revision numbers, so what a revision changed is read in one place
// (revisionAdds) and a retired revision is a row to delete with the
// branches only it took.
type behaviours struct {
	// rules is the rule set a fresh alert applies events under.
	rules alert.RulesVersion

	// Added by RevisionLean.

	// logLocally logs each notification in a local activity within the
	// workflow task that made the transition, and sends it as an
	// activity to the configured remote sinks only.
	logLocally bool
	// startsShown: the intake starts an alert with the search attributes
	// and memo of the event that opens it, so the first workflow task
	// need not set them.
	startsShown bool

	// Added by RevisionGitLab.

	// takesRules: a fresh alert applies events under Input.Rules (hold,
	// children) and first recalls what its ID remembers.
	takesRules bool
	// refusesRepeatedAck: the acknowledge update refuses an alert that
	// is acknowledged already.
	refusesRepeatedAck bool
	// trimsUpdateAnswers: update results leave out the dedup keys and all
	// but the newest timeline entries, so updates cannot fill the history.
	trimsUpdateAnswers bool
	// wakesOnAction: every manual action, changed or not, wakes the loop
	// to look whether the run is full.
	wakesOnAction bool
	// boundsHistoryBytes: the history's size, not only its length, makes
	// the run continue as new.
	boundsHistoryBytes bool
	// handsOver: continue-as-new does not wait for notifications on their
	// way; it hands them to the next run.
	handsOver bool
	// orderedDelivery: each sink hears one alert's notifications in the
	// order they happened.
	orderedDelivery bool
	// autoResolves after Input.AutoResolveAfter without events.
	autoResolves bool
	// showsOnFinish: a run that completes brings its search attributes in
	// line with what it really is (it may have opened nothing).
	showsOnFinish bool

	// Added by RevisionRouted.

	// routes each alert when people first hear of it, escalates it and
	// takes snoozes.
	routes bool

	// Added by RevisionSilenced.

	// silences: the routing asks whether a silence holds a notification,
	// and the run takes the end of silences.
	silences bool

	// Added by RevisionFlapping.

	// flaps: Input.Rules' flapping settings apply.
	flaps bool

	// Added by RevisionFinished (rules apart).

	// endsDueSilenceFirst: a silence whose end is due is ended before a
	// delivery or an action is applied.
	endsDueSilenceFirst bool

	// Added by RevisionPrompt.

	// prompt: a failure after the resolve opens the next alert at once,
	// while notifications are still on their way, and hands on the
	// deliveries not finished.
	prompt bool

	// Added by RevisionFaithful.

	// faithfulSchedule: a reminder or a silence's end that ran late counts
	// from its due time, and a notification whose routing failed goes to
	// the root receiver.
	faithfulSchedule bool

	// Added by RevisionConsole.

	// keepsMessages: targets that keep one message per alert get what
	// they answered back, and hear the changes that page nobody.
	keepsMessages bool

	// Added by RevisionReconciled.

	// reconciles with GitLab's API, and takes missed scheduled runs.
	reconciles bool

	// Added by RevisionShown.

	// showsRevision keeps the AlertRevision search attribute the run's
	// revision.
	showsRevision bool
}

// revisionAdds says, for each revision, what it adds to the one before:
// a revision's behaviours are those of every row up to its own. A test
// holds the table to the revisions there are.
var revisionAdds = []func(*behaviours){
	RevisionFirst: func(b *behaviours) { b.rules = alert.RulesFirst },
	RevisionLean:  func(b *behaviours) { b.logLocally, b.startsShown = true, true },
	RevisionGitLab: func(b *behaviours) {
		b.rules = alert.RulesGitLab
		b.takesRules, b.refusesRepeatedAck, b.trimsUpdateAnswers, b.wakesOnAction = true, true, true, true
		b.boundsHistoryBytes, b.handsOver, b.orderedDelivery, b.autoResolves, b.showsOnFinish = true, true, true, true, true
	},
	RevisionRouted:   func(b *behaviours) { b.routes = true },
	RevisionSilenced: func(b *behaviours) { b.silences = true },
	RevisionFlapping: func(b *behaviours) { b.flaps = true },
	RevisionFinished: func(b *behaviours) {
		b.rules = alert.RulesFinished
		b.endsDueSilenceFirst = true
	},
	RevisionPrompt:     func(b *behaviours) { b.prompt = true },
	RevisionFaithful:   func(b *behaviours) { b.faithfulSchedule = true },
	RevisionConsole:    func(b *behaviours) { b.keepsMessages = true },
	RevisionReconciled: func(b *behaviours) { b.reconciles = true },
	RevisionInsight:    func(b *behaviours) { b.rules = alert.RulesInsight },
	RevisionShown:      func(b *behaviours) { b.showsRevision = true },
}

// behaviours are what a run of revision rev does.
func (rev Revision) behaviours() behaviours {
	var b behaviours
	for _, add := range revisionAdds[:min(int(rev), len(revisionAdds)-1)+1] {
		add(&b)
	}
	return b
}
