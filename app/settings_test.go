package app

import (
	"bytes"
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/ingress"
)

// env is a fake environment: run and loadConfig take getenv, so no test
// touches the process environment.
type env map[string]string

func (e env) get(name string) string { return e[name] }

// secret is a source token; no error message may ever contain it.
const secret = "s3cret-tok3n-value"

// defaults is the configuration when nothing is set.
func defaults() config {
	return config{
		TemporalAddress:   "127.0.0.1:7233",
		Namespace:         "default",
		TaskQueue:         "alertflow",
		SilenceTaskQueue:  "alertflow-silences",
		SilenceWorker:     silenceWorkerProcess,
		Listen:            ":8080",
		MaxBody:           ingress.DefaultMaxBody,
		MaxBodyInFlight:   ingress.DefaultMaxBodyInFlight,
		AlertRate:         20,
		AlertBurst:        200,
		MaxConnections:    defaultMaxConnections,
		IdleTimeout:       defaultIdleTimeout,
		ReminderInterval:  4 * time.Hour,
		ReconcileInterval: 30 * time.Minute,
		Hold:              time.Minute,
		AutoResolveAfter:  168 * time.Hour,
		Children:          alert.ChildParent,
		FlapThreshold:     3,
		FlapWindow:        time.Hour,
		Retention:         720 * time.Hour,
		TemporalBin:       "bin/temporal",
		DataDir:           "data",
		DevPort:           7233,
		UIPort:            8233,
	}
}

// with is the defaults changed by fn.
func with(fn func(c *config)) config {
	c := defaults()
	fn(&c)
	return c
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name           string
		env            env
		args           []string
		want           config
		wantAddressSet bool
		wantTokens     map[string]string // token -> source name it must match
	}{
		{
			name: "defaults apply when nothing is set",
			env:  env{},
			want: defaults(),
		},
		{
			name: "blank source tokens count as not set",
			env:  env{"ALERTFLOW_SOURCE_TOKENS": "   "},
			want: defaults(),
		},
		{
			name: "values from the environment are taken",
			env: env{
				"TEMPORAL_ADDRESS":               "temporal.internal:7234",
				"TEMPORAL_NAMESPACE":             "alerts",
				"ALERTFLOW_TASK_QUEUE":           "alerts-q",
				"ALERTFLOW_LISTEN":               "127.0.0.1:9090",
				"ALERTFLOW_SOURCE_TOKENS":        "ci=" + secret + ", other=tok2",
				"ALERTFLOW_MAX_BODY":             "1024",
				"ALERTFLOW_RETENTION":            "48h",
				"ALERTFLOW_TEMPORAL_BIN":         "/opt/temporal",
				"ALERTFLOW_DATA_DIR":             "/var/lib/alertflow",
				"ALERTFLOW_UI_PORT":              "18233",
				"ALERTFLOW_REMINDER_INTERVAL":    "0",
				"ALERTFLOW_API_TOKEN":            "api-" + secret,
				"ALERTFLOW_TEMPORAL_COMPRESSION": "gzip",
				"ALERTFLOW_HOLD":                 "0",
				"ALERTFLOW_AUTO_RESOLVE_AFTER":   "24h",
				"ALERTFLOW_CHILD_PIPELINES":      "alert",
				"ALERTFLOW_FLAP_THRESHOLD":       "0",
				"ALERTFLOW_FLAP_WINDOW":          "30m",
				"ALERTFLOW_RECONCILE_INTERVAL":   "0",
			},
			want: config{
				TemporalAddress:  "temporal.internal:7234",
				Namespace:        "alerts",
				Gzip:             true,
				TaskQueue:        "alerts-q",
				SilenceTaskQueue: "alerts-q-silences",
				SilenceWorker:    silenceWorkerProcess,
				Listen:           "127.0.0.1:9090",
				sourceTokensSet:  true,
				apiTokenSet:      true,
				MaxBody:          1024,
				AutoResolveAfter: 24 * time.Hour,
				Children:         alert.ChildAlert,
				FlapWindow:       30 * time.Minute,
				MaxBodyInFlight:  ingress.DefaultMaxBodyInFlight,
				AlertRate:        20,
				AlertBurst:       200,
				MaxConnections:   defaultMaxConnections,
				IdleTimeout:      defaultIdleTimeout,
				Retention:        48 * time.Hour,
				TemporalBin:      "/opt/temporal",
				DataDir:          "/var/lib/alertflow",
				DevPort:          7233,
				UIPort:           18233,
			},
			wantAddressSet: true,
			wantTokens:     map[string]string{secret: "ci", "tok2": "other"},
		},
		{
			name: "a flag overrides the environment",
			env: env{
				"TEMPORAL_ADDRESS": "from-env:7233",
				"ALERTFLOW_LISTEN": ":9000",
			},
			args: []string{"-temporal-address", "from-flag:7300", "--alertflow-listen=:9001", "-alertflow-ui-port", "9002"},
			want: with(func(c *config) {
				c.TemporalAddress, c.Listen, c.UIPort = "from-flag:7300", ":9001", 9002
			}),
			wantAddressSet: true,
		},
		{
			name:           "the address counts as set when only the flag gives it",
			env:            env{},
			args:           []string{"-temporal-address", "127.0.0.1:7300"},
			want:           with(func(c *config) { c.TemporalAddress = "127.0.0.1:7300" }),
			wantAddressSet: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, addressSet, err := loadConfig("serve", tt.args, tt.env.get, io.Discard)
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if addressSet != tt.wantAddressSet {
				t.Errorf("addressSet = %v, want %v", addressSet, tt.wantAddressSet)
			}
			for tok, name := range tt.wantTokens {
				if got, ok := got.SourceTokens.Match(tok); !ok || got != name {
					t.Errorf("token of source %q matched %q, %v", name, got, ok)
				}
			}
			if n := got.SourceTokens.Len(); n != len(tt.wantTokens) {
				t.Errorf("%d token sources, want %d", n, len(tt.wantTokens))
			}
			if tt.want.apiTokenSet {
				if _, ok := got.APIToken.Match(tt.env["ALERTFLOW_API_TOKEN"]); !ok {
					t.Error("the API token does not match")
				}
			}
			got.SourceTokens, got.APIToken = ingress.Tokens{}, ingress.Tokens{} // compared above; opaque
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("config\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestLoadConfigRejectsBadValues(t *testing.T) {
	tests := []struct {
		name  string
		env   env
		args  []string
		names string // what the error must start with: the variable, or the flag
	}{
		{name: "TEMPORAL_ADDRESS without a port is rejected", env: env{"TEMPORAL_ADDRESS": "temporal.internal"}, names: "TEMPORAL_ADDRESS"},
		{name: "TEMPORAL_NAMESPACE of only spaces is rejected", env: env{"TEMPORAL_NAMESPACE": "  "}, names: "TEMPORAL_NAMESPACE"},
		{name: "ALERTFLOW_TASK_QUEUE of only spaces is rejected", env: env{"ALERTFLOW_TASK_QUEUE": " "}, names: "ALERTFLOW_TASK_QUEUE"},
		{name: "an ALERTFLOW_SILENCE_TASK_QUEUE that is the alerts' own is rejected", env: env{"ALERTFLOW_TASK_QUEUE": "q", "ALERTFLOW_SILENCE_TASK_QUEUE": "q"}, names: "ALERTFLOW_SILENCE_TASK_QUEUE"},
		{name: "an unknown ALERTFLOW_SILENCE_WORKER is rejected", env: env{"ALERTFLOW_SILENCE_WORKER": "inline"}, names: "ALERTFLOW_SILENCE_WORKER"},
		{name: "ALERTFLOW_LISTEN garbage is rejected", env: env{"ALERTFLOW_LISTEN": "not an address"}, names: "ALERTFLOW_LISTEN"},
		{name: "ALERTFLOW_MAX_BODY that is not a number is rejected", env: env{"ALERTFLOW_MAX_BODY": "abc"}, names: "ALERTFLOW_MAX_BODY"},
		{name: "ALERTFLOW_MAX_BODY of zero is rejected", env: env{"ALERTFLOW_MAX_BODY": "0"}, names: "ALERTFLOW_MAX_BODY"},
		{name: "ALERTFLOW_MAX_BODY below zero is rejected", env: env{"ALERTFLOW_MAX_BODY": "-1"}, names: "ALERTFLOW_MAX_BODY"},
		{name: "ALERTFLOW_RETENTION shorter than a day is rejected", env: env{"ALERTFLOW_RETENTION": "1h"}, names: "ALERTFLOW_RETENTION"},
		{name: "ALERTFLOW_RETENTION that is not a duration is rejected", env: env{"ALERTFLOW_RETENTION": "x"}, names: "ALERTFLOW_RETENTION"},
		{name: "an ALERTFLOW_TEMPORAL_COMPRESSION other than none or gzip is rejected", env: env{"ALERTFLOW_TEMPORAL_COMPRESSION": "zstd"}, names: "ALERTFLOW_TEMPORAL_COMPRESSION"},
		{name: "ALERTFLOW_REMINDER_INTERVAL below a minute is rejected", env: env{"ALERTFLOW_REMINDER_INTERVAL": "5s"}, names: "ALERTFLOW_REMINDER_INTERVAL"},
		{name: "a negative ALERTFLOW_HOLD is rejected", env: env{"ALERTFLOW_HOLD": "-1s"}, names: "ALERTFLOW_HOLD"},
		{name: "a negative ALERTFLOW_ALERT_RATE is rejected", env: env{"ALERTFLOW_ALERT_RATE": "-1"}, names: "ALERTFLOW_ALERT_RATE"},
		{name: "ALERTFLOW_ALERT_RATE cannot turn the limit off", env: env{"ALERTFLOW_ALERT_RATE": "0"}, names: "ALERTFLOW_ALERT_RATE"},
		{name: "ALERTFLOW_ALERT_RATE above 50 is rejected", env: env{"ALERTFLOW_ALERT_RATE": "51"}, names: "ALERTFLOW_ALERT_RATE"},
		{name: "ALERTFLOW_ALERT_BURST above 500 is rejected", env: env{"ALERTFLOW_ALERT_BURST": "501"}, names: "ALERTFLOW_ALERT_BURST"},
		{name: "ALERTFLOW_ALERT_BURST of zero is rejected", env: env{"ALERTFLOW_ALERT_BURST": "0"}, names: "ALERTFLOW_ALERT_BURST"},
		{name: "ALERTFLOW_HOLD over an hour is rejected", env: env{"ALERTFLOW_HOLD": "2h"}, names: "ALERTFLOW_HOLD"},
		{name: "ALERTFLOW_AUTO_RESOLVE_AFTER under an hour is rejected", env: env{"ALERTFLOW_AUTO_RESOLVE_AFTER": "5m"}, names: "ALERTFLOW_AUTO_RESOLVE_AFTER"},
		{name: "a negative ALERTFLOW_FLAP_THRESHOLD is rejected", env: env{"ALERTFLOW_FLAP_THRESHOLD": "-1"}, names: "ALERTFLOW_FLAP_THRESHOLD"},
		{name: "an ALERTFLOW_FLAP_THRESHOLD that is not a number is rejected", env: env{"ALERTFLOW_FLAP_THRESHOLD": "three"}, names: "ALERTFLOW_FLAP_THRESHOLD"},
		{name: "ALERTFLOW_FLAP_WINDOW of zero is rejected", env: env{"ALERTFLOW_FLAP_WINDOW": "0"}, names: "ALERTFLOW_FLAP_WINDOW"},
		{name: "ALERTFLOW_FLAP_WINDOW over a week is rejected", env: env{"ALERTFLOW_FLAP_WINDOW": "200h"}, names: "ALERTFLOW_FLAP_WINDOW"},
		{name: "an unknown ALERTFLOW_CHILD_PIPELINES is rejected", env: env{"ALERTFLOW_CHILD_PIPELINES": "children"}, names: "ALERTFLOW_CHILD_PIPELINES"},
		{name: "a negative ALERTFLOW_REMINDER_INTERVAL is rejected", env: env{"ALERTFLOW_REMINDER_INTERVAL": "-1h"}, names: "ALERTFLOW_REMINDER_INTERVAL"},
		{name: "ALERTFLOW_DEV_PORT of zero is rejected", env: env{"ALERTFLOW_DEV_PORT": "0"}, names: "ALERTFLOW_DEV_PORT"},
		{name: "ALERTFLOW_UI_PORT above 65535 is rejected", env: env{"ALERTFLOW_UI_PORT": "70000"}, names: "ALERTFLOW_UI_PORT"},
		{name: "ALERTFLOW_UI_PORT that is not a number is rejected", env: env{"ALERTFLOW_UI_PORT": "ui"}, names: "ALERTFLOW_UI_PORT"},
		{name: "ALERTFLOW_SOURCE_TOKENS with an empty token is rejected", env: env{"ALERTFLOW_SOURCE_TOKENS": "a="}, names: "ALERTFLOW_SOURCE_TOKENS"},
		{name: "ALERTFLOW_SOURCE_TOKENS with an empty token after a good one is rejected without showing the good one", env: env{"ALERTFLOW_SOURCE_TOKENS": "ci=" + secret + ",a="}, names: "ALERTFLOW_SOURCE_TOKENS"},
		{name: "ALERTFLOW_SOURCE_TOKENS with a bare token is rejected without showing it", env: env{"ALERTFLOW_SOURCE_TOKENS": secret}, names: "ALERTFLOW_SOURCE_TOKENS"},
		{name: "ALERTFLOW_SOURCE_TOKENS naming a source twice is rejected without showing its tokens", env: env{"ALERTFLOW_SOURCE_TOKENS": "ci=" + secret + ",ci=" + secret + "2"}, names: "ALERTFLOW_SOURCE_TOKENS"},
		{name: "ALERTFLOW_SOURCE_TOKENS of only commas is rejected", env: env{"ALERTFLOW_SOURCE_TOKENS": ",,"}, names: "ALERTFLOW_SOURCE_TOKENS"},
		{name: "ALERTFLOW_SOURCE_TOKENS left at .env.example's CHANGE-ME is rejected", env: env{"ALERTFLOW_SOURCE_TOKENS": "gitlab=CHANGE-ME"}, names: "ALERTFLOW_SOURCE_TOKENS"},
		{name: "ALERTFLOW_SOURCE_TOKENS with a docs placeholder after a good one is rejected", env: env{"ALERTFLOW_SOURCE_TOKENS": "ci=" + secret + ",gitlab-main=<long random token>"}, names: "ALERTFLOW_SOURCE_TOKENS"},
		{name: "ALERTFLOW_API_TOKEN left at .env.example's CHANGE-ME is rejected", env: env{"ALERTFLOW_API_TOKEN": "CHANGE-ME"}, names: "ALERTFLOW_API_TOKEN"},
		{name: "ALERTFLOW_API_TOKEN of the docs' ellipsis is rejected", env: env{"ALERTFLOW_API_TOKEN": "…"}, names: "ALERTFLOW_API_TOKEN"},
		{name: "ALERTFLOW_DATA_DIR of only spaces is rejected", env: env{"ALERTFLOW_DATA_DIR": " "}, names: "ALERTFLOW_DATA_DIR"},
		{name: "a bad -temporal-address flag is named as the flag", env: env{}, args: []string{"-temporal-address", "temporal.internal"}, names: "-temporal-address"},
		{name: "a bad flag is named as the flag even when the environment is good", env: env{"ALERTFLOW_MAX_BODY": "1024"}, args: []string{"-alertflow-max-body=-1"}, names: "-alertflow-max-body"},
		{name: "a bad -alertflow-source-tokens flag is named as the flag without showing its token", env: env{}, args: []string{"-alertflow-source-tokens", "ci=" + secret + ",a="}, names: "-alertflow-source-tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env{"ALERTFLOW_SOURCE_TOKENS": "good=" + secret}
			for k, v := range tt.env {
				e[k] = v
			}
			_, _, err := loadConfig("dev", tt.args, e.get, io.Discard)
			if err == nil {
				t.Fatal("loadConfig accepted it")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tt.names+":") {
				t.Errorf("error %q does not start with %q", msg, tt.names+":")
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error %q shows a token", msg)
			}
		})
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        env
		wantCode   int
		wantStderr []string // each must appear on stderr
		wantUsage  bool     // stdout lists every setting with its default
	}{
		{name: "serve without source tokens exits 2 naming ALERTFLOW_SOURCE_TOKENS", args: []string{"serve"}, env: env{}, wantCode: 2, wantStderr: []string{"alertflow serve: ALERTFLOW_SOURCE_TOKENS"}},
		{name: "ingress without source tokens exits 2 naming ALERTFLOW_SOURCE_TOKENS", args: []string{"ingress"}, env: env{}, wantCode: 2, wantStderr: []string{"alertflow ingress: ALERTFLOW_SOURCE_TOKENS"}},
		{name: "serve with blank source tokens exits 2 naming ALERTFLOW_SOURCE_TOKENS", args: []string{"serve"}, env: env{"ALERTFLOW_SOURCE_TOKENS": " "}, wantCode: 2, wantStderr: []string{"ALERTFLOW_SOURCE_TOKENS"}},
		{name: "dev with a bad value exits 2 naming the variable before starting anything", args: []string{"dev"}, env: env{"ALERTFLOW_UI_PORT": "70000"}, wantCode: 2, wantStderr: []string{"alertflow dev: ALERTFLOW_UI_PORT"}},
		{name: "an unknown flag exits 2", args: []string{"serve", "-no-such-flag"}, env: env{}, wantCode: 2, wantStderr: []string{"no-such-flag"}},
		{name: "a stray argument exits 2", args: []string{"worker", "extra"}, env: env{}, wantCode: 2, wantStderr: []string{`unexpected argument "extra"`}},
		{name: "dev --help prints every setting with its default and exits 0", args: []string{"dev", "--help"}, env: env{}, wantCode: 0, wantUsage: true},
		{name: "serve -h prints every setting with its default and exits 0", args: []string{"serve", "-h"}, env: env{}, wantCode: 0, wantUsage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			// A canceled context: should any case wrongly get as far as
			// running a mode, it stops instead of waiting for Temporal.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			code := run(ctx, tt.args, tt.env.get, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("run returned %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, &stdout, &stderr)
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr does not contain %q:\n%s", want, &stderr)
				}
			}
			if tt.wantUsage {
				checkUsage(t, stdout.String())
			}
		})
	}
}

// checkUsage checks that usage lists every setting on a line of its own
// with its default.
func checkUsage(t *testing.T, usage string) {
	t.Helper()
	lines := strings.Split(usage, "\n")
	for _, s := range settings() {
		def := s.def
		if def == "" {
			def = "(none)"
		}
		found := false
		for _, line := range lines {
			if f := strings.Fields(line); len(f) == 3 && f[0] == s.env && f[1] == "default" && f[2] == def {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("usage has no line %q:\n%s", s.env+" default "+def, usage)
		}
	}
}
