package app

import "os"

// processGone says whether no process has pid any more: Windows opens no
// handle to an exited one.
func processGone(pid int) (bool, error) {
	p, err := os.FindProcess(pid)
	if err != nil {
		return true, nil
	}
	p.Release()
	return false, nil
}

func killProcess(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
