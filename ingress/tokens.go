package ingress

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/alertflow/alertflow/alert"
)

// Tokens are the configured webhook sources, each with its secret token.
type Tokens struct {
	sources []source
	// given is set once ALERTFLOW_SOURCE_TOKENS was read: then every
	// per-source setting must name one of its sources. A worker alone is
	// given no webhook token, and its settings declare the sources.
	given bool
}

type source struct {
	name string
	// digest is the SHA-256 of the token: comparing fixed-length digests
	// keeps the comparison constant-time whatever the candidate's length.
	digest [sha256.Size]byte
	// scope is the projects the source may act on; zero, any project.
	scope Scope
	// signing, when set, is the key every delivery of the source must be
	// signed with (ALERTFLOW_SOURCE_SIGNING_KEYS).
	signing *SigningKey
	// instance names the source's GitLab instance in alert IDs; "" for
	// the home instance (ALERTFLOW_SOURCE_INSTANCES).
	instance string
	// apiURL and apiToken read the source's GitLab API to reconcile its
	// alerts (ALERTFLOW_SOURCE_GITLAB_API and _TOKENS); "" for none.
	apiURL, apiToken string
	// tokenless is a source a worker's settings name, which has no
	// webhook token and never matches one.
	tokenless bool
}

// ParseTokens reads ALERTFLOW_SOURCE_TOKENS: "name1=tok1,name2=tok2", each
// source with its token, and optionally "name1:team-a/**|1234", the scope
// of a source: the projects it serves, as project path globs and project
// IDs separated by |. An entry with "=" is always a name and its token (a
// token holds anything but a comma), so a scope entry, which holds no "=",
// can never be read out of a token, and every list that parsed before
// parses to the same unscoped sources. The scope follows the entry's last
// ":". Errors name the offending source and scope entry, never a token.
func ParseTokens(spec string) (Tokens, error) {
	var t Tokens
	seen := map[string]bool{}
	// The entries without "=": scopes, and malformed ones (bad), whose
	// errors come after the tokens' but in entry order among themselves,
	// so that a glob that a comma cut in two is reported by its first half.
	type scopeEntry struct {
		entry      int
		name, list string
		bad        bool
	}
	var scopes []scopeEntry
	for i, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !strings.Contains(item, "=") {
			// Not name=token: name:scope, or nothing.
			e := scopeEntry{entry: i + 1}
			if at := strings.LastIndex(item, ":"); at >= 0 {
				e.name, e.list = strings.TrimSpace(item[:at]), item[at+1:]
			}
			e.bad = e.name == ""
			scopes = append(scopes, e)
			continue
		}
		name, tok, _ := strings.Cut(item, "=")
		name, tok = strings.TrimSpace(name), strings.TrimSpace(tok)
		switch {
		case name == "":
			return Tokens{}, fmt.Errorf("entry %d: want name=token", i+1)
		case tok == "":
			return Tokens{}, fmt.Errorf("source %q: empty token", name)
		case seen[name]:
			return Tokens{}, fmt.Errorf("source %q: named twice", name)
		case Placeholder(tok):
			return Tokens{}, fmt.Errorf("source %q: its token is a placeholder, not a secret: make one with `openssl rand -hex 32`", name)
		}
		seen[name] = true
		t.sources = append(t.sources, source{name: name, digest: sha256.Sum256([]byte(tok))})
	}
	if len(t.sources) == 0 {
		if i := slices.IndexFunc(scopes, func(e scopeEntry) bool { return e.bad }); i >= 0 {
			return Tokens{}, fmt.Errorf("entry %d: want name=token", scopes[i].entry)
		}
		return Tokens{}, errors.New("no source configured: want name=token[,name=token...]")
	}
	scoped := map[string]int{}
	for _, e := range scopes {
		i := slices.IndexFunc(t.sources, func(s source) bool { return s.name == e.name })
		switch {
		case e.bad:
			// Not quoted: the entry may be a token pasted without its
			// name.
			return Tokens{}, fmt.Errorf("entry %d: want name=token or name:scope", e.entry)
		case i < 0:
			// Not quoted either: a name no source has may be part of a
			// token.
			return Tokens{}, fmt.Errorf("entry %d: a scope of a source that has no name=token entry", e.entry)
		case scoped[e.name] != 0:
			return Tokens{}, fmt.Errorf("source %q: scoped twice (entries %d and %d): list every project in one name:a|b|c", e.name, scoped[e.name], e.entry)
		}
		sc, err := parseScope(e.name, e.list)
		if err != nil {
			return Tokens{}, err
		}
		scoped[e.name] = e.entry
		t.sources[i].scope = sc
	}
	t.given = true
	return t, nil
}

// Match returns the name of the source whose token is tok. It compares
// against every source, in constant time, so timing reveals neither which
// source matched nor how much of a token was right.
func (t Tokens) Match(tok string) (name string, ok bool) {
	s, ok := t.lookup(tok)
	return s.name, ok
}

// lookup is Match returning the whole source, its scope with it.
func (t Tokens) lookup(tok string) (found source, ok bool) {
	d := sha256.Sum256([]byte(tok))
	for _, s := range t.sources {
		if subtle.ConstantTimeCompare(d[:], s.digest[:]) == 1 && !s.tokenless {
			found, ok = s, true
		}
	}
	return found, ok && tok != ""
}

// Len is the number of configured sources.
func (t Tokens) Len() int {
	n := 0
	for _, s := range t.sources {
		if !s.tokenless {
			n++
		}
	}
	return n
}

// SingleToken is one source with its token, taken whole: unlike
// ParseTokens, a comma or an equals sign in tok is part of it.
func SingleToken(name, tok string) Tokens {
	return Tokens{sources: []source{{name: name, digest: sha256.Sum256([]byte(tok))}}}
}

// placeholders are the values examples and templates leave for a secret,
// lower-cased without separators.
var placeholders = []string{"changeme", "replaceme", "placeholder", "todo", "tbd", "fixme", "yoursecret", "yourtoken", "secrethere", "tokenhere"}

// Placeholder says that tok was left as an example left it (CHANGE-ME of
// .env.example, a "<long random token>" of the docs, "xxxx"): a deployment
// that started with it would accept anyone who read the same example.
func Placeholder(tok string) bool {
	t := strings.ToLower(strings.TrimSpace(tok))
	if strings.HasPrefix(t, "<") && strings.HasSuffix(t, ">") || strings.Trim(t, "x.…*") == "" {
		return true
	}
	t = strings.NewReplacer("-", "", "_", "", " ", "").Replace(t)
	return slices.Contains(placeholders, t)
}

// SetInstances reads ALERTFLOW_SOURCE_INSTANCES, "name=instance,…": each
// names a source of t whose deliveries come from another GitLab instance
// than the home one, and the instance's name in their alert IDs
// ("gitlab-b:1-main"). Sources of one instance share its name; a source
// not listed is the home instance's, whose IDs are "1-main" as always.
func (t *Tokens) SetInstances(spec string) error {
	return t.perSource(spec, "name=instance", func(src *source, instance string) error {
		if err := alert.CheckInstance(instance); err != nil {
			return err
		}
		src.instance = instance
		return nil
	})
}

// perSource reads a setting of "name=value,…" pairs, each naming a source
// of t once, and hands each value to set. Errors name the entry or the
// source, never a value: some are secrets.
func (t *Tokens) perSource(spec, want string, set func(src *source, value string) error) error {
	seen := map[string]bool{}
	for i, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, value, ok := strings.Cut(item, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return fmt.Errorf("entry %d: want %s", i+1, want)
		}
		at := slices.IndexFunc(t.sources, func(s source) bool { return s.name == name })
		if at < 0 && !t.given {
			t.sources = append(t.sources, source{name: name, tokenless: true})
			at = len(t.sources) - 1
		}
		switch {
		case at < 0:
			return fmt.Errorf("source %q: not in ALERTFLOW_SOURCE_TOKENS", name)
		case seen[name]:
			return fmt.Errorf("source %q: named twice", name)
		}
		if err := set(&t.sources[at], strings.TrimSpace(value)); err != nil {
			return fmt.Errorf("source %q: %w", name, err)
		}
		seen[name] = true
	}
	return nil
}
