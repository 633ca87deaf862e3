// Package devserver holds how alertflow runs the Temporal CLI's dev server,
// so that `alertflow dev` and the integration tests run it alike.
package devserver

// Tuning are the flags of `temporal server start-dev` that every dev
// server alertflow starts gets. The SQLite pragmas take signal-with-start
// on a file database from about 27/s to about 170/s (see
// docs/performance.md). One partition per task queue: partitions spread a
// queue over matching hosts, and the dev server has one; with the default
// four and the SDK's two pollers, tasks backlogged in a partition nobody
// polled waited out a 60 s long poll (make bench saw the stalls).
func Tuning() []string {
	return []string{
		"--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
		"--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
		"--dynamic-config-value", "matching.numTaskqueueWritePartitions=1",
	}
}
