//go:build unix

package app

import (
	"errors"
	"syscall"
)

// processGone says whether no process has pid any more; err says why not.
func processGone(pid int) (bool, error) {
	err := syscall.Kill(pid, 0)
	return errors.Is(err, syscall.ESRCH), err
}

func killProcess(pid int) { _ = syscall.Kill(pid, syscall.SIGKILL) }
