//go:build unix && !linux

package app

import "syscall"

// childProcAttr puts the dev server in its own process group, so that a
// terminal's Ctrl-C does not reach it before alertflow has drained. macOS
// and the BSDs have no parent-death signal: alertflow stops the child
// itself on every way out but SIGKILL.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
