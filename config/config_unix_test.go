//go:build unix

package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A routing file or a *_file that is a named pipe or a device is refused
// at once, naming it as written, rather than waited on or read for ever;
// a routing file over MaxConfigFileSize is refused naming the limit.
func TestLoadRefusesWhatIsNotARegularFileAndARoutingFileOverItsLimit(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("cannot make a named pipe here: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := Load(fifo, nil); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), fifo) {
			t.Errorf("a routing file that is a named pipe: %v, want it named and refused as not a regular file", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Load waited on a named pipe for 10 s")
	}

	path := filepath.Join(dir, "alertflow.yaml")
	for _, secret := range []string{"pipe", "/dev/zero"} {
		src := "receivers:\n  - name: pager\n    pagerduty:\n      routing_key_file: " + secret + "\nroute:\n  receiver: pager\n"
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		go func() { _, err := Load(path, nil); done <- err }()
		select {
		case err := <-done:
			want := path + ":4: receivers[0].pagerduty.routing_key_file: cannot read " + secret + ": " + errNotRegular.Error()
			if err == nil || err.Error() != want {
				t.Errorf("routing_key_file %s:\n%v\nwant:\n%s", secret, err, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Load waited on routing_key_file %s for 10 s", secret)
		}
	}

	big := "# padding\n" + strings.Repeat("#"+strings.Repeat(" ", 98)+"\n", MaxConfigFileSize/100) + "receivers:\n  - name: pager\n    webhook:\n      url: https://example.com/hook\nroute:\n  receiver: pager\n"
	if err := os.WriteFile(path, []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, nil)
	if err == nil || !strings.Contains(err.Error(), "MaxConfigFileSize") {
		t.Errorf("a routing file of %d bytes: %v, want it refused naming MaxConfigFileSize", len(big), err)
	}
}
