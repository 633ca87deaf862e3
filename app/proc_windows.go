package app

import (
	"os"
	"syscall"
)

// childProcAttr gives the dev server its own process group, so that a
// console's Ctrl-C does not reach it before alertflow has drained.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// interrupt stops the child: Windows cannot send a console interrupt to
// one process, and the dev server's SQLite (write-ahead log) survives a
// kill.
func interrupt(p *os.Process) error { return p.Kill() }
