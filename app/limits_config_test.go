package app

import (
	"io"
	"strings"
	"testing"
	"time"
)

// The API token is one token, whatever characters it holds: read as a list
// of sources, "realtoken,y=z" let "z" in as well.
func TestTheAPITokenIsTakenWholeWithItsCommasAndEquals(t *testing.T) {
	for _, tok := range []string{"realtoken,y=z", "a=b", "x,,y", "k=v,w=z"} {
		env := map[string]string{"ALERTFLOW_API_TOKEN": tok}
		cfg, _, err := loadConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", tok, err)
		}
		if _, ok := cfg.APIToken.Match(tok); !ok || cfg.APIToken.Len() != 1 {
			t.Errorf("%q: the whole token is not the one token (%d tokens)", tok, cfg.APIToken.Len())
		}
		for _, part := range []string{"z", "y=z", "realtoken", "b", "a", "x", "y", "v", "w=z"} {
			if part == tok {
				continue
			}
			if _, ok := cfg.APIToken.Match(part); ok {
				t.Errorf("%q lets %q in", tok, part)
			}
		}
	}
}

func TestLimitSettingsReachTheServerAndBadOnesNameTheVariable(t *testing.T) {
	env := map[string]string{"ALERTFLOW_MAX_CONNECTIONS": "32", "ALERTFLOW_HTTP_IDLE_TIMEOUT": "90s", "ALERTFLOW_MAX_BODY_IN_FLIGHT": "30000000"}
	cfg, _, err := loadConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	l := httpLimitsOf(cfg)
	if l.connections != 32 || l.idle != 90*time.Second || l.headerBytes != maxHeaderBytes || cfg.MaxBodyInFlight != 30000000 {
		t.Fatalf("limits %+v, in flight %d", l, cfg.MaxBodyInFlight)
	}
	for _, bad := range []map[string]string{
		{"ALERTFLOW_MAX_CONNECTIONS": "0"},
		{"ALERTFLOW_MAX_CONNECTIONS": "many"},
		{"ALERTFLOW_HTTP_IDLE_TIMEOUT": "10ms"},
		{"ALERTFLOW_MAX_BODY_IN_FLIGHT": "-1"},
		// Under the default 25 MiB body limit: the largest bodies could
		// never be taken.
		{"ALERTFLOW_MAX_BODY_IN_FLIGHT": "1048576"},
		{"ALERTFLOW_MAX_BODY": "2000000", "ALERTFLOW_MAX_BODY_IN_FLIGHT": "1999999"},
	} {
		_, _, err := loadConfig("serve", nil, func(k string) string { return bad[k] }, io.Discard)
		named := false
		for k := range bad {
			if err != nil && strings.HasPrefix(err.Error(), k+":") && (k != "ALERTFLOW_MAX_BODY" || len(bad) == 1) {
				named = true
			}
		}
		if !named {
			t.Errorf("%v: %v, want an error naming the variable", bad, err)
		}
	}
}
