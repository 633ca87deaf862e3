package app

import "syscall"

// childProcAttr puts the dev server in its own process group, so that a
// terminal's Ctrl-C does not reach it before alertflow has drained, and
// has Linux stop it should alertflow die without the chance to stop it.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
