package app

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestReconcileCommandRefusesBadArgumentsBeforeConnecting(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "want one alert ID"},
		{[]string{"1-main", "2-main"}, "want one alert ID"},
		{[]string{"not-an-id"}, "alertflow reconcile:"},
		{[]string{"--by"}, "flag needs an argument"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		// An address nothing listens on: a command that got past its
		// arguments would fail to connect instead, with exit code 1.
		code := run(context.Background(), append([]string{"reconcile", "--temporal-address", "127.0.0.1:1"}, tt.args...),
			func(string) string { return "" }, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("reconcile %q: exit %d, stderr %q; want 2 and %q", tt.args, code, stderr.String(), tt.want)
		}
	}
}
