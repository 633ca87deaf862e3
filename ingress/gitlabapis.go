package ingress

import (
	"fmt"
	"net/url"
	"slices"
)

// GitLabAPI is the API of one GitLab instance that alertflow reads to
// reconcile alerts: its base URL and a read_api token.
type GitLabAPI struct {
	// Instance is "" for the home instance.
	Instance string
	URL      string
	// Token is "" where only the intake runs: it needs to know which
	// instances are reconciled, not how.
	Token string
	// Source names the first source that gave it, for errors.
	Source string
}

// SetGitLabAPIURLs reads ALERTFLOW_SOURCE_GITLAB_API, "name=https://…,…":
// the GitLab each source's deliveries come from, whose API reconciles
// their alerts.
func (t *Tokens) SetGitLabAPIURLs(spec string) error {
	return t.perSource(spec, "name=https://gitlab.example.com", func(src *source, value string) error {
		u, err := url.Parse(value)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" {
			return fmt.Errorf("want the GitLab's base URL, such as https://gitlab.example.com")
		}
		src.apiURL = u.String()
		return nil
	})
}

// SetGitLabAPITokens reads ALERTFLOW_SOURCE_GITLAB_API_TOKENS,
// "name=glpat-…,…": a token with the read_api scope for each source that
// has an API URL.
func (t *Tokens) SetGitLabAPITokens(spec string) error {
	return t.perSource(spec, "name=token", func(src *source, value string) error {
		if value == "" || Placeholder(value) {
			return fmt.Errorf("want a GitLab token with the read_api scope")
		}
		src.apiToken = value
		return nil
	})
}

// GitLabAPIs are the APIs by instance. Sources of one instance share its
// API: two that name different ones, or a token without a URL, are an
// error naming the sources, never a token. A URL without a token is what
// an intake alone is given; the worker refuses it (CheckTokens).
func (t Tokens) GitLabAPIs() ([]GitLabAPI, error) {
	var apis []GitLabAPI
	for _, s := range t.sources {
		switch {
		case s.apiURL == "" && s.apiToken == "":
			continue
		case s.apiURL == "":
			return nil, fmt.Errorf("source %q: a GitLab API token without an API URL (ALERTFLOW_SOURCE_GITLAB_API)", s.name)
		}
		api := GitLabAPI{Instance: s.instance, URL: s.apiURL, Token: s.apiToken, Source: s.name}
		i := slices.IndexFunc(apis, func(a GitLabAPI) bool { return a.Instance == s.instance })
		if i < 0 {
			apis = append(apis, api)
			continue
		}
		if apis[i].URL != api.URL || apis[i].Token != api.Token {
			return nil, fmt.Errorf("sources %q and %q: one GitLab instance, two APIs: sources of one instance share its URL and token", apis[i].Source, s.name)
		}
	}
	return apis, nil
}

// CheckTokens says whether every API has its token, as the worker, which
// reads them, needs.
func CheckTokens(apis []GitLabAPI) error {
	for _, a := range apis {
		if a.Token == "" {
			return fmt.Errorf("source %q: a GitLab API URL without a token in ALERTFLOW_SOURCE_GITLAB_API_TOKENS", a.Source)
		}
	}
	return nil
}
