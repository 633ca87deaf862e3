//go:build !linux

package app

// portHolder cannot name a port's process here without a tool of the
// system's: the refusal names the port only.
func portHolder(int) string { return "" }
