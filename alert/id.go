package alert

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ID builds the alert ID, which is also its Temporal workflow ID:
// "<project_id>-<ref>". gRPC refuses header values outside printable ASCII
// and the SDK sends the workflow ID in a header, so every byte of the ref
// outside printable ASCII is percent-encoded, and so is "%" itself to keep
// the encoding reversible. ASCII refs stay readable: "1-master",
// "1-team/feature-x", "1-feature/%C3%BCmlaut".
func ID(projectID int64, ref string) string {
	var b strings.Builder
	b.Grow(len(ref) + 8)
	b.WriteString(strconv.FormatInt(projectID, 10))
	b.WriteByte('-')
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// InstanceID is ID for a project of a GitLab instance other than the home
// one: "<instance>:<project_id>-<ref>" ("gitlab-b:1-main"), so that two
// instances' project 1 have two alerts on main. The home instance, and
// every alertflow with one instance, keeps ID's IDs: instance "".
func InstanceID(instance string, projectID int64, ref string) string {
	if instance == "" {
		return ID(projectID, ref)
	}
	return instance + ":" + ID(projectID, ref)
}

// instanceName is what an instance may be called: a lower-case letter
// first, so that an instance's IDs never read as a home ID, whose first
// character is a digit.
var instanceName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// CheckInstance says whether name can name an instance in alert IDs.
func CheckInstance(name string) error {
	if !instanceName.MatchString(name) {
		return fmt.Errorf("instance %q: want a lower-case letter, then up to 31 lower-case letters, digits and '-'", name)
	}
	return nil
}

// ParseInstanceID splits an alert ID into its instance ("" for the home
// one), project ID and ref, as InstanceID and ID build them.
func ParseInstanceID(id string) (instance string, projectID int64, ref string, err error) {
	if id != "" && 'a' <= id[0] && id[0] <= 'z' {
		instance, rest, ok := strings.Cut(id, ":")
		if !ok || CheckInstance(instance) != nil {
			return "", 0, "", fmt.Errorf("parse %q: %w: want <project_id>-<ref>, or <instance>:<project_id>-<ref>", id, ErrBadID)
		}
		projectID, ref, err := ParseID(rest)
		return instance, projectID, ref, err
	}
	projectID, ref, err = ParseID(id)
	return "", projectID, ref, err
}

// ErrBadID is returned by ParseID for anything ID cannot have built.
var ErrBadID = errors.New("not an alert id")

// ParseID splits an alert ID back into project ID and ref. It accepts the
// encoded form that ID builds and, for people typing IDs by hand, a ref
// that was not encoded at all ("1-feature/ümlaut"); a "%" not followed by
// two hex digits is taken literally for the same reason.
func ParseID(id string) (projectID int64, ref string, err error) {
	head, tail, ok := strings.Cut(id, "-")
	if !ok || tail == "" {
		return 0, "", fmt.Errorf("parse %q: %w: want <project_id>-<ref>", id, ErrBadID)
	}
	projectID, err = strconv.ParseInt(head, 10, 64)
	if err != nil || projectID <= 0 || head[0] == '+' || head[0] == '0' {
		return 0, "", fmt.Errorf("parse %q: %w: project id must be a positive integer", id, ErrBadID)
	}
	return projectID, unescapeRef(tail), nil
}

func unescapeRef(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
