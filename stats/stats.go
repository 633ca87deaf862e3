// Package stats sums up alerts: how many opened, were acknowledged and
// resolved, how long people took (median and 90th percentile), how many
// flapped, and which refs alert most. It computes from alert states alone;
// reading them from Temporal is the caller's business.
package stats

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/alertflow/alertflow/alert"
)

// DefaultTopRefs is how many refs Report.TopRefs lists.
const DefaultTopRefs = 10

// Report sums up the alerts opened within [From, To].
type Report struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Alerts Counts    `json:"alerts"`
	// TimeToAcknowledge is first acknowledge − opened, over the alerts
	// acknowledged; TimeToResolve is resolved − opened, over the alerts
	// resolved.
	TimeToAcknowledge Times `json:"time_to_acknowledge"`
	TimeToResolve     Times `json:"time_to_resolve"`
	// TopRefs are the refs with the most alerts, most first.
	TopRefs []RefCount `json:"top_refs"`
	// FlakyJobs are, per project, the jobs found flaky most often within
	// [From, To] (failed, then passed on retry in the same pipeline),
	// most first; projects with the most flaky runs first.
	FlakyJobs []ProjectFlaky `json:"flaky_jobs"`
}

// ProjectFlaky are one project's flaky jobs.
type ProjectFlaky struct {
	ProjectID int64      `json:"project_id"`
	Project   string     `json:"project,omitempty"`
	Jobs      []JobFlaky `json:"jobs"`
}

// JobFlaky is how often one job was found flaky.
type JobFlaky struct {
	Name  string `json:"name"`
	Stage string `json:"stage,omitempty"`
	// Times counts the pipelines in which it failed and then passed.
	Times int       `json:"times"`
	Refs  []string  `json:"refs"`
	Last  time.Time `json:"last"`
}

// Counts count alerts people were told of; an alert held and ended before
// anyone heard of it is not one.
type Counts struct {
	Opened       int `json:"opened"`
	Acknowledged int `json:"acknowledged"`
	Resolved     int `json:"resolved"`
	// Active are those still open or acknowledged.
	Active int `json:"active"`
	// Flapping are those found flapping (a non-zero FlappedAt).
	Flapping int `json:"flapping"`
}

// Times are the spread of one duration over the alerts that have it, in
// seconds and as a Go duration string ("4m30s"). The median and the 90th
// percentile interpolate linearly between the nearest values; both are
// null when no alert has the duration.
type Times struct {
	Count         int      `json:"count"`
	MedianSeconds *float64 `json:"median_seconds"`
	P90Seconds    *float64 `json:"p90_seconds"`
	Median        string   `json:"median,omitempty"`
	P90           string   `json:"p90,omitempty"`
}

// RefCount is how many alerts one project's ref had.
type RefCount struct {
	ProjectID int64  `json:"project_id"`
	Project   string `json:"project,omitempty"`
	Ref       string `json:"ref"`
	Alerts    int    `json:"alerts"`
}

// Compute sums up the alerts among states that people were told of and
// that opened within [from, to], listing at most top refs. One alert read
// twice (the same ID opened at the same instant, as the runs of an alert
// that continued as new carry it) counts once, as its furthest state.
func Compute(states []alert.State, from, to time.Time, top int) Report {
	rep := Report{From: from, To: to, TopRefs: []RefCount{}}
	var tta, ttr []time.Duration
	type refKey struct {
		project int64
		ref     string
	}
	refs := map[refKey]*RefCount{}
	for _, s := range once(states) {
		if s.Quiet || s.OpenedAt.IsZero() || s.OpenedAt.Before(from) || s.OpenedAt.After(to) {
			continue
		}
		rep.Alerts.Opened++
		if !s.AcknowledgedAt.IsZero() {
			rep.Alerts.Acknowledged++
			tta = append(tta, s.AcknowledgedAt.Sub(s.OpenedAt))
		}
		switch s.Status {
		case alert.StatusResolved:
			rep.Alerts.Resolved++
			ttr = append(ttr, s.ResolvedAt.Sub(s.OpenedAt))
		case alert.StatusOpen, alert.StatusAcknowledged:
			rep.Alerts.Active++
		}
		if !s.FlappedAt.IsZero() {
			rep.Alerts.Flapping++
		}
		k := refKey{s.Project.ID, s.Ref}
		rc := refs[k]
		if rc == nil {
			rc = &RefCount{ProjectID: s.Project.ID, Ref: s.Ref}
			refs[k] = rc
		}
		// The newest alert's project path wins: projects get renamed.
		rc.Project = s.Project.Path
		rc.Alerts++
	}
	rep.FlakyJobs = flakyJobs(once(states), from, to, top)
	rep.TimeToAcknowledge, rep.TimeToResolve = spread(tta), spread(ttr)
	for _, rc := range refs {
		rep.TopRefs = append(rep.TopRefs, *rc)
	}
	slices.SortFunc(rep.TopRefs, func(a, b RefCount) int {
		return cmp.Or(cmp.Compare(b.Alerts, a.Alerts), cmp.Compare(a.ProjectID, b.ProjectID), cmp.Compare(a.Ref, b.Ref))
	})
	if top >= 0 && len(rep.TopRefs) > top {
		rep.TopRefs = rep.TopRefs[:top]
	}
	return rep
}

// once keeps one state per alert, ordered by when the alerts opened so
// that the newest project path is the one kept: of the states of one ID
// opened at the same instant, the one that saw most events (and, among
// equals, the resolved one).
func once(states []alert.State) []alert.State {
	type key struct {
		id     string
		opened int64
	}
	best := map[key]int{}
	var out []alert.State
	for _, s := range states {
		if s.OpenedAt.IsZero() {
			out = append(out, s)
			continue
		}
		k := key{s.ID, s.OpenedAt.UnixNano()}
		i, seen := best[k]
		if !seen {
			best[k] = len(out)
			out = append(out, s)
			continue
		}
		if further(s, out[i]) {
			out[i] = s
		}
	}
	slices.SortStableFunc(out, func(a, b alert.State) int { return a.OpenedAt.Compare(b.OpenedAt) })
	return out
}

// further reports whether a is a later state of the same alert than b.
func further(a, b alert.State) bool {
	if a.Counts.Events != b.Counts.Events {
		return a.Counts.Events > b.Counts.Events
	}
	return a.Status == alert.StatusResolved && b.Status != alert.StatusResolved
}

func spread(ds []time.Duration) Times {
	t := Times{Count: len(ds)}
	if len(ds) == 0 {
		return t
	}
	secs := make([]float64, len(ds))
	for i, d := range ds {
		secs[i] = max(d, 0).Seconds()
	}
	slices.Sort(secs)
	median, p90 := percentile(secs, 0.5), percentile(secs, 0.9)
	t.MedianSeconds, t.P90Seconds = &median, &p90
	t.Median, t.P90 = human(median), human(p90)
	return t
}

// percentile is the p-th quantile of sorted, interpolating linearly
// between the two nearest values (as numpy's default and Excel's
// PERCENTILE.INC do), rounded to the millisecond.
func percentile(sorted []float64, p float64) float64 {
	pos := p * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	v := sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
	return math.Round(v*1000) / 1000
}

// human writes seconds as a Go duration, to the second ("1h2m3s") or,
// under one, to the millisecond ("38ms").
func human(seconds float64) string {
	d := time.Duration(seconds * float64(time.Second))
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// flakyJobs counts the flaky jobs of every alert, heard of or not (a
// flaky pipeline often resolves its alert before anyone is told), whose
// retry passed within [from, to], listing at most top jobs per project.
func flakyJobs(states []alert.State, from, to time.Time, top int) []ProjectFlaky {
	type jobKey struct {
		project     int64
		name, stage string
	}
	type pipelineKey struct {
		job      jobKey
		pipeline int64
	}
	jobs := map[jobKey]*JobFlaky{}
	projects := map[int64]*ProjectFlaky{}
	counted := map[pipelineKey]bool{}
	for _, s := range states {
		for _, f := range s.FlakyJobs {
			if f.At.Before(from) || f.At.After(to) {
				continue
			}
			k := jobKey{s.Project.ID, f.Name, f.Stage}
			// Two runs of one alert carry the same record.
			if pk := (pipelineKey{k, f.PipelineID}); counted[pk] {
				continue
			} else {
				counted[pk] = true
			}
			p := projects[k.project]
			if p == nil {
				p = &ProjectFlaky{ProjectID: k.project}
				projects[k.project] = p
			}
			p.Project = s.Project.Path
			j := jobs[k]
			if j == nil {
				j = &JobFlaky{Name: f.Name, Stage: f.Stage, Refs: []string{}}
				jobs[k] = j
			}
			j.Times++
			if !slices.Contains(j.Refs, s.Ref) {
				j.Refs = append(j.Refs, s.Ref)
			}
			if f.At.After(j.Last) {
				j.Last = f.At
			}
		}
	}
	for k, j := range jobs {
		p := projects[k.project]
		p.Jobs = append(p.Jobs, *j)
	}
	out := make([]ProjectFlaky, 0, len(projects))
	total := func(p ProjectFlaky) int {
		n := 0
		for _, j := range p.Jobs {
			n += j.Times
		}
		return n
	}
	for _, p := range projects {
		slices.SortFunc(p.Jobs, func(a, b JobFlaky) int {
			return cmp.Or(cmp.Compare(b.Times, a.Times), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Stage, b.Stage))
		})
		if top >= 0 && len(p.Jobs) > top {
			p.Jobs = p.Jobs[:top]
		}
		for i := range p.Jobs {
			slices.Sort(p.Jobs[i].Refs)
		}
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b ProjectFlaky) int {
		return cmp.Or(cmp.Compare(total(b), total(a)), cmp.Compare(a.ProjectID, b.ProjectID))
	})
	return out
}
