package ingress

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/alertflow/alertflow/alert"
)

// actionFields are the texts a person types into a manual action, by
// their JSON name. The workflow bounds their length; the intake refuses
// what no person types: a control character in a name, or in a note
// anything but a newline or a tab. They end up in notifications, Slack
// messages and log lines, where a stray escape sequence or a carriage
// return would forge what others read.
func actionFields(arg any) map[string]string {
	switch a := arg.(type) {
	case alert.Acknowledgement:
		return actionFields(&a)
	case alert.Resolution:
		return actionFields(&a)
	case alert.SnoozeRequest:
		return actionFields(&a)
	case *alert.Acknowledgement:
		return map[string]string{"by": a.By, "note": a.Note}
	case *alert.Resolution:
		return map[string]string{"by": a.By, "reason": a.Reason}
	case *alert.SnoozeRequest:
		return map[string]string{"by": a.By, "for": a.For, "note": a.Note}
	case *alert.ReconcileRequest:
		return map[string]string{"by": a.By}
	}
	return nil
}

// checkActionText names the first field of arg that holds what no person
// types, in a stable order.
func checkActionText(arg any) (field string, err error) {
	fields := actionFields(arg)
	for _, name := range []string{"by", "for", "note", "reason"} {
		v, ok := fields[name]
		if !ok {
			continue
		}
		multiline := name == "note" || name == "reason"
		if !utf8.ValidString(v) {
			return name, fmt.Errorf("%q is not UTF-8", name)
		}
		if i := strings.IndexFunc(v, func(r rune) bool {
			return unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t'))
		}); i >= 0 {
			return name, fmt.Errorf("%q holds a control character (%U) at byte %d", name, []rune(v[i:])[0], i)
		}
	}
	return "", nil
}
