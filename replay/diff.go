// Package replay answers "what would this policy have done to last
// month's alerts?": it reads the alerts' recorded Temporal histories,
// re-runs each alert's recorded signals and updates through the real
// AlertWorkflow under a candidate policy in the SDK's test environment,
// and compares the notifications that were sent with those that would
// have been. It never contacts a receiver and never changes an alert.
package replay

import (
	"slices"
	"sort"
)

// Notice is one notification of an alert and the receivers it went to.
type Notice struct {
	Kind      string   `json:"kind"`
	Receivers []string `json:"receivers"`
}

// Change operations.
const (
	Added    = "added"
	Removed  = "removed"
	Rerouted = "rerouted"
)

// Change is one difference between what was sent and what would be: a
// notification to a receiver added or removed, or sent to another
// receiver instead (Rerouted, From the receiver it went to).
type Change struct {
	Op   string `json:"change"`
	Kind string `json:"kind"`
	// N is which notification of that kind it is, from 1: the second
	// reminder is N 2.
	N        int    `json:"n"`
	Receiver string `json:"receiver"`
	From     string `json:"from,omitempty"`
}

// Diff compares the notifications an alert sent with those it would send.
// The n-th notification of a kind is compared with the n-th of the same
// kind; of its receivers, those only sent to are removed, those only
// would-be-sent to are added, and where both happen they pair up, in name
// order, as re-routed. Changes come in the order of the notifications.
func Diff(sent, would []Notice) []Change {
	type slot struct {
		kind string
		n    int
	}
	index := func(list []Notice) (map[slot]Notice, []slot) {
		m := map[slot]Notice{}
		var order []slot
		count := map[string]int{}
		for _, nt := range list {
			count[nt.Kind]++
			s := slot{nt.Kind, count[nt.Kind]}
			m[s] = nt
			order = append(order, s)
		}
		return m, order
	}
	was, wasOrder := index(sent)
	will, willOrder := index(would)
	order := wasOrder
	for _, s := range willOrder {
		if _, ok := was[s]; !ok {
			order = append(order, s)
		}
	}
	var out []Change
	for _, s := range order {
		before, after := receiverSet(was[s].Receivers), receiverSet(will[s].Receivers)
		var gone, come []string
		for _, r := range before {
			if !slices.Contains(after, r) {
				gone = append(gone, r)
			}
		}
		for _, r := range after {
			if !slices.Contains(before, r) {
				come = append(come, r)
			}
		}
		for len(gone) > 0 && len(come) > 0 {
			out = append(out, Change{Op: Rerouted, Kind: s.kind, N: s.n, From: gone[0], Receiver: come[0]})
			gone, come = gone[1:], come[1:]
		}
		for _, r := range gone {
			out = append(out, Change{Op: Removed, Kind: s.kind, N: s.n, Receiver: r})
		}
		for _, r := range come {
			out = append(out, Change{Op: Added, Kind: s.kind, N: s.n, Receiver: r})
		}
	}
	return out
}

// receiverSet is the distinct receivers, sorted, so that the pairing of
// re-routes does not depend on the order deliveries happened in.
func receiverSet(rs []string) []string {
	out := slices.Clone(rs)
	sort.Strings(out)
	return slices.Compact(out)
}

// Total is what one receiver got and would get: notifications, each
// counted once however many of the receiver's integrations it went to.
type Total struct {
	Receiver string `json:"receiver"`
	Sent     int    `json:"sent"`
	Would    int    `json:"would"`
}

// Totals adds up sent and would-be notifications per receiver, in name
// order.
func Totals(alerts []AlertDiff) []Total {
	m := map[string]*Total{}
	add := func(list []Notice, field func(*Total) *int) {
		for _, nt := range list {
			for _, r := range receiverSet(nt.Receivers) {
				if m[r] == nil {
					m[r] = &Total{Receiver: r}
				}
				*field(m[r])++
			}
		}
	}
	for _, a := range alerts {
		add(a.Sent, func(t *Total) *int { return &t.Sent })
		add(a.Would, func(t *Total) *int { return &t.Would })
	}
	out := make([]Total, 0, len(m))
	for _, t := range m {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Receiver < out[j].Receiver })
	return out
}

// AlertDiff is one alert (one workflow ID over the replayed window): what
// it sent, what it would send, and the changes between them.
type AlertDiff struct {
	ID      string   `json:"alert_id"`
	Project string   `json:"project,omitempty"`
	Ref     string   `json:"ref,omitempty"`
	Runs    int      `json:"runs"`
	Sent    []Notice `json:"sent"`
	Would   []Notice `json:"would"`
	Changes []Change `json:"changes"`
	// Notes say what the replay could not do as recorded, such as a
	// manual action that found no open alert in the replay.
	Notes []string `json:"notes,omitempty"`
}
