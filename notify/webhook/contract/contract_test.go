package contract_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/alertflow/alertflow/notify/webhook/contract"
)

// Receivers import this package for Payload and Verify: it must not drag
// alertflow, Temporal or anything else outside the standard library into
// their builds.
func TestTheContractBuildsWithTheStandardLibraryAlone(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("this test runs go list and needs the go command on PATH: %v", err)
	}
	out, err := exec.CommandContext(t.Context(), goTool, "list", "-deps",
		"-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	const self = "github.com/alertflow/alertflow/notify/webhook/contract"
	var outside []string
	for _, pkg := range strings.Fields(string(out)) {
		if pkg != self {
			outside = append(outside, pkg)
		}
	}
	if !strings.Contains(string(out), self) {
		t.Fatalf("go list -deps did not list the package itself; output:\n%s", out)
	}
	if len(outside) > 0 {
		t.Errorf("the contract package depends on %d packages outside the standard library: %s",
			len(outside), strings.Join(outside, ", "))
	}
}

// A receiver in another language checks its HMAC-SHA256 against this
// value, computed independently (printf 'hello' | openssl dgst -sha256
// -hmac key).
func TestSignIsTheHexHMACSHA256OfTheBody(t *testing.T) {
	const want = "sha256=9307b3b915efb5171ff14d8cb55fbcc798c6c0ef1456d66ded1a6aa723a58b7b"
	if got := contract.Sign("key", []byte("hello")); got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
	if !contract.Verify("key", []byte("hello"), want) {
		t.Error("Verify refused the signature Sign made")
	}
	if contract.Verify("key", []byte("hello!"), want) {
		t.Error("Verify accepted the signature of another body")
	}
}
