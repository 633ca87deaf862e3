//go:build unix

package app

import (
	"os"
	"syscall"
)

// interrupt asks the child to stop as Ctrl-C would.
func interrupt(p *os.Process) error { return p.Signal(syscall.SIGINT) }
