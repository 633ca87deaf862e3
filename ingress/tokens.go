package ingress

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Tokens are the configured webhook sources, each with its secret token.
type Tokens struct {
	sources []source
}

type source struct {
	name string
	// digest is the SHA-256 of the token: comparing fixed-length digests
	// keeps the comparison constant-time whatever the candidate's length.
	digest [sha256.Size]byte
}

// ParseTokens reads ALERTFLOW_SOURCE_TOKENS: "name1=tok1,name2=tok2". Errors
// name the offending source, never the token.
func ParseTokens(spec string) (Tokens, error) {
	var t Tokens
	seen := map[string]bool{}
	for i, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, tok, ok := strings.Cut(item, "=")
		name, tok = strings.TrimSpace(name), strings.TrimSpace(tok)
		switch {
		case !ok || name == "":
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
		return Tokens{}, errors.New("no source configured: want name=token[,name=token...]")
	}
	return t, nil
}

// Match returns the name of the source whose token is tok. It compares
// against every source, in constant time, so timing reveals neither which
// source matched nor how much of a token was right.
func (t Tokens) Match(tok string) (name string, ok bool) {
	d := sha256.Sum256([]byte(tok))
	for _, s := range t.sources {
		if subtle.ConstantTimeCompare(d[:], s.digest[:]) == 1 {
			name, ok = s.name, true
		}
	}
	return name, ok && tok != ""
}

// Len is the number of configured sources.
func (t Tokens) Len() int { return len(t.sources) }

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
