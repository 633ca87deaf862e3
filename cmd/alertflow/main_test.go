package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// The command line's own answers: the usage for help or no command, and
// an unknown command named; every command's are tested in package app.
func TestTheCommandLineAnswersHelpAndUnknownCommands(t *testing.T) {
	for _, tt := range []struct {
		args      []string
		wantCode  int
		wantUsage bool   // on stdout
		wantErr   string // on stderr
	}{
		{args: nil, wantCode: 2, wantUsage: true},
		{args: []string{"--help"}, wantCode: 0, wantUsage: true},
		{args: []string{"-h"}, wantCode: 0, wantUsage: true},
		{args: []string{"help"}, wantCode: 0, wantUsage: true},
		{args: []string{"frobnicate"}, wantCode: 2, wantErr: `alertflow: unknown command "frobnicate"`},
	} {
		var stdout, stderr bytes.Buffer
		// Canceled: should a case wrongly run a mode, it stops at once.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if code := run(ctx, tt.args, func(string) string { return "" }, &stdout, &stderr); code != tt.wantCode {
			t.Errorf("alertflow %q exits %d, want %d; stderr:\n%s", tt.args, code, tt.wantCode, &stderr)
		}
		// The usage lists the settings, each with its default.
		if tt.wantUsage && !strings.Contains(stdout.String(), "ALERTFLOW_CONFIG") {
			t.Errorf("alertflow %q prints no usage:\n%s", tt.args, &stdout)
		}
		if !strings.Contains(stderr.String(), tt.wantErr) {
			t.Errorf("alertflow %q: stderr does not say %q:\n%s", tt.args, tt.wantErr, &stderr)
		}
	}
}
