package config

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/alertflow/alertflow/route"
)

// FuzzParse: whatever the file holds, Parse does not panic, a secret it
// read from the environment or a file never reaches its error, and a
// configuration it accepts routes only to receivers it has. make test runs
// the seeds; docs/development.md says how to fuzz longer.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("../deploy/alertflow.example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(goodReceivers + "route:\n  receiver: chat\n  routes:\n    - match: {project: a/**, ref_regex: 'x(', severity: [HIGH]}\n      receiver: pager\n"))
	f.Add([]byte("receivers:\n  - name: a\n    webhook:\n      url_file: /run/secrets/slack\n      secret: ${AUDIT_WEBHOOK_SECRET}\nroute:\n  receiver: a\n"))
	f.Add([]byte("receivers:\n  - name: a\n    slack:\n      url: ftp://${AUDIT_WEBHOOK_URL}${\nroute: &r\n  routes: [*r]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse(string(data))
		if err != nil {
			for _, sec := range secrets {
				if !bytes.Contains(data, []byte(sec)) && strings.Contains(err.Error(), sec) {
					t.Fatalf("the error holds the secret %q:\n%v", sec, err)
				}
			}
			return
		}
		if c.Route == nil || len(c.Receivers) == 0 {
			t.Fatalf("accepted without a route or receivers: %+v", c)
		}
		var walk func(r *route.Route)
		walk = func(r *route.Route) {
			if _, ok := c.Receiver(r.Receiver); !ok {
				t.Fatalf("accepted a route to %q, which is no receiver", r.Receiver)
			}
			for _, child := range r.Routes {
				walk(child)
			}
		}
		walk(c.Route)
	})
}
