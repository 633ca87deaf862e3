package config

// The receivers of a routing file: their integrations, and how each is
// read (names, fields and secrets).

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/alertflow/alertflow/yamlnode"
)

// DefaultPagerDutyURL is PagerDuty's Events API v2 endpoint; EU accounts
// and tests set their own.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// Receiver is a named set of integrations that hear the same alerts.
// Each integration is nil when the receiver has none of its kind.
type Receiver struct {
	Name      string
	Webhook   *Webhook
	Slack     *Slack
	PagerDuty *PagerDuty
	Teams     *Teams
}

// Webhook is alertflow's signed JSON webhook.
type Webhook struct {
	URL Secret
	// Secret is the HMAC-SHA256 key of X-Alertflow-Signature; zero when
	// the file gives none.
	Secret Secret
}

// Slack is a Slack incoming webhook (URL, itself a credential), or a Slack
// app (Token, a bot token, posting to Channel): the app keeps one message
// per alert, updates it in place and carries buttons to act on it.
type Slack struct {
	URL Secret
	// Token is the app's bot token (xoxb-…); zero for an incoming webhook.
	Token Secret
	// Channel is where the app posts: a name (#ci) or an ID (C0123).
	Channel string
	// APIURL is Slack's Web API; "" means https://slack.com/api.
	APIURL string
}

// App says the integration is a Slack app rather than an incoming webhook.
func (s *Slack) App() bool { return s.Token.Value() != "" }

// PagerDuty is one PagerDuty service, through the Events API v2.
type PagerDuty struct {
	RoutingKey Secret
	URL        string // DefaultPagerDutyURL unless the file says otherwise
	// ChangeEvents sends each successful pipeline on a project's default
	// branch that routes here to the Change Events API, so that the
	// service's timeline shows fixes and deploys next to its incidents.
	ChangeEvents bool
	// ChangeURL is the Change Events endpoint: the file's change_url, or
	// else URL with /v2/enqueue made /v2/change/enqueue; "" when neither
	// says one (then ChangeEvents is false, or the file is refused).
	ChangeURL string
}

// Teams is a Microsoft Teams webhook: a Workflows (Power Automate) flow's
// "When a Teams webhook request is received" URL, or an incoming webhook's.
// The URL is the credential (its query carries the signature).
type Teams struct {
	URL Secret
}

// ChangeURLOf is the Change Events endpoint beside an Events API v2
// endpoint: the same URL with its /v2/enqueue made /v2/change/enqueue, as
// PagerDuty serves both (the EU region too); "" when url does not end in
// /v2/enqueue, since then nothing says where its change events go.
func ChangeURLOf(url string) string {
	if base, ok := strings.CutSuffix(url, "/v2/enqueue"); ok {
		return base + "/v2/change/enqueue"
	}
	return ""
}

// The integrations' keys in a receiver.
const (
	IntegrationWebhook   = "webhook"
	IntegrationSlack     = "slack"
	IntegrationPagerDuty = "pagerduty"
	IntegrationTeams     = "teams"
)

// integrationKinds are the kinds of integration a receiver may have, in
// the order Integrations lists them. A new kind is a row here, a field of
// Receiver and the function that reads its mapping.
var integrationKinds = []integrationKind{
	{IntegrationWebhook, func(p *parser, e yamlnode.Entry, path string, r *Receiver) { r.Webhook = p.webhook(e, path) },
		func(r Receiver) bool { return r.Webhook != nil }},
	{IntegrationSlack, func(p *parser, e yamlnode.Entry, path string, r *Receiver) { r.Slack = p.slack(e, path) },
		func(r Receiver) bool { return r.Slack != nil }},
	{IntegrationPagerDuty, func(p *parser, e yamlnode.Entry, path string, r *Receiver) { r.PagerDuty = p.pagerDuty(e, path) },
		func(r Receiver) bool { return r.PagerDuty != nil }},
	{IntegrationTeams, func(p *parser, e yamlnode.Entry, path string, r *Receiver) { r.Teams = p.teams(e, path) },
		func(r Receiver) bool { return r.Teams != nil }},
}

// integrationKind is one row of integrationKinds.
type integrationKind struct {
	// key names the integration in a receiver's mapping, and in the
	// notification targets alerts record.
	key string
	// read reads the integration's mapping (e, at path) into r.
	read func(p *parser, e yamlnode.Entry, path string, r *Receiver)
	// in says whether r has the integration.
	in func(r Receiver) bool
}

// IntegrationKinds names the kinds of integration a receiver may have, in
// the order Integrations lists a receiver's.
func IntegrationKinds() []string {
	out := make([]string, len(integrationKinds))
	for i, k := range integrationKinds {
		out[i] = k.key
	}
	return out
}

// Integrations names a receiver's integrations in a fixed order, that of
// IntegrationKinds: "webhook", "slack", "pagerduty", ...
func (r Receiver) Integrations() []string {
	var out []string
	for _, k := range integrationKinds {
		if k.in(r) {
			out = append(out, k.key)
		}
	}
	return out
}

// receiverName is what a receiver may be called: names reach logs,
// metrics and the output of routes test, so plain ones only.
var receiverName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (p *parser) receivers(n *yaml.Node, known map[string]bool) []Receiver {
	n = yamlnode.Resolve(n)
	if n.Kind != yaml.SequenceNode {
		p.Errorf(n, "receivers", "want a list of receivers, not %s", yamlnode.Kind(n))
		return nil
	}
	if len(n.Content) == 0 {
		p.Errorf(n, "receivers", "is empty: want at least one receiver")
		return nil
	}
	firstLine := map[string]int{}
	var out []Receiver
	for i, rn := range n.Content {
		path := fmt.Sprintf("receivers[%d]", i)
		m := p.Mapping(rn, path, append([]string{"name"}, IntegrationKinds()...)...)
		if m == nil {
			continue
		}
		r := Receiver{}
		if e, ok := m["name"]; !ok {
			p.Errorf(rn, path+".name", "required")
		} else if name, ok := p.Scalar(e.Val, path+".name"); ok {
			switch {
			case !receiverName.MatchString(name):
				p.Errorf(e.Val, path+".name", "%q: want letters, digits, '.', '_' and '-', starting with a letter or digit", name)
			case firstLine[name] != 0:
				p.Errorf(e.Val, path+".name", "duplicate receiver %q (first on line %d)", name, firstLine[name])
			default:
				firstLine[name] = e.Val.Line
			}
			// Known even when something else about it is wrong, so
			// that routes to it do not report it unknown as well.
			known[name] = true
			r.Name = name
		}
		given := false
		for _, k := range integrationKinds {
			if e, ok := m[k.key]; ok {
				k.read(p, e, yamlnode.Join(path, k.key), &r)
				given = true
			}
		}
		if !given {
			p.Errorf(rn, path, "no integration: want one or more of %s", strings.Join(IntegrationKinds(), ", "))
		}
		out = append(out, r)
	}
	return out
}

// integration reads an integration's mapping; `slack:` with nothing after
// it is an empty mapping, so the missing keys get named.
func (p *parser) integration(e yamlnode.Entry, path string, keys ...string) map[string]yamlnode.Entry {
	if e.Val.Kind == yaml.ScalarNode && e.Val.Tag == "!!null" {
		return map[string]yamlnode.Entry{}
	}
	return p.Mapping(e.Val, path, keys...)
}

func (p *parser) webhook(e yamlnode.Entry, path string) *Webhook {
	m := p.integration(e, path, "url", "url_file", "secret", "secret_file")
	if m == nil {
		return nil
	}
	w := &Webhook{}
	w.URL, _ = p.secret(m, e, path, "url", true, true)
	w.Secret, _ = p.secret(m, e, path, "secret", false, false)
	return w
}

// slack reads an incoming webhook (url) or a Slack app (token and
// channel, api_url for a proxy or a test).
func (p *parser) slack(e yamlnode.Entry, path string) *Slack {
	m := p.integration(e, path, "url", "url_file", "token", "token_file", "channel", "api_url")
	if m == nil {
		return nil
	}
	s := &Slack{}
	_, url := m["url"]
	_, urlFile := m["url_file"]
	_, token := m["token"]
	_, tokenFile := m["token_file"]
	if !token && !tokenFile {
		for _, k := range []string{"channel", "api_url"} {
			if c, ok := m[k]; ok {
				p.Errorf(c.Key, yamlnode.Join(path, k), "belongs to a Slack app: give token or token_file with it")
			}
		}
		s.URL, _ = p.secret(m, e, path, "url", true, true)
		return s
	}
	if url || urlFile {
		p.Errorf(e.Key, path, "give url (an incoming webhook) or token (a Slack app), not both")
		return s
	}
	s.Token, _ = p.secret(m, e, path, "token", true, false)
	if c, ok := m["channel"]; !ok {
		p.Errorf(e.Key, yamlnode.Join(path, "channel"), "required with token: the channel the app posts to, #name or ID")
	} else if v, ok := p.expanded(c.Val, yamlnode.Join(path, "channel")); ok {
		if !slackChannel.MatchString(v) {
			p.Errorf(c.Val, yamlnode.Join(path, "channel"), "%q: want #name or a channel ID such as C0123ABCD", v)
		}
		s.Channel = v
	}
	if u, ok := m["api_url"]; ok {
		if v, ok := p.expanded(u.Val, yamlnode.Join(path, "api_url")); ok && p.checkURL(u.Val, yamlnode.Join(path, "api_url"), v) {
			s.APIURL = v
		}
	}
	return s
}

// slackChannel is a channel as chat.postMessage takes it: #name (lower
// case letters, digits, '-', '_', at most 80) or an ID.
var slackChannel = regexp.MustCompile(`^(#[a-z0-9][a-z0-9_-]{0,79}|[CGD][A-Z0-9]{2,30})$`)

// slackUser is a Slack user ID (U…, W…) or user name.
var slackUser = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$`)

// people reads the map of Slack users to the names alertflow records.
func (p *parser) people(n *yaml.Node) map[string]string {
	n = yamlnode.Resolve(n)
	if n.Kind != yaml.MappingNode {
		p.Errorf(n, "people", "want a mapping of Slack user ID or name to a person, not %s", yamlnode.Kind(n))
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := yamlnode.Resolve(n.Content[i]), yamlnode.Resolve(n.Content[i+1])
		user, ok := p.Scalar(k, "people")
		if !ok {
			continue
		}
		path := yamlnode.Join("people", user)
		if !slackUser.MatchString(user) {
			p.Errorf(k, "people", "%q: want a Slack user ID (U0123ABCD) or user name", user)
			continue
		}
		if _, dup := out[user]; dup {
			p.Errorf(k, path, "listed twice")
			continue
		}
		name, ok := p.Scalar(v, path)
		if !ok {
			continue
		}
		if strings.TrimSpace(name) == "" || len(name) > 200 || strings.IndexFunc(name, unicode.IsControl) >= 0 {
			p.Errorf(v, path, "want a name of 1 to 200 bytes without control characters")
			continue
		}
		out[user] = name
	}
	return out
}

func (p *parser) pagerDuty(e yamlnode.Entry, path string) *PagerDuty {
	m := p.integration(e, path, "routing_key", "routing_key_file", "url", "change_events", "change_url")
	if m == nil {
		return nil
	}
	pd := &PagerDuty{URL: DefaultPagerDutyURL}
	pd.RoutingKey, _ = p.secret(m, e, path, "routing_key", true, false)
	urlOK := true
	if u, ok := m["url"]; ok {
		v, ok := p.expanded(u.Val, path+".url")
		if urlOK = ok && p.checkURL(u.Val, path+".url", v); urlOK {
			pd.URL = v
		}
	}
	changeOK := true
	if u, ok := m["change_url"]; ok {
		v, ok := p.expanded(u.Val, path+".change_url")
		if changeOK = ok && p.checkURL(u.Val, path+".change_url", v); changeOK {
			pd.ChangeURL = v
		}
	} else {
		pd.ChangeURL = ChangeURLOf(pd.URL)
	}
	if c, ok := m["change_events"]; ok {
		pd.ChangeEvents, _ = p.Boolean(c.Val, path+".change_events")
		// A url that did not read is reported already; its change URL
		// is not missing, only unknown.
		if pd.ChangeEvents && pd.ChangeURL == "" && urlOK && changeOK {
			p.Errorf(c.Val, path+".change_url", "required with change_events: true when url does not end in /v2/enqueue: the Change Events endpoint, such as https://events.pagerduty.com/v2/change/enqueue")
		}
	}
	return pd
}

// teams reads a Teams webhook: its url, or url_file, is required.
func (p *parser) teams(e yamlnode.Entry, path string) *Teams {
	m := p.integration(e, path, "url", "url_file")
	if m == nil {
		return nil
	}
	t := &Teams{}
	t.URL, _ = p.secret(m, e, path, "url", true, true)
	return t
}

// secret reads key or key_file of an integration: one of them when
// required, never both. isURL checks the value as a URL (without quoting
// it: a Slack URL is a credential).
func (p *parser) secret(m map[string]yamlnode.Entry, integ yamlnode.Entry, path, key string, required, isURL bool) (Secret, bool) {
	fileKey := key + "_file"
	direct, hasDirect := m[key]
	file, hasFile := m[fileKey]
	switch {
	case hasDirect && hasFile:
		p.Errorf(file.Key, yamlnode.Join(path, fileKey), "give %s or %s, not both", key, fileKey)
		return Secret{}, false
	case !hasDirect && !hasFile:
		if required {
			p.Errorf(integ.Key, path, "%s or %s is required", key, fileKey)
		}
		return Secret{}, false
	}
	var v string
	at, atPath := direct.Val, yamlnode.Join(path, key)
	if hasDirect {
		var ok bool
		if v, ok = p.expanded(direct.Val, atPath); !ok {
			return Secret{}, false
		}
	} else {
		at, atPath = file.Val, yamlnode.Join(path, fileKey)
		name, ok := p.expanded(file.Val, atPath)
		if !ok {
			return Secret{}, false
		}
		// Errors name the file as written: what a ${VAR} in its path
		// stands for stays out of them, as every variable's value does.
		written := file.Val.Value
		data, err := p.readFile(name)
		if err != nil {
			// A PathError repeats the resolved path; the file is named
			// as written instead.
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			p.Errorf(file.Val, atPath, "cannot read %s: %v", written, err)
			return Secret{}, false
		}
		if len(data) > MaxSecretFileSize {
			p.Errorf(file.Val, atPath, "%s holds more than %d bytes (64 KiB, MaxSecretFileSize): a %s holds one secret",
				written, MaxSecretFileSize, fileKey)
			return Secret{}, false
		}
		v = string(data)
		if s, ok := strings.CutSuffix(v, "\n"); ok {
			v = strings.TrimSuffix(s, "\r")
		}
		if v == "" {
			p.Errorf(file.Val, atPath, "%s is empty", written)
			return Secret{}, false
		}
	}
	if isURL && !p.checkURL(at, atPath, v) {
		return Secret{}, false
	}
	return NewSecret(v), true
}

// checkURL reports whether v is an absolute http(s) URL with a host,
// without ever quoting it.
func (p *parser) checkURL(n *yaml.Node, path, v string) bool {
	u, err := url.Parse(v)
	switch {
	case err != nil:
		p.Errorf(n, path, "not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		p.Errorf(n, path, "the URL must start with https:// or http://")
	case u.Host == "":
		p.Errorf(n, path, "the URL has no host")
	default:
		return true
	}
	return false
}

// envName is what may stand between ${ and }.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expanded is a scalar with every ${VAR} replaced from the environment. A
// variable unset (or set empty) is an error naming it. Only ${NAME} is
// expanded: a lone $ stays as it is, and a value that must hold "${" goes in
// a *_file.
func (p *parser) expanded(n *yaml.Node, path string) (string, bool) {
	s, ok := p.Scalar(n, path)
	if !ok {
		return "", false
	}
	var b strings.Builder
	good := true
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			p.Errorf(n, path, "a ${ without its }: write ${NAME}")
			return "", false
		}
		name := s[i+2 : i+end]
		if !envName.MatchString(name) {
			// Not quoted: it may be part of a secret.
			p.Errorf(n, path, "a malformed ${...}: write ${NAME}, NAME of letters, digits and _")
			return "", false
		}
		v, set := p.lookup(name)
		if !set || v == "" {
			p.Errorf(n, path, "${%s} is not set (or empty) in the environment", name)
			good = false
		}
		b.WriteString(v)
		s = s[i+end+1:]
	}
	if !good {
		return "", false
	}
	if b.Len() == 0 {
		p.Errorf(n, path, "is empty")
		return "", false
	}
	return b.String(), true
}
