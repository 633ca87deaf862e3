// Package metricstest records what AlertWorkflow's histograms get, for
// tests: a client.MetricsHandler that keeps the timers it is told of, each
// as "name TAG duration" (TAG the value of one tag), and drops every other
// metric. It imports no alertflow package, so the workflows package's own
// tests can use it.
package metricstest

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
)

// Recorder is the metrics handler; the handlers WithTags derives from it
// record into it.
type Recorder struct {
	mu     *sync.Mutex
	tag    string
	timers []string
	tags   map[string]string
	got    *[]string
}

// New returns an empty Recorder of the timers named, labelled by tag.
func New(tag string, timers ...string) *Recorder {
	return &Recorder{mu: &sync.Mutex{}, tag: tag, timers: timers, tags: map[string]string{}, got: &[]string{}}
}

func (h *Recorder) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(h.tags)
	maps.Copy(merged, tags)
	return &Recorder{mu: h.mu, tag: h.tag, timers: h.timers, tags: merged, got: h.got}
}

func (h *Recorder) Counter(name string) client.MetricsCounter {
	return client.MetricsNopHandler.Counter(name)
}

func (h *Recorder) Gauge(name string) client.MetricsGauge {
	return client.MetricsNopHandler.Gauge(name)
}

func (h *Recorder) Timer(name string) client.MetricsTimer {
	if !slices.Contains(h.timers, name) {
		return client.MetricsNopHandler.Timer(name)
	}
	return timerFunc(func(d time.Duration) {
		h.mu.Lock()
		defer h.mu.Unlock()
		*h.got = append(*h.got, fmt.Sprintf("%s %s %s", name, h.tags[h.tag], d))
	})
}

// Recorded are the values recorded so far, in the order they were.
func (h *Recorder) Recorded() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(*h.got)
}

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }
