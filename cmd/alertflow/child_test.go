package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary stand in for alertflow when a test's serve
// or dev starts the silence worker as a child process: os.Executable is
// then this binary, started with alertflow's arguments.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		main()
		return
	}
	os.Exit(m.Run())
}
